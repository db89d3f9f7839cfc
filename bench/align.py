"""Sentence-alignment F1 of `pipeline.align` on real test sets, and its cost at scale.

Runs of about 40 consecutive lines of a test set (French source, English reference,
and the published opus-mt-fr-en translation as MT) become documents that are then
perturbed reproducibly from a seed, each at RATE per sentence: adjacent target
sentences merged (2:1), adjacent source sentences merged with their MT (1:2), target
sentences dropped (1:0) and unrelated English sentences (newsdiscusstest2015, used
for nothing else) inserted (0:1). Strict and lax F1 as Vecalign's score.py counts them, for the
aligner with MT, without MT, and a plain Gale–Church baseline (implemented here).
Then time and peak memory of one newstest2014-sized document (3,000 × 3,000), and,
for information, the human gold alignments of CroCoAlign and TransRead (no MT).

    python bench/align.py [--testsets flores101-devtest,newstest2014] [--seed 1] [--rate 0.03]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.align import Link, Scores, align, score  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
TESTSETS = DATA / "testsets" / "fra-eng"
PUBLISHED = DATA / "published" / "opus-mt-fr-en"
ALIGNMENT = DATA / "alignment"
UNRELATED = "newsdiscusstest2015"  # English sentences inserted as 0:1 links come from here
Document = tuple[list[str], list[str], list[str], list[Link]]  # source, mt, target, gold


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def load_testset(name: str) -> tuple[list[str], list[str], list[str]]:
    return read_lines(TESTSETS / f"{name}.fra"), read_lines(PUBLISHED / f"{name}.fra-eng.output"), read_lines(TESTSETS / f"{name}.eng")


def perturb(source: list[str], mt: list[str], target: list[str], unrelated: list[str], rng: random.Random, rate: float) -> Document:
    """Merge, drop and insert sentences at `rate` each; return the texts and gold links."""
    units: list[tuple[list[str], list[str], list[str]]] = []
    i = 0
    while i < len(source):
        if rng.random() < rate:
            units.append(([], [], [rng.choice(unrelated)]))
        roll, pair = rng.random(), i + 1 < len(source)
        if roll < rate and pair:
            units.append((source[i : i + 2], mt[i : i + 2], [f"{target[i]} {target[i + 1]}"]))
        elif roll < 2 * rate and pair:
            units.append(([f"{source[i]} {source[i + 1]}"], [f"{mt[i]} {mt[i + 1]}"], target[i : i + 2]))
        elif roll < 3 * rate:
            units.append(([source[i]], [mt[i]], []))
        else:
            units.append(([source[i]], [mt[i]], [target[i]]))
        i += 1 + (roll < 2 * rate and pair)
    doc_source, doc_mt, doc_target, gold = [], [], [], []
    for src, translation, tgt in units:
        gold.append(Link(tuple(range(len(doc_source), len(doc_source) + len(src))), tuple(range(len(doc_target), len(doc_target) + len(tgt))), 1.0))
        doc_source += src
        doc_mt += translation
        doc_target += tgt
    return doc_source, doc_mt, doc_target, gold


def documents(name: str, size: int, seed: int, rate: float) -> list[Document]:
    source, mt, target = load_testset(name)
    unrelated = read_lines(TESTSETS / f"{UNRELATED}.eng")
    docs = []
    for k, start in enumerate(range(0, len(source), size)):
        rng = random.Random(f"{seed}:{name}:{k}")
        docs.append(perturb(source[start : start + size], mt[start : start + size], target[start : start + size], unrelated, rng, rate))
    return docs


def gale_church(source: list[str], target: list[str], band: int = 250) -> list[Link]:
    """Gale & Church (1993): character lengths only, c = 1, s² = 6.8, their priors;
    searched within `band` target sentences of the diagonal so whole books fit."""
    priors = {(1, 1): 0.89, (1, 0): 0.0099 / 2, (0, 1): 0.0099 / 2, (2, 1): 0.089 / 2, (1, 2): 0.089 / 2, (2, 2): 0.011}
    penalty = {t: -math.log(p) for t, p in priors.items()}
    ls = [0] + [len(s) for s in source]
    lt = [0] + [len(s) for s in target]
    for k in range(1, len(ls)):
        ls[k] += ls[k - 1]
    for k in range(1, len(lt)):
        lt[k] += lt[k - 1]
    n, m = len(source), len(target)
    best: dict[tuple[int, int], tuple[float, tuple[int, int]]] = {(0, 0): (0.0, (0, 0))}
    for i in range(n + 1):
        centre = i * m / max(n, 1)
        for j in range(max(0, int(centre) - band), min(m, int(centre) + band) + 1):
            for (a, b), cost in penalty.items():
                before = best.get((i - a, j - b))
                if before is None:
                    continue
                l1, l2 = ls[i] - ls[i - a], lt[j] - lt[j - b]
                if a and b:
                    delta = (l2 - l1) / math.sqrt(6.8 * max(l1, 1))
                    cost += -math.log(max(math.erfc(abs(delta) / math.sqrt(2)), 1e-300))
                if (i, j) not in best or before[0] + cost < best[(i, j)][0]:
                    best[(i, j)] = (before[0] + cost, (a, b))
    links, i, j = [], n, m
    while i or j:
        a, b = best[(i, j)][1]
        links.append(Link(tuple(range(i - a, i)), tuple(range(j - b, j)), 0.0))
        i, j = i - a, j - b
    return links[::-1]


def evaluate(docs: list[Document]) -> dict[str, Scores]:
    gold = [d[3] for d in docs]
    return {
        "with MT": score(gold, [align(s, t, mt) for s, mt, t, _ in docs]),
        "without MT": score(gold, [align(s, t) for s, _, t, _ in docs]),
        "Gale-Church": score(gold, [gale_church(s, t) for s, _, t, _ in docs]),
    }


def print_scores(title: str, results: dict[str, Scores]) -> None:
    print(title)
    print(f"  {'':12} {'strict P':>9} {'R':>6} {'F1':>6}   {'lax P':>6} {'R':>6} {'F1':>6}")
    for system, s in results.items():
        print(
            f"  {system:12} {s.precision_strict:9.4f} {s.recall_strict:6.4f} {s.f1_strict:6.4f}   "
            f"{s.precision_lax:6.4f} {s.recall_lax:6.4f} {s.f1_lax:6.4f}"
        )


def measure(name: str, seed: int, rate: float) -> None:
    """Print, as JSON, the time and memory of aligning a whole test set as one document."""
    import resource
    import tracemalloc

    [(source, mt, target, gold)] = documents(name, 10**9, seed, rate)
    results = {"sentences": [len(source), len(target)]}
    for label, translation in (("with MT", mt), ("without MT", None)):
        t0 = time.perf_counter()
        links = align(source, target, translation)
        seconds = time.perf_counter() - t0
        tracemalloc.start()  # a second run: tracing slows allocation down
        align(source, target, translation)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        results[label] = {"seconds": seconds, "traced_peak_mb": peak / 2**20, "f1_strict": score([gold], [links]).f1_strict}
    results["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(results))


def crocoalign() -> Document:
    """Les Trois Mousquetaires: French sentences are the source, English the target."""
    source, target, gold = [], [], []
    for line in (ALIGNMENT / "crocoalign" / "test_EN-FR-Dumas_Alexandre-Trois_Mousquetaires.jsonl").read_text(encoding="utf-8").splitlines():
        link = json.loads(line)
        fr, en = link["targets"]["text"], link["sources"]["text"]
        gold.append(Link(tuple(range(len(source), len(source) + len(fr))), tuple(range(len(target), len(target) + len(en))), 1.0))
        source += fr
        target += en
    return source, [], target, gold


# Where the tokenized TransRead lines may be cut, strongest first.
_CUTS = (re.compile(r"(?<= [.!?])(?: [\"»])? (?=\S)"), re.compile(r"(?<= [;:])(?: [\"»])? (?=\S)"), re.compile(r"(?<= ,) (?=\S)"), re.compile(r" (?=\S)"))


def split_joined(line: str, count: int) -> list[str] | None:
    """Cut a line holding `count` joined sentences at its strongest punctuation, or
    None if it has too few places to cut."""
    cuts = [m.end() for pattern in _CUTS for m in pattern.finditer(line)][: count - 1]
    if len(cuts) < count - 1:
        return None
    cuts.sort()
    return [line[a:b].strip() for a, b in zip([0, *cuts], [*cuts, len(line)])]


def transread(book: Path) -> Document | None:
    """A TransRead book from its cesAlign links. The .aligned files join the sentences
    of a link on one line; they are cut again at punctuation, so the pieces are not
    always the annotators' sentences, but every link keeps its shape (None when a
    line has too few places to cut)."""
    stem = book.name.removesuffix("_EN-FR")
    lines = {side: read_lines(book / f"cut_{stem}_{side}.aligned") for side in ("en", "fr")}
    source, target, gold = [], [], []
    for number, link in enumerate(ElementTree.parse(book / f"{stem}_sent_align_en-fr.xml").iter("link")):
        en_ids, fr_ids = (part.split() for part in link.get("xtargets").split(";"))
        fr = split_joined(lines["fr"][number], len(fr_ids)) if fr_ids else []
        en = split_joined(lines["en"][number], len(en_ids)) if en_ids else []
        if fr is None or en is None:
            return None
        gold.append(Link(tuple(range(len(source), len(source) + len(fr))), tuple(range(len(target), len(target) + len(en))), 1.0))
        source += fr
        target += en
    return source, [], target, gold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--testsets", default="flores101-devtest,newstest2014")
    parser.add_argument("--size", type=int, default=40, help="test-set lines per document")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.03, help="probability of each perturbation per sentence")
    parser.add_argument("--scale", default="newstest2014", help="test set aligned as one document for time and memory")
    parser.add_argument("--measure", metavar="TESTSET", help=argparse.SUPPRESS)
    parser.add_argument("--no-books", action="store_true", help="skip CroCoAlign and TransRead")
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.seed, args.rate)
        return
    for name in args.testsets.split(","):
        docs = documents(name, args.size, args.seed, args.rate)
        kinds = sum((len(l.src), len(l.tgt)) != (1, 1) for d in docs for l in d[3])
        links = sum(len(d[3]) for d in docs)
        print_scores(f"{name}: {len(docs)} documents, {links} gold links ({kinds} not 1:1), seed {args.seed}, rate {args.rate}", evaluate(docs))
    # A fresh process, so that its peak resident memory is this document's alone.
    done = subprocess.run([sys.executable, __file__, "--measure", args.scale, "--seed", str(args.seed), "--rate", str(args.rate)], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    print(f"{args.scale} as one document, {result['sentences'][0]} × {result['sentences'][1]} sentences (process peak RSS {result['max_rss_mb']:.0f} MB):")
    for label in ("with MT", "without MT"):
        r = result[label]
        print(f"  {label:12} {r['seconds']:.2f} s, {r['traced_peak_mb']:.0f} MB traced peak, strict F1 {r['f1_strict']:.4f}")
    if args.no_books:
        return
    books = {"CroCoAlign, Les Trois Mousquetaires": [crocoalign()]}
    novels = [transread(book) for book in sorted((ALIGNMENT / "transread").glob("*_EN-FR"))]
    books[f"TransRead, {sum(d is not None for d in novels)} of {len(novels)} novels"] = [d for d in novels if d is not None]
    for title, docs in books.items():
        gold = [d[3] for d in docs]
        results = {"without MT": score(gold, [align(s, t) for s, _, t, _ in docs]), "Gale-Church": score(gold, [gale_church(s, t) for s, _, t, _ in docs])}
        print_scores(f"{title} (human gold, no MT; {sum(len(d[0]) for d in docs)} × {sum(len(d[2]) for d in docs)} sentences, {sum(map(len, gold))} links)", results)


if __name__ == "__main__":
    main()
