"""Translation speed and memory: transformers against CTranslate2, on two CPU cores.

A randomly initialised model with opus-mt-fr-en's dimensions (d_model 512, 6+6 layers,
8 heads, FFN 2048, swish) and the real opus-mt-tc-big-fr-en tokenizer (53,017 tokens)
is built in a temporary folder. Random weights make outputs meaningless, so every
system is forced to produce the reference's token count: min = max new tokens, per
batch the longest reference in the batch (a single sentence: exactly its own).

    python bench/translate.py [--sentences N] [--baseline-sentences M] [--beam 4] [--systems abcdefghij] [--repeats R]

Systems, each in its own process (peak RSS is that process's):
  (a) transformers sentence by sentence: generate on batches of one, as the
      "translation" pipeline did (transformers 5 removed that pipeline)
  (b) model.generate on length-sorted batches (mtpipe's batching, 2048 tokens)
  (c) mtpipe run --backend transformers (FLORES as one article, 5-line paragraphs)
  (d) raw CTranslate2 int8 translate_batch on the translator mtpipe's backend builds
      (its thread layout and malloc settings), on pre-tokenised, length-sorted
      batches of the sentences mtpipe's segmenter finds in that article (FLORES
      lines often hold two sentences: the 1012 lines are 1,153 sentences), with the
      same forced lengths, so that (e)/(d) is the pipeline's cost over the bare
      engine doing the same work
  (e) mtpipe run --backend ctranslate2 (int8)
  (f) (d) as CTranslate2 runs by default: one worker running every core on each
      batch, glibc's malloc defaults. d/f is what mtpipe's setup is worth (on two
      cores, two single-threaded workers each decoding half of every batch, and
      freed memory kept for reuse)
  (g) (e) on the same lines as articles of 20 lines (a folder of news articles)
  (h) (e) on articles of 5 lines
  (i) (c) on articles of 20 lines
  (j) (c) on articles of 5 lines
      g/e, h/e, i/c and j/c: how much of the one-article speed a folder of small
      articles keeps (their sentences share batches across articles)
Times exclude model loading; (c) and (e) include tokenising, segmenting output
handling and writing. (e) also reports the share of its time spent inside
translate_batch. Every rate is FLORES lines per second. Ratios are of sentences/s; (a), at about one sentence a second,
may run on the first M sentences only (--baseline-sentences), a rate like the others.
Not a test: nothing here is asserted.

  (k) Marian (pymarian) float32 on (d)'s batches and forced lengths: Marian cannot
      force a length, so it decodes a copy of the model whose </s> is never chosen,
      each batch bounded to (d)'s length by --max-length-factor, in one mini-batch per
      core (Marian's CPU threads are workers)
  (l) (k) with --gemm-type packed8avx512 (fbgemm int8, packed when loading)
      e/k, e/l, d/k: mtpipe's default path against Marian
bench/marian.py converts the weights for Marian and checks that its greedy output ids
equal transformers' (run it first); it also times the engines on sentences that end
where each model ends them, and Marian's mini-batch sizes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "bench"))  # bench/marian.py and bench/default.py, for (k) and (l)
TOKENIZER = SHARED / "tokenizers" / "opus-mt-tc-big-fr-en"
FLORES = SHARED / "data" / "testsets" / "fra-eng" / "flores101-devtest"
BUDGET = 2048
# The mtpipe runs: system -> (backend, input folder: one article, or articles of 20 or 5 lines).
MTPIPE_RUNS = {
    "c": ("bench-transformers", "in"), "e": ("bench-ctranslate2", "in"),
    "g": ("bench-ctranslate2", "in20"), "h": ("bench-ctranslate2", "in5"),
    "i": ("bench-transformers", "in20"), "j": ("bench-transformers", "in5"),
}


def build_model(folder: Path) -> None:
    import torch
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

    tok = MarianTokenizer.from_pretrained(TOKENIZER)
    vocab = len(tok)
    config = MarianConfig(
        vocab_size=vocab, decoder_vocab_size=vocab, d_model=512, encoder_layers=6, decoder_layers=6,
        encoder_attention_heads=8, decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048,
        activation_function="swish", max_position_embeddings=512, pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id, decoder_start_token_id=tok.pad_token_id, forced_eos_token_id=tok.eos_token_id,
        scale_embedding=True, share_encoder_decoder_embeddings=True,
    )
    torch.manual_seed(0)
    model = MarianMTModel(config).eval()
    model.generation_config = GenerationConfig(
        num_beams=4, max_length=512, bad_words_ids=[[tok.pad_token_id]], pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id, decoder_start_token_id=tok.pad_token_id, forced_eos_token_id=tok.eos_token_id,
    )
    model.save_pretrained(folder)
    tok.save_pretrained(folder)


def data(n: int) -> tuple[list[str], dict[str, int]]:
    """The first n FLORES sentences and, per sentence, its reference's target tokens."""
    from transformers import MarianTokenizer

    tok = MarianTokenizer.from_pretrained(TOKENIZER)
    fr = (FLORES.with_suffix(".fra")).read_text(encoding="utf-8").splitlines()[:n]
    en = (FLORES.with_suffix(".eng")).read_text(encoding="utf-8").splitlines()[:n]
    lengths = [len(ids) for ids in tok(text_target=en)["input_ids"]]
    return fr, dict(zip(fr, lengths))


