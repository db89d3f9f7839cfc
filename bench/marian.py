"""Marian, the native engine of the OPUS-MT models, beside CTranslate2 and mtpipe: the
same Hugging Face weights converted to a Marian model, checked, then timed.

Conversion (to_marian): the reverse of transformers' convert_marian_to_pytorch.py.
Every matrix is transposed back to Marian's (in, out) layout, biases and layer-norm
parameters become (1, n) rows, the `<pad>` row that transformers appends is dropped
(Marian starts the decoder from a zero vector instead), and the model's config goes
into the `special:model.yml` item. The vocabulary is the checkpoint's vocab.json less
`<pad>`, written as the YAML map Marian reads; text goes in as SentencePiece pieces cut
by mtpipe's tokenizer, as OPUS-MT's own scripts feed Marian.

Check: greedy output ids of Marian and of transformers on the same weights must be
equal, on the fixture model and on bench/translate.py's random model. Marian has no
`<pad>` row to start from, so the fixture is checked with its `<pad>` embedding
zeroed (in both engines; converted OPUS-MT checkpoints have it zero already). Marian
computes its sinusoidal position embeddings with other frequencies than transformers'
Marian port (timescales 10000 ** (i / (d/2 - 1)) against 10000 ** (i / (d/2))): with
transformers' own table only 29 of 100 fixture outputs were identical, with Marian's
98 of 100 (the 2 others ran into the length cap), so the check gives transformers
Marian's table. Real OPUS-MT weights were trained under Marian's table: transformers,
and so CTranslate2's conversion of it, decode them with slightly shifted positions
(at d = 512 the slowest frequency moves by 3.7 %); what that costs in quality is
unmeasured here.

Timing: bench/translate.py's model (random weights of opus-mt-fr-en's size, the real
tokenizer) with its `</s>` output bias lowered to -10,000, so that no engine ends a
sentence early: Marian cannot force an output length, but it stops every sentence of
a batch at --length-factor times the batch's longest source (`--max-length-factor`),
and CTranslate2 is given the same bound as its minimum and maximum length. Same
FLORES lines in the same batches (64 length-sorted sentences), beam 4, 2 cores, each
system in its own process (CTranslate2 and pymarian abort when loaded in one):
  CTranslate2 int8 and float32 as mtpipe's default path runs it (its backend's
  translator: 2 workers x 1 thread, mtpipe's malloc settings; bench/translate.py
  measures the rest of the pipeline at about 1 % of the time);
  pymarian float32 in mini-batches of 64, 16 and 4, and packed8avx512 (fbgemm int8,
  packed when loading; this wheel has no on-line intgemm8) in mini-batches of 16,
  with `--cpu-threads` = the cores (Marian's CPU threads are workers, one batch each).

    python bench/marian.py [--lines 400] [--repeats 2] [--length-factor 1.2] [--check-only]

Needs pymarian (pip install pymarian: a 600 MB wheel, not one of mtpipe's dependencies).
Not a test: nothing here is asserted but the conversion check.
"""

from __future__ import annotations

import argparse
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
from default import biased  # noqa: E402
from translate import FLORES, build_model  # noqa: E402

FIXTURE = ROOT / "models" / "tiny-fr-en"

# Marian's parameter names (per layer) for transformers' MarianMTModel ones, as
# transformers' converter maps them (its BART_CONVERTER).
LAYER_NAMES = {
    "self_attn.q_proj": "self_Wq", "self_attn.k_proj": "self_Wk", "self_attn.v_proj": "self_Wv", "self_attn.out_proj": "self_Wo",
    "self_attn_layer_norm": "self_Wo_ln", "fc1": "ffn_W1", "fc2": "ffn_W2", "final_layer_norm": "ffn_ffn_ln",
    "encoder_attn.q_proj": "context_Wq", "encoder_attn.k_proj": "context_Wk", "encoder_attn.v_proj": "context_Wv",
    "encoder_attn.out_proj": "context_Wo", "encoder_attn_layer_norm": "context_Wo_ln",
}


def _marian_name(module: str, param: str) -> str:
    """Marian's name of one parameter of a layer: W/b for linear layers, _scale/_bias
    for layer norms."""
    name = LAYER_NAMES[module]
    if name.endswith("_ln"):
        return f"{name}_{'scale' if param == 'weight' else 'bias'}"
    return name if param == "weight" else name.replace("_W", "_b")


