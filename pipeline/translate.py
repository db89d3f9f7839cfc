"""Translate: sentences → English, through a translation memory and a model backend.

The backend interface is small (count tokens, generate a batch) so that engines can
be swapped by name; everything around it — splitting sentences that do not fit the
model, length-sorted batching under a token budget, retrying output that hit the
length cap, the memory — is shared and testable without a model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from .hub import ModelError, ModelRef
from .memory import TranslationMemory
from .segment import halve, split_to_fit

# Output may be this many times longer than its input (plus a constant) before we
# call it runaway generation and retry on smaller pieces.
OUTPUT_RATIO, OUTPUT_SLACK = 2, 16
# Output under this fraction of the input's tokens means the model dropped text
# (NMT under-translates inputs longer than it was trained on): retry on halves.
MIN_OUTPUT_RATIO = 0.3
MAX_BATCH_SIZE = 64
MEMORY_FORMAT = 1


@dataclass(frozen=True)
class DecodeSettings:
    """How to decode: beam None means the model's own generation config decides."""

    beam: int | None = None
    batch_tokens: int = 2048
    device: str = "auto"


@dataclass(frozen=True)
class Hypothesis:
    """Generated output: its text, summed token log-probability and token count, and
    whether it ran into the length cap. `parts` pairs each source piece with its
    output once the orchestration has placed it."""

    text: str
    logprob_sum: float
    tokens: int
    hit_limit: bool = False
    parts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Translation:
    """A sentence's translation, its mean token log-probability, and how it was made:
    in how many pieces, and (when translated now, not recalled) which source piece
    gave which output."""

    text: str
    logprob: float | None
    pieces: int = 1
    from_memory: bool = False
    parts: tuple[tuple[str, str], ...] = ()


class Backend(Protocol):
    """A loaded MT engine."""

    max_input_tokens: int

    def count_tokens(self, text: str) -> int:
        """Source tokens of `text`, end-of-sentence included."""

    def generate(self, texts: Sequence[str], max_new_tokens: int) -> list[Hypothesis]:
        """Translate a batch of texts that each fit in max_input_tokens."""


BACKENDS: dict[str, Callable[[ModelRef, DecodeSettings], Backend]] = {}


def register(name: str) -> Callable:
    """Class decorator: make a backend available to --backend under `name`."""

    def add(factory: Callable[[ModelRef, DecodeSettings], Backend]) -> Callable:
        BACKENDS[name] = factory
        return factory

    return add


def length_batches(lengths: Sequence[int], budget: int, max_size: int = MAX_BATCH_SIZE) -> list[list[int]]:
    """Group indices into batches of similar length whose padded size stays under budget."""
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        batch = batches[-1] if batches else None
        if batch and len(batch) < max_size and lengths[batch[0]] * (len(batch) + 1) <= budget:
            batch.append(i)
        else:
            batches.append([i])
    return batches


def _generate_all(backend: Backend, texts: list[str], lengths: list[int], budget: int) -> list[Hypothesis]:
    """Generate for every text, in length-sorted batches, results in input order."""
    out: dict[int, Hypothesis] = {}
    for batch in length_batches(lengths, budget):
        cap = OUTPUT_RATIO * max(lengths[i] for i in batch) + OUTPUT_SLACK
        out.update(zip(batch, backend.generate([texts[i] for i in batch], cap)))
    return [out[i] for i in range(len(texts))]


def _merge(hyps: Sequence[Hypothesis]) -> Hypothesis:
    """The translations of consecutive pieces as one, joined with a space."""
    return Hypothesis(
        " ".join(h.text for h in hyps if h.text),
        sum(h.logprob_sum for h in hyps),
        sum(h.tokens for h in hyps),
        parts=tuple(part for h in hyps for part in h.parts),
    )


def _translate_pieces(backend: Backend, pieces: list[str], budget: int) -> list[Hypothesis]:
    """Translate pieces; one whose output ran away or came out far too short is
    translated again in two halves (when it has two words or more)."""
    texts = [p.strip() for p in pieces]
    lengths = [backend.count_tokens(t) for t in texts]
    hyps = [
        replace(h, parts=((piece, h.text),))
        for piece, h in zip(pieces, _generate_all(backend, texts, lengths, budget))
    ]
    halves = {
        i: pair
        for i, (h, n) in enumerate(zip(hyps, lengths))
        if (h.hit_limit or h.tokens < MIN_OUTPUT_RATIO * n) and len(pair := halve(pieces[i])) == 2
    }
    redone = iter(_translate_pieces(backend, [half for pair in halves.values() for half in pair], budget) if halves else [])
    for i in halves:
        hyps[i] = _merge([next(redone), next(redone)])
    return hyps


