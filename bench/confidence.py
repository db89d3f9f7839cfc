"""Calibrate the review pages' confidence words on a model: where do its good and bad
translations fall in mean token log-probability?

Translates the first N lines of a test set with human references, scores every line
with sentence chrF2 against its reference, and prints the mean chrF2 of the lines in
each band of the current thresholds (report.CONFIDENCE_LEVELS), then the thresholds
that would make "high" the most confident lines whose mean chrF2 is at least --high
and "medium" the next ones down to a mean of --medium (each band at least 10% of the
lines). Run it with the model the pages are for; the defaults were set without one
(see report.CONFIDENCE_LEVELS). Not a test: nothing here is asserted.

    python bench/confidence.py --model Helsinki-NLP/opus-mt-fr-en [--testset newstest2014] [--lines 500]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TESTSETS = ROOT.parent / "shared" / "data" / "testsets" / "fra-eng"
MIN_SHARE = 0.1


def bands(scored: list[tuple[float, float]], levels: tuple[tuple[float, str], ...]) -> list[tuple[str, int, float | None]]:
    """(word, lines, mean chrF2) of each confidence band, highest first."""
    from pipeline.report import confidence

    words = [word for _, word in levels] + ["low"]
    out = []
    for word in words:
        inside = [chrf for logprob, chrf in scored if confidence(logprob) == word]
        out.append((word, len(inside), sum(inside) / len(inside) if inside else None))
    return out


def threshold(scored: list[tuple[float, float]], start: int, floor: float) -> int:
    """The end index of the longest run of lines from `start` (most confident first)
    whose mean chrF2 stays at least `floor`, covering at least MIN_SHARE of the lines;
    `start` when none does."""
    best, total = start, 0.0
    for end in range(start, len(scored)):
        total += scored[end][1]
        count = end - start + 1
        if count >= MIN_SHARE * len(scored) and total / count >= floor:
            best = end + 1
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "tiny-fr-en"))
    parser.add_argument("--backend", default="transformers")
    parser.add_argument("--testset", default="newstest2014")
    parser.add_argument("--lines", type=int, default=500)
    parser.add_argument("--high", type=float, default=60.0, help="mean chrF2 the high band must keep (default 60)")
    parser.add_argument("--medium", type=float, default=40.0, help="mean chrF2 the medium band must keep (default 40)")
    args = parser.parse_args()
    from sacrebleu.metrics import CHRF

    from pipeline.hub import resolve
    from pipeline.report import CONFIDENCE_LEVELS
    from pipeline.translate import DecodeSettings, Translator

    french = (TESTSETS / f"{args.testset}.fra").read_text(encoding="utf-8").splitlines()[: args.lines]
    english = (TESTSETS / f"{args.testset}.eng").read_text(encoding="utf-8").splitlines()[: args.lines]
    translator = Translator(resolve(args.model), args.backend, DecodeSettings(), None)
    chrf = CHRF()
    scored = sorted(
        ((t.logprob, chrf.sentence_score(t.text, [ref]).score) for t, ref in zip(translator.translate(french), english) if t.logprob is not None),
        key=lambda pair: -pair[0],
    )
    print(f"{args.model}, {len(scored)} lines of {args.testset}: mean sentence chrF2 per confidence band")
    print(f"{'band':<8} {'lines':>6} {'mean chrF2':>11}   (current thresholds {CONFIDENCE_LEVELS})")
    for word, count, mean in bands(scored, CONFIDENCE_LEVELS):
        print(f"{word:<8} {count:>6} {'-' if mean is None else f'{mean:.1f}':>11}")
    high = threshold(scored, 0, args.high)
    medium = threshold(scored, high, args.medium)
    suggest = tuple((scored[end - 1][0], word) for start, end, word in ((0, high, "high"), (high, medium, "medium")) if end > start)
    print(f"suggested CONFIDENCE_LEVELS (high: mean chrF2 >= {args.high:g}, medium: >= {args.medium:g}): {suggest or 'none: no band keeps those means'}")


if __name__ == "__main__":
    main()
