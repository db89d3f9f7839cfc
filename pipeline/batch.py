"""Batch: translate a tree of articles into a mirrored output tree, resumably.

`IN/a/b.txt` becomes `OUT/a/b.en.txt`, `OUT/a/b.align.jsonl` and the review files
`OUT/a/b.html`, `.tmx` and `.tsv`; `OUT/summary.json` records every article (ok,
skipped or error) and is rewritten after each one, so an interrupted run is resumed
by running it again. One bad article never stops the rest. `OUT/index.html` links
every article's page.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple, Protocol

from . import __version__, evaluate, report
from .align import pair_reference
from .hub import ModelError
from .ingest import ARTICLE_SUFFIXES, Document, IngestError, parse
from .segment import Segment, segment
from .translate import Translation, Translator
from .writers import english_text, sentence_records, write_json, write_jsonl, write_text

SUMMARY = "summary.json"
INDEX = "index.html"
LOCK = ".mtpipe.lock"
SCORE_OPTIONS = evaluate.Options()
# Per-sentence scores written to .align.jsonl (their unit's sentence chrF2 and BLEU).
SEGMENT_METRICS = ("chrf", "bleu")


class OutputBusy(RuntimeError):
    """Another run holds the output folder."""


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on the output folder for the whole run, so that two
    runs never interleave their writes (the lock dies with its process, even killed)."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputBusy(f"another mtpipe run is writing to {out}; wait for it to finish or choose another -o") from None
        yield


@dataclass
class Article:
    """What happened to one input file; one entry of summary.json.

    status is ok, skipped (unchanged since an earlier run), error, or pending (not
    reached yet: only seen in the summary of an interrupted run). With a reference,
    `pairing` says how its sentences were matched (lines or aligned) and `scores`
    holds the article's corpus scores; `reference_error` says why it is unscored.
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


class ProgressBar(Protocol):
    def update(self, n: int) -> object: ...

    def close(self) -> None: ...


@dataclass
class _Pending:
    path: Path
    article: Article
    doc: Document
    segments: list[Segment] = field(default_factory=list)
    reference: Document | None = None


class Outputs(NamedTuple):
    """The files written for one article."""

    text: Path
    jsonl: Path
    html: Path
    tmx: Path
    tsv: Path


def output_paths(out: Path, rel: str) -> Outputs:
    """The files written for the input at relative path `rel`."""
    stem, suffix = os.path.splitext(rel)
    return Outputs(*(out / f"{stem}{end}" for end in (f".en{suffix or '.txt'}", ".align.jsonl", ".html", ".tmx", ".tsv")))


def run_date() -> str:
    """When a run happened, as written into its pages: now in UTC, or SOURCE_DATE_EPOCH
    when set (the reproducible-builds convention), so that runs can be compared bytewise."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch and epoch.isdigit() else datetime.now(timezone.utc)
    return moment.isoformat(timespec="seconds")


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
    )


def _write_review(files: Outputs, page: report.PageInfo, records: Sequence[dict]) -> int:
    """Write the article's review page, TMX and TSV; return how many rows are flagged."""
    rows = report.rows(records)
    write_text(files.html, report.article_html(page, rows))
    write_text(files.tmx, report.tmx_text(page, rows))
    write_text(files.tsv, report.tsv_text(rows))
    return sum(bool(row.flags) for row in rows)


def _write_index(out: Path, summary: dict, date: str) -> None:
    pages = {a["input"]: output_paths(Path(), a["input"]).html.as_posix() for a in summary["articles"] if a["status"] in ("ok", "skipped")}
    write_text(out / INDEX, report.index_html(summary, pages, date))


