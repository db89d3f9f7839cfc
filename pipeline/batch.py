"""Batch: translate a tree of articles into a mirrored output tree, resumably.

`IN/a/b.txt` becomes `OUT/a/b.en.txt`, `OUT/a/b.align.jsonl` and the review files
`OUT/a/b.review.html`, `.tmx` and `.tsv`; `OUT/summary.json` accounts for every path
found under the inputs (translated, skipped as unchanged, error, unsupported or
ignored, each with its reason) and is rewritten as articles finish (a bounded number
of times) and at the end, so an interrupted run is resumed by running it again. One bad article never stops the
rest. `OUT/index.html` links every article's page. mtpipe writes only files it owns
in OUT (see `outdir`): an article whose output would overwrite anybody else's file
is an error entry instead.
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import json
import math
import os
import shlex
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import NamedTuple, Protocol

from .errors import STOPS_A_RUN, OutputError
from . import __version__, evaluate, report
from .align import pair_reference
from .formats import FORMATS, Format, Written, format_for
from .formats.base import ReadOptions
from .ingest import Document, IngestError
from .outdir import MANIFEST, OutputBusy, OutputConflict, OutputFolder, open_folder, output_names, safe_relative
from .project import PROJECT_FILE
from .segment import Segment, segment
from .translate import Translation, Translator, human_digest
from .wordalign import from_pharaoh
from .writers import json_text, jsonl_text, sentence_records

__all__ = ["Decision", "OutputBusy", "OutputConflict", "OutputIsInput", "Selection", "discover", "glob_match", "output_paths", "plan", "rewrite_reports", "run"]

SUMMARY = "summary.json"
INDEX = "index.html"
RUN_FILES = (SUMMARY, INDEX, MANIFEST)
# What an output name ends with, after the input's name without its suffix.
# Names an mtpipe from before the manifest wrote (its review page was b.html).
_LEGACY_ENDINGS = (".en{suffix}", ".align.jsonl", ".html", ".tmx", ".tsv")
# summary.json is rewritten during a run at most every SUMMARY_SECONDS, once another
# SUMMARY_STEP of the articles has finished since the last time.
SUMMARY_SECONDS = 2.0
SUMMARY_STEP = 0.05
SCORE_OPTIONS = evaluate.Options()
# HTER: TER of the model's output against its post-edit (the human translation).
HTER_OPTIONS = evaluate.Options(metrics=("ter",))
# Per-sentence scores written to .align.jsonl (their unit's sentence chrF2 and BLEU).
SEGMENT_METRICS = ("chrf", "bleu")
STATUSES = ("ok", "skipped", "error", "unsupported", "ignored", "pending")
_SYMLINK = "it is a symbolic link, which mtpipe does not follow; copy the file instead"
_KINDS = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


# An ok article without sentences: no prose in it (only markup, code, numbers, pictures).
NOTHING_TO_TRANSLATE = "nothing to translate (no prose, only markup, code, numbers or pictures): copied as it is, language tags set to English"


class OutputIsInput(OutputError, ValueError):
    """The output folder is one of the input folders."""


@dataclass
class Article:
    """What happened to one path under the inputs; one entry of summary.json.

    status is ok, skipped (unchanged since an earlier run), error (`error` says why),
    unsupported (a file of another type), ignored (hidden, the output folder, or an
    output of mtpipe), or pending (not reached yet: only seen in the summary of an
    interrupted run). With a reference, `pairing` says how its sentences were matched
    (lines or aligned) and `scores` holds the article's corpus scores;
    `reference_error` says why it is unscored. `note` says why an ok article has no
    sentences (it had nothing to translate, and was copied).
    """

    input: str
    status: str = "pending"
    error: str | None = None
    output: str | None = None
    encoding: str | None = None
    sentences: int = 0
    from_memory: int = 0
    seconds: float = 0.0
    sha256: str | None = None
    settings: str | None = None
    reference: str | None = None
    reference_sha256: str | None = None
    reference_error: str | None = None
    pairing: str | None = None
    scores: dict[str, float] | None = None
    flagged: int | None = None
    flags: dict[str, int] | None = None
    human: int = 0
    hter: float | None = None
    human_sha256: str | None = None
    note: str | None = None


# The JSON types each field of an Article may have in summary.json.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "input": (str,),
    "status": (str,),
    "sentences": (int,),
    "from_memory": (int,),
    "seconds": (int, float),
    "scores": (dict, type(None)),
    "flagged": (int, type(None)),
    "flags": (dict, type(None)),
    "human": (int,),
    "hter": (int, float, type(None)),
}


def article_from_entry(entry: object) -> Article | None:
    """The Article an entry of an earlier summary.json describes, or None when the entry
    is not one mtpipe writes (edited by hand, damaged): it is then ignored."""
    if not isinstance(entry, dict):
        return None
    known = {f.name for f in fields(Article)}
    values = {k: v for k, v in entry.items() if k in known}
    for name, value in values.items():
        if not isinstance(value, _FIELD_TYPES.get(name, (str, type(None)))) or (isinstance(value, bool) and name != "status"):
            return None
    if "input" not in values or values.get("status", "pending") not in STATUSES:
        return None
    if any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in (values.get("scores") or {}).values()) or any(
        not isinstance(v, int) or isinstance(v, bool) for v in (values.get("flags") or {}).values()
    ):
        return None
    return Article(**values)


class ProgressBar(Protocol):
    def update(self, n: int) -> object: ...

    def set_postfix_str(self, s: str, refresh: bool = True) -> object: ...

    def close(self) -> None: ...


@dataclass
class _Pending:
    """An article to translate. Its text is read when the run scans the inputs (to
    count its sentences and check whether it changed), then again when the translator
    takes it into its window, and is held only until it is written (`load`,
    `release`): memory holds a window of articles, never the whole folder."""

    found: Found  # where the scan found it, to read it again as that file
    article: Article
    sentences: int
    ref: Found | None = None  # its reference translation, read through the reference folder
    options: ReadOptions = ReadOptions()
    doc: Document | None = None
    segments: list[Segment] = field(default_factory=list)
    reference: Document | None = None
    failed: str | None = None

    def load(self) -> list[str]:
        """Read, parse and segment the article (and its reference); its sentences. When
        it cannot be read any more, `failed` says why and it has none (as it does when
        it cannot be translated)."""
        try:
            data = read_found(self.found)
            self.doc = _format(self.article.input).read(data, self.article.input, self.options)
        except IngestError as exc:
            self.failed = f"{shown(self.path)}: {exc}"
            return []
        self.article.sha256 = hashlib.sha256(data).hexdigest()  # as translated, should it have changed since the scan
        self.article.encoding = self.doc.encoding
        self.segments = segment(self.doc)
        self.reference = _read_reference(self.article, self.ref, self.options) if self.ref else None
        return [s.text for s in self.segments]

    @property
    def path(self) -> Path:
        return self.found.path

    def release(self) -> None:
        self.doc, self.segments, self.reference = None, [], None


class Outputs(NamedTuple):
    """The files written for one article."""

    text: Path
    jsonl: Path
    html: Path
    tmx: Path
    tsv: Path


def output_paths(out: Path, rel: str) -> Outputs:
    """The files written for the input at relative path `rel`."""
    return Outputs(*(out / name for name in output_names(rel)))


# The last second datetime can write (9999-12-31T23:59:59Z).
_LAST_EPOCH = 253402300799


def _fixed_epoch() -> int | None:
    """SOURCE_DATE_EPOCH (the reproducible-builds convention) when set, else None."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        return None
    if not epoch.isdigit() or int(epoch) > _LAST_EPOCH:
        raise ValueError(
            f"SOURCE_DATE_EPOCH={epoch[:30]!r} is not a date mtpipe can write (whole seconds since 1970, before the year 10000); set it to e.g. $(date +%s) or unset it"
        )
    return int(epoch)