def to_marian(folder: Path, out: Path) -> tuple[Path, Path]:
    """Convert the MarianMT checkpoint in `folder` to `out/model.npz` and
    `out/vocab.yml`; return both paths."""
    import numpy as np
    import torch
    from transformers import MarianMTModel

    model = MarianMTModel.from_pretrained(folder).eval()
    config = model.config
    pad = config.pad_token_id
    if pad != config.vocab_size - 1 or not config.share_encoder_decoder_embeddings or not config.tie_word_embeddings:
        raise ValueError("only checkpoints with one tied vocabulary and <pad> last (as OPUS-MT's are) are converted")
    if getattr(config, "normalize_before", False) or getattr(config, "normalize_embedding", False) or not config.scale_embedding:
        raise ValueError("only post-norm transformers with scaled embeddings (Marian's transformer) are converted")
    items: dict[str, np.ndarray] = {}
    with torch.no_grad():
        items["Wemb"] = model.model.shared.weight[:pad].numpy().copy()
        items["decoder_ff_logit_out_b"] = model.final_logits_bias[:, :pad].numpy().copy()
        for side, stack in (("encoder", model.model.encoder), ("decoder", model.model.decoder)):
            for i, layer in enumerate(stack.layers, 1):
                for name, value in layer.named_parameters():
                    module, param = name.rsplit(".", 1)
                    array = value.numpy()
                    items[f"{side}_l{i}_{_marian_name(module, param)}"] = array.T.copy() if array.ndim == 2 else array.reshape(1, -1).copy()
    yml = "\n".join(
        [
            "type: transformer",
            f"dim-vocabs: [{pad}, {pad}]",
            f"dim-emb: {config.d_model}",
            f"enc-depth: {config.encoder_layers}",
            f"dec-depth: {config.decoder_layers}",
            f"transformer-heads: {config.encoder_attention_heads}",
            f"transformer-dim-ffn: {config.encoder_ffn_dim}",
            "transformer-ffn-depth: 2",
            f"transformer-ffn-activation: {config.activation_function}",
            "transformer-decoder-autoreg: self-attention",
            "transformer-preprocess: \"\"",
            "transformer-postprocess: dan",
            "transformer-postprocess-emb: d",
            "transformer-train-position-embeddings: false",
            "tied-embeddings-all: true",
            f"max-length: {config.max_position_embeddings}",
        ]
    ) + "\n"
    items["special:model.yml"] = np.frombuffer((yml + "\0").encode(), dtype=np.int8)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "model.npz", **items)
    vocabulary = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    pieces = sorted((i, p) for p, i in vocabulary.items() if i != pad)
    # JSON strings are YAML double-quoted scalars: every piece, whatever it holds, reads back.
    (out / "vocab.yml").write_text("".join(f"{json.dumps(p, ensure_ascii=False)}: {i}\n" for i, p in pieces), encoding="utf-8")
    return out / "model.npz", out / "vocab.yml"


def marian_translator(npz: Path, vocab: Path, beam: int, gemm: str, threads: int, batch: int = 64, factor: float = 3.0):
    """A pymarian Translator of the converted model on CPU, quiet, its weights packed
    or quantised when loading as `gemm` says (float32, packed16, packed8avx2,
    packed8avx512; this wheel knows no intgemm8 without a model converted by marian-conv).
    Marian's CPU threads are workers: each decodes its own batches on one core."""
    import pymarian

    options = {
        "models": str(npz), "vocabs": [str(vocab), str(vocab)], "beam_size": beam, "cpu_threads": threads, "gemm_type": gemm,
        "mini_batch": batch, "maxi_batch": 1, "normalize": 1.0, "max_length_factor": factor, "quiet": "", "workspace": 512,
    }
    return pymarian.Translator(**options)


def _zero_pad(folder: Path, out: Path) -> Path:
    """A copy of the checkpoint with its <pad> embedding zeroed (Marian's start vector)."""
    import torch
    from transformers import MarianMTModel, MarianTokenizer

    model = MarianMTModel.from_pretrained(folder)
    with torch.no_grad():
        model.model.shared.weight[model.config.pad_token_id] = 0
    model.save_pretrained(out)
    MarianTokenizer.from_pretrained(folder).save_pretrained(out)
    return out


