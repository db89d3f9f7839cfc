"""Driving a run: translate the pending articles a window at a time, write each
article's files as it finishes, rewrite summary.json a bounded number of times, and
score against references."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from .. import qa
from ..errors import STOPS_A_RUN
from ..formats import Written
from ..formats.base import ReadOptions
from ..messages import counted, first_line
from ..outdir import OutputConflict, OutputFolder, output_names
from ..records import (
    Article,
    RunMeta,
    RunSummary,
    records_text,
    sentence_records,
)
from ..translate import Translation, Translator, human_digest
from ..writers import json_text
from .discover import Selection, format_of, shown
from .pages import (
    Checked,
    checked,
    checked_on_disk,
    page_info,
    recheck,
    review_files,
    write_all,
    write_index,
)
from .planning import Pending, decide, outside_of, settings_hash, take_over
from .summary import (
    NOTHING_TO_TRANSLATE,
    SUMMARY,
    earlier_summary,
    elapsed,
    meta_of,
    read_records,
    recorded_meta,
    run_date,
    summary_of,
)

# summary.json is rewritten during a run at most every SUMMARY_SECONDS, once another
# SUMMARY_STEP of the articles has finished since the last time.
SUMMARY_SECONDS = 2.0
SUMMARY_STEP = 0.05


# HTER: TER of the model's output against its post-edit (the human translation).
HTER_METRICS = ("ter",)


# Per-sentence scores written to .align.jsonl (their unit's sentence chrF2 and BLEU).
SEGMENT_METRICS = ("chrf", "bleu")


class ProgressBar(Protocol):
    def update(self, n: int) -> object: ...

    def set_postfix_str(self, s: str, refresh: bool = True) -> object: ...

    def close(self) -> None: ...


def _post_edits(translations: Sequence[Translation], extra: list[dict]) -> float | None:
    """HTER of the sentences whose human translation differs from what the model had
    made of them: per sentence into `extra` (with the model's output), and the
    article's over all of them (None when there are none)."""
    edited = [i for i, t in enumerate(translations) if t.human and t.machine is not None and t.machine != t.text]
    if not edited:
        return None
    # Scoring's libraries are imported by a run that scores only: an unchanged one starts faster.
    from .. import evaluate

    result = evaluate.score([translations[i].machine for i in edited], [[translations[i].text for i in edited]], evaluate.Options(metrics=HTER_METRICS))
    for i, rate in zip(edited, result.scores["ter"].segments):
        extra[i].update(machine=translations[i].machine, hter=round(rate, 4))
    return round(result.scores["ter"].score, 4)


def _score_reference(item: Pending, translations: list[Translation]) -> list[dict]:
    """Pair the article with its reference, score it, and return per-sentence fields."""
    from .. import evaluate
    from ..align import pair_reference

    units, item.article.pairing = pair_reference(item.doc, item.segments, [t.text for t in translations], item.reference)
    hyps = [" ".join(translations[i].text for i in unit.source) for unit in units]
    refs = [unit.reference for unit in units]
    scored = [k for k, ref in enumerate(refs) if ref.strip()]
    extra: list[dict] = [{} for _ in item.segments]
    if not scored:
        item.article.reference_error = f"{item.article.reference}: no reference sentence could be paired with the article"
        return extra
    result = evaluate.score([hyps[k] for k in scored], [[refs[k] for k in scored]], evaluate.Options())
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
    review: qa.Context = qa.Context(),
) -> RunSummary:
    """Translate every article under `inputs` into `out`; return the run summary.

    `progress(total=sentences)` makes a progress bar (tqdm fits) that is told after
    every batch how many sentences are done, with the article in progress as its
    postfix. With `references`, an article `a/b.txt`
    whose reference `references/a/b.txt` exists is scored against it, and the run
    gets corpus scores over all such articles. The files `select` leaves out are
    listed as ignored; articles are read with `options` (protect rules, front matter
    keys), and their pages check the translations as `review` says. Raises ModelError if the model cannot be loaded, EngineError if its engine
    is lost, OutputBusy if another run is writing to `out`, OutputIsInput if `out` is an input folder,
    OutputConflict if the run's own files (summary.json, index.html) would overwrite
    files mtpipe did not write, and OSError if summary.json cannot be written.
    """
    inputs = outside_of(inputs, out)
    with OutputFolder(out) as folder:
        take_over(folder)
        folder.remove_stale_temporaries()
        return _run(inputs, folder, translator, force, progress, references, select, options, review)


