"""Do two commits of mtpipe write the same bytes? For refactors that must not change
any output: each commit runs `mtpipe run` from a git worktree of its own on the same
inputs (the seed, the formats corpus: real pages and the Word suites, and the seed on
the Ray engine), fixture model, no memory, SOURCE_DATE_EPOCH fixed; then every output
file of the two runs is compared byte for byte.

    python bench/same_outputs.py BEFORE [AFTER]   (AFTER: the working tree)

Prints one line per corpus and the files that differ; exits 1 when any does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = {
    "seed": (["seeds"], []),
    "formats": (["tests/data/realpages", "tests/data/docx-suite", "tests/data/docx-empty"], []),
    "seed on Ray": (["seeds"], ["--engine", "ray", "--actors", "2"]),
}


def run(tree: Path, inputs: list[str], extra: list[str], out: Path) -> None:
    """`mtpipe run` of the code in `tree` on the inputs (read from this checkout)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "SOURCE_DATE_EPOCH": "1764000000"}
    env.pop("RAY_ADDRESS", None)
    args = [sys.executable, "-m", "pipeline.cli", "run", *(str(ROOT / i) for i in inputs), "-o", str(out)]
    args += ["--model", str(ROOT / "models" / "tiny-fr-en"), "--no-cache", "--quiet", *extra]
    done = subprocess.run(args, cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        sys.exit(f"{tree.name}: mtpipe run failed ({done.returncode}): {done.stderr.strip()[-500:]}")


def files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and not p.name.startswith(".mtpipe")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", help="a commit")
    parser.add_argument("after", nargs="?", help="a commit (default: the working tree)")
    parser.add_argument("--only", nargs="*", choices=list(CORPORA), help="some corpora only")
    args = parser.parse_args()
    differ = 0
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        for name, rev in (("before", args.before), ("after", args.after)):
            if rev is None:
                trees[name] = ROOT
            else:
                trees[name] = Path(tmp) / name
                subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(trees[name]), rev], check=True)
        try:
            for corpus, (inputs, extra) in CORPORA.items():
                if args.only and corpus not in args.only:
                    continue
                outs = {name: Path(tmp) / f"out-{name}-{corpus.replace(' ', '-')}" for name in trees}
                for name, tree in trees.items():
                    run(tree, inputs, extra, outs[name])
                a, b = files(outs["before"]), files(outs["after"])
                changed = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
                differ += bool(changed)
                print(f"{corpus}: {len(a)} files before, {len(b)} after, {len(changed)} differ" + "".join(f"\n  {c}" for c in changed[:20]))
        finally:
            for name, tree in trees.items():
                if tree != ROOT:
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
