"""Train the tiny French→English MarianMT test fixture (``models/tiny-fr-en``).

Run from the repository root: ``python models/train_tiny.py``. CPU only, fully
seeded, a few minutes on 2 cores. The result loads like a hub opus-mt
checkpoint (``MarianTokenizer``/``MarianMTModel`` or the Auto classes) but is a
memorised toy, not a translator.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import time
from pathlib import Path

import sentencepiece as spm
import torch
from torch.nn import functional as F
from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared"
TESTSET = "data/testsets/fra-eng/tatoeba-test-v2021-08-07"
THREADS = 2
MAX_WORDS = 8
SPM_VOCAB = 2000
BATCH_SIZE = 32
LR = 2e-3
WARMUP_STEPS = 200
LABEL_SMOOTHING = 0.1
DROPOUT = 0.0
EVAL_PAIRS = 200
FIXTURE_SIZE = 20
MAX_LENGTH = 64
EVAL_BATCH = 50
UNK, EOS, PAD = "<unk>", "</s>", "<pad>"


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "models" / "tiny-fr-en")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--pairs", type=int, default=4000, help="training pairs")
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1234)
    return parser.parse_args()


def load_pairs(data: Path, n: int, seed: int) -> list[tuple[str, str]]:
    """Pick ``n`` short Tatoeba pairs (≤ MAX_WORDS words a side, one reference per source)."""
    fra = (data / f"{TESTSET}.fra").read_text(encoding="utf-8").splitlines()
    eng = (data / f"{TESTSET}.eng").read_text(encoding="utf-8").splitlines()
    refs: dict[str, set[str]] = {}
    for fr, en in zip(fra, eng, strict=True):
        refs.setdefault(fr, set()).add(en)
    short = [
        (fr, en)
        for fr, en in zip(fra, eng)
        if fr and en and len(refs[fr]) == 1
        and len(fr.split()) <= MAX_WORDS and len(en.split()) <= MAX_WORDS
    ]
    return random.Random(seed).sample(short, min(n, len(short)))


def train_spm(sentences: list[str], seed: int) -> bytes:
    """Train a unigram SentencePiece model (Marian's special ids: unk 0, <s> 1, </s> 2)."""
    spm.set_random_generator_seed(seed)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        model_type="unigram",
        vocab_size=SPM_VOCAB,
        hard_vocab_limit=False,
        character_coverage=1.0,
        num_threads=1,
        shuffle_input_sentence=False,
        minloglevel=2,
    )
    return model.getvalue()


def build_tokenizer(out: Path, pairs: list[tuple[str, str]], seed: int) -> MarianTokenizer:
    """Write source.spm, target.spm and the joint vocab.json; return the saved MarianTokenizer."""
    out.mkdir(parents=True, exist_ok=True)
    pieces: dict[str, None] = {}
    for name, side in (("source.spm", 0), ("target.spm", 1)):
        proto = train_spm([pair[side] for pair in pairs], seed)
        (out / name).write_bytes(proto)
        sp = spm.SentencePieceProcessor(model_proto=proto)
        pieces.update(
            (sp.id_to_piece(i), None) for i in range(sp.get_piece_size()) if not sp.is_control(i)
        )
    vocab = {EOS: 0, UNK: 1}
    for piece in pieces:
        vocab.setdefault(piece, len(vocab))
    vocab[PAD] = len(vocab)
    vocab_text = json.dumps(vocab, ensure_ascii=False, indent=2)
    (out / "vocab.json").write_text(vocab_text, encoding="utf-8")
    tok = MarianTokenizer(
        source_spm=str(out / "source.spm"),
        target_spm=str(out / "target.spm"),
        vocab=str(out / "vocab.json"),
        source_lang="fr",
        target_lang="en",
    )
    tok.save_pretrained(out)
    return tok


def build_model(tok: MarianTokenizer) -> MarianMTModel:
    """A 2+2-layer Marian transformer with opus-mt's special-token conventions."""
    eos, pad = tok.eos_token_id, tok.pad_token_id
    config = MarianConfig(
        vocab_size=len(tok),
        d_model=128,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=512,
        decoder_ffn_dim=512,
        activation_function="swish",
        max_position_embeddings=512,
        scale_embedding=True,
        share_encoder_decoder_embeddings=True,
        dropout=DROPOUT,
        pad_token_id=pad,
        decoder_start_token_id=pad,
        eos_token_id=eos,
        forced_eos_token_id=eos,
        bos_token_id=0,
    )
    model = MarianMTModel(config)
    model.generation_config = GenerationConfig(
        bad_words_ids=[[pad]],
        bos_token_id=0,
        decoder_start_token_id=pad,
        eos_token_id=eos,
        forced_eos_token_id=eos,
        max_length=512,
        num_beams=4,
        pad_token_id=pad,
    )
    return model


