"""Translate: sentences → English, through a translation memory and a model backend.

The backend interface is small (count tokens, generate a batch) so that engines can
be swapped by name; everything around it — splitting sentences that do not fit the
model, length-sorted batching under a token budget, retrying output that hit the
length cap, the memory — is shared and testable without a model.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from .hub import ModelError, ModelRef, file_sha256, folder_problem, folder_size
from .memory import HumanEntry, MemoryFault, TranslationMemory, human_key
from .segment import halve, split_to_fit
from .wordalign import Links, from_pharaoh, join_links, sentence_links, to_pharaoh

# Output may be this many times longer than its input (plus a constant) before we
# call it runaway generation and retry on smaller pieces.
OUTPUT_RATIO, OUTPUT_SLACK = 2, 16
# Output under this fraction of the input's tokens means the model dropped text
# (NMT under-translates inputs longer than it was trained on): retry on halves.
MIN_OUTPUT_RATIO = 0.3
MAX_BATCH_SIZE = 64
# Distinct sentences to translate that a run pools into shared batches at a time,
# across articles: enough for full batches from short articles, a bound on memory.
WINDOW_SENTENCES = 2048
MAX_CT2_WORKERS = 4
# The one install hint for ctranslate2, wherever it is missing (as cluster.NEEDS_RAY for Ray).
NEEDS_CT2 = 'the ctranslate2 backend needs the ctranslate2 package: pip install -e ".[fast]" in a checkout (pip install "ctranslate2>=4.5" otherwise)'
_SCORE_FLOATS = 32 << 20  # logits scored at once (128 MB of float32)
# Part of every memory key: bumped when the same settings start giving other output
# (2: beam search stops once `beam` hypotheses have finished).
MEMORY_FORMAT = 2


@dataclass(frozen=True)
class DecodeSettings:
    """How to decode: beam None means the model's own generation config decides."""

    beam: int | None = None
    batch_tokens: int = 2048
    device: str = "auto"
    compute_type: str | None = None  # None: the backend's default (see DEFAULT_COMPUTE_TYPE)
    # The cross-attention head read for word links: Marian's guided-alignment head.
    align_layer: int = -1
    align_head: int = 0
    # CPU cores the backend lays its threads out for; None: this process's (its
    # affinity mask). An engine whose workers get fewer cores than they see says so.
    cores: int | None = None

    @property
    def alignment(self) -> str:
        """The word-alignment head, as the memory labels the links it stores."""
        return f"layer {self.align_layer} head {self.align_head}"

    @property
    def other_alignment(self) -> bool:
        """Whether another head than the guided-alignment one was asked for."""
        return (self.align_layer, self.align_head) != (-1, 0)


@dataclass(frozen=True)
class Hypothesis:
    """Generated output: its text, summed token log-probability and token count, and
    whether it ran into the length cap. `parts` pairs each source piece with its
    output once the orchestration has placed it; `links` are the word links between
    the source text and `text` (None: the backend gave none)."""

    text: str
    logprob_sum: float
    tokens: int
    hit_limit: bool = False
    parts: tuple[tuple[str, str], ...] = ()
    links: Links | None = None


@dataclass(frozen=True)
class Translation:
    """A sentence's translation, its mean token log-probability, and how it was made:
    in how many pieces, and (when translated now, not recalled) which source piece
    gave which output; `links`, the word links between the sentence and `text`
    (None when unknown: never guessed). A `human` one came from a translator (imported
    into the memory), never from the model; `machine` is then what the model had
    made of the sentence, when the memory holds it."""

    text: str
    logprob: float | None
    pieces: int = 1
    from_memory: bool = False
    parts: tuple[tuple[str, str], ...] = ()
    links: Links | None = None
    human: bool = False
    machine: str | None = None


class Backend(Protocol):
    """A loaded MT engine."""

    max_input_tokens: int

    def count_tokens(self, text: str) -> int:
        """Source tokens of `text`, end-of-sentence included."""

    def generate(self, texts: Sequence[str], max_new_tokens: int) -> list[Hypothesis]:
        """Translate a batch of texts that each fit in max_input_tokens."""

    # An engine that translates several batches at once (workers on other machines)
    # also has generate_many(jobs): each (texts, max_new_tokens) job's hypotheses, in
    # the jobs' order, as they come; see _generated.

    def align(self, sources: Sequence[str], targets: Sequence[str]) -> list[Links]:
        """Word links between each source and a given translation of it (forced
        decoding: the model scores the translation instead of choosing one)."""


BACKENDS: dict[str, Callable[[ModelRef, DecodeSettings], Backend]] = {}
# Where the batches a Translator plans are translated, by name: something with a
# Backend's interface, made from the Translator once and kept for its life (closed by
# Translator.close when it has a close()). "local" is its own loaded backend;
# pipeline.cluster registers "ray", the engine spread over a Ray cluster.
EXECUTORS: dict[str, Callable[[Translator], Backend]] = {"local": lambda translator: translator.backend()}
# What --compute-type means when it is not given, per backend (absent: not applicable).
DEFAULT_COMPUTE_TYPE = {"ctranslate2": "int8"}
COMPUTE_TYPES = ("int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16", "bfloat16", "float32")


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


def _merge(hyps: Sequence[Hypothesis]) -> Hypothesis:
    """The translations of consecutive pieces as one, joined with a space, their word
    links shifted into the whole's word indices."""
    return Hypothesis(
        " ".join(h.text for h in hyps if h.text),
        sum(h.logprob_sum for h in hyps),
        sum(h.tokens for h in hyps),
        parts=tuple(part for h in hyps for part in h.parts),
        links=join_links([("".join(source for source, _ in h.parts), h.text, h.links) for h in hyps]),
    )


@dataclass(eq=False)
class _Piece:
    """Part of a sentence sent to the model; when its output ran away or came out far
    too short, its two halves are translated again and stand in for it."""

    text: str
    hyp: Hypothesis | None = None
    halves: tuple[_Piece, _Piece] | None = None

    @property
    def done(self) -> bool:
        return self.hyp is not None and (self.halves is None or all(h.done for h in self.halves))

    def result(self) -> Hypothesis:
        return self.hyp if self.halves is None else _merge([h.result() for h in self.halves])


