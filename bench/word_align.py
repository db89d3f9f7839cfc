"""Word-alignment error rate of the backends' links, and `project_spans` on gold links.

Data: the 447 human-aligned English–French Hansards pairs of the 2003 HLT-NAACL
shared task (../shared/data/word-alignment/hansards-en-fr/: `English ||| French`,
tokenised; gold links `i-j` sure, `ipj` possible, 1-based, English first), turned
into mtpipe's links: (French word, English word), 0-based.

1. AER. Each English sentence is force-decoded from its French one with the
   backend's `align` (the translation is given; the model only scores it) and the
   links read from one cross-attention head are scored against the gold, over the
   whole corpus as Och & Ney (2003) count it: AER = 1 − (|A∩S| + |A∩P|) / (|A| + |S|),
   S ⊆ P; precision |A∩P| / |A|, recall |A∩S| / |S|. Rows: head 0 of every decoder
   layer, the default (last layer, head 0: Marian's guided-alignment head) marked,
   and every head of the last layer (transformers only: CTranslate2 keeps the
   default head alone). Published AER on this set for reference: fast_align 10.5,
   eflomal 8.2, GIZA++ 5.9, SimAlign 7.6, awesome-align 5.6 (4.1 fine-tuned).
   The fixture models/tiny-fr-en is a toy that memorised 4,000 short Tatoeba pairs
   without guided alignment: its AER is no measure of quality, only a check that the
   machinery runs. The figure that means something is a real checkpoint's
   (`--model Helsinki-NLP/opus-mt-fr-en` on a connected machine), whose default head
   was trained by guided alignment and can be set against the published aligners
   (not measured here: the weights are not obtainable offline).
   Also shown: p×w, links joining a punctuation-only word to a word that is not (the
   gold has few: the sinks rule of pipeline.wordalign is meant to keep them rare),
   and an off-by-one check: the default head's AER with every English index moved
   by −1, 0, +1 — the unmoved links must score best, or attention rows and output
   tokens are misaligned.

2. project_spans alone. Seeded random spans of 1–4 French words (as if wrapped in
   tags) are projected onto the English with (a) the gold sure links, (b) the gold
   sure + possible links, (c) the model's links from the default head, and compared
   with the span the gold sure links imply: the hull [min, max + 1) of the English
   words sure-linked to the span's words. Spans with no sure link have no gold span:
   counted apart. Reported: exact match and overlap rates (over spans with a gold
   span), and lost spans (no projected span, an empty one, or one outside
   [0, n_english]), which must be 0 — asserted — and the projected spans' mean width
   in English words. (a) must match exactly: with the sure links the hull is what
   project_spans computes (asserted); (b) contains the gold span by construction
   (overlap 100%), its exact rate says how much possible links widen spans. Sure
   links are sparse in this set (4,038 over 7,761 French words): about a quarter of
   random spans have no gold span.

    python bench/word_align.py [--model models/tiny-fr-en] [--backend transformers|ctranslate2]
                               [--batch 32] [--spans 2000] [--seed 1] [--pairs N]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.wordalign import Links, aer, project_spans  # noqa: E402

HANSARDS = ROOT.parent / "shared" / "data" / "word-alignment" / "hansards-en-fr"
PUBLISHED_AER = {"fast_align": 10.5, "eflomal": 8.2, "GIZA++": 5.9, "SimAlign": 7.6, "awesome-align": 5.6, "awesome-align fine-tuned": 4.1}
_GOLD_LINK = re.compile(r"(\d+)([-p])(\d+)")
_PUNCT = re.compile(r"[\W_]+")  # a word made of punctuation only


@dataclass(frozen=True)
class Pair:
    english: str
    french: str
    sure: frozenset[tuple[int, int]]  # (French word, English word), 0-based
    possible: frozenset[tuple[int, int]]  # sure ones included


def load_hansards(folder: Path = HANSARDS) -> list[Pair]:
    """The gold pairs, links turned into mtpipe's (French, English) 0-based order."""
    texts = (folder / "enfr.src-tgt").read_text(encoding="utf-8").splitlines()
    golds = (folder / "enfr.gold").read_text(encoding="utf-8").splitlines()
    if len(texts) != len(golds):
        raise SystemExit(f"{folder}: {len(texts)} sentence pairs but {len(golds)} gold lines")
    pairs = []
    for n, (text, gold) in enumerate(zip(texts, golds), 1):
        english, sep, french = text.partition("|||")
        english, french = " ".join(english.split()), " ".join(french.split())
        if not sep or not english or not french:
            raise SystemExit(f"{folder / 'enfr.src-tgt'}:{n}: not `English ||| French`")
        sure, possible = set(), set()
        for item in gold.split():
            match = _GOLD_LINK.fullmatch(item)
            if not match:
                raise SystemExit(f"{folder / 'enfr.gold'}:{n}: {item!r} is no link")
            e, f = int(match[1]) - 1, int(match[3]) - 1
            if not (0 <= e < len(english.split()) and 0 <= f < len(french.split())):
                raise SystemExit(f"{folder / 'enfr.gold'}:{n}: {item} is outside the sentences")
            (sure if match[2] == "-" else possible).add((f, e))
        pairs.append(Pair(english, french, frozenset(sure), frozenset(possible | sure)))
    return pairs


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    aer: float
    links: int
    mixed: int  # links joining a punctuation-only word to a word that is not