def train(
    model: MarianMTModel, tok: MarianTokenizer, pairs: list[tuple[str, str]], epochs: int, seed: int
) -> None:
    """Teacher-forced training with AdamW, warmup then linear decay, label smoothing.

    Batches are consecutive runs of the (already shuffled) pairs; their order is reshuffled
    each epoch.
    """
    chunks = [pairs[i : i + BATCH_SIZE] for i in range(0, len(pairs), BATCH_SIZE)]
    batches = [
        tok(
            [fr for fr, _ in chunk],
            text_target=[en for _, en in chunk],
            return_tensors="pt",
            padding=True,
        )
        for chunk in chunks
    ]
    for batch in batches:
        labels = batch["labels"]
        batch["labels"] = labels.masked_fill(labels == tok.pad_token_id, -100)
    total = epochs * len(batches)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / WARMUP_STEPS, (total - step) / (total - WARMUP_STEPS)),
    )
    order = random.Random(seed)
    start = time.monotonic()
    model.train()
    for epoch in range(1, epochs + 1):
        order.shuffle(batches)
        loss_sum = 0.0
        for batch in batches:
            logits = model(**batch).logits
            loss = F.cross_entropy(
                logits.flatten(0, 1),
                batch["labels"].flatten(),
                ignore_index=-100,
                label_smoothing=LABEL_SMOOTHING,
            )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            loss_sum += loss.item()
        elapsed = time.monotonic() - start
        print(f"epoch {epoch:3d}  loss {loss_sum / len(batches):.3f}  {elapsed:.0f} s", flush=True)
    model.eval()


@torch.inference_mode()
def translate(
    model: MarianMTModel, tok: MarianTokenizer, texts: list[str], num_beams: int
) -> list[str]:
    """Translate ``texts`` in padded batches."""
    outputs: list[str] = []
    for i in range(0, len(texts), EVAL_BATCH):
        batch = tok(texts[i : i + EVAL_BATCH], return_tensors="pt", padding=True)
        generated = model.generate(**batch, num_beams=num_beams, max_length=MAX_LENGTH)
        outputs += tok.batch_decode(generated, skip_special_tokens=True)
    return outputs


def exact_matches(
    model: MarianMTModel, tok: MarianTokenizer, pairs: list[tuple[str, str]]
) -> dict[int, set[int]]:
    """Indices of ``pairs`` translated exactly right, for greedy (1) and beam 4."""
    sources = [fr for fr, _ in pairs]
    return {
        beams: {
            i for i, out in enumerate(translate(model, tok, sources, beams)) if out == pairs[i][1]
        }
        for beams in (1, 4)
    }


def pick_fixtures(pairs: list[tuple[str, str]], good: set[int]) -> list[tuple[str, str]]:
    """About FIXTURE_SIZE pairs: some with ç, à, é, some of two words, then the longest."""
    pool = sorted((pairs[i] for i in good), key=lambda p: (-len(p[0]), p[0]))
    tests = [
        lambda fr: "ç" in fr.lower(),
        lambda fr: "à" in fr.lower(),
        lambda fr: "é" in fr.lower(),
        lambda fr: len(fr.split()) == 2,
        lambda fr: True,
    ]
    quotas = [3, 3, 3, 4, FIXTURE_SIZE]
    chosen: list[tuple[str, str]] = []
    for test, quota in zip(tests, quotas):
        taken = {en for _, en in chosen}
        fresh = [p for p in pool if test(p[0]) and p not in chosen and p[1] not in taken]
        chosen += fresh[: min(quota, FIXTURE_SIZE - len(chosen))]
    return chosen