def marian_positions(n: int, dim: int):
    """Marian's sinusoidal position embeddings (src/graph/node_initializers.cpp): sines
    then cosines, timescales 10000 ** (i / (dim / 2 - 1)). transformers' Marian uses
    10000 ** (i / (dim / 2)): the same pattern, slightly other frequencies."""
    import math

    import torch

    half = dim // 2
    angles = torch.arange(n, dtype=torch.float64)[:, None] * torch.exp(torch.arange(half, dtype=torch.float64)[None, :] * -math.log(10000.0) / (half - 1))
    return torch.cat([torch.sin(angles), torch.cos(angles)], 1).float()


def check(folder: Path, work: Path, lines: list[str], name: str) -> None:
    """Greedy output ids of Marian against transformers on the same weights, transformers
    given Marian's position embeddings (the one part of the model Marian computes
    differently; a Marian model has no table of them to convert)."""
    import torch
    from transformers import MarianMTModel

    from pipeline.translate.spm import MarianSpm

    npz, vocab = to_marian(folder, work / f"marian-{folder.name}")
    tok = MarianSpm(folder)
    model = MarianMTModel.from_pretrained(folder).eval()
    with torch.no_grad():
        for stack in (model.model.encoder, model.model.decoder):
            stack.embed_positions.weight.copy_(marian_positions(*stack.embed_positions.weight.shape))
    cap = 64
    ours = []
    with torch.inference_mode():
        for text in lines:
            ids = model.generate(**{k: torch.tensor(v) for k, v in tok([text]).items()}, num_beams=1, max_new_tokens=cap, do_sample=False)[0].tolist()
            ours.append([i for i in ids[1:] if i != model.config.eos_token_id and i != model.config.pad_token_id])
    pieces = [" ".join(tok.convert_ids_to_tokens(ids)[:-1]) for ids in tok(lines)["input_ids"]]
    marian = marian_translator(npz, vocab, beam=1, gemm="float32", threads=1, batch=1, factor=10.0)  # its length bound past the cap
    ids = {p: i for p, i in json.loads((folder / "vocab.json").read_text(encoding="utf-8")).items()}
    # transformers forces </s> as the cap's last token: sentences that reach it are compared before it
    theirs = [[ids[p] for p in out.split()] for out in marian.translate(pieces)]
    capped = [len(a) >= cap - 1 for a in ours]
    ours, theirs = [a[: cap - 1] if c else a for a, c in zip(ours, capped)], [b[: cap - 1] if c else b for b, c in zip(theirs, capped)]
    same = sum(a == b for a, b in zip(ours, theirs))
    print(f"check {name}: Marian's greedy output ids equal transformers' for {same} of {len(lines)} sentences ({sum(capped)} reach the {cap}-token cap: their first {cap - 1} tokens compared)")
    if same != len(lines):
        bad = next(k for k, (a, b) in enumerate(zip(ours, theirs)) if a != b)
        sys.exit(f"conversion check failed on {name} sentence {bad}: transformers {ours[bad][:12]}..., Marian {theirs[bad][:12]}...")


