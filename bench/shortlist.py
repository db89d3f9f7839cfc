"""What a vocabulary shortlist (CTranslate2's use_vmap) is worth in speed, before
mtpipe offers one: the engine alone, same conversion, with and without it.

The model is bench/translate.py's (random weights of opus-mt-fr-en's dimensions, the
real tokenizer), converted to int8 with `<pad>`, its decoder start token, moved to
id 2 (its embedding rows, output projection row and bias swapped with id 2's): at the
last id it trips CTranslate2's stale-map bug (bench/vmap_bug.py). The shortlist is
built from newstest2013 (held out from the timing): the --frequent most frequent
English pieces, plus for each French piece the --per-source English pieces with the
best Dice co-occurrence over its sentence pairs. Timing: the first --sentences
FLORES devtest lines, pre-tokenised, length-sorted batches of 32, beam 4, outputs
forced to the reference's token count (random weights never end on their own),
mtpipe's CPU layout (workers of one thread each, each batch shared among them).

    python bench/shortlist.py [--sentences 200] [--frequent 500] [--per-source 20] [--repeats 3]

Prints target tokens/s with and without the shortlist (median of --repeats,
interleaved) and the mean shortlist size per batch. Speed only: with random weights
the outputs say nothing of quality. Not a test: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from translate import FLORES, SHARED, build_model  # noqa: E402

NEWSTEST = SHARED / "data" / "testsets" / "fra-eng" / "newstest2013"
PAD_AT = 2


def convert_with_pad_at(model: Path, out: Path, vmap: Path) -> None:
    """mtpipe's conversion (int8), `<pad>` swapped to id PAD_AT, vmap.txt included."""
    import torch

    from pipeline.translate.convert import _marian_converter

    converter = _marian_converter(model)
    load = converter._load

    def swapped():
        spec = load()
        vocabularies = [v for vs in spec._vocabularies.values() for v in vs]
        if "<pad>" not in vocabularies[0]:  # converted as OPUS-MT is, starting from </s>: nothing to move
            return spec
        pad = vocabularies[0].index("<pad>")
        rows = [pad, PAD_AT]
        done: set[int] = set()  # tied weights are one array seen twice: swap once
        for array in (spec.encoder.embeddings[0].weight, spec.decoder.embeddings.weight, spec.decoder.projection.weight, spec.decoder.projection.bias):
            key = array.data_ptr() if hasattr(array, "data_ptr") else id(array)
            if array is not None and key not in done:
                done.add(key)
                with torch.no_grad():
                    array[rows] = array[rows[::-1]].clone() if hasattr(array, "clone") else array[rows[::-1]].copy()
        for vocabulary in {id(v): v for v in vocabularies}.values():
            vocabulary[pad], vocabulary[PAD_AT] = vocabulary[PAD_AT], vocabulary[pad]
        return spec

    converter._load = swapped
    converter.convert(str(out), quantization="int8", vmap=str(vmap), force=True)


def build_vmap(tok, path: Path, frequent: int, per_source: int) -> None:
    """Frequent English pieces, and per French piece its best Dice partners."""
    fr = NEWSTEST.with_suffix(".fra").read_text(encoding="utf-8").splitlines()
    en = NEWSTEST.with_suffix(".eng").read_text(encoding="utf-8").splitlines()
    src = [set(tok.convert_ids_to_tokens(ids)[:-1]) for ids in tok(fr)["input_ids"]]
    tgt = [set(tok.convert_ids_to_tokens(ids)[:-1]) for ids in tok(text_target=en)["input_ids"]]
    count_s, count_t, both = collections.Counter(), collections.Counter(), collections.Counter()
    for s, t in zip(src, tgt):
        count_s.update(s)
        count_t.update(t)
        both.update((a, b) for a in s for b in t)
    partners: dict[str, list[tuple[float, str]]] = collections.defaultdict(list)
    for (a, b), n in both.items():
        partners[a].append((2 * n / (count_s[a] + count_t[b]), b))
    lines = ["\t" + " ".join(p for p, _ in count_t.most_common(frequent))]
    lines += [a + "\t" + " ".join(b for _, b in sorted(c, reverse=True)[:per_source]) for a, c in partners.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--frequent", type=int, default=500)
    parser.add_argument("--per-source", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--beam", type=int, default=4)
    args = parser.parse_args()
    import ctranslate2

    from pipeline.translate import ct2_threads, usable_cores
    from pipeline.translate.spm import MarianSpm

    with tempfile.TemporaryDirectory(prefix="mtpipe-shortlist-") as tmp:
        work = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")
        build_model(work / "model")
        tok = MarianSpm(work / "model")
        build_vmap(tok, work / "vmap.txt", args.frequent, args.per_source)
        convert_with_pad_at(work / "model", work / "ct2", work / "vmap.txt")
        fr = FLORES.with_suffix(".fra").read_text(encoding="utf-8").splitlines()[: args.sentences]
        en = FLORES.with_suffix(".eng").read_text(encoding="utf-8").splitlines()[: args.sentences]
        source = [tok.convert_ids_to_tokens(ids) for ids in tok(fr)["input_ids"]]
        lengths = [len(ids) for ids in tok(text_target=en)["input_ids"]]
        order = sorted(range(len(source)), key=lambda i: len(source[i]))
        batches = [order[i : i + 32] for i in range(0, len(order), 32)]
        workers, threads = ct2_threads(usable_cores())
        translator = ctranslate2.Translator(str(work / "ct2"), device="cpu", compute_type="int8", inter_threads=workers, intra_threads=threads)
        vocabulary = json.loads((work / "ct2" / "shared_vocabulary.json").read_text(encoding="utf-8"))
        always = set((work / "vmap.txt").read_text(encoding="utf-8").split("\n", 1)[0].split())
        rules = dict(line.split("\t", 1) for line in (work / "vmap.txt").read_text(encoding="utf-8").splitlines()[1:])

        def run(vmap: bool) -> tuple[float, int]:
            tokens, t0 = 0, time.perf_counter()
            for batch in batches:
                n = max(lengths[i] for i in batch)
                results = translator.translate_batch(
                    [source[i] for i in batch], beam_size=args.beam, use_vmap=vmap, min_decoding_length=n, max_decoding_length=n, max_batch_size=-(-len(batch) // workers)
                )
                tokens += sum(len(r.hypotheses[0]) for r in results)
            return time.perf_counter() - t0, tokens

        sizes = [len(always | {t for i in batch for s in source[i] for t in rules.get(s, "").split()}) for batch in batches]
        timed: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeats):
            for vmap in (False, True):
                seconds, tokens = run(vmap)
                timed[vmap].append(tokens / seconds)
        full, short = (statistics.median(timed[v]) for v in (False, True))
        print(f"{args.sentences} FLORES sentences, beam {args.beam}, {workers} workers x {threads} threads, forced lengths; vocabulary {len(vocabulary)}")
        print(f"shortlist: {args.frequent} frequent + {args.per_source} per source piece (newstest2013), {statistics.mean(sizes):.0f} candidates per batch of 32 on average")
        print(f"full vocabulary: {full:.1f} target tokens/s; shortlist: {short:.1f}; ratio {short / full:.2f}x (medians of {args.repeats})")


if __name__ == "__main__":
    main()
