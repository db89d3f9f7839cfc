"""Report: review pages and CAT-tool exports built from an article's sentence records.

An article's `.align.jsonl` records become `Row`s, one per aligned unit (a unit is one
sentence, or the sentences that share one reference segment). From the rows come the
side-by-side HTML page, a TMX 1.4b file and a TSV file; from the run summary comes the
folder index. Everything here is pure text building; `run` and `cli` write the files.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import groupby
from pathlib import PurePosixPath
from urllib.parse import quote

from . import __version__, qa, tmx
from .messages import counted
from .outdir import output_names
from .qa.checks import protected_spans
from .records import Article, RunSummary, SentenceRecord
from .wordalign import (
    Links,
    join_links,
    to_pharaoh,
    uncovered,
    word_spans,
    words_within,
)

# A review page shows at most this many rows, so that it stays quick to open however long
# the article; the TMX, TSV and JSONL files hold every unit.
PAGE_ROWS = 5000
# How the pages name the metrics of summary.json (sacrebleu's own names).
METRIC_LABELS = {"bleu": "BLEU", "chrf": "chrF2", "chrf++": "chrF2++", "ter": "TER"}
CONFIDENCE_LEVELS = ((-0.4, "high"), (-1.0, "medium"))
"""The word a review page shows for a unit's confidence: the first level whose lower
bound its mean token log-probability reaches (high from -0.4, a mean token probability
of 67%; medium from -1.0, 37%), else low. These are uncalibrated defaults, not measured
on any model: the real opus-mt-fr-en model cannot be downloaded where mtpipe is
developed, the fixture model's output is noise (its means all lie between -1.5 and -0.9
on the seed article) and the bench model's weights are random, so neither says where a
real model's good and bad translations fall. Calibrate them on reviewed output of the
model in use before trusting the words."""
# The bins of the index's chart of article scores: SCORE_BINS equal bins over 0–100.
SCORE_BINS = 10


@dataclass(frozen=True)
class Term:
    """A glossary term of a unit's French: [start, end) in its source, where its English
    is in the unit's English (None when neither the glossary's English nor a word link
    says), the entry's French and its English variants."""

    start: int
    end: int
    target: tuple[int, int] | None
    source: str
    english: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    """One aligned unit of an article: its source sentences, their machine translation,
    the reference segment they were paired with, and what makes it doubtful.

    A row is human when all its sentences were served from human translations; its
    `machine` joins their model outputs when every one is known, and its `hter` is that
    of its sentence for a one-sentence row (a unit's TER is not the mean of its
    sentences', so a longer row has none)."""

    ids: tuple[str, ...]
    line: int
    source: str
    mt: str
    reference: str | None = None
    chrf: float | None = None
    bleu: float | None = None
    logprob: float | None = None
    flags: tuple[str, ...] = ()  # the quality checks it fails (qa.CHECKS names)
    reasons: tuple[str, ...] = ()  # why, one per flag
    links: Links | None = None  # word links between source and mt, when known
    human: bool = False  # mt is a human translation, from the memory
    machine: str | None = None  # what the model had produced, for a human row, when known
    hter: float | None = None  # TER (0–100) of machine against the human mt, when known
    terms: tuple[Term, ...] = ()  # the glossary terms of its French
    free: str | None = None  # what the model made before the glossary forced its terms, when it did

    @property
    def id(self) -> str:
        return self.ids[0]

    @property
    def label(self) -> str:
        return self.id if len(self.ids) == 1 else f"{self.id}–{self.ids[-1]}"


@dataclass(frozen=True)
class PageInfo:
    """What the page header says about the article and how it was translated."""

    name: str
    model: str = ""
    revision: str | None = None
    backend: str = ""
    settings: dict = field(default_factory=dict)
    date: str = ""
    pairing: str | None = None
    reference: str | None = None
    scores: dict[str, float] | None = None
    hter: float | None = None  # the article's HTER over its post-edited units


