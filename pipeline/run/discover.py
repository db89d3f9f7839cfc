"""Discovery: every path under the inputs, found once, in a stable order, each either
an article to read (with the identity it had when found, so it is read only if it is
still that file) or a reason it is not read; include/exclude patterns; reading a
regular file without following links."""

from __future__ import annotations

import errno
import fnmatch
import os
import shlex
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from ..formats import FORMATS, Format, format_for
from ..formats.base import ReadOptions
from ..ingest import Document, IngestError
from ..messages import first_line
from ..outdir import open_folder
from ..project import PROJECT_FILE

_SYMLINK = "it is a symbolic link, which mtpipe does not follow; copy the file instead"
_KINDS = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


def shown(path: str | Path) -> str:
    """A path as text that can always be printed and stored in JSON: bytes of a name
    that are not UTF-8 appear as \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _not_regular(mode: int) -> str:
    """Why a path of this mode is not read."""
    return f"it is {_KINDS.get(stat.S_IFMT(mode), 'not a regular file')}, not a regular file; only regular files are read"


@dataclass(frozen=True)
class Found:
    """A path under the inputs: an article to read (status None), or an entry that
    says why it is not one (status error, unsupported or ignored, and the reason)."""

    path: Path
    rel: str
    status: str | None = None
    reason: str | None = None
    # An article's input folder (None: a file named on the command line) and identity
    # (device, inode) at the scan: it is read again through that folder, as that file.
    root: Path | None = None
    ident: tuple[int, int] | None = None


def glob_match(path: str, pattern: str) -> bool:
    """Whether a relative path with `/` separators matches a glob pattern: `*` any
    characters but `/`, `?` one of them, `[abc]` and `[!abc]` one of a set or not, and a
    part that is exactly `**` any number of folders (`a/**` everything under a). A
    pattern with a `/` matches the whole path, as PurePosixPath.full_match reads it; one
    without (`*.md`) matches a file's name at any depth, as in .gitignore and rsync.
    Case counts. Time grows with the path's parts times the pattern's, whatever they are."""
    names, parts = PurePosixPath(path).parts, PurePosixPath(pattern).parts
    if len(parts) == 1 and parts[0] != "**":
        names = names[-1:]
    return _match_parts(names, parts)


def _match_parts(names: Sequence[str], parts: Sequence[str]) -> bool:
    """Whether the names match the pattern's parts as full_match reads them: each part
    matches one name as fnmatch does, `**` any number of them (at the end, at least
    one); unlike Python 3.13's full_match, a `[!...]` set never matches a `/`. Kept as
    the set of how many names the parts so far can have consumed, so that patterns with
    many `**` take no backtracking."""
    reached = {0}
    for k, part in enumerate(parts):
        if not reached:
            return False
        if part == "**":
            least = min(reached) + (1 if k == len(parts) - 1 else 0)
            reached = set(range(least, len(names) + 1))
        else:
            reached = {i + 1 for i in reached if i < len(names) and fnmatch.fnmatchcase(names[i], part)}
    return len(names) in reached


@dataclass
class Selection:
    """Which files of the inputs a run reads, by glob patterns (see glob_match) on their
    path relative to their INPUT: those that match any `include` (every file when there
    is none) and no `exclude`. The others are listed as ignored, naming the pattern; a
    folder that an `exclude` of the form `DIR/**` covers is listed once, unread.
    Raises ValueError for a pattern that can match no relative path (empty, or absolute)."""

    include: Sequence[str] = ()
    exclude: Sequence[str] = ()

    def __post_init__(self) -> None:
        for option, patterns in (("--include", self.include), ("--exclude", self.exclude)):
            for pattern in patterns:
                if pattern.startswith("/") or _normal(pattern) == ".":
                    raise ValueError(f"{option} {shlex.quote(pattern)} can match no file: patterns match paths relative to each INPUT, e.g. {option} 'drafts/**'")
        self.include, self.exclude = tuple(map(_normal, self.include)), tuple(map(_normal, self.exclude))

    def refusal(self, rel: str) -> str | None:
        """Why the file at `rel` is left out, or None when it is read."""
        excluded = next((p for p in self.exclude if glob_match(rel, p)), None)
        if excluded:
            return f"excluded by --exclude {shlex.quote(excluded)}"
        if self.include and not any(glob_match(rel, p) for p in self.include):
            return f"matched by no --include ({', '.join(map(shlex.quote, self.include))})"
        return None

    def pruned(self, folder: str) -> str | None:
        """Why the whole folder at `folder` is left out unread, or None."""
        excluded = next((p for p in self.exclude if p == "**" or (p.endswith("/**") and glob_match(folder, p[:-3]))), None)
        return f"excluded by --exclude {shlex.quote(excluded)}" if excluded else None

    def apply(self, found: Found) -> Found:
        """A file found under the inputs, as ignored when it is left out. Folders (that
        cannot be listed) and what is ignored already keep their entry."""
        why = None if found.status == "ignored" or found.rel.endswith("/") else self.refusal(found.rel)
        return replace(found, status="ignored", reason=f"{shown(found.path)}: {why}; not read") if why else found


def _normal(pattern: str) -> str:
    """A pattern as full_match reads it: `./a//b/` is `a/b`."""
    return str(PurePosixPath(pattern))


def file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _entry(path: Path, rel: str, st: os.stat_result, skip: tuple[int, int] | None, owned: set[tuple[int, int]]) -> Found | None:
    """What a path found in a folder is; None for a folder to walk into."""
    name = path.name
    if (st.st_dev, st.st_ino) == skip:
        return Found(path, shown(rel) + "/", "ignored", f"{shown(path)}: the output folder of this run; not read")
    if name.startswith("."):
        return Found(path, shown(rel) + "/" * stat.S_ISDIR(st.st_mode), "ignored", f"{shown(path)}: hidden (its name starts with a dot); not read")
    if shown(rel) != rel:
        return Found(
            path,
            shown(rel),
            "error",
            f"{shown(path)}: its name is not valid UTF-8, so its outputs cannot be named; rename it (e.g. convmv -f latin1 -t utf-8 --notest)",
        )
    if stat.S_ISLNK(st.st_mode):
        return Found(path, rel, "error", f"{shown(path)}: {_SYMLINK}")
    if stat.S_ISDIR(st.st_mode):
        return None
    if not stat.S_ISREG(st.st_mode):
        return Found(path, rel, "error", f"{shown(path)}: {_not_regular(st.st_mode)}")
    if (st.st_dev, st.st_ino) in owned:
        return Found(path, rel, "ignored", f"{shown(path)}: written by mtpipe (an output of an earlier run); not read")
    if name == PROJECT_FILE:
        return Found(path, rel, "ignored", f"{shown(path)}: mtpipe's project file (how articles are read); not an article")
    if format_for(name) is None:
        return Found(path, rel, "unsupported", _unsupported(path, name))
    return Found(path, rel, ident=(st.st_dev, st.st_ino))


def _unsupported(path: Path, name: str) -> str:
    """Why a file is not read: its type, and the types mtpipe reads."""
    suffix = os.path.splitext(name)[1].lower()
    kind = f"a {suffix} file" if suffix else "a file without a suffix"
    known = sorted(FORMATS)
    return f"{shown(path)}: {kind}; mtpipe reads {', '.join(known[:-1])} and {known[-1]} articles"


def _walk(root: Path, skip: tuple[int, int] | None, owned: set[tuple[int, int]], select: Selection) -> Iterator[Found]:
    """Everything under a folder, depth first in name order, without following links
    or entering the folders `select` leaves out."""
    stack: list[Iterator[tuple[Path, str]]] = [iter([(root, "")])]
    while stack:
        try:
            folder, prefix = next(stack[-1])
        except StopIteration:
            stack.pop()
            continue
        try:
            with os.scandir(folder) as listing:
                names = sorted(entry.name for entry in listing)
        except OSError as exc:
            yield Found(folder, shown(prefix) or "./", "error", f"{shown(folder)}: its contents cannot be listed ({first_line(exc)}); make it readable (chmod u+rx)")
            continue
        subfolders = []
        for name in names:
            path, rel = folder / name, prefix + name
            try:
                st = os.lstat(path)
            except OSError as exc:
                yield Found(path, shown(rel), "error", f"{shown(path)}: it cannot be examined ({first_line(exc)}); make its folder searchable (chmod u+x)")
                continue
            found = _entry(path, rel, st, skip, owned)
            if found is not None:
                yield replace(found, root=root) if found.status is None else found
            elif why := select.pruned(rel):
                yield Found(path, rel + "/", "ignored", f"{shown(path)}: {why}; not read")
            else:
                subfolders.append((path, rel + "/"))
        if subfolders:
            stack.append(iter(subfolders))


def distinct_inputs(inputs: Sequence[Path]) -> list[Path]:
    """The inputs without repeats: a folder given twice is read once."""
    seen: set[str] = set()
    return [item for item in inputs if not (os.path.realpath(item) in seen or seen.add(os.path.realpath(item)))]


def discover(inputs: Sequence[Path], out: Path, owned: set[Path] | frozenset[Path] = frozenset(), select: Selection | None = None) -> list[Found]:
    """Every path under the inputs, in a stable order: the articles, and an entry with
    its reason for each path that is not one.

    Folders are walked recursively without following symbolic links (a link is an
    error entry). The output folder, hidden names and the files in `owned` (mtpipe's
    own outputs) are listed as ignored, as are the files `select` leaves out; files of
    other types as unsupported. A file of another type named on the command line is
    an error.
    """
    select = select or Selection()
    skip = file_identity(out)
    owned_ids = {ident for ident in map(file_identity, owned) if ident}
    found: list[Found] = []
    for item in distinct_inputs(inputs):
        try:
            st = os.lstat(item)
        except OSError as exc:
            found.append(Found(item, shown(item.name or item), "error", f"{shown(item)}: it cannot be examined ({first_line(exc)})"))
            continue
        if stat.S_ISDIR(st.st_mode):
            found += _walk(item, skip, owned_ids, select)
        elif stat.S_ISREG(st.st_mode) and shown(item.name) == item.name and format_for(item.name) is None:
            found.append(Found(item, shown(item.name), "error", _unsupported(item, item.name)))
        elif stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
            found.append(Found(item, shown(item.name), ident=(st.st_dev, st.st_ino)) if shown(item.name) == item.name else _entry(item, item.name, st, skip, owned_ids))
        else:
            found.append(Found(item, shown(item.name), "error", f"{shown(item)}: {_not_regular(st.st_mode)}"))
    return [select.apply(f) for f in found]


def format_of(name: str) -> Format:
    """The format of an article (discovery let only supported ones through)."""
    fmt = format_for(name)
    if fmt is None:
        raise IngestError(f"mtpipe does not read {os.path.splitext(name)[1] or 'files without a suffix'} files")
    return fmt


def parse(rel: str, data: bytes, options: ReadOptions, name: str | None = None) -> Document:
    """An article's bytes read by the format of `rel` (as `name`, default `rel`);
    IngestError when its text is larger than `options` allow (a small Word file can
    hold much text)."""
    doc = format_of(rel).read(data, name or rel, options)
    options.check_size(sum(len(line.text) for line in doc.lines), "its text is")
    return doc


def read_found(found: Found, options: ReadOptions | None = None) -> bytes:
    """The bytes of an article found by the scan, read as that very file: through its
    input folder, one folder at a time, never following a link (a folder on its path
    swapped for a link since the scan cannot lead outside the inputs), and refused if
    it is another file than the one the scan saw, or larger than `options` allow."""
    if found.root is None:
        return read_regular(found.path, found.ident, options=options)
    parts = PurePosixPath(found.rel).parts
    try:
        folder = open_folder(found.root, parts[:-1])
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise IngestError("a folder on its path was replaced by a symbolic link or a file since the scan, so it is not read; run again") from None
        raise IngestError(f"its folder cannot be opened ({first_line(exc)})") from None
    try:
        return read_regular(Path(parts[-1]), found.ident, dir_fd=folder, options=options)
    finally:
        os.close(folder)


def read_regular(path: Path, ident: tuple[int, int] | None = None, dir_fd: int | None = None, options: ReadOptions | None = None) -> bytes:
    """The bytes of a regular file (`path` relative to the folder `dir_fd` when given);
    IngestError for anything else (a link, a FIFO that would block forever, a device
    that never ends), a file that cannot be read, another file than `ident` names, or
    one larger than `options` allow (checked before reading, and again as it is read,
    should it grow)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        raise IngestError("it does not exist") from None
    except PermissionError:
        raise IngestError("permission denied; make it readable") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IngestError(_SYMLINK) from None
        raise IngestError(f"it cannot be read ({first_line(exc)})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # checked before fdopen, which refuses a folder with its own error
        os.close(fd)
        raise IngestError(_not_regular(st.st_mode))
    with os.fdopen(fd, "rb") as fh:
        if ident is not None and (st.st_dev, st.st_ino) != ident:
            raise IngestError("it was replaced by another file since the scan, so it is not read; run again")
        try:
            if options is None:
                return fh.read()
            options.check_size(st.st_size)
            data = fh.read(options.max_bytes + 1)
            if len(data) > options.max_bytes:  # it grew since fstat
                options.check_size(max(os.fstat(fh.fileno()).st_size, len(data)))
            return data
        except OSError as exc:
            raise IngestError(f"it cannot be read ({first_line(exc)})") from None
