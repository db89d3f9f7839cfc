"""The output folder: locked for one run at a time, and written only where mtpipe owns the path.

mtpipe owns a path of the output folder when one of its runs wrote a file there. The
manifest `.mtpipe-manifest` lists those paths; a path is added to it *before* the file
is created, so that a run killed at any moment never leaves a file the next run would
take for somebody else's. A file that exists but is not in the manifest belongs to the
user: mtpipe never overwrites, deletes or reads it as its own, and the article that
would have written it gets an error saying so. Names are checked to stay inside the
folder, and folders on the way are never followed through a symbolic link.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import TextIO

from .errors import OutputError
from .writers import TEMP_PREFIX, TEMP_SUFFIX, atomic_write

# What a run writes for an input `a/b.<suffix>`, beside each other in OUT/a/: the English
# (same format), the sentence records, the review page and the two exports.
OUTPUT_ENDINGS = (".en{suffix}", ".align.jsonl", ".review.html", ".tmx", ".tsv")


def output_names(rel: str, endings: Sequence[str] = OUTPUT_ENDINGS) -> list[str]:
    """The output names of the input at relative path `rel` (no suffix: .txt)."""
    stem, suffix = os.path.splitext(rel)
    return [stem + end.format(suffix=suffix or ".txt") for end in endings]

MANIFEST = ".mtpipe-manifest"
# The most mtpipe reads back of a file it wrote (summary.json, an article's records):
# far more than it writes for any article it accepts, far less than would fill memory.
MAX_READ_BACK = 400_000_000
_MANIFEST_HEADER = "# mtpipe manifest 1: the files mtpipe wrote in this folder, one JSON string a line; it overwrites only these\n"
_TEMPORARY = re.compile(rf"^{re.escape(TEMP_PREFIX)}[0-9a-f]{{8}}{re.escape(TEMP_SUFFIX)}$")


class OutputBusy(OutputError, RuntimeError):
    """Another run holds the output folder."""


class OutputConflict(OutputError, ValueError):
    """Writing a file would overwrite what mtpipe does not own, or leave the folder;
    the message says which path and what to do."""


def safe_relative(rel: str) -> PurePosixPath:
    """`rel` as a path that stays inside the folder it is relative to, or OutputConflict.

    Refused: absolute paths, `..`, `.` and empty parts, and NUL bytes."""
    path = PurePosixPath(rel)
    if not rel or "\0" in rel or path.is_absolute() or any(part in ("", ".", "..") for part in rel.split("/")):
        raise OutputConflict(f"{rel!r} is not a path inside the output folder")
    return path


class OutputFolder:
    """An output folder held for a run (a context manager): an exclusive lock on the
    folder itself (it dies with the process, and leaves no file behind) and the
    manifest of the paths mtpipe owns there."""

    def __init__(self, root: Path):
        self.root = root
        self._fd: int | None = None
        self._owned: set[str] = set()
        self._log: TextIO | None = None  # the manifest, open for appending once written to

    def __enter__(self) -> OutputFolder:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputBusy(f"another mtpipe run is writing to {self.root}; wait for it to finish or choose another -o") from None
        self._fd = fd
        try:
            self._owned = self._read_manifest()
        except BaseException:
            self._fd = None
            os.close(fd)  # and the lock with it
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @property
    def has_manifest(self) -> bool:
        try:
            return stat.S_ISREG(os.lstat(self.root / MANIFEST).st_mode)
        except OSError:
            return False

    def _read_manifest(self) -> set[str]:
        """The owned paths; a line that does not parse (a write cut short) or names a
        path outside the folder (mtpipe never writes one: a tampered manifest would
        have an input taken for an output) is skipped. OutputConflict when the manifest
        is not a regular file (a link, a folder, a FIFO that would block)."""
        try:
            raw = self._read_bytes(MANIFEST)
        except FileNotFoundError:
            return set()
        except OSError as exc:
            raise OutputConflict(f"{self.root / MANIFEST} is not mtpipe's manifest ({exc.strerror or exc}); move it away or choose another -o") from None
        text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")  # any line ending, as a text file reads
        owned = set()
        for line in text.split("\n"):
            if line and not line.startswith("#"):
                try:
                    name = json.loads(line)
                except ValueError:
                    continue
                if isinstance(name, str) and _is_safe(name):
                    owned.add(name)
        return owned

    def _record(self, rels: Iterable[str]) -> None:
        """Append paths to the manifest (created with its header on first use)."""
        new = [rel for rel in rels if rel not in self._owned]
        if not new:
            return
        if self._log is None:
            self._log = self._open_manifest()
        self._log.write("".join(json.dumps(rel, ensure_ascii=False) + "\n" for rel in new))
        self._log.flush()  # in the manifest before the file exists
        self._owned.update(new)

    def _open_manifest(self) -> TextIO:
        """The manifest, open for appending: with its header when new, else after a line
        break should its last line have been cut short (by a full disk), so that the
        next line is not swallowed by it."""
        fd = os.open(MANIFEST, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW, 0o666, dir_fd=self._fd)
        log = os.fdopen(fd, "a", encoding="utf-8")
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                log.write(_MANIFEST_HEADER)
            elif os.pread(fd, 1, size - 1) != b"\n":
                log.write("\n")
        except BaseException:
            log.close()
            raise
        return log

    def adopt(self, rels: Iterable[str]) -> None:
        """Take paths as mtpipe's own: those an earlier mtpipe, from before the manifest,
        recorded in its summary.json as written."""
        self._record(rel for rel in rels if _is_safe(rel))

    def owns(self, rel: str) -> bool:
        return rel in self._owned

    def owned_paths(self) -> set[Path]:
        """Where the owned files are (existing or not), for leaving them out of inputs."""
        return {self.root / rel for rel in self._owned}

    def path(self, rel: str) -> Path:
        """The file at `rel`, checked to stay inside the folder."""
        return self.root / safe_relative(rel)

    def check(self, rel: str) -> Path:
        """Raise OutputConflict unless mtpipe may write `rel`: it does not exist, or
        mtpipe owns it; return its path."""
        path = self.path(rel)
        if rel not in self._owned and os.path.lexists(path):
            raise OutputConflict(f"{path} already exists and mtpipe did not write it; move it away or choose another -o")
        return path

    def read(self, rel: str) -> str:
        """A file mtpipe wrote here, read back as text (see _read_bytes); ValueError when
        it is not UTF-8."""
        return self._read_bytes(rel).decode("utf-8")

    def _read_bytes(self, rel: str) -> bytes:
        """A file mtpipe wrote here, read back: through the folders held open from the
        output folder down, never through a link, never a FIFO or a device, at most
        MAX_READ_BACK bytes. OSError when it cannot be: a tampered output folder cannot
        make a run hang or fill memory."""
        path = safe_relative(rel)
        start: int | Path = self._fd if self._fd is not None else self.root  # a dry run holds no descriptor
        folder = open_folder(start, path.parent.parts)
        try:
            fd = os.open(path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
        finally:
            os.close(folder)
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, "not a regular file")
            data = fh.read(MAX_READ_BACK + 1)
        if len(data) > MAX_READ_BACK:
            raise OSError(errno.EFBIG, f"larger than the {MAX_READ_BACK // 1_000_000} MB mtpipe writes there")
        return data

    def write(self, rel: str, data: bytes) -> None:
        """Write a file mtpipe may write (see check), atomically, after recording it as
        owned: through the folders held open from the output folder down, so that none
        can be swapped for a link to elsewhere meanwhile."""
        path = self.check(rel)
        fd = self._folder(safe_relative(rel).parent, create=True)
        try:
            if rel not in self._owned and _exists(path.name, fd):
                raise OutputConflict(f"{path} already exists and mtpipe did not write it; move it away or choose another -o")
            self._record([rel])
            atomic_write(Path(path.name), data, dir_fd=fd)
        finally:
            os.close(fd)

    def remove(self, rel: str) -> None:
        """Delete a file mtpipe owns (a partial article after a failure); others stay."""
        if rel not in self._owned:
            return
        try:
            fd = self._folder(safe_relative(rel).parent, create=False)
        except (OutputConflict, FileNotFoundError):
            return
        try:
            os.unlink(safe_relative(rel).name, dir_fd=fd)
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)

    def _folder(self, rel: PurePosixPath, create: bool) -> int:
        """A descriptor of the folder at `rel`, opened from the output folder's own
        descriptor (created on the way when `create`), never through a symbolic link:
        one could lead out of the output folder."""
        try:
            return open_folder(self._fd, rel.parts, create)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise OutputConflict(f"{self.root / exc.filename} is not a folder (a file or a link mtpipe did not make); move it away or choose another -o") from None
            raise

    def remove_stale_temporaries(self) -> int:
        """Delete the temporary files that runs killed in the middle of a write left
        behind; only regular files named as mtpipe names them, in folders reached
        without following a link. Return how many."""
        removed = 0
        for _, _, files, dir_fd in os.fwalk(".", dir_fd=self._fd, follow_symlinks=False):
            for name in files:
                if _TEMPORARY.match(name) and stat.S_ISREG(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                    os.unlink(name, dir_fd=dir_fd)
                    removed += 1
        return removed


def open_folder(start: int | Path, parts: Sequence[str], create: bool = False) -> int:
    """A descriptor of the folder `parts` below `start` (a folder's descriptor, or its
    path), opened one part at a time and never through a symbolic link, so that none
    swapped for a link on the way leads elsewhere; created on the way when `create`.
    OSError as os.open raises it (ELOOP: a link, ENOTDIR: a file), its filename the
    parts up to the one that failed."""
    fd = os.dup(start) if isinstance(start, int) else os.open(start, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for k, part in enumerate(parts):
            if create:
                try:
                    os.mkdir(part, dir_fd=fd)
                except FileExistsError:
                    pass
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, "/".join(parts[: k + 1])) from None
            old, fd = fd, inner
            os.close(old)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _exists(name: str, dir_fd: int) -> bool:
    """Whether the folder holds something of that name (a link too)."""
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _is_safe(rel: str) -> bool:
    try:
        safe_relative(rel)
    except OutputConflict:
        return False
    return True
