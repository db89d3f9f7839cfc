"""Sentence-boundary precision/recall/F1 of `pipeline.segment` on real news text.

Runs of N consecutive lines of a test set (one sentence per line) are joined with a
space into paragraphs; the splitter must recover where each line started.

    python bench/segment.py [--testset newstest2014] [--lines-per-paragraph 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.segment import sentence_spans  # noqa: E402

TESTSETS = ROOT.parent / "shared" / "data" / "testsets" / "fra-eng"


def boundary_scores(lines: list[str], per_paragraph: int) -> tuple[int, int, int, list[str]]:
    """Return (true positives, predicted, gold) boundary counts and a few misses."""
    tp = predicted = gold = 0
    misses = []
    for i in range(0, len(lines), per_paragraph):
        group = lines[i : i + per_paragraph]
        paragraph = " ".join(group)
        starts, pos = set(), 0
        for line in group[:-1]:
            pos += len(line) + 1
            starts.add(pos)
        found = {start for start, _ in sentence_spans(paragraph)[1:]}
        tp += len(found & starts)
        predicted += len(found)
        gold += len(starts)
        for boundary in sorted(found ^ starts)[:1]:
            kind = "spurious" if boundary in found else "missed"
            misses.append(f"{kind}: …{paragraph[max(0, boundary - 40):boundary]}|{paragraph[boundary:boundary + 30]}…")
    return tp, predicted, gold, misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--testset", default="newstest2014")
    parser.add_argument("--lines-per-paragraph", type=int, default=5)
    parser.add_argument("--show", type=int, default=10, help="print this many errors")
    args = parser.parse_args()
    path = TESTSETS / f"{args.testset}.fra"
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    t0 = time.perf_counter()
    tp, predicted, gold, misses = boundary_scores(lines, args.lines_per_paragraph)
    seconds = time.perf_counter() - t0
    precision, recall = tp / max(predicted, 1), tp / max(gold, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    print(f"{path.name}: {len(lines)} lines in paragraphs of {args.lines_per_paragraph}, {gold} gold boundaries")
    print(f"precision {precision:.4f}  recall {recall:.4f}  F1 {f1:.4f}  ({seconds:.2f} s)")
    for miss in misses[: args.show]:
        print("  " + miss)


if __name__ == "__main__":
    main()