def translate_texts(backend: Backend, texts: Sequence[str], budget: int) -> list[Translation]:
    """Translate sentences of any length; nothing is cut off on either side.

    A sentence longer than the model's input is split into pieces that fit; a piece
    of several words whose output runs into the length cap, or is under a third of
    its length, is halved and translated again (a single word is kept as it came
    out). Pieces' translations are joined with a space.
    """
    split = [split_to_fit(t, backend.count_tokens, backend.max_input_tokens) for t in texts]
    hyps = iter(_translate_pieces(backend, [p for pieces in split for p in pieces], budget))
    results = []
    for pieces in split:
        merged = _merge([next(hyps) for _ in pieces])
        logprob = merged.logprob_sum / merged.tokens if merged.tokens else None
        results.append(Translation(merged.text, logprob, len(merged.parts), parts=merged.parts))
    return results


class Translator:
    """A translation memory in front of a backend that is loaded only on a memory miss."""

    def __init__(self, model: ModelRef, backend: str, settings: DecodeSettings, memory: TranslationMemory | None):
        if backend not in BACKENDS:
            raise ModelError(f"unknown backend {backend!r}: choose one of {', '.join(sorted(BACKENDS))}")
        self.model, self.backend_name, self.settings, self.memory = model, backend, settings, memory
        self._backend: Backend | None = None
        self.key = json.dumps(
            {"model": model.name, "revision": model.revision, "backend": backend, "beam": settings.beam, "format": MEMORY_FORMAT},
            sort_keys=True,
        )

    @property
    def loaded(self) -> bool:
        return self._backend is not None

    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = BACKENDS[self.backend_name](self.model, self.settings)
        return self._backend

    def _memory_key(self, source: str) -> str:
        return hashlib.sha256(f"{self.key}\0{source}".encode()).hexdigest()

    def translate(self, sentences: Sequence[str]) -> list[Translation]:
        """Translate sentences in order; each distinct sentence is translated at most once."""
        keys = [self._memory_key(s) for s in sentences]
        known = self.memory.get(keys) if self.memory else {}
        todo = {k: s for k, s in zip(keys, sentences) if k not in known}
        if todo:
            fresh = translate_texts(self.backend(), list(todo.values()), self.settings.batch_tokens)
            new = dict(zip(todo, fresh))
            if self.memory:
                self.memory.put({k: (todo[k], t.text, t.logprob, t.pieces) for k, t in new.items()})
        else:
            new = {}
        return [new[k] if k in new else Translation(*known[k], from_memory=True) for k in keys]


@register("transformers")
class TransformersBackend:
    """MarianMT through Hugging Face transformers, on CPU or CUDA."""

    def __init__(self, model: ModelRef, settings: DecodeSettings):
        import torch
        from transformers import MarianMTModel, MarianTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        self.torch = torch
        device = settings.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        elif device == "cuda" and not torch.cuda.is_available():
            raise ModelError("--device cuda was asked for but torch sees no CUDA GPU: use --device cpu or auto")
        try:
            self.tokenizer = MarianTokenizer.from_pretrained(model.path)
            self.model = MarianMTModel.from_pretrained(
                model.path, use_safetensors=(model.path / "model.safetensors").exists()
            )
        except Exception as exc:  # transformers raises many types for broken folders
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"model {model.name} could not be loaded from {model.path}: {reason}") from None
        self.model.to(device).eval()
        self.device = device
        self.beam = settings.beam or self.model.generation_config.num_beams or 1
        limit = min(self.tokenizer.model_max_length, self.model.config.max_position_embeddings)
        self.max_input_tokens = limit
        self.max_output_tokens = (self.model.generation_config.max_length or limit) - 1

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text)["input_ids"])

    def generate(self, texts: Sequence[str], max_new_tokens: int) -> list[Hypothesis]:
        cap = min(max_new_tokens, self.max_output_tokens)
        batch = self.tokenizer(list(texts), return_tensors="pt", padding=True).to(self.device)
        with self.torch.inference_mode():
            out = self.model.generate(
                **batch,
                num_beams=self.beam,
                max_new_tokens=cap,
                output_scores=True,
                return_dict_in_generate=True,
            )
            scores = self.model.compute_transition_scores(
                out.sequences, out.scores, getattr(out, "beam_indices", None), normalize_logits=self.beam == 1
            )
        generated = out.sequences[:, -scores.shape[1] :]
        mask = generated != self.model.config.pad_token_id
        lengths = mask.sum(dim=1)
        sums = self.torch.where(mask, scores.float(), 0.0).sum(dim=1)
        texts_out = self.tokenizer.batch_decode(out.sequences, skip_special_tokens=True)
        return [
            Hypothesis(text.strip(), float(s), int(n), hit_limit=int(n) >= cap)
            for text, s, n in zip(texts_out, sums.tolist(), lengths.tolist())
        ]