def mixed_links(links: Sequence[Links] | Sequence[frozenset[tuple[int, int]]], pairs: Sequence[Pair]) -> int:
    """Links between a punctuation-only word on one side and another word on the other."""
    n = 0
    for found, pair in zip(links, pairs):
        french, english = pair.french.split(), pair.english.split()
        n += sum(bool(_PUNCT.fullmatch(french[s])) != bool(_PUNCT.fullmatch(english[t])) for s, t in found)
    return n


def corpus_score(predicted: Sequence[Links], pairs: Sequence[Pair]) -> Score:
    """Corpus-level precision, recall and AER (every link keyed by its sentence)."""
    a = {(k, s, t) for k, links in enumerate(predicted) for s, t in links}
    sure = {(k, s, t) for k, p in enumerate(pairs) for s, t in p.sure}
    possible = {(k, s, t) for k, p in enumerate(pairs) for s, t in p.possible}
    return Score(
        precision=len(a & possible) / len(a) if a else 0.0,
        recall=len(a & sure) / len(sure) if sure else 0.0,
        aer=aer(a, sure, possible),
        links=len(a),
        mixed=mixed_links(predicted, pairs),
    )


def shifted(predicted: Sequence[Links], pairs: Sequence[Pair], by: int) -> list[Links]:
    """The links with every English index moved by `by` (those falling off dropped): if
    links moved by ±1 scored better than the links themselves, attention rows and
    output tokens would be off by one."""
    return [
        tuple((s, t + by) for s, t in links if 0 <= t + by < len(pair.english.split()))
        for links, pair in zip(predicted, pairs)
    ]


def check_links(predicted: Sequence[Links], pairs: Sequence[Pair]) -> None:
    """Every link names a word of its sentences."""
    for k, (links, pair) in enumerate(zip(predicted, pairs)):
        n_fr, n_en = len(pair.french.split()), len(pair.english.split())
        bad = [(s, t) for s, t in links if not (0 <= s < n_fr and 0 <= t < n_en)]
        assert not bad, f"pair {k + 1}: links {bad} outside {n_fr} French × {n_en} English words"


def model_links(backend, pairs: Sequence[Pair], batch: int) -> list[Links]:
    """The backend's forced-decoding links (French → the given English), `batch` pairs a
    call, batched in order of length (less padding), returned in the pairs' order."""
    order = sorted(range(len(pairs)), key=lambda k: (len(pairs[k].french) + len(pairs[k].english), k))
    out: list[Links | None] = [None] * len(pairs)
    for i in range(0, len(order), batch):
        chunk = order[i : i + batch]
        found = backend.align([pairs[k].french for k in chunk], [pairs[k].english for k in chunk])
        assert len(found) == len(chunk)
        for k, links in zip(chunk, found):
            out[k] = links
    check_links(out, pairs)
    return out