def _translation(pieces: Sequence[_Piece]) -> Translation:
    merged = _merge([p.result() for p in pieces])
    logprob = merged.logprob_sum / merged.tokens if merged.tokens else None
    return Translation(merged.text, logprob, len(merged.parts), parts=merged.parts, links=merged.links)


def _generated(backend: Backend, jobs: Sequence[tuple[list[str], int]]) -> Iterator[list[Hypothesis]]:
    """Each (texts, max_new_tokens) job's hypotheses, in order: an engine that runs
    batches at once gets them all (generate_many); a backend, one after another."""
    many = getattr(backend, "generate_many", None)
    return many(jobs) if many else (backend.generate(texts, cap) for texts, cap in jobs)


def translate_stream(backend: Backend, texts: Sequence[str], budget: int) -> Iterator[list[tuple[int, Translation]]]:
    """Translate sentences of any length, batch by batch: after each batch, yield the
    (index, translation) of the sentences it finished. Nothing is cut off on either side.

    A sentence longer than the model's input is split into pieces that fit. The plan is
    a pure function of the pieces and the budget: length-sorted batches under the token
    budget (length_batches). A piece of several words whose output runs into the length
    cap, or is under a third of its length, is halved, and the halves of a round are
    translated in a round of their own (a single word is kept as it came out). Pieces'
    translations are joined with a space.
    """
    sentences = [[_Piece(p) for p in split_to_fit(t, backend.count_tokens, backend.max_input_tokens)] for t in texts]
    level = [(piece, i) for i, pieces in enumerate(sentences) for piece in pieces]
    while level:
        stripped = [piece.text.strip() for piece, _ in level]
        lengths = [backend.count_tokens(t) for t in stripped]
        retried: dict[int, tuple[_Piece, _Piece]] = {}
        batches = length_batches(lengths, budget)
        jobs = [([stripped[k] for k in batch], OUTPUT_RATIO * max(lengths[k] for k in batch) + OUTPUT_SLACK) for batch in batches]
        for batch, hyps in zip(batches, _generated(backend, jobs)):
            for k, hyp in zip(batch, hyps):
                piece = level[k][0]
                piece.hyp = replace(hyp, parts=((piece.text, hyp.text),))
                if (hyp.hit_limit or hyp.tokens < MIN_OUTPUT_RATIO * lengths[k]) and len(pair := halve(piece.text)) == 2:
                    retried[k] = piece.halves = (_Piece(pair[0]), _Piece(pair[1]))
            touched = dict.fromkeys(level[k][1] for k in batch)
            yield [(i, _translation(sentences[i])) for i in touched if all(p.done for p in sentences[i])]
        level = [(half, level[k][1]) for k in sorted(retried) for half in retried[k]]


def translate_texts(backend: Backend, texts: Sequence[str], budget: int) -> list[Translation]:
    """Translate sentences of any length (see translate_stream), results in input order."""
    done: dict[int, Translation] = {}
    for finished in translate_stream(backend, texts, budget):
        done.update(finished)
    return [done[i] for i in range(len(texts))]


