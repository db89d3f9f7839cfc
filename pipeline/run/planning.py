"""Planning a run: which articles are unchanged (same bytes, settings, reference and
human translations, outputs present) and which are translated, and which output
files each may write. A dry run stops here."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ..errors import OutputError
from ..formats.base import ReadOptions
from ..ingest import Document, IngestError
from ..outdir import OutputConflict, OutputFolder, output_names
from ..records import Article, RunSummary, article_from_json
from ..segment import Segment, segment
from ..translate import Translator
from .discover import (
    Found,
    Selection,
    discover,
    distinct_inputs,
    file_identity,
    parse,
    read_found,
    shown,
)
from .summary import (
    INDEX,
    LEGACY_ENDINGS,
    RUN_FILES,
    SUMMARY,
    earlier_summary,
    output_paths,
    previous_articles,
)


class OutputIsInput(OutputError, ValueError):
    """The output folder is one of the input folders."""


@dataclass
class Pending:
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
            data = read_found(self.found, self.options)
            self.doc = parse(self.article.input, data, self.options)
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


def _unchanged(before: Article | None, article: Article, out: Path) -> bool:
    return (
        before is not None
        and before.done
        and all(getattr(before, key) == getattr(article, key) for key in ("sha256", "settings", "reference_sha256"))
        and all(p.is_file() for p in output_paths(out, article.input))
    )


def _same_human(prior: Article, translator: Translator, rel: str, data: bytes, options: ReadOptions) -> bool:
    """Whether the human translations the memory holds for the article's sentences are
    those its last run used (an import since then makes it be written again)."""
    if not prior.human_sha256 and not translator.has_human:
        return True
    sentences = [s.text for s in segment(parse(rel, data, options))]
    return translator.human_digest(sentences) == prior.human_sha256


def _read_reference(article: Article, ref: Found, options: ReadOptions) -> Document | None:
    """Parse the article's reference translation, or note in the article why not."""
    path = ref.path
    article.reference = shown(path)
    try:
        data = read_found(ref, options)
        article.reference_sha256 = hashlib.sha256(data).hexdigest()
        return parse(article.input, data, options, str(path))
    except IngestError as exc:
        article.reference_error = f"{shown(path)}: {exc}"
        return None


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
    inputs = outside_of(inputs, out)
    with _FolderView(out) as folder:
        take_over(folder)
        return decide(inputs, folder, translator, force, references, select, options, earlier_summary(folder))


def outside_of(inputs: Sequence[Path], out: Path) -> list[Path]:
    """The inputs without repeats; OutputIsInput if the output folder is one of them."""
    inputs = distinct_inputs(inputs)
    target = file_identity(out)
    if target and any(file_identity(item) == target and item.is_dir() and not item.is_symlink() for item in inputs):
        raise OutputIsInput(f"the output folder {shown(out)} is also an input folder; choose an output folder outside it (e.g. -o {shown(out)}-en)")
    return inputs


def take_over(folder: OutputFolder) -> None:
    """Own what an older mtpipe wrote, and check that the run's files may be written."""
    adopt_legacy(folder)
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


def adopt_legacy(folder: OutputFolder) -> None:
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
    articles = [a for a in map(article_from_json, entries) if a and a.done]
    folder.adopt([SUMMARY, INDEX, *(name for a in articles for name in output_names(a.input, LEGACY_ENDINGS))])


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
    pending: Pending | None = None

    @property
    def reason(self) -> str | None:
        """Why the path is not translated, without the path its entry's error starts with."""
        error = self.article.error
        return error.removeprefix(f"{shown(self.path)}: ") if error else None


def settings_hash(translator: Translator, options: ReadOptions) -> str:
    """What an article's English depends on besides its text: the model, backend and
    decoding settings, reading options other than the defaults (so older runs'
    settings stay valid), and the glossary whose terms it forces."""
    key = translator.key if options == ReadOptions() else translator.key + options.key
    if translator.glossary is not None:  # the terms it forces change the English
        key += f"\0glossary {translator.glossary.digest}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def decide(
    inputs: Sequence[Path],
    folder: OutputFolder,
    translator: Translator,
    force: bool,
    references: Path | None,
    select: Selection | None,
    options: ReadOptions,
    earlier: RunSummary | None,
) -> list[Decision]:
    """What the run does with every path under the inputs: read each article (and its
    reference), reserve its outputs, and skip it when it is unchanged since the last
    run of the folder (`earlier`, its summary: same text, settings, reference and human
    translations, and its outputs still there). Shared by the run and its dry run, so
    that both say the same."""
    out = folder.root
    settings = settings_hash(translator, options)
    before = previous_articles(earlier)
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
            data = read_found(found, options)
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
            sentences = len(segment(parse(rel, data, options)))
            decisions[-1] = Decision(path, article, Pending(found, article, sentences, ref, options))
        except (IngestError, OutputConflict) as exc:
            article.status, article.error = "error", f"{shown(path)}: {exc}"
    return decisions