def write_readme(
    out: Path,
    args: argparse.Namespace,
    n_pairs: int,
    model: MarianMTModel,
    minutes: float,
    cpu_minutes: float,
    rates: dict[int, float],
    n_eval: int,
) -> None:
    """Describe the fixture, how it was made and how well it memorised its data."""
    c = model.config
    heads, ffn = c.encoder_attention_heads, c.encoder_ffn_dim
    params = sum(p.numel() for p in model.parameters())
    text = f"""# tiny-fr-en — test fixture, not a translator

A tiny MarianMT French→English model trained on {n_pairs} short Tatoeba pairs
(≤ {MAX_WORDS} words a side) from `tatoeba-test-v2021-08-07`. It has memorised
those pairs and translates little else. Use it only where tests need a real,
fast checkpoint that loads like an opus-mt one (`MarianTokenizer` /
`MarianMTModel`, or the Auto classes).

## How it was built

    python models/train_tiny.py --pairs {args.pairs} --epochs {args.epochs} --seed {args.seed}

- CPU, {THREADS} torch threads, seed {args.seed}, deterministic algorithms:
  re-running gives the same weights. Took {minutes:.1f} min wall clock in all
  ({cpu_minutes:.1f} min of CPU time).
- Tokenizer: SentencePiece unigram models (vocab {SPM_VOCAB} a side) trained on the
  French (`source.spm`) and English (`target.spm`) halves; joint `vocab.json` of
  {c.vocab_size} entries (`</s>` = {c.eos_token_id}, `<unk>` = 1, `<pad>` = {c.pad_token_id}).
- Model: d_model {c.d_model}, {c.encoder_layers}+{c.decoder_layers} layers, {heads} heads,
  FFN {ffn}, swish, static sinusoidal positions, shared embeddings,
  {params / 1e6:.2f} M parameters (fp32).
- Training: {args.epochs} epochs, batch {BATCH_SIZE}, AdamW lr {LR}, warmup then linear decay,
  label smoothing {LABEL_SMOOTHING}, dropout {DROPOUT}.
- Generation defaults as opus-mt: beam 4, max_length 512, `<pad>` banned.

Exact match on {n_eval} training pairs: greedy {rates[1]:.1%}, beam 4 {rates[4]:.1%}.

`fixture_check.tsv` (tab-separated, header `fr`, `en`, no quoting) lists training
sentences whose greedy and beam-4 outputs equal the English reference exactly.

## Data licence

Tatoeba sentences, CC-BY 2.0 FR (https://tatoeba.org), via the Tatoeba Challenge
test set in Helsinki-NLP/OPUS-MT-testsets.
"""
    (out / "README.md").write_text(text, encoding="utf-8")


def main() -> None:
    """Build the tokenizer, train, evaluate and save the fixture."""
    args = parse_args()
    start = time.monotonic()
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)

    pairs = load_pairs(args.data, args.pairs, args.seed)
    tok = build_tokenizer(args.out, pairs, args.seed)
    model = build_model(tok)
    params = sum(p.numel() for p in model.parameters())
    print(f"{len(pairs)} pairs, vocab {len(tok)}, {params / 1e6:.2f} M params")
    train(model, tok, pairs, args.epochs, args.seed)

    eval_pairs = pairs[:EVAL_PAIRS]
    matched = exact_matches(model, tok, eval_pairs)
    rates = {beams: len(good) / len(eval_pairs) for beams, good in matched.items()}
    print(
        f"exact match on {len(eval_pairs)} training pairs: "
        f"greedy {rates[1]:.1%}, beam 4 {rates[4]:.1%}"
    )

    candidates = [
        p for p in pairs
        if "ç" in p[0].lower() or "à" in p[0].lower() or len(p[0].split()) == 2
    ]
    candidates = eval_pairs + [p for p in candidates if p not in eval_pairs][:150]
    cand_matched = exact_matches(model, tok, candidates)
    fixtures = pick_fixtures(candidates, cand_matched[1] & cand_matched[4])
    confirmed = exact_matches(model, tok, fixtures)
    fixtures = [fixtures[i] for i in sorted(confirmed[1] & confirmed[4])]
    with open(args.out / "fixture_check.tsv", "w", encoding="utf-8") as f:
        f.write("fr\ten\n")
        f.writelines(f"{fr}\t{en}\n" for fr, en in fixtures)

    model.save_pretrained(args.out)
    minutes = (time.monotonic() - start) / 60
    cpu_minutes = time.process_time() / 60
    write_readme(args.out, args, len(pairs), model, minutes, cpu_minutes, rates, len(eval_pairs))
    print(f"{len(fixtures)} fixture pairs; saved to {args.out} in {minutes:.1f} min")


if __name__ == "__main__":
    main()