def rows(records: Sequence[SentenceRecord], context: qa.Context = qa.Context()) -> list[Row]:
    """Group sentence records (as written to .align.jsonl) into rows, one per unit, each
    with the quality checks (those of `context`) its sentences fail.

    A unit's confidence is the lowest mean token log-probability among its sentences:
    the doubtful sentence is the one a reviewer should see first. Checks that judge the
    model pass over sentences served from human translations."""
    selected = context.selected
    out = []
    for _, group in groupby(records, key=lambda r: r.unit or r.id):
        members = list(group)
        first = members[0]
        logprobs = [r.logprob for r in members if r.logprob is not None]
        links = [r.links for r in members]
        findings: dict[str, str] = {}
        for r, lk in zip(members, links):
            for found in qa.check_sentence(qa.Sentence(r.src, r.mt, lk, r.human, r.markup is not None), selected, context):
                findings.setdefault(found.check, found.reason)
        machines = [r.machine for r in members]
        source, mt = " ".join(r.src for r in members), " ".join(r.mt for r in members)
        joined = join_links([(r.src, r.mt, lk) for r, lk in zip(members, links)], sep=" ")
        out.append(
            Row(
                ids=tuple(r.id for r in members),
                line=first.line,
                source=source,
                mt=mt,
                reference=first.ref,
                chrf=first.chrf,
                bleu=first.bleu,
                logprob=min(logprobs) if logprobs else None,
                flags=tuple(findings),
                reasons=tuple(findings.values()),
                links=joined,
                human=all(r.human for r in members),
                machine=None if None in machines else " ".join(machines),  # type: ignore[arg-type]
                hter=first.hter if len(members) == 1 else None,
                free=" ".join(r.free if r.free is not None else r.mt for r in members) if any(r.free is not None for r in members) else None,
                terms=_terms(context, source, mt, joined) if "term" in selected else (),
            )
        )
    return out


def _terms(context: qa.Context, source: str, mt: str, links: Links | None) -> tuple[Term, ...]:
    """The glossary terms of a unit's French and where each is in its English: the
    glossary's English when there, else the English words linked to the term's words."""
    if context.glossary is None:
        return ()
    out = []
    source_words, mt_words = word_spans(source), word_spans(mt)
    for hit in context.glossary.find(source, protected_spans(source, context)):
        target = context.glossary.locate(hit.entry, mt)
        if target is None and links:
            words = set(words_within(source_words, hit.start, hit.end))
            linked = sorted(t for s, t in links if s in words)
            target = (mt_words[linked[0]][0], mt_words[linked[-1]][1]) if linked else None
        out.append(Term(hit.start, hit.end, target, hit.entry.source, hit.entry.targets))
    return tuple(out)


def score_hue(score: float) -> int:
    """Hue on the OKLCH wheel for a 0–100 score: red (25) through amber to green (145).

    Lightness and chroma stay fixed, so equal score steps look like equal colour steps."""
    return round(25 + 120 * min(max(score, 0.0), 100.0) / 100)


def confidence(logprob: float) -> str:
    """The word for a mean token log-probability: high, medium or low (CONFIDENCE_LEVELS)."""
    return next((word for bound, word in CONFIDENCE_LEVELS if logprob >= bound), "low")


def confidence_title(logprob: float) -> str:
    """What a confidence word stands for, shown on hover."""
    return f"mean token log-probability {logprob:.2f}, a mean token probability of {math.exp(logprob):.0%}"


def _exact_attribute(name: str, text: str) -> str:
    """` data-NAME="text"` when text holds a CR, else nothing. HTML reads a CR in a cell
    as a line feed, and a character reference in an attribute as itself: the page's
    script reads the text exactly from there (for the corrections it exports)."""
    from markupsafe import Markup, escape

    if "\r" not in text:
        return ""
    return Markup(' data-%s="%s"') % (name, escape(text).replace("\r", Markup("&#13;")))