def forced(texts, lengths: dict[str, int], ratio: float) -> int:
    """The forced output length of a batch: its longest reference (sentences mtpipe split
    differently from FLORES lines get the corpus' target/source token ratio)."""
    return max(lengths.get(t.strip()) or max(1, round(ratio * len(t.split()) * 1.3)) for t in texts)


def register_forced(lengths: dict[str, int], ratio: float, stats: dict) -> None:
    """Bench-only backends that force output lengths; mtpipe itself has no such flag."""
    from dataclasses import replace

    from pipeline.translate import CTranslate2Backend, TransformersBackend, register

    def forcing(base, options):
        class Forced(base):
            def __init__(self, *args):
                super().__init__(*args)
                stats["loaded"] = time.perf_counter()

            def options(self, texts, cap):
                n = min(forced(texts, lengths, ratio), cap)
                return options(n)

            def generate(self, texts, max_new_tokens):
                t0 = time.perf_counter()
                hyps = super().generate(texts, max_new_tokens)
                stats["engine"] = stats.get("engine", 0.0) + time.perf_counter() - t0
                stats["tokens"] = stats.get("tokens", 0) + sum(h.tokens for h in hyps)
                return [replace(h, hit_limit=False) for h in hyps]  # forced length is no runaway

        return Forced

    register("bench-transformers")(forcing(TransformersBackend, lambda n: {"min_new_tokens": n, "max_new_tokens": n}))
    register("bench-ctranslate2")(forcing(CTranslate2Backend, lambda n: {"min_decoding_length": n, "max_decoding_length": n}))


def child(system: str, folder: Path, n: int, beam: int, work: Path) -> dict:
    import torch

    from pipeline.translate import usable_cores, length_batches

    torch.set_num_threads(usable_cores())
    sentences, lengths = data(n)
    stats: dict = {}
    ratio = sum(lengths.values()) / sum(len(s.split()) * 1.3 for s in sentences)
    if system in MTPIPE_RUNS:
        from pipeline.cli import main

        register_forced(lengths, ratio, stats)
        backend, folder_in = MTPIPE_RUNS[system]
        out = work / f"out-{system}"
        code = main(["run", str(work / folder_in), "-o", str(out), "--model", str(folder), "--backend", backend, "--beam", str(beam), "--no-cache", "--quiet", "--force"])
        seconds = time.perf_counter() - stats["loaded"]
        assert code == 0, code
        return {"seconds": seconds, "tokens": stats["tokens"], "engine_seconds": stats.get("engine", 0.0)}
    from transformers import MarianTokenizer

    tok = MarianTokenizer.from_pretrained(folder)
    if system in ("d", "f", "k", "l"):  # the sentences (e) translates: the article as mtpipe segments it
        from pipeline.ingest import parse
        from pipeline.segment import segment

        sentences = [s.text for s in segment(parse((work / "in" / "flores.txt").read_bytes(), "flores.txt"))]
    src_lengths = [len(ids) for ids in tok(sentences)["input_ids"]]
    batches = length_batches(src_lengths, BUDGET)
    tokens = 0
    if system == "a":
        # transformers 5 removed the "translation" pipeline; this is what it ran per call:
        # tokenise one sentence, generate, decode.
        from transformers import MarianMTModel

        model = MarianMTModel.from_pretrained(folder).eval()
        t0 = time.perf_counter()
        with torch.inference_mode():
            for s in sentences:
                n = lengths[s]
                out = model.generate(**tok([s], return_tensors="pt"), num_beams=beam, min_new_tokens=n, max_new_tokens=n)
                tok.batch_decode(out, skip_special_tokens=True)
                tokens += int((out[:, 1:] != model.config.pad_token_id).sum())
    elif system == "b":
        from transformers import MarianMTModel

        model = MarianMTModel.from_pretrained(folder).eval()
        t0 = time.perf_counter()
        with torch.inference_mode():
            for batch in batches:
                texts = [sentences[i] for i in batch]
                n = max(lengths[t] for t in texts)
                enc = tok(texts, return_tensors="pt", padding=True)
                out = model.generate(**enc, num_beams=beam, min_new_tokens=n, max_new_tokens=n)
                tokens += int((out[:, 1:] != model.config.pad_token_id).sum())
    elif system in ("d", "f"):
        import ctranslate2

        from pipeline.hub import resolve
        from pipeline.translate import OUTPUT_RATIO, OUTPUT_SLACK, CTranslate2Backend, DecodeSettings, convert_ct2

        if system == "d":  # the engine exactly as mtpipe sets it up (threads; malloc, as the command settles its process)
            from pipeline.process import settle

            settle("ctranslate2", "cpu")
            backend = CTranslate2Backend(resolve(str(folder)), DecodeSettings(beam=beam, device="cpu", compute_type="int8"))
            translator, workers = backend.translator, backend.workers
        else:
            translator, workers = ctranslate2.Translator(str(convert_ct2(resolve(str(folder)), "int8")), device="cpu", compute_type="int8", intra_threads=usable_cores()), 1
        pre = [tok.convert_ids_to_tokens(ids) for ids in tok(sentences)["input_ids"]]
        t0 = time.perf_counter()
        for batch in batches:
            n = min(forced([sentences[i] for i in batch], lengths, ratio), OUTPUT_RATIO * max(src_lengths[i] for i in batch) + OUTPUT_SLACK)
            share = math.ceil(len(batch) / workers)
            results = translator.translate_batch([pre[i] for i in batch], beam_size=beam, min_decoding_length=n, max_decoding_length=n, max_batch_size=share)
            tokens += sum(len(r.hypotheses[0]) for r in results)
    elif system in ("k", "l"):
        tokens, t0 = marian_child(system, folder, sentences, lengths, ratio, src_lengths, batches, beam, work, tok)
    return {"seconds": time.perf_counter() - t0, "tokens": tokens}