def run_date() -> str:
    """When a run happened, as written into its pages: now in UTC, or SOURCE_DATE_EPOCH
    when set, so that runs can be compared bytewise. ValueError for an unusable one."""
    epoch = _fixed_epoch()
    moment = datetime.now(timezone.utc) if epoch is None else datetime.fromtimestamp(epoch, timezone.utc)
    return moment.isoformat(timespec="seconds")


def _elapsed(since: float) -> float:
    """Seconds since `since` for summary.json; 0 under SOURCE_DATE_EPOCH, where every
    output must be the same from run to run."""
    return 0.0 if _fixed_epoch() is not None else round(time.perf_counter() - since, 3)


def _page_info(article: Article, meta: dict, date: str) -> report.PageInfo:
    """The page header of an article; `meta` holds the model, revision, backend and
    settings as summary.json does."""
    return report.PageInfo(
        name=article.input,
        model=meta["model"],
        revision=meta.get("revision"),
        backend=meta["backend"],
        settings=meta.get("settings") or {},
        date=date,
        pairing=article.pairing,
        reference=article.reference,
        scores=article.scores,
        hter=article.hter,
    )


def _review_files(page: report.PageInfo, records: Sequence[dict], article: Article) -> list[bytes]:
    """The article's review page, TMX and TSV; the article's `flagged` and `flags`
    (rows flagged, rows by flag) are set from the same rows."""
    rows = report.rows(records)
    texts = [report.article_html(page, rows), report.tmx_text(page, rows), report.tsv_text(rows)]
    article.flagged, article.flags = sum(bool(row.flags) for row in rows), report.flag_counts(rows)
    return [t.encode("utf-8") for t in texts]


