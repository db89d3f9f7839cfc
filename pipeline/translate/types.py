"""What the translation stages share: decoding settings, a model's hypotheses and the
translations a run keeps, the Backend interface and the registry of backends.

Pure: formats, writers and the run import these without any engine."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..wordalign import Links

if TYPE_CHECKING:
    from ..hub import ModelRef

# Output may be this many times longer than its input (plus a constant) before we
# call it runaway generation and retry on smaller pieces.
OUTPUT_RATIO, OUTPUT_SLACK = 2, 16


# Output under this fraction of the input's tokens means the model dropped text
# (NMT under-translates inputs longer than it was trained on): retry on halves.
MIN_OUTPUT_RATIO = 0.3


MAX_BATCH_SIZE = 64


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
    # Restrict each batch's output vocabulary to the model's shortlist (CTranslate2 only).
    shortlist: bool = False

    @property
    def alignment(self) -> str:
        """The word-alignment head, as the memory labels the links it stores."""
        return f"layer {self.align_layer} head {self.align_head}"

    @property
    def needs_fast(self) -> bool:
        """Whether only CTranslate2 can decode this way (a compute type other than
        float32, or a shortlist): `auto` then never falls back to transformers."""
        return self.compute_type not in (None, "float32") or self.shortlist

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
    made of the sentence, when the memory holds it. `free` is what the model made
    before a glossary forced its terms into `text` (None: nothing was forced)."""

    text: str
    logprob: float | None
    pieces: int = 1
    from_memory: bool = False
    parts: tuple[tuple[str, str], ...] = ()
    links: Links | None = None
    human: bool = False
    machine: str | None = None
    free: str | None = None


class Backend(Protocol):
    """A loaded MT engine."""

    max_input_tokens: int

    def count_tokens(self, text: str) -> int:
        """Source tokens of `text`, end-of-sentence included."""

    def generate(self, texts: Sequence[str], max_new_tokens: int, prefixes: Sequence[str] | None = None) -> list[Hypothesis]:
        """Translate a batch of texts that each fit in max_input_tokens; with `prefixes`,
        each translation starts with its prefix (English the glossary forces) and the
        model writes the rest (max_new_tokens then counts after the prefix)."""

    # An engine that translates several batches at once (workers on other machines)
    # also has generate_many(jobs): each (texts, max_new_tokens) job's hypotheses, in
    # the jobs' order, as they come; see _generated.

    def align(self, sources: Sequence[str], targets: Sequence[str]) -> list[Links]:
        """Word links between each source and a given translation of it (forced
        decoding: the model scores the translation instead of choosing one)."""


def generate_on(backend: Backend, texts: Sequence[str], max_new_tokens: int, prefixes: Sequence[str] | None = None) -> list[Hypothesis]:
    """backend.generate, given `prefixes` only when there are some: a backend written
    before them (one that overrides generate(texts, max_new_tokens)) still serves the
    batches that force nothing."""
    if prefixes is None:
        return backend.generate(texts, max_new_tokens)
    return backend.generate(texts, max_new_tokens, prefixes)


BACKENDS: dict[str, Callable[[ModelRef, DecodeSettings], Backend]] = {}


# What --compute-type means when it is not given, per backend (absent: not applicable).
DEFAULT_COMPUTE_TYPE = {"ctranslate2": "int8"}


COMPUTE_TYPES = ("int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16", "bfloat16", "float32")


def register(name: str) -> Callable:
    """Class decorator: make a backend available to --backend under `name`."""

    def add(factory: Callable[[ModelRef, DecodeSettings], Backend]) -> Callable:
        BACKENDS[name] = factory
        return factory

    return add


def usable_cores() -> int:
    """CPU cores this process may use (its affinity mask, not the whole machine)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1