def random_spans(pairs: Sequence[Pair], n: int, seed: int, longest: int = 4) -> list[tuple[int, tuple[int, int]]]:
    """n (pair, [start, end)) spans of 1..longest French words, reproducibly from seed."""
    rng = random.Random(seed)
    spans = []
    for _ in range(n):
        k = rng.randrange(len(pairs))
        words = len(pairs[k].french.split())
        size = min(rng.randint(1, longest), words)
        start = rng.randrange(words - size + 1)
        spans.append((k, (start, start + size)))
    return spans


def gold_span(span: tuple[int, int], sure: frozenset[tuple[int, int]]) -> tuple[int, int] | None:
    """The hull of the English words sure-linked to the span's French words (None: no link)."""
    hit = [t for s, t in sure if span[0] <= s < span[1]]
    return (min(hit), max(hit) + 1) if hit else None


@dataclass(frozen=True)
class Projection:
    spans: int
    gold: int  # spans with a gold span
    exact: int
    overlap: int
    lost: int
    width: int  # English words in the projected spans that have a gold span
    gold_width: int  # ... and in their gold spans


def projection_score(spans: Sequence[tuple[int, tuple[int, int]]], pairs: Sequence[Pair], links: Sequence[Links]) -> Projection:
    """project_spans on each sentence's spans at once, against the gold-implied spans."""
    by_pair: dict[int, list[tuple[int, int]]] = {}
    for k, span in spans:
        by_pair.setdefault(k, []).append(span)
    gold = exact = overlap = lost = width = gold_width = 0
    for k, src_spans in sorted(by_pair.items()):
        n_en = len(pairs[k].english.split())
        projected = project_spans(src_spans, links[k], n_en)
        lost += max(0, len(src_spans) - len(projected))
        for span, (start, end) in zip(src_spans, projected):
            if not (0 <= start < end <= n_en):
                lost += 1
                continue
            want = gold_span(span, pairs[k].sure)
            if want is None:
                continue
            gold += 1
            width += end - start
            gold_width += want[1] - want[0]
            exact += (start, end) == want
            overlap += start < want[1] and want[0] < end
    assert lost == 0, f"{lost} spans lost by project_spans"
    return Projection(len(spans), gold, exact, overlap, lost, width, gold_width)


def load_backend(model: str, backend: str, device: str):
    from pipeline.hub import resolve
    from pipeline.translate import DecodeSettings, Translator

    compute_type = "float32" if backend == "ctranslate2" else None
    return Translator(resolve(model), backend, DecodeSettings(device=device, compute_type=compute_type), None).backend()


