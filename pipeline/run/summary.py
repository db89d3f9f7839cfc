"""The run summary (summary.json): its article entries and their statuses, the output
names of an article, the run's date and durations, and reading back what an earlier
run recorded (its summary and its sentence records)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from .. import __version__
from ..outdir import MANIFEST, OutputFolder, output_names
from ..translate import Translator
from ..wordalign import from_pharaoh

SUMMARY = "summary.json"
INDEX = "index.html"
RUN_FILES = (SUMMARY, INDEX, MANIFEST)


# What an output name ends with, after the input's name without its suffix.
# Names an mtpipe from before the manifest wrote (its review page was b.html).
LEGACY_ENDINGS = (".en{suffix}", ".align.jsonl", ".html", ".tmx", ".tsv")
STATUSES = ("ok", "skipped", "error", "unsupported", "ignored", "pending")


# An ok article without sentences: no prose in it (only markup, code, numbers, pictures).
NOTHING_TO_TRANSLATE = "nothing to translate (no prose, only markup, code, numbers or pictures): copied as it is, language tags set to English"


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


def earlier_summary(folder: OutputFolder) -> dict:
    """The folder's earlier summary.json, read once per run; empty when there is none
    that mtpipe wrote, or it is not a JSON object."""
    if not folder.owns(SUMMARY):
        return {}
    try:
        raw = json.loads(folder.path(SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def previous_articles(earlier: dict) -> dict[str, Article]:
    """The articles of an earlier summary that are as mtpipe wrote them."""
    entries = earlier.get("articles")
    articles = (article_from_entry(e) for e in entries) if isinstance(entries, list) else ()
    return {a.input: a for a in articles if a is not None}


def recorded_meta(earlier: dict, translator: Translator) -> dict | None:
    """The model, backend and settings an earlier summary records, when they are this
    translator's model and backend: a run that translates nothing describes the run
    that made its outputs, without loading torch to find out the device and threads
    again. None when there is no such summary."""
    meta = summary_meta(earlier)
    same = (meta["model"], meta["revision"], meta["backend"]) == (translator.model.name, translator.model.revision, translator.backend_name)
    return meta if same and meta["settings"] else None


def summary_meta(raw: dict) -> dict:
    """The model, revision, backend and settings of a summary read back from disk,
    each of the type mtpipe writes (a hand-edited value is replaced by a blank)."""
    text = lambda key: raw.get(key) if isinstance(raw.get(key), str) else None  # noqa: E731
    return {
        "model": text("model") or "unknown model",
        "revision": text("revision"),
        "backend": text("backend") or "unknown backend",
        "settings": raw.get("settings") if isinstance(raw.get("settings"), dict) else {},
    }


_RECORD_TYPES = {"id": str, "line": int, "src": str, "mt": str}


# Fields a record has when its article was scored against a reference (null allowed).
_SCORED_TYPES = {"unit": (str,), "ref": (str,), "chrf": (int, float), "bleu": (int, float)}


def read_records(path: Path) -> list[dict]:
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


def meta_of(translator: Translator) -> dict:
    return {
        "model": translator.model.name,
        "revision": translator.model.revision,
        "backend": translator.backend_name,
        "settings": translator.settings_used(),
    }


def run_totals(articles: Sequence[Article]) -> dict:
    """How many articles of each status, and the sentences of those not in error."""
    done = [a for a in articles if a.status in ("ok", "skipped")]
    return {
        "articles": len(articles),
        **{status: sum(a.status == status for a in articles) for status in STATUSES},
        "sentences": sum(a.sentences for a in done),
        "from_memory": sum(a.from_memory for a in done),
    }


def summary_of(translator: Translator, meta: dict, articles: list[Article], started: float) -> dict:
    return {
        "mtpipe": __version__,
        "date": run_date(),
        **meta,
        "engine": translator.engine_used(),
        "model_loaded": translator.loaded,
        "seconds": elapsed(started),
        "warnings": list(translator.warnings),
        "totals": run_totals(articles),
        "articles": [asdict(a) for a in articles],
    }
