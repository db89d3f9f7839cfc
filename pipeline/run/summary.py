"""The run summary (summary.json): its article entries and their statuses, the output
names of an article, the run's date and durations, and reading back what an earlier
run recorded (its summary and its sentence records)."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from .. import __version__, records
from ..outdir import MANIFEST, OutputFolder, output_names
from ..records import Article, RunMeta, RunSummary, SentenceRecord, load_json
from ..translate import Translator

SUMMARY = "summary.json"
INDEX = "index.html"
RUN_FILES = (SUMMARY, INDEX, MANIFEST)


# What an output name ends with, after the input's name without its suffix.
# Names an mtpipe from before the manifest wrote (its review page was b.html).
LEGACY_ENDINGS = (".en{suffix}", ".align.jsonl", ".html", ".tmx", ".tsv")


# An ok article without sentences: no prose in it (only markup, code, numbers, pictures).
NOTHING_TO_TRANSLATE = "nothing to translate (no prose, only markup, code, numbers or pictures): copied as it is, language tags set to English"


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


def elapsed(since: float) -> float:
    """Seconds since `since` for summary.json; 0 under SOURCE_DATE_EPOCH, where every
    output must be the same from run to run."""
    return 0.0 if _fixed_epoch() is not None else round(time.perf_counter() - since, 3)


def earlier_summary(folder: OutputFolder) -> RunSummary | None:
    """The folder's earlier summary.json, read once per run; None when there is none
    that mtpipe wrote, or it is not a summary."""
    if not folder.owns(SUMMARY):
        return None
    try:
        return RunSummary.from_json(load_json(folder.read(SUMMARY)))
    except (OSError, ValueError):
        return None


def previous_articles(earlier: RunSummary | None) -> dict[str, Article]:
    """The articles of an earlier summary, by input."""
    return {a.input: a for a in earlier.articles} if earlier else {}


def recorded_meta(earlier: RunSummary | None, translator: Translator) -> RunMeta | None:
    """The model, backend and settings an earlier summary records, when they are this
    translator's model and backend: a run that translates nothing describes the run
    that made its outputs, without loading torch to find out the device and threads
    again. None when there is no such summary."""
    if earlier is None:
        return None
    meta = earlier.meta
    same = (meta.model, meta.revision, meta.backend) == (translator.model.name, translator.model.revision, translator.backend_name)
    return meta if same and meta.settings else None


def read_records(folder: OutputFolder, rel: str) -> list[SentenceRecord]:
    """The sentence records of an article's .align.jsonl, `rel` in the output folder
    (see records.read_records and OutputFolder.read)."""
    return records.read_records(folder.read(rel))


def meta_of(translator: Translator) -> RunMeta:
    return RunMeta(translator.model.name, translator.model.revision, translator.backend_name, translator.settings_used())


def summary_of(translator: Translator, meta: RunMeta, articles: list[Article], started: float) -> RunSummary:
    return RunSummary(
        mtpipe=__version__,
        date=run_date(),
        meta=meta,
        articles=articles,
        engine=translator.engine_used(),
        model_loaded=translator.loaded,
        seconds=elapsed(started),
        warnings=list(translator.warnings),
    )
