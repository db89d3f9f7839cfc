"""How `mtpipe run` grows with the size of its work: time, bytes written and peak memory.

1. Many small articles (one line each): 20, 500, 1,000 and 2,000 articles. Time and
   bytes written must grow linearly (summary.json is not rewritten after every
   article), and peak RSS stay flat (articles are translated a window at a time).
2. One big article (1, 5 and 10 MB of French): peak RSS and the size of the review
   page must stay within a constant times the article.

Each run is one `mtpipe run` in a fresh process on the fixture model (greedy, no
memory); bytes written are what the process handed to write() (/proc/self/io wchar).

    python bench/scale.py [--counts 20 500 1000 2000] [--megabytes 1 5 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY_MODEL = ROOT / "models" / "tiny-fr-en"
SENTENCES = [
    "Réponds honnêtement.",
    "Bonne conversation.",
    "Elle l'incinéra, contrairement à ses dernières volontés.",
    "À quand remonte votre dernière crise d'asthme ?",
    "Voudrais-tu bien arrêter de m'appeler comme ça ?",
]
# Runs `mtpipe run` in this process, then reports what the process wrote and its peak RSS.
MEASURE = """
import json, resource, sys, time
from pipeline.cli import main
t0 = time.perf_counter()
code = main(sys.argv[1:])
seconds = time.perf_counter() - t0
io = dict(line.split(": ") for line in open("/proc/self/io").read().splitlines())
print(json.dumps({"code": code, "seconds": seconds, "written": int(io["wchar"]), "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def measure(src: Path, articles: dict[str, str], out: Path) -> dict:
    """Write the articles (name -> text) into src, then run mtpipe on it into out."""
    src.mkdir()
    for name, text in articles.items():
        (src / name).write_text(text, encoding="utf-8")
    args = ["run", str(src), "-o", str(out), "--model", str(TINY_MODEL), "--no-cache", "--beam", "1", "--quiet"]
    done = subprocess.run([sys.executable, "-c", MEASURE, *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"mtpipe run {src.name} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def many_small(counts: list[int], root: Path) -> None:
    print("many one-line articles")
    print(f"{'articles':>9} {'seconds':>8} {'s/article':>10} {'MB written':>11} {'kB/article':>11} {'peak RSS MB':>12}")
    for count in counts:
        articles = {f"a{i:05d}.txt": f"{SENTENCES[i % len(SENTENCES)]} Numéro {i}.\n" for i in range(count)}
        r = measure(root / f"small-{count}", articles, root / f"out-small-{count}")
        print(f"{count:>9} {r['seconds']:>8.1f} {r['seconds'] / count * 1000:>8.1f}ms {r['written'] / 1e6:>11.1f} {r['written'] / count / 1e3:>11.1f} {r['rss'] / 1e6:>12.0f}")


def one_big(megabytes: list[int], root: Path) -> None:
    print("one big article (sentences repeat, so translation is cheap and file handling shows)")
    print(f"{'MB':>4} {'seconds':>8} {'peak RSS MB':>12} {'RSS / article':>14} {'page MB':>8} {'MB written':>11}")
    for mb in megabytes:
        paragraph = " ".join(SENTENCES) + "\n"
        text = paragraph * (mb * 1_000_000 // len(paragraph.encode()) + 1)
        out = root / f"out-big-{mb}"
        r = measure(root / f"big-{mb}", {"big.txt": text}, out)
        size = len(text.encode())
        page = (out / "big.review.html").stat().st_size
        print(f"{mb:>4} {r['seconds']:>8.1f} {r['rss'] / 1e6:>12.0f} {r['rss'] / size:>13.0f}× {page / 1e6:>8.2f} {r['written'] / 1e6:>11.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", type=int, nargs="*", default=[20, 500, 1000, 2000])
    parser.add_argument("--megabytes", type=int, nargs="*", default=[1, 5, 10])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.counts:
            many_small(args.counts, Path(tmp))
        if args.megabytes:
            one_big(args.megabytes, Path(tmp))


if __name__ == "__main__":
    main()