def _walk(folder: Path, skip: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        links = sorted(d for d in dirs if (here / d).is_symlink())
        dirs[:] = sorted(d for d in dirs if d not in links and not d.startswith(".") and (here / d).resolve() != skip)
        for name in sorted(files):
            if Path(name).suffix.lower() in ARTICLE_SUFFIXES and not name.startswith("."):
                yield here / name
        yield from (here / d for d in links)


def discover(inputs: Sequence[Path], out: Path) -> list[tuple[Path, str]]:
    """List (path, relative name) of every article under the inputs, in a stable order.

    Folders are walked recursively without following symbolic links (a linked file
    or folder is listed so that it can be reported); the output folder is left out.
    """
    skip = out.resolve()
    found: list[tuple[Path, str]] = []
    for item in inputs:
        if item.is_dir() and not item.is_symlink():
            found += [(p, p.relative_to(item).as_posix()) for p in _walk(item, skip)]
        else:
            found.append((item, item.name))
    return found


def _read(path: Path) -> bytes:
    if path.is_symlink():
        raise IngestError("it is a symbolic link, which mtpipe does not follow; copy the file instead")
    if not path.exists():
        raise IngestError("it does not exist")
    if path.is_dir():
        raise IngestError("it is a folder, not a text file")
    try:
        return path.read_bytes()
    except PermissionError:
        raise IngestError("permission denied; make it readable") from None
    except OSError as exc:
        raise IngestError(f"it cannot be read ({exc.strerror or exc})") from None


def _previous(out: Path) -> dict[str, dict]:
    try:
        articles = json.loads((out / SUMMARY).read_text(encoding="utf-8"))["articles"]
        return {a["input"]: a for a in articles if isinstance(a, dict) and "input" in a}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _unchanged(before: dict | None, article: Article, out: Path) -> bool:
    return (
        before is not None
        and before.get("status") in ("ok", "skipped")
        and all(before.get(key) == getattr(article, key) for key in ("sha256", "settings", "reference_sha256"))
        and all(p.exists() for p in output_paths(out, article.input))
    )


def _read_reference(article: Article, path: Path) -> Document | None:
    """Parse the article's reference translation, or note in the article why not."""
    article.reference = str(path)
    try:
        data = _read(path)
        article.reference_sha256 = hashlib.sha256(data).hexdigest()
        return parse(data, str(path))
    except IngestError as exc:
        article.reference_error = f"{path}: {exc}"
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
) -> dict:
    """Translate every article under `inputs` into `out`; return the run summary.

    `progress(total=sentences)` makes a progress bar (tqdm fits) that is told how
    many sentences each article finished. With `references`, an article `a/b.txt`
    whose reference `references/a/b.txt` exists is scored against it, and the run
    gets corpus scores over all such articles. Raises ModelError if the model cannot
    be loaded, OutputBusy if another run is writing to `out`.
    """
    with _locked(out):
        for stale in out.rglob(".*.tmp"):  # left by a run killed in the middle of a write
            stale.unlink()
        return _run(inputs, out, translator, force, progress, references)


def _run(
    inputs: Sequence[Path],
    out: Path,
    translator: Translator,
    force: bool,
    progress: Callable[..., ProgressBar] | None,
    references: Path | None,
) -> dict:
    started = time.perf_counter()
    settings = hashlib.sha256(translator.key.encode()).hexdigest()[:16]
    date = run_date()
    before = _previous(out)
    articles: list[Article] = []
    pending: list[_Pending] = []
    seen: dict[str, str] = {}
    for path, rel in discover(inputs, out):
        article = Article(input=rel)
        articles.append(article)
        try:
            stem = os.path.splitext(rel)[0]
            if stem in seen:
                raise IngestError(f"{seen[stem]} writes the same output files (another input folder, or another suffix); rename one or run them separately")
            seen[stem] = rel
            data = _read(path)
            article.sha256 = hashlib.sha256(data).hexdigest()
            article.settings = settings
            article.output = output_paths(out, rel).text.relative_to(out).as_posix()
            ref_path = references / rel if references else None
            reference = _read_reference(article, ref_path) if ref_path and (ref_path.exists() or ref_path.is_symlink()) else None
            if not force and _unchanged(before.get(rel), article, out):
                prior = before[rel]
                article.status, article.encoding = "skipped", prior.get("encoding")
                article.sentences, article.from_memory = prior.get("sentences", 0), prior.get("from_memory", 0)
                article.pairing, article.scores, article.flagged = prior.get("pairing"), prior.get("scores"), prior.get("flagged")
                continue
            doc = parse(data, rel)
            article.encoding = doc.encoding
            pending.append(_Pending(path, article, doc, segment(doc), reference))
        except IngestError as exc:
            article.status, article.error = "error", f"{path}: {exc}"

    bar = progress(total=sum(len(p.segments) for p in pending)) if progress else None
    try:
        _translate_pending(pending, out, translator, articles, started, bar, date)
    finally:
        if bar:
            bar.close()
    summary = _summary(translator, articles, started)
    if references:
        summary["scores"] = _run_scores(out, articles)
    write_json(out / SUMMARY, summary)
    _write_index(out, summary, date)
    return summary