class Translator:
    """A translation memory in front of a backend that is loaded only on a memory miss.

    A memory that fails (damaged, read-only, locked too long: MemoryFault) is dropped
    for the rest of the translator's life and the model translates instead; the fault's
    message is appended to `warnings`, for the caller to show. Translations are never
    lost to the memory.
    """

    def __init__(
        self,
        model: ModelRef,
        backend: str,
        settings: DecodeSettings,
        memory: TranslationMemory | None,
        executor: str = "local",
        executor_options: Any = None,
    ):
        if backend not in BACKENDS:
            raise ModelError(f"unknown backend {backend!r}: choose one of {', '.join(sorted(BACKENDS))}")
        if executor not in EXECUTORS:
            raise ModelError(f"unknown executor {executor!r}: choose one of {', '.join(sorted(EXECUTORS))}")
        self.model, self.backend_name, self.settings, self.memory = model, backend, settings, memory
        self.executor, self.executor_options = executor, executor_options
        self.warnings: list[str] = []
        self._backend: Backend | None = None
        self._engine: Backend | None = None
        self._used: dict | None = None
        self._relinked: dict[str, Links] = {}  # links computed for recalled translations
        self._any_human: bool | None = None
        key = {"model": model.name, "revision": model.revision, "backend": backend, "beam": settings.beam, "format": MEMORY_FORMAT}
        if backend in DEFAULT_COMPUTE_TYPE:  # only where it applies, so that older memories stay valid
            key["compute_type"] = settings.compute_type or DEFAULT_COMPUTE_TYPE[backend]
        self.key = json.dumps(key, sort_keys=True)

    @property
    def loaded(self) -> bool:
        """Whether the model was loaded (here, or on the executor's workers)."""
        return self._backend is not None or self._engine is not None

    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = BACKENDS[self.backend_name](self.model, self.settings)
        return self._backend

    def engine(self) -> Backend:
        """Where batches are translated: the executor's engine, made on first use."""
        if self._engine is None:
            self._engine = EXECUTORS[self.executor](self)
        return self._engine

    def engine_used(self) -> dict:
        """The executor as summary.json records it: its name, and what the engine
        tells of itself (its describe(): workers, batches sent, retries)."""
        describe = getattr(self._engine, "describe", None)
        return {"name": self.executor, **(describe() if describe else {})}

    def close(self) -> None:
        """Release the engine for good (an engine that started processes stops them)."""
        close = getattr(self._engine, "close", None)
        if close:
            close()

    def settings_used(self) -> dict:
        """What runs, as summary.json and the pages record it: beam size, device, compute
        type, workers and threads, and the batch budget. Decided from the settings and
        the machine as the backend decides them when it loads (its `plan`), so that
        pages say the same whether their sentences came from the model or the memory."""
        if self._used is None:
            plan = getattr(BACKENDS[self.backend_name], "plan", None)
            try:
                used = plan(self.model, self.settings) if plan else {}
            except ModelError:  # the backend could not run here; the run says so if it needs it
                used = {"device": self.settings.device}
            self._used = {"beam": _beam(self.model, self.settings), **used, "batch_tokens": self.settings.batch_tokens}
            if self.settings.other_alignment:
                self._used["word_alignment"] = self.settings.alignment
        return self._used

    def _memory_key(self, source: str) -> str:
        return hashlib.sha256(f"{self.key}\0{source}".encode()).hexdigest()

    def translate(self, sentences: Sequence[str]) -> list[Translation]:
        """Translate sentences in order; each distinct sentence is translated at most once."""
        [(_, translations)] = list(self.stream([sentences]))
        return translations

    def stream(self, groups: Iterable[Sequence[str]], progress: Callable[[int], object] | None = None) -> Iterator[tuple[int, list[Translation]]]:
        """Translate groups of sentences (the articles of a run); yield (group index, its
        translations) as soon as a group's last sentence is done.

        The sentences still to translate of consecutive groups, up to WINDOW_SENTENCES
        distinct ones, share length-sorted batches, so that short articles make full
        batches; only that window is held at a time. A sentence's translation depends
        on nothing but the batch it happens to share (padding numerics). The memory
        gets each batch's translations in one transaction, so an interrupted run loses
        at most the batch in flight. `progress(n)` is told after each batch, and for
        sentences recalled from the memory, how many of the groups' sentences are done.

        A recalled translation stored without word links (by an older mtpipe) gets
        them from the model when it is loaded anyway; otherwise it goes without.
        """
        source = iter(enumerate(groups))
        while True:
            waiting: dict[int, tuple[list[str], dict[str, Translation]]] = {}
            todo: dict[str, str] = {}
            unlinked: dict[str, str] = {}
            for index, sentences in source:
                keys = [self._memory_key(s) for s in sentences]
                known = self._recall(keys)
                human = self._human(sentences)
                for k, s in zip(keys, sentences):
                    if s in human:
                        machine = known[k].text if k in known else None
                        known[k] = Translation(human[s].target, None, from_memory=True, human=True, machine=machine)
                unlinked.update((k, s) for k, s in zip(keys, sentences) if k in known and known[k].links is None and not known[k].human)
                if progress and known:
                    progress(sum(k in known for k in keys))
                if all(k in known for k in keys):
                    if self.loaded:
                        self._relink([known], unlinked)
                    yield index, [known[k] for k in keys]
                    continue
                waiting[index] = (keys, known)
                todo.update((k, s) for k, s in zip(keys, sentences) if k not in known)
                if len(todo) >= WINDOW_SENTENCES:
                    break
            if not waiting:
                return
            yield from self._translate_window(waiting, todo, unlinked, progress)

    def _translate_window(
        self,
        waiting: dict[int, tuple[list[str], dict[str, Translation]]],
        todo: dict[str, str],
        unlinked: dict[str, str],
        progress: Callable[[int], object] | None,
    ) -> Iterator[tuple[int, list[Translation]]]:
        engine = self.engine()
        self._relink([known for _, known in waiting.values()], unlinked, engine)
        keys = list(todo)
        occurrences = Counter(k for group_keys, known in waiting.values() for k in group_keys if k not in known)
        users: dict[str, list[int]] = {}
        for index, (group_keys, known) in waiting.items():
            for k in dict.fromkeys(group_keys):
                if k not in known:
                    users.setdefault(k, []).append(index)
        for finished in translate_stream(engine, list(todo.values()), self.settings.batch_tokens):
            fresh = {keys[i]: t for i, t in finished}
            self._remember({k: (todo[k], t) for k, t in fresh.items()})
            if progress:
                progress(sum(occurrences[k] for k in fresh))
            for k, t in fresh.items():
                for index in users[k]:
                    group_keys, known = waiting[index]
                    known[k] = t
                    if len(known) == len(set(group_keys)):
                        del waiting[index]
                        yield index, [known[key] for key in group_keys]

    def _human(self, sentences: Sequence[str]) -> dict[str, HumanEntry]:
        """The human translations the memory holds for these sentences, by sentence."""
        if not self.memory or not self.has_human:
            return {}
        try:
            return self.memory.get_human(sentences)
        except MemoryFault as fault:
            self._drop_memory(fault)
            return {}

    def human_digest(self, sentences: Sequence[str]) -> str | None:
        """The fingerprint of the human translations the memory holds for these
        sentences (None: it holds none), as human_digest gives it for an article's
        translations: a run compares them to know whether an article must be written again."""
        return human_digest((s, entry.target) for s, entry in self._human(sentences).items())

    @property
    def has_human(self) -> bool:
        """Whether the memory holds any human translation (asked once)."""
        if self._any_human is None:
            try:
                self._any_human = bool(self.memory and self.memory.counts()["human"])
            except MemoryFault as fault:
                self._drop_memory(fault)
                self._any_human = False
        return self._any_human

    def _recall(self, keys: Sequence[str]) -> dict[str, Translation]:
        """What the memory holds for these keys (nothing once it has failed)."""
        if not self.memory:
            return {}
        try:
            found = self.memory.get(keys, self.settings.alignment)
        except MemoryFault as fault:
            self._drop_memory(fault)
            return {}
        return {k: Translation(text, logprob, pieces, from_memory=True, links=_stored_links(links)) for k, (text, logprob, pieces, links) in found.items()}

    def _remember(self, items: dict[str, tuple[str, Translation]]) -> None:
        """Store key → (source, translation) in one transaction."""
        if self.memory and items:
            try:
                self.memory.put(
                    {k: (source, t.text, t.logprob, t.pieces, None if t.links is None else to_pharaoh(t.links)) for k, (source, t) in items.items()},
                    self.settings.alignment,
                )
            except MemoryFault as fault:
                self._drop_memory(fault)

    def _relink(self, recalled: Sequence[dict[str, Translation]], sources: dict[str, str], engine: Backend | None = None) -> None:
        """Give recalled translations without word links theirs (each distinct one
        once), by forced decoding on the loaded model, and keep them in the memory."""
        missing = {k: t.text for known in recalled for k, t in known.items() if t.links is None and k in sources and k not in self._relinked}
        if missing:
            engine = engine or self.engine()
            found = dict(zip(missing, engine.align([sources[k] for k in missing], list(missing.values()))))
            self._relinked.update(found)
            if self.memory:
                try:
                    self.memory.put_links({k: (missing[k], to_pharaoh(links)) for k, links in found.items()}, self.settings.alignment)
                except MemoryFault as fault:
                    self._drop_memory(fault)
        for known in recalled:
            known.update({k: replace(t, links=self._relinked[k]) for k, t in known.items() if t.links is None and not t.human and k in self._relinked})

    def _drop_memory(self, fault: MemoryFault) -> None:
        """Record a memory fault and go on without the memory (it may be shared, so it
        is left open for its owner to close)."""
        self.warnings.append(str(fault))
        self.memory = None