def _terms_attribute(terms: Sequence[Term]) -> str:
    """A row's glossary terms for its page's script: "start-end:start-end" per term, the
    French span and the English one (blank when unknown), in characters."""
    return " ".join(f"{t.start}-{t.end}:" + ("" if t.target is None else f"{t.target[0]}-{t.target[1]}") for t in terms)


@cache
def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("pipeline", "templates"), autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["hue"] = score_hue
    env.filters["href"] = lambda path: quote(path, safe="/")
    env.filters["pharaoh"] = to_pharaoh
    env.filters["confidence"] = confidence
    env.filters["confidence_title"] = confidence_title
    env.filters["counted"] = counted
    env.globals["uncovered"] = uncovered
    env.globals["exact"] = _exact_attribute
    env.globals["zip"] = zip
    env.globals["terms_attribute"] = _terms_attribute
    env.globals["metric_labels"] = METRIC_LABELS
    return env


def _settings_text(settings: dict) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in settings.items() if v is not None)


def corrections_name(article: str) -> str:
    """The file name an article's review page exports its corrections to: a/b.txt →
    b.corrections.json, beside b.review.html."""
    return os.path.splitext(PurePosixPath(article).name)[0] + ".corrections.json"


def output_links(article: str) -> dict[str, str]:
    """Where an article's review page links to, relative to the page: the index at the
    output root and the article's other outputs, beside the page, named as `run` names
    them (a/b.md → ../index.html, b.en.md, b.tmx, b.tsv, b.align.jsonl); not URL-escaped."""
    path = PurePosixPath(article)
    english, jsonl, _, tmx, tsv = output_names(path.name)
    return {"index": "../" * len(path.parent.parts) + "index.html", "english": english, "tmx": tmx, "tsv": tsv, "jsonl": jsonl}


def article_html(page: PageInfo, units: Sequence[Row]) -> str:
    """The side-by-side review page of one article: one self-contained HTML file, with
    the first PAGE_ROWS units (the page says so when there are more), where a reviewer
    can edit the English and export the edits as a corrections file."""
    shown = units[:PAGE_ROWS]
    paragraphs = [(line, list(group)) for line, group in groupby(shown, key=lambda r: r.line)]
    return _environment().get_template("article.html.j2").render(
        page=page,
        paragraphs=paragraphs,
        has_reference=any(r.reference is not None for r in units),
        flagged=sum(bool(r.flags) for r in units),
        human=sum(r.human for r in units),
        total=len(units),
        shown=len(shown),
        settings=_settings_text(page.settings),
        corrections=corrections_name(page.name),
        links=output_links(page.name),
        flag_titles=flag_titles(),
        flag_counts=flag_counts(units),
        version=__version__,
    )


def flag_titles() -> dict[str, str]:
    """What each flag means, by check name, in the checks' order."""
    qa.all_checks()
    return {name: check.title for name, check in qa.CHECKS.items()}


def flag_counts(units: Iterable[Row]) -> dict[str, int]:
    """How many rows carry each flag, in the order of the checks (a row with two flags
    counts for both); flags no row carries are left out."""
    found = [flag for row in units for flag in row.flags]
    return {flag: found.count(flag) for flag in flag_titles() if flag in found}


@dataclass(frozen=True)
class Bar:
    """One bar of an index chart: what it counts, how many, and what it means."""

    label: str
    count: int
    title: str
    hue: int | None = None  # the score colour of its bin, for a score chart