def rewrite_reports(out: Path) -> dict:
    """Write the review pages, exports and index of an earlier run again from its
    summary.json and .align.jsonl files (after an upgrade, or to fix a deleted page).

    Raises FileNotFoundError when `out` holds no summary.json."""
    if not (out / SUMMARY).is_file():
        raise FileNotFoundError(f"{out} holds no {SUMMARY}; run mtpipe run -o {out} first")
    with _locked(out):
        summary = json.loads((out / SUMMARY).read_text(encoding="utf-8"))
        date = run_date()
        for entry in summary["articles"]:
            if entry["status"] not in ("ok", "skipped"):
                continue
            article = Article(**{k: v for k, v in entry.items() if k in Article.__dataclass_fields__})
            files = output_paths(out, article.input)
            try:
                records = _records(files.jsonl)
                entry["flagged"] = _write_review(files, _page_info(article, summary, date), records)
            except (OSError, ValueError, KeyError) as exc:
                entry["status"], entry["error"] = "error", f"{files.jsonl}: the sentence records cannot be read ({exc}); run mtpipe run --force"
        write_json(out / SUMMARY, summary)
        _write_index(out, summary, date)
        return summary


def _records(path: Path) -> list[dict]:
    """The sentence records of an article's .align.jsonl, in order."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _run_scores(out: Path, articles: list[Article]) -> dict | None:
    """Corpus scores over the paired units of every scored article, read back from the
    JSONL files (so skipped articles count too)."""
    hyps: list[str] = []
    refs: list[str] = []
    for article in articles:
        if article.status not in ("ok", "skipped") or not article.scores:
            continue
        units: dict[str, tuple[list[str], str]] = {}
        for record in _records(output_paths(out, article.input).jsonl):
            if record.get("chrf") is not None:
                units.setdefault(record["unit"], ([], record["ref"]))[0].append(record["mt"])
        hyps += [" ".join(mts) for mts, _ in units.values()]
        refs += [ref for _, ref in units.values()]
    if not hyps:
        return None
    result = evaluate.score(hyps, [refs], SCORE_OPTIONS, segments=False)
    return {key: {"score": round(s.score, 4), "signature": s.signature} for key, s in result.scores.items()}


def _translate_pending(
    pending: list[_Pending], out: Path, translator: Translator, articles: list[Article], started: float, bar: ProgressBar | None, date: str
) -> None:
    """Translate and write each parsed article, recording the outcome in its Article."""
    meta = _meta(translator)
    for item in pending:
        t0 = time.perf_counter()
        article = item.article
        try:
            translations = translator.translate([s.text for s in item.segments])
            extra = _score_reference(item, translations) if item.reference else None
            files = output_paths(out, article.input)
            records = sentence_records(item.segments, translations, extra)
            write_text(files.text, english_text(item.doc, item.segments, translations))
            write_jsonl(files.jsonl, records)
            article.flagged = _write_review(files, _page_info(article, meta, date), records)
        except ModelError:
            raise
        except OSError as exc:
            article.status, article.error = "error", f"{item.path}: its output cannot be written ({exc.strerror or exc})"
        except Exception as exc:  # one article must never stop the batch
            article.status, article.error = "error", f"{item.path}: translation failed ({type(exc).__name__}: {exc}); please report this"
        else:
            article.status = "ok"
            article.sentences = len(item.segments)
            article.from_memory = sum(t.from_memory for t in translations)
        article.seconds = round(time.perf_counter() - t0, 3)
        write_json(out / SUMMARY, _summary(translator, articles, started))
        if bar:
            bar.update(len(item.segments))


def _meta(translator: Translator) -> dict:
    return {
        "model": translator.model.name,
        "revision": translator.model.revision,
        "backend": translator.backend_name,
        "settings": asdict(translator.settings),
    }


def _summary(translator: Translator, articles: list[Article], started: float) -> dict:
    counts = {status: sum(a.status == status for a in articles) for status in ("ok", "skipped", "error", "pending")}
    done = [a for a in articles if a.status != "error"]
    return {
        "mtpipe": __version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **_meta(translator),
        "model_loaded": translator.loaded,
        "seconds": round(time.perf_counter() - started, 3),
        "totals": {
            "articles": len(articles),
            **counts,
            "sentences": sum(a.sentences for a in done),
            "from_memory": sum(a.from_memory for a in done),
        },
        "articles": [asdict(a) for a in articles],
    }
