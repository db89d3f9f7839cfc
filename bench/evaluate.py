"""Time of `pipeline.evaluate` on a real test set: corpus scores of all four metrics
plus segment scores, for the published opus-mt-fr-en output (bar: < 10 s for
newstest2014, 3003 lines, on a 2-core machine).

    python bench/evaluate.py [--testset newstest2014] [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.evaluate import Options, evaluate, read_text  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--testset", default="newstest2014")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: one per CPU)")
    args = parser.parse_args()
    hyp_path = DATA / "published" / "opus-mt-fr-en" / f"{args.testset}.fra-eng.output"
    ref_path = DATA / "testsets" / "fra-eng" / f"{args.testset}.eng"
    t0 = time.perf_counter()
    hyp, ref = (read_text(p.read_bytes(), p.name) for p in (hyp_path, ref_path))
    report = evaluate([hyp], [ref], Options(), segments=True, jobs=args.jobs)
    seconds = time.perf_counter() - t0
    scores = report.systems[0].scores.values()
    print(f"{hyp_path.name}: {len(ref.lines)} lines, {args.jobs} jobs")
    print("  ".join(f"{s.name} {s.score:.2f}" for s in scores))
    print(f"corpus + segment scores of {len(scores)} metrics in {seconds:.2f} s")


if __name__ == "__main__":
    main()