class _SummaryWriter:
    """Rewrites summary.json during a run: at most every SUMMARY_SECONDS, and only once
    another SUMMARY_STEP of the articles to translate has finished, so that a run
    rewrites it at most 1 / SUMMARY_STEP times and the bytes written stay linear in the
    number of articles. Interrupted runs write it too (see _run); only a killed one
    leaves it behind, and the next run translates those articles again from memory."""

    def __init__(self, folder: OutputFolder, translator: Translator, articles: list[Article], started: float, pending: int, meta: RunMeta | None):
        self.folder, self.translator, self.articles, self.started, self.meta = folder, translator, articles, started, meta
        self.step = max(1, math.ceil(pending * SUMMARY_STEP))
        self.last, self.finished = time.monotonic(), 0
        self.scores: dict | None = None  # the corpus scores, known at the end

    def write(self) -> RunSummary:
        summary = summary_of(self.translator, self.meta or meta_of(self.translator), self.articles, self.started)
        summary.scores = self.scores
        self.folder.write(SUMMARY, json_text(summary.to_json()).encode("utf-8"))
        self.last, self.finished = time.monotonic(), 0
        return summary

    def article_done(self) -> None:
        self.finished += 1
        if self.finished >= self.step and time.monotonic() - self.last >= SUMMARY_SECONDS:
            self.write()


def _run(
    inputs: Sequence[Path],
    folder: OutputFolder,
    translator: Translator,
    force: bool,
    progress: Callable[..., ProgressBar] | None,
    references: Path | None,
    select: Selection | None,
    options: ReadOptions,
    review: qa.Context,
) -> RunSummary:
    started = time.perf_counter()
    date = run_date()
    earlier = earlier_summary(folder)
    decisions = decide(inputs, folder, translator, force, references, select, options, earlier)
    articles = [d.article for d in decisions]
    pending = [d.pending for d in decisions if d.pending]
    summaries = _SummaryWriter(folder, translator, articles, started, len(pending), None if pending else recorded_meta(earlier, translator))
    bar = progress(total=sum(p.sentences for p in pending)) if progress else None
    try:
        # The articles skipped as unchanged are checked for consistency too, so that a run
        # resumed or redone checks against the same sentences as one run of everything.
        skipped = [d.article for d in decisions if d.pending is None and d.article.status == "skipped"]
        known = checked_on_disk(folder, skipped, review)
        known += _translate_pending(pending, folder, translator, date, bar, summaries, review)
        recheck(folder, known, summaries.meta or meta_of(translator), date, review)
        if references:
            summaries.scores = _run_scores(folder, articles)
    except STOPS_A_RUN:
        if any(a.status == "ok" for a in articles):  # else nothing was done: leave OUT as it was
            _stopped(folder, summaries.write(), date)
        raise
    except BaseException:  # interrupted: what finished is recorded and listed, the rest is pending
        _stopped(folder, summaries.write(), date)
        raise
    finally:
        if bar:
            bar.close()
    summary = summaries.write()
    write_index(folder, summary, date)
    return summary


def _stopped(folder: OutputFolder, summary: RunSummary, date: str) -> None:
    """The index of a run that stopped early, listing what finished (the rest pending),
    so that the folder opens on what was done; a failure to write it does not hide why
    the run stopped."""
    try:
        write_index(folder, summary, date)
    except OSError:
        pass


def _run_scores(folder: OutputFolder, articles: list[Article]) -> dict | None:
    """Corpus scores over the paired units of every scored article, read back from the
    JSONL files (so skipped articles count too)."""
    hyps: list[str] = []
    refs: list[str] = []
    for article in articles:
        if not article.done or not article.scores:
            continue
        units: dict[str, tuple[list[str], str]] = {}
        jsonl = output_names(article.input)[1]
        path = folder.root / jsonl
        try:
            records = read_records(folder, jsonl)
        except (OSError, ValueError) as exc:
            article.reference_error = f"{shown(path)}: the sentence records cannot be read ({exc}), so the article is left out of the corpus scores; run mtpipe run --force"
            continue
        for record in records:
            if record.unit is not None and record.chrf is not None:
                units.setdefault(record.unit, ([], record.ref or ""))[0].append(record.mt)
        hyps += [" ".join(mts) for mts, _ in units.values()]
        refs += [ref for _, ref in units.values()]
    if not hyps:
        return None
    from .. import evaluate

    result = evaluate.score(hyps, [refs], evaluate.Options(), segments=False)
    return {key: {"score": round(s.score, 4), "signature": s.signature} for key, s in result.scores.items()}