def main() -> None:
    from pipeline.process import quiet_libraries

    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--beam", type=int, default=4)
    parser.add_argument("--length-factor", type=float, default=1.2, help="output tokens per source token of a batch's longest sentence (default 1.2)")
    parser.add_argument("--check-only", action="store_true")
    parser.add_argument("--child", choices=SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    lines = FLORES.with_suffix(".fra").read_text(encoding="utf-8").splitlines()
    if args.child:
        os.environ["XDG_CACHE_HOME"] = str(args.work / "cache")
        print(json.dumps(child(args.child, args.work, lines[: args.lines], args.beam, args.length_factor)))
        return
    with tempfile.TemporaryDirectory(prefix="mtpipe-marian-") as tmp:
        work = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")
        check(_zero_pad(FIXTURE, work / "fixture-zero-pad"), work, lines[:200], "fixture (<pad> embedding zeroed)")
        model = work / "model"
        build_model(model)
        check(model, work, lines[:20], "random opus-mt-sized model")
        if not args.check_only:
            biased(model, -10_000.0)
            timing(model, work, lines[: args.lines], args)


SYSTEMS = {
    "ct2-int8": "CTranslate2 int8, as mtpipe runs it (2 workers x 1 thread)",
    "ct2-float32": "CTranslate2 float32, as mtpipe runs it",
    "marian-float32": "Marian float32, --mini-batch 64",
    "marian-float32-16": "Marian float32, --mini-batch 16",
    "marian-float32-4": "Marian float32, --mini-batch 4",
    "marian-packed8avx512-16": "Marian packed8avx512 (fbgemm int8), --mini-batch 16",
}


def timing(model: Path, work: Path, lines: list[str], args: argparse.Namespace) -> None:
    """Every system in its own process (CTranslate2 and Marian abort when loaded in one),
    --repeats times interleaved; median rates."""
    import subprocess

    to_marian(model, work / "marian-timed")
    (work / "in").mkdir()
    (work / "in" / "flores.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rates: dict[str, list[tuple[float, float]]] = {name: [] for name in SYSTEMS}
    for _ in range(args.repeats):
        for system in SYSTEMS:
            command = [sys.executable, __file__, "--child", system, "--work", str(work), "--lines", str(len(lines)), "--beam", str(args.beam), "--length-factor", str(args.length_factor)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"{system} failed ({done.returncode}): {done.stderr[-1500:]}")
            tokens, seconds = json.loads(done.stdout.strip().splitlines()[-1])
            rates[system].append((tokens / seconds, len(lines) / seconds))
            print(f"  {SYSTEMS[system]}: {tokens} tokens in {seconds:.1f} s", file=sys.stderr, flush=True)
    print(f"{len(lines)} FLORES lines, beam {args.beam}, random-weight opus-mt-sized model never ending, {args.length_factor} x the longest source per batch of 64, {os.cpu_count()} cores; medians of {args.repeats}")
    print(f"{'system':<62} {'tok/s':>8} {'lines/s':>8}")
    for system, values in rates.items():
        print(f"{SYSTEMS[system]:<62} {statistics.median(v[0] for v in values):8.1f} {statistics.median(v[1] for v in values):8.2f}")


def child(system: str, work: Path, lines: list[str], beam: int, factor: float) -> tuple[int, float]:
    """One system's run: target tokens produced and seconds, loading excluded."""
    import math

    from pipeline.translate.spm import MarianSpm

    model = work / "model"
    tok = MarianSpm(model)
    pieces = [tok.convert_ids_to_tokens(ids) for ids in tok(lines)["input_ids"]]
    order = sorted(range(len(lines)), key=lambda i: len(pieces[i]))
    batches = [order[at : at + 64] for at in range(0, len(order), 64)]
    if system.startswith("ct2"):
        from pipeline.hub import resolve
        from pipeline.process import settle
        from pipeline.translate import CTranslate2Backend, DecodeSettings

        settle("ctranslate2", "cpu")
        backend = CTranslate2Backend(resolve(str(model)), DecodeSettings(beam=beam, device="cpu", compute_type=system.split("-")[1]))
        t0 = time.perf_counter()
        tokens = 0
        for batch in batches:
            n = math.ceil(factor * max(len(pieces[i]) for i in batch))  # Marian's bound: the batch's width, </s> included
            share = -(-len(batch) // backend.workers)
            results = backend.translator.translate_batch([pieces[i] for i in batch], beam_size=beam, max_batch_size=share, min_decoding_length=n, max_decoding_length=n)
            tokens += sum(len(r.hypotheses[0]) for r in results)
        return tokens, time.perf_counter() - t0
    from pipeline.translate import usable_cores

    gemm, batch = (system.split("-")[1:] + ["64"])[:2]
    translator = marian_translator(work / "marian-timed" / "model.npz", work / "marian-timed" / "vocab.yml", beam, gemm, usable_cores(), int(batch), factor)
    text = [" ".join(pieces[i][:-1]) for batch in batches for i in batch]
    t0 = time.perf_counter()
    tokens = sum(len(out.split()) for out in translator.translate(text))
    return tokens, time.perf_counter() - t0


if __name__ == "__main__":
    main()