def marian_child(system: str, folder: Path, sentences, lengths, ratio: float, src_lengths, batches, beam: int, work: Path, tok) -> tuple[int, float]:
    """(k)/(l): Marian on (d)'s batches and forced lengths. Marian cannot force a length:
    it decodes a copy of the model whose </s> is never chosen, each batch bounded by
    --max-length-factor to (d)'s forced length over the batch's widest source (its
    end token included, as Marian counts it); each batch in as many mini-batches as
    cores, Marian's CPU threads being workers. The model is converted by bench/marian.py,
    whose conversion check must pass first."""
    import shutil

    from default import biased
    from marian import marian_translator, to_marian

    from pipeline.translate import OUTPUT_RATIO, OUTPUT_SLACK, usable_cores

    endless = work / "model-endless"
    if not (work / "marian" / "model.npz").exists():
        shutil.copytree(folder, endless, dirs_exist_ok=True)
        biased(endless, -10_000.0)
        to_marian(endless, work / "marian")
    workers = usable_cores()
    pre = [" ".join(tok.convert_ids_to_tokens(ids)[:-1]) for ids in tok(sentences)["input_ids"]]
    tokens, seconds = 0, 0.0
    for batch in batches:  # pymarian takes its options when made only: a Translator per batch, its loading not timed
        n = min(forced([sentences[i] for i in batch], lengths, ratio), OUTPUT_RATIO * max(src_lengths[i] for i in batch) + OUTPUT_SLACK)
        gemm, factor = "float32" if system == "k" else "packed8avx512", n / max(src_lengths[i] for i in batch)
        translator = marian_translator(work / "marian" / "model.npz", work / "marian" / "vocab.yml", beam, gemm, workers, math.ceil(len(batch) / workers), factor)
        t0 = time.perf_counter()
        outputs = translator.translate([pre[i] for i in batch])
        seconds += time.perf_counter() - t0
        tokens += sum(len(out.split()) for out in outputs)
        del translator
    return tokens, time.perf_counter() - seconds  # a start as far back as the timed parts took: child times from it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=40, help="FLORES sentences (default 40: (a) and (b) run at 0.5-3 sentences/s; all 1012 take about 20 minutes)")
    parser.add_argument("--baseline-sentences", type=int, default=None, metavar="M", help="run (a) on the first M sentences only (default: all of --sentences)")
    parser.add_argument("--beam", type=int, default=4)
    parser.add_argument("--systems", default="abcdefghij")
    parser.add_argument("--repeats", type=int, default=1, help="run every system this many times, interleaved, and take each one's median (default 1)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(args.child, args.work / "model", args.sentences, args.beam, args.work)
        result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print("RESULT " + json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="mtpipe-bench-") as tmp:
        work = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")  # conversions stay in the temp dir
        # Idle OpenMP threads sleep instead of spinning: on a machine shared with other
        # work, spinning threads that wait for a descheduled one make every system crawl.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        os.environ.setdefault("KMP_BLOCKTIME", "0")
        build_model(work / "model")
        sentences, _ = data(args.sentences)
        (work / "in").mkdir()
        paragraphs = ["\n".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5)]
        (work / "in" / "flores.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
        for size in (20, 5):  # the same paragraphs, as articles of `size` lines
            (work / f"in{size}").mkdir()
            for k in range(0, len(paragraphs), size // 5):
                (work / f"in{size}" / f"a{k:04d}.txt").write_text("\n\n".join(paragraphs[k : k + size // 5]) + "\n", encoding="utf-8")
        from pipeline.hub import resolve
        from pipeline.translate import convert_ct2

        convert_ct2(resolve(str(work / "model")), "int8")  # ahead of time, as `mtpipe models convert` does
        if {"k", "l"} & set(args.systems):  # Marian's rows count only if its conversion gives transformers' output
            from marian import check

            check(work / "model", work, sentences[:20], "random opus-mt-sized model")
        names = {"a": "transformers, 1 sentence at a time", "b": "transformers generate, sorted batches", "c": "mtpipe run --backend transformers", "d": "CTranslate2 int8 translate_batch", "e": "mtpipe run --backend ctranslate2", "f": "CTranslate2 int8, default setup",
                 "g": "(e) on 20-line articles", "h": "(e) on 5-line articles", "i": "(c) on 20-line articles", "j": "(c) on 5-line articles",
                 "k": "Marian float32 (pymarian), (d)'s batches", "l": "Marian packed8avx512 (fbgemm int8), (d)'s batches"}
        print(f"{args.sentences} FLORES sentences, beam {args.beam}, {os.cpu_count()} CPUs, outputs forced to the reference length")
        print(f"{'system':<50} {'sent/s':>8} {'tok/s':>8} {'seconds':>8} {'peak RSS MB':>12}")
        runs: dict[str, list[dict]] = {}
        for _ in range(args.repeats):  # interleaved, so that a slow spell of the machine hits every system
            for system in args.systems:
                n = args.baseline_sentences if system == "a" and args.baseline_sentences else args.sentences
                cmd = [sys.executable, __file__, "--child", system, "--work", str(work), "--sentences", str(n), "--beam", str(args.beam)]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
                if proc.returncode or not line:
                    print(f"({system}) failed:\n{proc.stderr[-2000:]}")
                    continue
                r = json.loads(line[-1][7:])
                r["rate"] = n / r["seconds"]
                runs.setdefault(system, []).append(r)
                print(f"({system}) {names[system] + (f' [{n} sentences]' if n != args.sentences else ''):<46} {r['rate']:8.2f} {r['tokens'] / r['seconds']:8.1f} {r['seconds']:8.1f} {r['rss_mb']:12.0f}", flush=True)
        # Each system's median run (by rate) stands for it in the ratios.
        results = {system: sorted(rs, key=lambda r: r["rate"])[len(rs) // 2] for system, rs in runs.items()}
        if args.repeats > 1:
            print(f"medians of {args.repeats} runs: " + ", ".join(f"({s}) {r['rate']:.2f}" for s, r in results.items()))
        for system in (s for s in MTPIPE_RUNS if s in results):
            r = results[system]
            print(f"({system}) spent {r['engine_seconds']:.1f} of its {r['seconds']:.1f} s in the backend's generate (tokenise, translate, detokenise): the rest of the pipeline takes {100 * (1 - r['engine_seconds'] / r['seconds']):.1f}%")
        for a, b in (("e", "a"), ("e", "b"), ("e", "d"), ("e", "f"), ("d", "f"), ("g", "e"), ("h", "e"), ("i", "c"), ("j", "c"), ("e", "k"), ("e", "l"), ("d", "k")):
            if a in results and b in results:
                print(f"{a}/{b}: {results[a]['rate'] / results[b]['rate']:.2f}x sentences/s, {(results[a]['tokens'] / results[a]['seconds']) / (results[b]['tokens'] / results[b]['seconds']):.2f}x target tokens/s")


if __name__ == "__main__":
    main()