def human_digest(pairs: Iterable[tuple[str, str]]) -> str | None:
    """A fingerprint of (source, human translation) pairs, None for none: the same for
    the same translations of the same sentences, however often or in which order."""
    unique = sorted({(human_key(source), target) for source, target in pairs})
    return hashlib.sha256(json.dumps(unique, ensure_ascii=False).encode()).hexdigest()[:16] if unique else None


def _stored_links(text: str | None) -> Links | None:
    """Links as the memory stored them; None when absent or unreadable."""
    try:
        return None if text is None else from_pharaoh(text)
    except ValueError:
        return None


def token_counter(model: ModelRef) -> Callable[[str], int]:
    """count_tokens of the model's Marian backends without loading the model: for an
    engine whose backends run elsewhere but whose batches are planned here."""
    from transformers import MarianTokenizer

    _quiet_transformers()
    try:
        tokenizer = MarianTokenizer.from_pretrained(model.path)
    except Exception as exc:  # transformers raises many types for broken folders
        raise _load_error(model, exc) from None
    return lambda text: len(tokenizer(text)["input_ids"])


def _beam(model: ModelRef, settings: DecodeSettings) -> int:
    """The beam size that runs: --beam, else what the checkpoint's generation config
    asks for (1 when it says none)."""
    if settings.beam:
        return settings.beam
    for name in ("generation_config.json", "config.json"):
        try:
            beams = json.loads((model.path / name).read_text(encoding="utf-8")).get("num_beams")
        except (OSError, TypeError, ValueError, AttributeError):
            continue
        if isinstance(beams, int) and beams > 0:
            return beams
    return 1


def _reason(exc: Exception) -> str:
    """The first line of an exception's message (its type when it has none)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _quiet_transformers() -> None:
    """Keep transformers' warnings and progress bars out of mtpipe's output."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _load_error(model: ModelRef, exc: Exception) -> ModelError:
    """One sentence for a checkpoint that would not load: the model, the file at fault
    when one can be named (else its folder and the first line of why), and the fix."""
    problem = folder_problem(model.path) or f"{model.path}: {_reason(exc)}"
    return ModelError(f"model {model.name} could not be loaded: {problem}; download it again or point --model at a complete copy")


class _MarianTokens:
    """What both Marian backends share: the checkpoint's tokenizer, its length limits,
    and word links from an attention head."""

    tokenizer: Any

    def _set_limits(self, used: dict, max_positions: int, generation: Any) -> None:
        """Beam size (as planned) and input/output token limits."""
        self.beam = used["beam"]
        self.max_input_tokens = min(self.tokenizer.model_max_length, max_positions)
        self.max_output_tokens = (generation.max_length or self.max_input_tokens) - 1

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text)["input_ids"])

    def _links(self, attention: Any, source_tokens: Sequence[str], source: str, target_tokens: Sequence[str], target: str) -> Links:
        """Word links of one sentence from its head's attention (rows: target tokens)."""
        specials = frozenset((self.tokenizer.eos_token, self.tokenizer.pad_token))
        return sentence_links(attention, source_tokens, source, target_tokens, target, specials)

    def _forced_targets(self, targets: Sequence[str]) -> list[list[int]]:
        """Token ids of given translations, end of sentence left out."""
        eos = self.tokenizer.eos_token_id
        return [[i for i in ids if i != eos] for ids in self.tokenizer(text_target=list(targets))["input_ids"]]