def in_progress(inputs: Sequence[str]) -> str:
    """The progress bar's label: the articles whose sentences are being translated (those
    of a window share batches), named when one, counted when more."""
    if len(inputs) <= 1:
        return "".join(inputs)
    return f"{inputs[0]} and {counted(len(inputs) - 1, 'other article')}"


def _translate_pending(
    pending: list[Pending], folder: OutputFolder, translator: Translator, date: str, bar: ProgressBar | None, summaries: _SummaryWriter, review: qa.Context
) -> list[Checked]:
    """Translate the parsed articles through the translator's stream (their sentences
    share batches), writing each article as soon as its last sentence is done and
    recording the outcome in its Article. Returns what the consistency check saw of each
    article written.

    Should a shared batch fail for another reason than the model or the memory, the
    articles it held are translated again one by one, so that only the article at
    fault is an error entry; the stream then goes on with the articles after them."""
    unfinished = dict.fromkeys(range(len(pending)))  # in input order
    written: list[Checked] = []
    begun: set[int] = set()  # read into the translator's window: their sentences are being translated

    def progress(n: int) -> None:
        if bar:
            bar.set_postfix_str(in_progress([pending[i].article.input for i in unfinished if i in begun]), refresh=False)
            bar.update(n)

    def finish(index: int, translations: list[Translation]) -> None:
        del unfinished[index]
        item = pending[index]
        if item.failed:
            item.article.status, item.article.error = "error", item.failed
        else:
            written.extend(_write_article(item, translations, folder, translator, date, review))
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
                begun.add(pulled)
                pulled += 1
                yield item.load()

        try:
            for offset, translations in translator.stream(groups(), progress):
                pending[start + offset].article.seconds = elapsed(started[start + offset])
                finish(start + offset, translations)
            return written
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
                item.article.seconds = elapsed(t0)
                finish(index, translations)
            start = pulled
    return written


def _write_article(item: Pending, translations: list[Translation], folder: OutputFolder, translator: Translator, date: str, review: qa.Context) -> list[Checked]:
    """Score an article against its reference, write its files, record the outcome;
    what the consistency check saw of it, when it was written."""
    article = item.article
    try:
        extra = _score_reference(item, translations) if item.reference else [{} for _ in translations]
        article.hter = _post_edits(translations, extra)
        names = output_names(article.input)
        english: Written = format_of(article.input).write(item.doc, item.segments, translations)
        records = [
            replace(record, **fields, markup="unsure" if record.id in english.unsure else None)
            for record, fields in zip(sentence_records(item.segments, translations, doc=item.doc), extra, strict=True)
        ]
        known = checked(article, records, review)
        files = review_files(page_info(article, meta_of(translator), date), records, review)
        texts = [english.data, records_text(records).encode("utf-8")]
        write_all(folder, list(zip(names, texts + files.files)))
    except OutputConflict as exc:
        article.status, article.error = "error", f"{shown(item.path)}: {exc}"
    except OSError as exc:
        article.status, article.error = "error", f"{shown(item.path)}: its output cannot be written ({first_line(exc)})"
    except Exception as exc:  # one article must never stop the batch
        article.status, article.error = "error", f"{shown(item.path)}: its outputs could not be made ({type(exc).__name__}: {exc}); please report this"
    else:
        article.status = "ok"
        article.settings = settings_hash(translator, item.options)  # of the backend that ran (auto may have fallen back)
        article.sentences = len(item.segments)
        article.note = None if item.segments else NOTHING_TO_TRANSLATE
        article.from_memory = sum(t.from_memory for t in translations)
        article.human = sum(t.human for t in translations)
        article.flagged, article.flags = files.flagged, files.flags
        article.human_sha256 = human_digest((seg.text, t.text) for seg, t in zip(item.segments, translations) if t.human)
        return [entry._replace(flagged=files.flags.get("consistency", 0)) for entry in known]
    return []