def score_bars(scores: Iterable[float]) -> list[Bar]:
    """The histogram of article chrF2 scores (0–100) in SCORE_BINS equal bins, the last
    one closed (a score of 100 counts in it)."""
    width = 100 // SCORE_BINS
    counts = [0] * SCORE_BINS
    for score in scores:
        counts[min(max(int(score // width), 0), SCORE_BINS - 1)] += 1
    bars = []
    for i, n in enumerate(counts):
        low, high = i * width, (i + 1) * width
        upto = "to 100" if i == SCORE_BINS - 1 else f"to under {high}"
        bars.append(Bar(f"{low}–{high}", n, f"chrF2 {low} {upto}: {counted(n, 'article')}", score_hue(low + width / 2)))
    return bars


def flag_bars(articles: Iterable[Article]) -> list[Bar]:
    """Rows per flag kind over the articles whose summary entry counts them (`flags`)."""
    titles = flag_titles()
    totals = {flag: sum((a.flags or {}).get(flag, 0) for a in articles) for flag in titles}
    return [Bar(flag, n, f"{flag}: {counted(n, 'row')}, where {titles[flag]}") for flag, n in totals.items() if n]


def index_html(summary: RunSummary, pages: dict[str, str], date: str) -> str:
    """The folder index: one row per article of the run summary, linked to its page
    (`pages` maps an article's input path to its page, relative to the index), and the
    charts that answer faster than the table: how the article scores (chrF2) spread,
    when at least two articles are scored, and which flags the rows carry, when the
    summary entries count them by kind (`flags`, as `flag_counts` makes it)."""
    articles = summary.articles
    done = [a for a in articles if a.done]
    chrfs = [a.scores["chrf"] for a in done if (a.scores or {}).get("chrf") is not None]
    return _environment().get_template("index.html.j2").render(
        summary=summary,
        articles=articles,
        pages=pages,
        totals={"sentences": sum(a.sentences for a in done), "flagged": sum(a.flagged or 0 for a in done)},
        scored=any(a.scores for a in articles),
        score_chart=score_bars(chrfs) if len(chrfs) > 1 else [],
        flag_chart=flag_bars(done),
        settings=_settings_text(summary.meta.settings),
        date=date,
        version=__version__,
    )


def tmx_text(page: PageInfo, units: Sequence[Row]) -> str:
    """A TMX 1.4b memory: one <tu> per unit, French source and its English.

    The English's origin (human, when every sentence of the unit was served from a
    human translation, else machine), the reference translation and the scores travel
    as <prop>s, so that a CAT tool imports the English as the translation to post-edit."""
    return tmx.tmx_text((_tmx_unit(row) for row in units), "mtpipe jsonl", page.date, (("x-article", page.name), ("x-model", page.model)))


def _tmx_unit(row: Row) -> tmx.Unit:
    props = [("x-ids", " ".join(row.ids)), ("x-mtpipe-translation", "human" if row.human else "machine")]
    if row.reference is not None:
        props.append(("x-reference", row.reference))
    props += [(f"x-{k}", f"{v:g}") for k, v in (("chrf", row.chrf), ("logprob", row.logprob)) if v is not None]
    if row.flags:
        props.append(("x-flags", " ".join(row.flags)))
    return tmx.Unit(row.source, row.mt, props, tuid=row.id, notes=findings(row))


def findings(row: Row) -> list[str]:
    """A row's failed checks, each as "check: reason"."""
    return [f"{flag}: {reason}" for flag, reason in zip(row.flags, row.reasons)]


TSV_HEADER = ("ids", "source", "mt", "reference", "chrf", "flags", "confidence", "qa")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def tsv_text(units: Iterable[Row]) -> str:
    """Tab-separated rows: sentence ids, source, MT, reference, chrF, flags, confidence
    (the unit's mean token log-probability, as on its review page; empty for a human
    translation) and the failed checks' reasons (`qa`). Rows end in CRLF and a field holding a tab, quote, CR or LF is
    quoted (RFC 4180 style, as spreadsheets and csv readers expect), so that every text
    reads back exactly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\r\n")
    writer.writerow(TSV_HEADER)
    for row in units:
        writer.writerow((" ".join(row.ids), row.source, row.mt, row.reference or "", _number(row.chrf), " ".join(row.flags), _number(row.logprob), "; ".join(findings(row))))
    return buffer.getvalue()