def _write_all(folder: OutputFolder, files: Sequence[tuple[str, bytes]]) -> None:
    """Write an article's files; if one cannot be written, remove those this call wrote,
    so that an article has all its outputs from one run or none from it."""
    written: list[str] = []
    try:
        for rel, data in files:
            folder.write(rel, data)
            written.append(rel)
    except BaseException:
        for rel in written:
            folder.remove(rel)
        raise


def _write_index(folder: OutputFolder, summary: dict, date: str) -> None:
    pages = {a["input"]: output_names(a["input"])[2] for a in summary["articles"] if a["status"] in ("ok", "skipped")}
    folder.write(INDEX, report.index_html(summary, pages, date).encode("utf-8"))


def shown(path: str | Path) -> str:
    """A path as text that can always be printed and stored in JSON: bytes of a name
    that are not UTF-8 appear as \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


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
    """Whether a relative path with `/` separators matches a glob pattern as a whole, as
    PurePosixPath.full_match reads patterns: `*` any characters but `/`, `?` one of
    them, `[abc]` and `[!abc]` one of a set or not, and a part that is exactly `**` any
    number of folders (`a/**` everything under a). Case counts."""
    if sys.version_info >= (3, 13):
        return PurePosixPath(path).full_match(pattern)
    return _match_parts(PurePosixPath(path).parts, PurePosixPath(pattern).parts)


def _match_parts(names: Sequence[str], parts: Sequence[str]) -> bool:
    """full_match before Python 3.13: each part of the pattern matches one name as
    fnmatch does, `**` any number of them (at the end, at least one). The one
    difference: 3.13 lets a `[!...]` set match a `/`, this never does."""
    if not parts:
        return not names
    if parts[0] == "**":
        return bool(names) if len(parts) == 1 else any(_match_parts(names[i:], parts[1:]) for i in range(len(names) + 1))
    return bool(names) and fnmatch.fnmatchcase(names[0], parts[0]) and _match_parts(names[1:], parts[1:])


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


def _identity(path: Path) -> tuple[int, int] | None:
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
            yield Found(folder, shown(prefix) or "./", "error", f"{shown(folder)}: its contents cannot be listed ({_reason(exc)}); make it readable (chmod u+rx)")
            continue
        subfolders = []
        for name in names:
            path, rel = folder / name, prefix + name
            try:
                st = os.lstat(path)
            except OSError as exc:
                yield Found(path, shown(rel), "error", f"{shown(path)}: it cannot be examined ({_reason(exc)}); make its folder searchable (chmod u+x)")
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


def _distinct(inputs: Sequence[Path]) -> list[Path]:
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
    skip = _identity(out)
    owned_ids = {ident for ident in map(_identity, owned) if ident}
    found: list[Found] = []
    for item in _distinct(inputs):
        try:
            st = os.lstat(item)
        except OSError as exc:
            found.append(Found(item, shown(item.name or item), "error", f"{shown(item)}: it cannot be examined ({_reason(exc)})"))
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


def _format(name: str) -> Format:
    """The format of an article (discovery let only supported ones through)."""
    fmt = format_for(name)
    if fmt is None:
        raise IngestError(f"mtpipe does not read {os.path.splitext(name)[1] or 'files without a suffix'} files")
    return fmt


def read_found(found: Found) -> bytes:
    """The bytes of an article found by the scan, read as that very file: through its
    input folder, one folder at a time, never following a link (a folder on its path
    swapped for a link since the scan cannot lead outside the inputs), and refused if
    it is another file than the one the scan saw."""
    if found.root is None:
        return read_regular(found.path, found.ident)
    parts = PurePosixPath(found.rel).parts
    try:
        folder = open_folder(found.root, parts[:-1])
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise IngestError("a folder on its path was replaced by a symbolic link or a file since the scan, so it is not read; run again") from None
        raise IngestError(f"its folder cannot be opened ({_reason(exc)})") from None
    try:
        return read_regular(Path(parts[-1]), found.ident, dir_fd=folder)
    finally:
        os.close(folder)


def read_regular(path: Path, ident: tuple[int, int] | None = None, dir_fd: int | None = None) -> bytes:
    """The bytes of a regular file (`path` relative to the folder `dir_fd` when given);
    IngestError for anything else (a link, a FIFO that would block forever, a device
    that never ends), a file that cannot be read, or another file than `ident` names."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        raise IngestError("it does not exist") from None
    except PermissionError:
        raise IngestError("permission denied; make it readable") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IngestError(_SYMLINK) from None
        raise IngestError(f"it cannot be read ({_reason(exc)})") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise IngestError(_not_regular(st.st_mode))
        if ident is not None and (st.st_dev, st.st_ino) != ident:
            raise IngestError("it was replaced by another file since the scan, so it is not read; run again")
        try:
            return fh.read()
        except OSError as exc:
            raise IngestError(f"it cannot be read ({_reason(exc)})") from None