def pct(x: float) -> str:
    return f"{100 * x:6.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "tiny-fr-en"), help="a checkpoint folder or hub id")
    parser.add_argument("--backend", choices=["transformers", "ctranslate2"], default="transformers")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch", type=int, default=32, help="sentence pairs per align call")
    parser.add_argument("--spans", type=int, default=2000, help="random French spans to project")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=0, help="use the first N pairs only (0: all 447)")
    parser.add_argument("--data", type=Path, default=HANSARDS)
    args = parser.parse_args()
    began = time.perf_counter()

    pairs = load_hansards(args.data)
    if args.pairs:
        pairs = pairs[: args.pairs]
    n_sure = sum(len(p.sure) for p in pairs)
    n_possible = sum(len(p.possible) for p in pairs)
    print(
        f"Hansards en-fr: {len(pairs)} pairs, {sum(len(p.french.split()) for p in pairs)} French and "
        f"{sum(len(p.english.split()) for p in pairs)} English words, {n_sure} sure links, "
        f"{n_possible} possible (sure included)"
    )

    loaded = time.perf_counter()
    backend = load_backend(args.model, args.backend, args.device)
    loaded = time.perf_counter() - loaded
    rows: list[tuple[str, Score, float]] = []
    if args.backend == "transformers":
        config = backend.model.config
        layers, heads = config.decoder_layers, config.decoder_attention_heads
        plan = [(layer, 0) for layer in range(layers)] + [(layers - 1, h) for h in range(1, heads)]
    else:
        layers, heads = None, None
        plan = [(-1, 0)]
    default_links: list[Links] | None = None
    for layer, head in plan:
        if args.backend == "transformers":
            backend.align_layer, backend.align_head = layer, head
        t = time.perf_counter()
        links = model_links(backend, pairs, args.batch)
        t = time.perf_counter() - t
        default = layer in (-1, (layers or 0) - 1) and head == 0
        if default:
            default_links = links
        label = f"layer {layer} head {head}" + ("  = default (-1, 0)" if default else "")
        rows.append((label, corpus_score(links, pairs), t))
    assert default_links is not None

    print()
    print(f"AER of {args.model} ({args.backend}, {backend.used['device']}; model loaded in {loaded:.1f} s)")
    if layers:
        print(f"  decoder: {layers} layers × {heads} heads; head 0 of each layer, then every head of the last")
    print(f"  {'head':<34} {'AER':>6} {'P':>6} {'R':>6} {'links':>7} {'p×w':>5} {'s':>6}")
    for k, (label, score, t) in enumerate(rows):
        if layers and k == layers:
            print(f"  {'-- last layer, other heads':<34}")
        print(f"  {label:<34} {pct(score.aer)} {pct(score.precision)} {pct(score.recall)} {score.links:7d} {score.mixed:5d} {t:6.1f}")
    print(
        f"  gold: {n_sure} sure links ({mixed_links([p.sure for p in pairs], pairs)} p×w), "
        f"{n_possible} possible ({mixed_links([p.possible for p in pairs], pairs)} p×w)"
    )
    print("  p×w: links joining a punctuation-only word to a word that is not")
    moved = {by: corpus_score(shifted(default_links, pairs, by), pairs).aer for by in (-1, 0, 1)}
    print(
        "  off-by-one check, default head, English index moved by -1 / 0 / +1: AER "
        + " / ".join(f"{100 * moved[by]:.1f}" for by in (-1, 0, 1))
        + ("  (unmoved is best: rows match tokens)" if moved[0] < min(moved[-1], moved[1]) else "  (MOVED LINKS SCORE BETTER: off by one?)")
    )
    print("  published (same set):")
    for name, value in PUBLISHED_AER.items():
        print(f"  {name:<34} {value:6.1f}")

    spans = random_spans(pairs, args.spans, args.seed)
    projections = {
        "gold sure links": projection_score(spans, pairs, [tuple(sorted(p.sure)) for p in pairs]),
        "gold sure+possible links": projection_score(spans, pairs, [tuple(sorted(p.possible)) for p in pairs]),
        "model links (default head)": projection_score(spans, pairs, default_links),
    }
    print()
    print(f"project_spans: {len(spans)} random spans of 1-4 French words (seed {args.seed}) against the gold-sure hull")
    first = next(iter(projections.values()))
    print(f"  spans with no gold span (no sure link): {first.spans - first.gold} (left out of the rates)")
    print(f"  mean gold span: {first.gold_width / first.gold:.2f} English words")
    print(f"  {'projected with':<34} {'exact %':>8} {'overlap %':>10} {'width':>6} {'lost':>5}")
    for name, p in projections.items():
        print(f"  {name:<34} {pct(p.exact / p.gold):>8} {pct(p.overlap / p.gold):>10} {p.width / p.gold:6.2f} {p.lost:5d}")
    assert projections["gold sure links"].exact == projections["gold sure links"].gold, "gold sure links must give the gold span"
    print()
    print(f"elapsed {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