@register("transformers")
class TransformersBackend(_MarianTokens):
    """MarianMT through Hugging Face transformers, on CPU or CUDA."""

    def __init__(self, model: ModelRef, settings: DecodeSettings):
        import torch
        from transformers import MarianMTModel, MarianTokenizer

        if settings.compute_type not in (None, "float32"):
            raise ModelError(f"--compute-type {settings.compute_type} needs --backend ctranslate2; the transformers backend runs in float32")
        _quiet_transformers()
        self.torch = torch
        self.used = self.plan(model, settings)
        device = self.used["device"]
        if device == "cuda" and not torch.cuda.is_available():
            raise ModelError("--device cuda was asked for but torch sees no CUDA GPU: use --device cpu or auto")
        try:
            self.tokenizer = MarianTokenizer.from_pretrained(model.path)
            self.model = MarianMTModel.from_pretrained(
                model.path, use_safetensors=(model.path / "model.safetensors").exists()
            )
        except Exception as exc:  # transformers raises many types for broken folders
            raise _load_error(model, exc) from None
        self.model.to(device).eval()
        self.device = device
        layers, heads = self.model.config.decoder_layers, self.model.config.decoder_attention_heads
        if not (-layers <= settings.align_layer < layers and 0 <= settings.align_head < heads):
            raise ModelError(
                f"--align-layer {settings.align_layer} --align-head {settings.align_head} is not in model {model.name}: "
                f"it has {layers} decoder layers (0 to {layers - 1}, or -1 for the last) of {heads} heads (0 to {heads - 1})"
            )
        self.align_layer, self.align_head = settings.align_layer, settings.align_head
        self._set_limits(self.used, self.model.config.max_position_embeddings, self.model.generation_config)

    @staticmethod
    def plan(model: ModelRef, settings: DecodeSettings) -> dict:
        """Beam, device, compute type and threads these settings run with, decided
        without loading the model (the load follows it)."""
        import torch

        device = settings.device if settings.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        return {"beam": _beam(model, settings), "device": device, "compute_type": "float32", "threads": settings.cores or torch.get_num_threads()}

    def options(self, texts: Sequence[str], cap: int) -> dict:
        """generate() keyword arguments; a hook for subclasses (the benchmark).

        early_stopping=True ends a beam search once `beam` hypotheses have finished, as
        Marian (which trained and published the OPUS-MT models) and CTranslate2 decode;
        transformers' default keeps searching while a running beam might still win,
        and gave other output than CTranslate2 for 9% of sentences of the fixture check.
        """
        return {"max_new_tokens": cap, "early_stopping": True}

    def generate(self, texts: Sequence[str], max_new_tokens: int) -> list[Hypothesis]:
        cap = min(max_new_tokens, self.max_output_tokens)
        batch = self.tokenizer(list(texts), return_tensors="pt", padding=True).to(self.device)
        with self.torch.inference_mode():
            sequences = self.model.generate(**batch, num_beams=self.beam, **self.options(texts, cap))
            sums, lengths, heads = self._score(batch, sequences)
        texts_out = [t.strip() for t in self.tokenizer.batch_decode(sequences, skip_special_tokens=True)]
        return [
            Hypothesis(text, s, n, hit_limit=n >= cap, links=self._links(head, self._tokens(ids), source, self._tokens(out[1:]), text))
            for text, s, n, head, ids, source, out in zip(texts_out, sums, lengths, heads, batch["input_ids"].tolist(), texts, sequences.tolist())
        ]

    def _tokens(self, ids: Sequence[int]) -> list[str]:
        return self.tokenizer.convert_ids_to_tokens(list(ids))

    def align(self, sources: Sequence[str], targets: Sequence[str]) -> list[Links]:
        start = self.model.config.decoder_start_token_id
        pad, eos = self.model.config.pad_token_id, self.tokenizer.eos_token_id
        forced = self._forced_targets(targets)
        width = max(len(ids) for ids in forced) + 2
        sequences = self.torch.tensor([[start, *ids, eos] + [pad] * (width - len(ids) - 2) for ids in forced], device=self.device)
        batch = self.tokenizer(list(sources), return_tensors="pt", padding=True).to(self.device)
        with self.torch.inference_mode():
            _, _, heads = self._score(batch, sequences)
        return [
            self._links(head, self._tokens(ids), s, self._tokens(out), t)
            for head, ids, s, out, t in zip(heads, batch["input_ids"].tolist(), sources, forced, targets)
        ]

    def _score(self, batch, sequences) -> tuple[list[float], list[int], list[Any]]:
        """Summed log-probability and length of each output, and the alignment head's
        cross-attention (target × source tokens), by one teacher-forced pass.

        generate's own per-step scores would hold a vocabulary-wide row per beam and
        step (gigabytes for a batch of opus-mt outputs); this pass holds at most
        _SCORE_FLOATS logits at a time. The alignment head's weights are computed
        from that layer's inputs, caught on the way (_head_weights), instead of asking
        the model for every layer's attention, which only its slower eager attention
        code returns.
        """
        targets = sequences[:, 1:]
        mask = targets != self.model.config.pad_token_id
        rows = max(1, _SCORE_FLOATS // max(1, targets.shape[1] * self.model.config.vocab_size))
        sums, heads = [], []
        layer = self.model.get_decoder().layers[self.align_layer].encoder_attn
        seen: dict[str, Any] = {}
        hook = layer.register_forward_pre_hook(lambda _, args, kwargs: seen.update(kwargs, args=args), with_kwargs=True)
        try:
            for i in range(0, len(sequences), rows):
                source_mask = batch["attention_mask"][i : i + rows]
                logits = self.model(
                    input_ids=batch["input_ids"][i : i + rows], attention_mask=source_mask, decoder_input_ids=sequences[i : i + rows, :-1]
                ).logits
                token = logits.float().log_softmax(-1).gather(-1, targets[i : i + rows, :, None]).squeeze(-1)
                sums += self.torch.where(mask[i : i + rows], token, 0.0).sum(dim=1).tolist()
                queries = seen["hidden_states"] if "hidden_states" in seen else seen["args"][0]
                heads += list(self._head_weights(layer, queries, seen["key_value_states"], source_mask).cpu().numpy())
        finally:
            hook.remove()
        return sums, mask.sum(dim=1).tolist(), heads

    def _head_weights(self, attention: Any, queries: Any, keys: Any, source_mask: Any) -> Any:
        """Attention weights of head `align_head` of a cross-attention module, from its
        inputs (decoder states, encoder output): softmax(q·kᵀ × scaling) over the
        source tokens that are not padding, as the module computes them."""
        size = attention.head_dim
        rows = slice(self.align_head * size, (self.align_head + 1) * size)

        def project(linear: Any, states: Any) -> Any:
            bias = None if linear.bias is None else linear.bias[rows]
            return self.torch.nn.functional.linear(states, linear.weight[rows], bias)

        scores = project(attention.q_proj, queries) @ project(attention.k_proj, keys).transpose(1, 2) * attention.scaling
        scores = scores.float().masked_fill(~source_mask.bool()[:, None, :], float("-inf"))
        return scores.softmax(-1)


# --- CTranslate2 ------------------------------------------------------------------


def ct2_cache_root() -> Path:
    """The folder of mtpipe's CTranslate2 conversions, in the user cache dir."""
    from platformdirs import user_cache_path

    return user_cache_path("mtpipe") / "ct2"


def ct2_cache_dir(model: ModelRef, compute_type: str) -> Path:
    """Where the CTranslate2 conversion of `model` in `compute_type` is cached: one
    folder per model id, revision and compute type under ct2_cache_root()."""
    name = re.sub(r"[^\w.-]+", "_", model.name.strip("/"))[-80:]
    return ct2_cache_root() / f"{name}--{model.revision}--{compute_type}"


def _marian_loader():
    """CTranslate2's Marian loader, amended for checkpoints trained with transformers.

    CTranslate2 drops the `<pad>` token and starts the decoder from a zero embedding,
    which is exact for converted OPUS-MT checkpoints (their pad embedding is zero) but
    not for a model trained with transformers (the fixture model), whose decoder starts
    from the trained pad embedding. For those, keep `<pad>` as the decoder start token
    and forbid generating it with a large negative output bias, as transformers'
    bad_words_ids does.
    """
    from ctranslate2.converters import transformers as ct2t

    class MarianLoader(ct2t.MarianMTLoader):
        keep_pad = False

        def get_model_spec(self, model):
            pad = model.config.pad_token_id
            self.keep_pad = bool(model.get_decoder().embed_tokens.weight[pad].abs().max() > 0)
            if not self.keep_pad:
                return super().get_model_spec(model)
            model.config.normalize_before = False
            model.config.normalize_embedding = False
            spec = ct2t.BartLoader.get_model_spec(self, model)
            bias = model.final_logits_bias.detach().squeeze().clone().float()
            bias[pad] = -30000.0  # representable in float16 too
            spec.decoder.projection.bias = bias
            return spec

        def set_config(self, config, model, tokenizer):
            super().set_config(config, model, tokenizer)
            if self.keep_pad:
                config.decoder_start_token = tokenizer.pad_token

        def set_decoder(self, spec, decoder):
            if self.keep_pad:
                ct2t.BartLoader.set_decoder(self, spec, decoder)
            else:
                super().set_decoder(spec, decoder)

        def get_vocabulary(self, model, tokenizer):
            if self.keep_pad:
                return ct2t.BartLoader.get_vocabulary(self, model, tokenizer)
            return super().get_vocabulary(model, tokenizer)

    return MarianLoader()


# Written last into a finished conversion: the size and SHA-256 of each of its files.
CT2_MARKER = "mtpipe.json"


def _ct2_files(folder: Path) -> dict[str, Path]:
    """Every file of a converted model by its relative name, the marker left out."""
    return {str(p.relative_to(folder)): p for p in sorted(folder.rglob("*")) if p.is_file() and p != folder / CT2_MARKER}


def _ct2_manifest(folder: Path) -> dict[str, dict]:
    """Size and SHA-256 of every file of a converted model, the marker left out."""
    return {name: {"size": p.stat().st_size, "sha256": file_sha256(p)} for name, p in _ct2_files(folder).items()}


def ct2_intact(folder: Path) -> bool:
    """Whether a cached conversion is complete and unchanged: its marker is there and
    it has exactly the files the marker lists, each of the size and hash recorded
    (sizes first; hashing the int8 opus-mt model.bin, 75 MB, takes 0.05 s from the page
    cache, 0.2 s from disk)."""
    try:
        recorded = json.loads((folder / CT2_MARKER).read_text(encoding="utf-8"))["files"]
        files = _ct2_files(folder)
        if not recorded or set(files) != set(recorded) or any(p.stat().st_size != recorded[k]["size"] for k, p in files.items()):
            return False
        return all(file_sha256(p) == recorded[k]["sha256"] for k, p in files.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _remove(path: Path) -> None:
    """Delete a file, link or folder tree, if there is one."""
    import shutil

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _remove_stale(target: Path) -> None:
    """Remove the temporary folders that killed conversions of `target` left beside it
    (called under its lock, which a conversion under way would hold)."""
    import glob

    for stale in target.parent.glob(f".{glob.escape(target.name)}.*"):
        _remove(stale)


def _lock_conversions(target: Path) -> Any:
    """Open NAME.lock beside the target and wait for an exclusive lock on it, so that
    processes convert one target one at a time; the lock goes when the returned file
    is closed (a no-op context without fcntl)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return nullcontext()
    fh = open(target.parent / f"{target.name}.lock", "a")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX)
    except OSError:
        fh.close()
        raise
    return fh


def convert_ct2(model: ModelRef, compute_type: str = "int8", force: bool = False) -> Path:
    """Convert a Marian checkpoint for CTranslate2 (weights quantised to `compute_type`)
    into the cache, unless an intact conversion is there already; return its folder.

    A cached conversion is used only if its marker (CT2_MARKER, written last) is there
    and every file matches it; anything else at that path (a truncated or replaced
    model.bin, a folder without one, a plain file) is removed and converted again.
    Conversions of one target are serialised by a lock file beside it; under that
    lock, temporary folders left by killed conversions of the target are removed. The
    conversion is written into a temporary folder and renamed into place, so that an
    interrupted one never leaves a half-written model.
    """
    if compute_type not in COMPUTE_TYPES:
        raise ModelError(f"unknown --compute-type {compute_type!r}: choose one of {', '.join(COMPUTE_TYPES)}")
    target = ct2_cache_dir(model, compute_type)
    if not force and ct2_intact(target):
        return target
    try:
        from ctranslate2.converters import transformers as ct2t
    except ImportError:
        raise ModelError(NEEDS_CT2) from None
    try:
        if target.parent.exists() and not target.parent.is_dir():
            target.parent.unlink()  # the ct2 cache folder is mtpipe's own
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = _lock_conversions(target)
    except OSError as exc:
        raise ModelError(
            f"the CTranslate2 cache {target.parent} cannot be written ({exc.strerror or exc}): make it writable, or set XDG_CACHE_HOME to another folder"
        ) from None
    with lock:
        if not force and ct2_intact(target):  # converted by another process meanwhile
            return target
        _remove_stale(target)
        _convert(ct2t, model, compute_type, target)
    return target


@dataclass(frozen=True)
class Conversion:
    """A CTranslate2 conversion in the cache: its folder's name, the model, revision and
    compute type it was converted from and to (from its marker, else from the folder's
    name), its bytes on disk, and whether it is intact (else it is converted again on
    its next use)."""

    name: str
    model: str
    revision: str
    compute_type: str
    size: int
    intact: bool


def ct2_conversions() -> list[Conversion]:
    """The conversions in the cache, by name; lock files and the temporary folders of
    conversions under way are not conversions."""
    root = ct2_cache_root()
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")) if root.is_dir() else []
    conversions = []
    for folder in folders:
        model, revision, compute_type = (folder.name.rsplit("--", 2) + ["?", "?"])[:3]
        try:
            marker = json.loads((folder / CT2_MARKER).read_text(encoding="utf-8"))
            model, revision, compute_type = str(marker["model"]), str(marker["revision"]), str(marker["compute_type"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        conversions.append(Conversion(folder.name, model, revision, compute_type, folder_size(folder), ct2_intact(folder)))
    return conversions


def remove_conversions(name: str) -> list[Conversion]:
    """Delete the cached conversion called `name`, or every conversion of the model
    called `name`, and return what was deleted; ModelError, listing the conversions
    there are, when none matches.

    Only folders of ct2_cache_root() are touched (with the temporary folders of killed
    conversions), each under its conversion lock, whose file stays so that a
    conversion waiting on it is still serialised.
    """
    conversions = ct2_conversions()
    chosen = [c for c in conversions if name in (c.name, c.model)]
    if not chosen:
        there = f"the conversions are {', '.join(c.name for c in conversions)}" if conversions else "there are none"
        raise ModelError(f"no CTranslate2 conversion or converted model is called {name} in {ct2_cache_root()}: {there}")
    for conversion in chosen:
        target = ct2_cache_root() / conversion.name
        try:
            with _lock_conversions(target):
                _remove(target)
                _remove_stale(target)
        except OSError as exc:
            raise ModelError(f"the conversion {target} cannot be removed ({exc.strerror or exc}): make {target.parent} writable, then run the same command again") from None
    return chosen


def _convert(ct2t: Any, model: ModelRef, compute_type: str, target: Path) -> None:
    """Convert into a temporary folder beside the target, write the marker, and rename
    it into the place of whatever was at the target."""
    import shutil
    import tempfile

    import ctranslate2

    _quiet_transformers()
    stock = ct2t._MODEL_LOADERS.get("MarianConfig")
    ct2t._MODEL_LOADERS["MarianConfig"] = _marian_loader()
    tmp = None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        converter = ct2t.TransformersConverter(str(model.path), low_cpu_mem_usage=True)
        converter.convert(str(tmp / "model"), quantization=compute_type, force=True)
        marker = {
            "model": model.name,
            "revision": model.revision,
            "compute_type": compute_type,
            "ctranslate2": ctranslate2.__version__,
            "files": _ct2_manifest(tmp / "model"),
        }
        (tmp / "model" / CT2_MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
        _remove(target)  # a broken conversion, or (force) the one to replace
        (tmp / "model").rename(target)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"model {model.name} could not be converted for CTranslate2: {_reason(exc)}") from None
    finally:
        ct2t._MODEL_LOADERS["MarianConfig"] = stock
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


@register("ctranslate2")
class CTranslate2Backend(_MarianTokens):
    """MarianMT through CTranslate2 (the fast extra), converted once and cached.

    Log-probabilities: CTranslate2 returns each hypothesis' cumulative log-probability
    divided by its length to the power `length_penalty` (the model's generation config,
    1.0 for opus-mt, so that beams are ranked as transformers ranks them). Multiplying
    back by length ** length_penalty, the length counting the end-of-sentence token,
    gives the summed token log-probability, end of sentence included, as the
    transformers backend sums it; the mean is then taken the same way.
    """

    def __init__(self, model: ModelRef, settings: DecodeSettings):
        try:
            import ctranslate2
        except ImportError:
            raise ModelError(NEEDS_CT2) from None
        from transformers import GenerationConfig, MarianTokenizer, PretrainedConfig

        _quiet_transformers()
        self.used = self.plan(model, settings)
        compute_type, device = self.used["compute_type"], self.used["device"]
        if device == "cuda" and ctranslate2.get_cuda_device_count() == 0:
            raise ModelError("--device cuda was asked for but CTranslate2 sees no CUDA GPU: use --device cpu or auto")
        supported = [t for t in COMPUTE_TYPES if t in ctranslate2.get_supported_compute_types(device)]
        if compute_type not in supported:  # refused before converting for it
            raise ModelError(f"--compute-type {compute_type} cannot run on {device} with CTranslate2: choose one of {', '.join(supported)}")
        folder = convert_ct2(model, compute_type)
        try:
            self.tokenizer = MarianTokenizer.from_pretrained(model.path)
            config = PretrainedConfig.from_pretrained(model.path)
            try:
                generation = GenerationConfig.from_pretrained(model.path)
            except OSError:
                generation = GenerationConfig()
        except Exception as exc:
            raise _load_error(model, exc) from None
        self.workers, threads = self.used["workers"], self.used.get("threads", 0)
        if device == "cpu":
            keep_freed_memory()
        try:
            self.translator = ctranslate2.Translator(
                str(folder), device=device, compute_type=compute_type, inter_threads=self.workers, intra_threads=threads
            )
        except (RuntimeError, OSError, ValueError) as exc:
            raise ModelError(
                f"the CTranslate2 conversion {folder} of model {model.name} could not be loaded ({_reason(exc)}): "
                f"convert it again with `mtpipe models convert {model.name} --compute-type {compute_type} --force`"
            ) from None
        self._set_limits(self.used, getattr(config, "max_position_embeddings", 512), generation)
        self.length_penalty = generation.length_penalty if generation.length_penalty is not None else 1.0
        self.eos = self.tokenizer.eos_token

    @staticmethod
    def plan(model: ModelRef, settings: DecodeSettings) -> dict:
        """Beam, device, compute type and the CPU layout (workers, threads each) these
        settings run with, decided without loading the model (the load follows it)."""
        try:
            import ctranslate2
        except ImportError:
            raise ModelError(NEEDS_CT2) from None
        device = settings.device if settings.device != "auto" else ("cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu")
        if settings.other_alignment:
            raise ModelError(
                "CTranslate2 keeps only the last decoder layer's head 0 for word alignment: "
                "leave --align-layer and --align-head out, or use --backend transformers"
            )
        workers, threads = ct2_threads(settings.cores or _cores()) if device == "cpu" else (1, 0)
        return {
            "beam": _beam(model, settings),
            "device": device,
            "compute_type": settings.compute_type or DEFAULT_COMPUTE_TYPE["ctranslate2"],
            "workers": workers,
            **({"threads": threads} if device == "cpu" else {}),
        }

    def options(self, texts: Sequence[str], cap: int) -> dict:
        """translate_batch keyword arguments; a hook for subclasses (the benchmark)."""
        return {"max_decoding_length": cap}

    def generate(self, texts: Sequence[str], max_new_tokens: int) -> list[Hypothesis]:
        cap = min(max_new_tokens, self.max_output_tokens)
        source = self._source_tokens(texts)
        results = self.translator.translate_batch(
            source,
            beam_size=self.beam,
            length_penalty=self.length_penalty,
            return_scores=True,
            return_end_token=True,
            return_attention=True,
            max_batch_size=self._share(source),
            **self.options(texts, cap),
        )
        first = self._first_rows(source) if self.beam > 1 and len(source) > 1 else None
        hyps = []
        for k, (result, text_in) in enumerate(zip(results, texts)):
            tokens = result.hypotheses[0]
            n = len(tokens)
            words = tokens[:-1] if tokens and tokens[-1] == self.eos else tokens
            text = self.tokenizer.decode(self.tokenizer.convert_tokens_to_ids(words), skip_special_tokens=True).strip()
            total = result.scores[0] * (n**self.length_penalty if n else 1.0)
            attention = result.attention[0]
            if first is not None and attention:
                attention = [first[k], *attention[1:]]
            links = self._links(attention, source[k], text_in, tokens, text)
            hyps.append(Hypothesis(text, float(total), n, hit_limit=n >= cap, links=links))
        return hyps

    def _source_tokens(self, texts: Sequence[str]) -> list[list[str]]:
        """Each text as the tokens CTranslate2 takes, end of sentence included."""
        return [self.tokenizer.convert_ids_to_tokens(ids) for ids in self.tokenizer(list(texts))["input_ids"]]

    def _share(self, source: Sequence[Any]) -> int:
        """A batch size that gives each worker one share, run at once."""
        return math.ceil(len(source) / self.workers)

    def _first_rows(self, source: list[list[str]]) -> list[list[float]]:
        """Each sentence's attention at the first decoding step, by a one-step greedy
        pass. CTranslate2 (4.8) returns a wrong first row when a beam search decodes
        several sentences at once (another sentence's row); the first step's
        attention depends on the source alone, so one greedy step gives it."""
        results = self.translator.translate_batch(
            source, beam_size=1, max_decoding_length=1, return_attention=True, max_batch_size=self._share(source)
        )
        return [r.attention[0][0] for r in results]

    def align(self, sources: Sequence[str], targets: Sequence[str]) -> list[Links]:
        source = self._source_tokens(sources)
        forced = [self.tokenizer.convert_ids_to_tokens(ids) for ids in self._forced_targets(targets)]
        results = self.translator.translate_batch(
            source,
            target_prefix=forced,
            beam_size=1,
            return_attention=True,
            max_decoding_length=max(len(f) for f in forced) + 1,
            max_batch_size=self._share(source),
        )
        return [
            self._links(r.attention[0][: len(f)], s, src, f, t)
            for r, s, src, f, t in zip(results, source, sources, forced, targets)
        ]


def ct2_threads(cores: int) -> tuple[int, int]:
    """CTranslate2's CPU layout for `cores` cores: (workers, threads per worker).

    Each batch is shared among the workers, which decode their shares at the same
    time, each on its own threads. Decoding multiplies small matrices (a few
    hundred rows), where threads inside one product mostly wait on each other: on
    two cores, two single-threaded workers translate about 30 % faster than one
    worker with two threads (1.31× on the 1,153 sentences of bench/translate.py).
    Past four workers the shares of a 64-sentence batch would get too small, so
    larger machines give each of at most four workers several threads.
    """
    threads = max(1, math.ceil(cores / MAX_CT2_WORKERS))
    return max(1, cores // threads), threads


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse instead of handing it back to
    the kernel; True where it applied (glibc), False elsewhere.

    CTranslate2's CPU workers allocate and free buffers of up to tens of MB at every
    decoding step. With glibc's defaults many of these are fresh mappings, or trimmed
    heap tops, whose pages fault in again each time: a tenth of the decoding time went
    to the kernel on the benchmark's 1,153 sentences. The three settings only work
    together (a fixed trim or pad alone turns off glibc's adaptive mmap threshold and
    is far slower). Process-wide; costs about 60 MB of peak RSS.
    """
    import ctypes

    try:
        mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    except (OSError, TypeError):  # no process-wide symbol lookup (Windows)
        return False
    if mallopt is None:
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    # The mmap threshold goes first and all() stops at a refusal: trim and pad set
    # without it would be the slow case described above.
    return all(
        mallopt(option, value)
        for option, value in ((m_mmap_threshold, 32 << 20), (m_trim_threshold, 4 << 30), (m_top_pad, 256 << 20))
    )


def _cores() -> int:
    """CPU cores this process may use (its affinity mask, not the whole machine)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1