def _previous(folder: OutputFolder) -> dict[str, Article]:
    """The articles of the folder's earlier summary.json that are as mtpipe wrote them."""
    if not folder.owns(SUMMARY):
        return {}
    try:
        entries = json.loads(folder.path(SUMMARY).read_text(encoding="utf-8"))["articles"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    articles = (article_from_entry(e) for e in entries) if isinstance(entries, list) else ()
    return {a.input: a for a in articles if a is not None}


def _recorded_meta(folder: OutputFolder, translator: Translator) -> dict | None:
    """The model, backend and settings the folder's earlier summary.json records, when
    they are this translator's model and backend: a run that translates nothing
    describes the run that made its outputs, without loading torch to find out the
    device and threads again. None when there is no such summary."""
    if not folder.owns(SUMMARY):
        return None
    try:
        meta = _summary_meta(json.loads(folder.path(SUMMARY).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
    same = (meta["model"], meta["revision"], meta["backend"]) == (translator.model.name, translator.model.revision, translator.backend_name)
    return meta if same and meta["settings"] else None


def _unchanged(before: Article | None, article: Article, out: Path) -> bool:
    return (
        before is not None
        and before.status in ("ok", "skipped")
        and all(getattr(before, key) == getattr(article, key) for key in ("sha256", "settings", "reference_sha256"))
        and all(p.is_file() for p in output_paths(out, article.input))
    )


def _same_human(prior: Article, translator: Translator, rel: str, data: bytes, options: ReadOptions) -> bool:
    """Whether the human translations the memory holds for the article's sentences are
    those its last run used (an import since then makes it be written again)."""
    if not prior.human_sha256 and not translator.has_human:
        return True
    sentences = [s.text for s in segment(_format(rel).read(data, rel, options))]
    return translator.human_digest(sentences) == prior.human_sha256


def _post_edits(translations: Sequence[Translation], extra: list[dict]) -> float | None:
    """HTER of the sentences whose human translation differs from what the model had
    made of them: per sentence into `extra` (with the model's output), and the
    article's over all of them (None when there are none)."""
    edited = [i for i, t in enumerate(translations) if t.human and t.machine is not None and t.machine != t.text]
    if not edited:
        return None
    result = evaluate.score([translations[i].machine for i in edited], [[translations[i].text for i in edited]], HTER_OPTIONS)
    for i, rate in zip(edited, result.scores["ter"].segments):
        extra[i].update(machine=translations[i].machine, hter=round(rate, 4))
    return round(result.scores["ter"].score, 4)


def _read_reference(article: Article, ref: Found, options: ReadOptions) -> Document | None:
    """Parse the article's reference translation, or note in the article why not."""
    path = ref.path
    article.reference = shown(path)
    try:
        data = read_found(ref)
        article.reference_sha256 = hashlib.sha256(data).hexdigest()
        return _format(article.input).read(data, str(path), options)
    except IngestError as exc:
        article.reference_error = f"{shown(path)}: {exc}"
        return None


def _score_reference(item: _Pending, translations: list[Translation]) -> list[dict]:
    """Pair the article with its reference, score it, and return per-sentence fields."""
    units, item.article.pairing = pair_reference(item.doc, item.segments, [t.text for t in translations], item.reference)
    hyps = [" ".join(translations[i].text for i in unit.source) for unit in units]
    refs = [unit.reference for unit in units]
    scored = [k for k, ref in enumerate(refs) if ref.strip()]
    extra: list[dict] = [{} for _ in item.segments]
    if not scored:
        item.article.reference_error = f"{item.article.reference}: no reference sentence could be paired with the article"
        return extra
    result = evaluate.score([hyps[k] for k in scored], [[refs[k] for k in scored]], SCORE_OPTIONS)
    item.article.scores = {key: round(s.score, 4) for key, s in result.scores.items()}
    segment_scores = dict(zip(scored, zip(*(result.scores[m].segments for m in SEGMENT_METRICS))))
    for k, unit in enumerate(units):
        values = segment_scores.get(k, (None,) * len(SEGMENT_METRICS))
        for i in unit.source:
            extra[i] = {
                "unit": item.segments[unit.source[0]].id,
                "ref": unit.reference,
                **{m: None if v is None else round(v, 4) for m, v in zip(SEGMENT_METRICS, values)},
            }
    return extra


def run(
    inputs: Sequence[Path],
    out: Path,
    translator: Translator,
    force: bool = False,
    progress: Callable[..., ProgressBar] | None = None,
    references: Path | None = None,
    select: Selection | None = None,
    options: ReadOptions = ReadOptions(),
) -> dict:
    """Translate every article under `inputs` into `out`; return the run summary.

    `progress(total=sentences)` makes a progress bar (tqdm fits) that is told after
    every batch how many sentences are done, with the article in progress as its
    postfix. With `references`, an article `a/b.txt`
    whose reference `references/a/b.txt` exists is scored against it, and the run
    gets corpus scores over all such articles. The files `select` leaves out are
    listed as ignored; articles are read with `options` (protect rules, front matter
    keys). Raises ModelError if the model cannot be loaded, EngineError if its engine
    is lost, OutputBusy if another run is writing to `out`, OutputIsInput if `out` is an input folder,
    OutputConflict if the run's own files (summary.json, index.html) would overwrite
    files mtpipe did not write, and OSError if summary.json cannot be written.
    """
    inputs = _outside(inputs, out)
    with OutputFolder(out) as folder:
        _take_over(folder)
        folder.remove_stale_temporaries()
        return _run(inputs, folder, translator, force, progress, references, select, options)


def plan(
    inputs: Sequence[Path],
    out: Path,
    translator: Translator,
    force: bool = False,
    references: Path | None = None,
    select: Selection | None = None,
    options: ReadOptions = ReadOptions(),
) -> list[Decision]:
    """What `run` with these arguments would do with every path under `inputs`, in
    the order of its summary: the same decisions, taken without writing anything
    (`out` is read, not created or locked) or loading the model. The translator only
    gives its settings and the human translations of its memory. Raises OutputIsInput
    and OutputConflict as run does."""
    inputs = _outside(inputs, out)
    with _FolderView(out) as folder:
        _take_over(folder)
        return _decide(inputs, folder, translator, force, references, select, options)


def _outside(inputs: Sequence[Path], out: Path) -> list[Path]:
    """The inputs without repeats; OutputIsInput if the output folder is one of them."""
    inputs = _distinct(inputs)
    target = _identity(out)
    if target and any(_identity(item) == target and item.is_dir() and not item.is_symlink() for item in inputs):
        raise OutputIsInput(f"the output folder {shown(out)} is also an input folder; choose an output folder outside it (e.g. -o {shown(out)}-en)")
    return inputs


def _take_over(folder: OutputFolder) -> None:
    """Own what an older mtpipe wrote, and check that the run's files may be written."""
    _adopt_legacy(folder)
    for name in (SUMMARY, INDEX):
        folder.check(name)


class _FolderView(OutputFolder):
    """The output folder as a dry run sees it: read, never created, locked or written.
    What a run would take over from an older mtpipe is owned in memory only."""

    def __enter__(self) -> _FolderView:
        if self.root.is_dir():
            self._owned = self._read_manifest()
        return self

    def _record(self, rels: Iterable[str]) -> None:
        self._owned.update(rels)


def _adopt_legacy(folder: OutputFolder) -> None:
    """Take over the files an mtpipe from before the manifest wrote, as its summary.json
    lists them, so that upgrading does not turn them into foreign files."""
    if folder.has_manifest or not folder.path(SUMMARY).is_file():
        return
    try:
        summary = json.loads(folder.path(SUMMARY).read_text(encoding="utf-8"))
        entries = summary["articles"] if isinstance(summary, dict) and "mtpipe" in summary else None
    except (OSError, ValueError, KeyError):
        return
    if not isinstance(entries, list):
        return
    articles = [a for a in map(article_from_entry, entries) if a and a.status in ("ok", "skipped")]
    folder.adopt([SUMMARY, INDEX, *(name for a in articles for name in output_names(a.input, _LEGACY_ENDINGS))])


class _SummaryWriter:
    """Rewrites summary.json during a run: at most every SUMMARY_SECONDS, and only once
    another SUMMARY_STEP of the articles to translate has finished, so that a run
    rewrites it at most 1 / SUMMARY_STEP times and the bytes written stay linear in the
    number of articles. Interrupted runs write it too (see _run); only a killed one
    leaves it behind, and the next run translates those articles again from memory."""

    def __init__(self, folder: OutputFolder, translator: Translator, articles: list[Article], started: float, pending: int, meta: dict | None):
        self.folder, self.translator, self.articles, self.started, self.meta = folder, translator, articles, started, meta
        self.step = max(1, math.ceil(pending * SUMMARY_STEP))
        self.last, self.finished = time.monotonic(), 0
        self.extra: dict = {}  # run-level fields known at the end (corpus scores)

    def write(self) -> dict:
        summary = _summary(self.translator, self.meta or _meta(self.translator), self.articles, self.started) | self.extra
        self.folder.write(SUMMARY, json_text(summary).encode("utf-8"))
        self.last, self.finished = time.monotonic(), 0
        return summary

    def article_done(self) -> None:
        self.finished += 1
        if self.finished >= self.step and time.monotonic() - self.last >= SUMMARY_SECONDS:
            self.write()


def _claim_outputs(folder: OutputFolder, rel: str, claimed: dict[str, str], name_max: int) -> None:
    """Check that the article may write its outputs, and reserve them for it: no other
    article of the run writes them, their names fit the file system, and none would
    overwrite a file mtpipe did not write. Raises OutputConflict saying which."""
    names = output_names(rel)
    for name in names:
        other = claimed.get(name) or ("the run itself" if name in RUN_FILES else None)
        if other:
            raise OutputConflict(f"{other} writes the same output files ({name}); rename one or run them separately")
        size = len(os.fsencode(os.path.basename(name)))
        if size > name_max:
            raise OutputConflict(f"its output name {os.path.basename(name)} would be {size} bytes, over the {name_max} the file system allows; shorten its name")
        folder.check(name)
    claimed.update(dict.fromkeys(names, rel))


def _name_max(folder: Path) -> int:
    """The longest file name the folder's file system takes (of its nearest existing
    parent, for a dry run before the folder exists)."""
    try:
        return os.pathconf(next(p for p in (folder, *folder.parents) if p.exists()), "PC_NAME_MAX")
    except (OSError, ValueError, StopIteration):
        return 255


class Decision(NamedTuple):
    """What a run does with one path under its inputs: its summary entry, with status
    pending when it is to be translated (`pending` then holds the work), skipped when
    unchanged, or why not."""

    path: Path
    article: Article
    pending: _Pending | None = None

    @property
    def reason(self) -> str | None:
        """Why the path is not translated, without the path its entry's error starts with."""
        error = self.article.error
        return error.removeprefix(f"{shown(self.path)}: ") if error else None


def _decide(
    inputs: Sequence[Path],
    folder: OutputFolder,
    translator: Translator,
    force: bool,
    references: Path | None,
    select: Selection | None,
    options: ReadOptions,
) -> list[Decision]:
    """What the run does with every path under the inputs: read each article (and its
    reference), reserve its outputs, and skip it when it is unchanged since the last
    run of the folder (same text, settings, reference and human translations, and its
    outputs still there). Shared by the run and its dry run, so that both say the same."""
    out = folder.root
    # Reading options other than the defaults change the English too (older runs' settings stay valid).
    key = translator.key if options == ReadOptions() else translator.key + options.key
    settings = hashlib.sha256(key.encode()).hexdigest()[:16]
    before = _previous(folder)
    decisions: list[Decision] = []
    claimed: dict[str, str] = {}
    name_max = _name_max(out)
    for found in discover(inputs, out, folder.owned_paths(), select):
        article = Article(input=found.rel)
        decisions.append(Decision(found.path, article))
        if found.status:
            article.status, article.error = found.status, found.reason
            continue
        path, rel = found.path, found.rel
        try:
            _claim_outputs(folder, rel, claimed, name_max)
            data = read_found(found)
            article.sha256 = hashlib.sha256(data).hexdigest()
            article.settings = settings
            article.output = output_names(rel)[0]
            ref = Found(references / rel, rel, root=references) if references and os.path.lexists(references / rel) else None
            if ref:
                _read_reference(article, ref, options)
            prior = before.get(rel)
            if not force and _unchanged(prior, article, out) and _same_human(prior, translator, rel, data, options):
                article.status, article.encoding = "skipped", prior.encoding
                article.sentences, article.from_memory = prior.sentences, prior.from_memory
                article.pairing, article.scores, article.flagged, article.flags = prior.pairing, prior.scores, prior.flagged, prior.flags
                article.human, article.hter, article.human_sha256 = prior.human, prior.hter, prior.human_sha256
                continue
            sentences = len(segment(_format(rel).read(data, rel, options)))
            decisions[-1] = Decision(path, article, _Pending(found, article, sentences, ref, options))
        except (IngestError, OutputConflict) as exc:
            article.status, article.error = "error", f"{shown(path)}: {exc}"
    return decisions


def _run(
    inputs: Sequence[Path],
    folder: OutputFolder,
    translator: Translator,
    force: bool,
    progress: Callable[..., ProgressBar] | None,
    references: Path | None,
    select: Selection | None,
    options: ReadOptions,
) -> dict:
    started = time.perf_counter()
    out = folder.root
    date = run_date()
    decisions = _decide(inputs, folder, translator, force, references, select, options)
    articles = [d.article for d in decisions]
    pending = [d.pending for d in decisions if d.pending]
    summaries = _SummaryWriter(folder, translator, articles, started, len(pending), None if pending else _recorded_meta(folder, translator))
    bar = progress(total=sum(p.sentences for p in pending)) if progress else None
    try:
        _translate_pending(pending, folder, translator, date, bar, summaries)
        if references:
            summaries.extra["scores"] = _run_scores(out, articles)
    except STOPS_A_RUN:
        if any(a.status == "ok" for a in articles):  # else nothing was done: leave OUT as it was
            summaries.write()
        raise
    except BaseException:  # interrupted: what finished is recorded, the rest is pending
        summaries.write()
        raise
    finally:
        if bar:
            bar.close()
    summary = summaries.write()
    _write_index(folder, summary, date)
    return summary


def _summary_meta(raw: dict) -> dict:
    """The model, revision, backend and settings of a summary read back from disk,
    each of the type mtpipe writes (a hand-edited value is replaced by a blank)."""
    text = lambda key: raw.get(key) if isinstance(raw.get(key), str) else None  # noqa: E731
    return {
        "model": text("model") or "unknown model",
        "revision": text("revision"),
        "backend": text("backend") or "unknown backend",
        "settings": raw.get("settings") if isinstance(raw.get("settings"), dict) else {},
    }


def rewrite_reports(out: Path) -> dict:
    """Write the review pages, exports and index of an earlier run again from its
    summary.json and .align.jsonl files (after an upgrade, or to fix a deleted page).

    An entry whose records cannot be read, or whose name would lead outside `out`,
    becomes an error entry; nothing is written outside `out`. Raises
    FileNotFoundError when `out` holds no summary.json, ValueError when it is not a
    summary mtpipe wrote."""
    if not (out / SUMMARY).is_file():
        raise FileNotFoundError(f"{shown(out)} holds no {SUMMARY}; run mtpipe run -o {shown(out)} first")
    with OutputFolder(out) as folder:
        _adopt_legacy(folder)
        if not folder.owns(SUMMARY):
            raise OutputConflict(f"{shown(out / SUMMARY)} was not written by mtpipe; run mtpipe run -o {shown(out)} first")
        raw = json.loads(folder.path(SUMMARY).read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or not isinstance(raw.get("articles"), list):
            raise ValueError(f"{shown(out / SUMMARY)} is not a summary mtpipe wrote (it has no list of articles); run mtpipe run -o {shown(out)} again")
        meta = _summary_meta(raw)
        articles = [a for a in map(article_from_entry, raw["articles"]) if a is not None]
        date = run_date()
        for article in articles:
            if article.status not in ("ok", "skipped"):
                continue
            try:
                safe_relative(article.input)
                names = output_names(article.input)
                records = _records(out / names[1])
                review = _review_files(_page_info(article, meta, date), records, article)
                _write_all(folder, list(zip(names[2:], review)))
            except OutputConflict as exc:
                article.status, article.error = "error", f"{article.input}: {exc}; not rewritten"
            except (OSError, ValueError) as exc:
                article.status, article.error = "error", f"{shown(out / names[1])}: the sentence records cannot be read ({exc}); run mtpipe run --force"
        summary = {**raw, **meta, "totals": _totals(articles), "articles": [asdict(a) for a in articles]}
        folder.write(SUMMARY, json_text(summary).encode("utf-8"))
        _write_index(folder, summary, date)
        return summary


_RECORD_TYPES = {"id": str, "line": int, "src": str, "mt": str}
# Fields a record has when its article was scored against a reference (null allowed).
_SCORED_TYPES = {"unit": (str,), "ref": (str,), "chrf": (int, float), "bleu": (int, float)}


def _records(path: Path) -> list[dict]:
    """The sentence records of an article's .align.jsonl, in order; ValueError naming
    the line when one is not a record mtpipe writes. Records are split at "\n" only:
    JSON escapes it inside strings, whereas U+2028 and friends stay raw."""
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n")[:-1], start=1):
        record = json.loads(line)
        if not isinstance(record, dict) or not all(isinstance(record.get(k), t) for k, t in _RECORD_TYPES.items()):
            raise ValueError(f"line {number} is not a sentence record")
        if any(record.get(k) is not None and (not isinstance(record[k], t) or isinstance(record[k], bool)) for k, t in _SCORED_TYPES.items()):
            raise ValueError(f"line {number} has scores that are not a sentence record's")
        if "words" in record and not _links_fit(record):
            raise ValueError(f"line {number} has word links that are not pairs of its words")
        records.append(record)
    return records


def _links_fit(record: dict) -> bool:
    """Whether a record's `words` are Pharaoh links within its two sentences' words."""
    try:
        links = from_pharaoh(record["words"])
    except (TypeError, ValueError, AttributeError):
        return False
    n_source, n_target = len(record["src"].split()), len(record["mt"].split())
    return all(s < n_source and t < n_target for s, t in links)


def _run_scores(out: Path, articles: list[Article]) -> dict | None:
    """Corpus scores over the paired units of every scored article, read back from the
    JSONL files (so skipped articles count too)."""
    hyps: list[str] = []
    refs: list[str] = []
    for article in articles:
        if article.status not in ("ok", "skipped") or not article.scores:
            continue
        units: dict[str, tuple[list[str], str]] = {}
        path = output_paths(out, article.input).jsonl
        try:
            records = _records(path)
        except (OSError, ValueError) as exc:
            article.reference_error = f"{shown(path)}: the sentence records cannot be read ({exc}), so the article is left out of the corpus scores; run mtpipe run --force"
            continue
        for record in records:
            if record.get("chrf") is not None:
                units.setdefault(record["unit"], ([], record["ref"]))[0].append(record["mt"])
        hyps += [" ".join(mts) for mts, _ in units.values()]
        refs += [ref for _, ref in units.values()]
    if not hyps:
        return None
    result = evaluate.score(hyps, [refs], SCORE_OPTIONS, segments=False)
    return {key: {"score": round(s.score, 4), "signature": s.signature} for key, s in result.scores.items()}


def _translate_pending(
    pending: list[_Pending], folder: OutputFolder, translator: Translator, date: str, bar: ProgressBar | None, summaries: _SummaryWriter
) -> None:
    """Translate the parsed articles through the translator's stream (their sentences
    share batches), writing each article as soon as its last sentence is done and
    recording the outcome in its Article.

    Should a shared batch fail for another reason than the model or the memory, the
    articles it held are translated again one by one, so that only the article at
    fault is an error entry; the stream then goes on with the articles after them."""
    unfinished = dict.fromkeys(range(len(pending)))  # in input order: the first is shown as in progress

    def progress(n: int) -> None:
        if bar:
            bar.set_postfix_str(pending[next(iter(unfinished))].article.input if unfinished else "", refresh=False)
            bar.update(n)

    def finish(index: int, translations: list[Translation]) -> None:
        del unfinished[index]
        item = pending[index]
        if item.failed:
            item.article.status, item.article.error = "error", item.failed
        else:
            _write_article(item, translations, folder, translator, date)
        item.release()
        summaries.article_done()

    start = 0
    while start < len(pending):
        pulled = start
        started: dict[int, float] = {}

        def groups() -> Iterator[list[str]]:
            nonlocal pulled
            for item in pending[start:]:
                started[pulled] = time.perf_counter()
                pulled += 1
                yield item.load()

        try:
            for offset, translations in translator.stream(groups(), progress):
                pending[start + offset].article.seconds = _elapsed(started[start + offset])
                finish(start + offset, translations)
            return
        except STOPS_A_RUN:
            raise
        except Exception:  # a batch failed: find the article at fault
            for index in [i for i in range(start, pulled) if i in unfinished]:
                item, t0 = pending[index], time.perf_counter()
                try:
                    translations = translator.translate([s.text for s in item.segments])
                except STOPS_A_RUN:
                    raise
                except Exception as exc:
                    item.failed, translations = f"{shown(item.path)}: translation failed ({type(exc).__name__}: {exc}); please report this", []
                item.article.seconds = _elapsed(t0)
                finish(index, translations)
            start = pulled


def _write_article(item: _Pending, translations: list[Translation], folder: OutputFolder, translator: Translator, date: str) -> None:
    """Score an article against its reference, write its files, record the outcome."""
    article = item.article
    try:
        extra = _score_reference(item, translations) if item.reference else [{} for _ in translations]
        article.hter = _post_edits(translations, extra)
        names = output_names(article.input)
        english: Written = _format(article.input).write(item.doc, item.segments, translations)
        records = sentence_records(item.segments, translations, extra, doc=item.doc)
        for record in records:
            if record["id"] in english.unsure:
                record["markup"] = "unsure"
        review = _review_files(_page_info(article, _meta(translator), date), records, article)
        texts = [english.data, jsonl_text(records).encode("utf-8")]
        _write_all(folder, list(zip(names, texts + review)))
    except OutputConflict as exc:
        article.status, article.error = "error", f"{shown(item.path)}: {exc}"
    except OSError as exc:
        article.status, article.error = "error", f"{shown(item.path)}: its output cannot be written ({_reason(exc)})"
    except Exception as exc:  # one article must never stop the batch
        article.status, article.error = "error", f"{shown(item.path)}: its outputs could not be made ({type(exc).__name__}: {exc}); please report this"
    else:
        article.status = "ok"
        article.sentences = len(item.segments)
        article.note = None if item.segments else NOTHING_TO_TRANSLATE
        article.from_memory = sum(t.from_memory for t in translations)
        article.human = sum(t.human for t in translations)
        article.human_sha256 = human_digest((seg.text, t.text) for seg, t in zip(item.segments, translations) if t.human)


def _meta(translator: Translator) -> dict:
    return {
        "model": translator.model.name,
        "revision": translator.model.revision,
        "backend": translator.backend_name,
        "settings": translator.settings_used(),
    }


def _totals(articles: Sequence[Article]) -> dict:
    """How many articles of each status, and the sentences of those not in error."""
    done = [a for a in articles if a.status in ("ok", "skipped")]
    return {
        "articles": len(articles),
        **{status: sum(a.status == status for a in articles) for status in STATUSES},
        "sentences": sum(a.sentences for a in done),
        "from_memory": sum(a.from_memory for a in done),
    }


def _summary(translator: Translator, meta: dict, articles: list[Article], started: float) -> dict:
    return {
        "mtpipe": __version__,
        "date": run_date(),
        **meta,
        "engine": translator.engine_used(),
        "model_loaded": translator.loaded,
        "seconds": _elapsed(started),
        "warnings": list(translator.warnings),
        "totals": _totals(articles),
        "articles": [asdict(a) for a in articles],
    }
