"""What the two Marian backends share: tokenizer and length limits, beam size from the
checkpoint, word links from an attention head, and one sentence per load failure."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from ..hub import ModelError, ModelRef, folder_problem
from ..messages import first_line
from ..wordalign import Links, sentence_links
from .types import DecodeSettings


def token_counter(model: ModelRef) -> Callable[[str], int]:
    """count_tokens of the model's Marian backends without loading the model: for an
    engine whose backends run elsewhere but whose batches are planned here."""
    from transformers import MarianTokenizer

    try:
        tokenizer = MarianTokenizer.from_pretrained(model.path)
    except Exception as exc:  # transformers raises many types for broken folders
        raise load_error(model, exc) from None
    return lambda text: len(tokenizer(text)["input_ids"])


def beam_size(model: ModelRef, settings: DecodeSettings) -> int:
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


def load_error(model: ModelRef, exc: Exception) -> ModelError:
    """One sentence for a checkpoint that would not load: the model, the file at fault
    when one can be named (else its folder and the first line of why), and the fix."""
    problem = folder_problem(model.path) or f"{model.path}: {first_line(exc)}"
    return ModelError(f"model {model.name} could not be loaded: {problem}; download it again or point --model at a complete copy")


class MarianTokens:
    """What both Marian backends share: the checkpoint's tokenizer, its length limits,
    and word links from an attention head."""

    tokenizer: Any

    def _set_limits(self, used: dict, max_positions: int, max_length: int | None) -> None:
        """Beam size (as planned) and input/output token limits (`max_length`: the
        generation config's, end of sentence included)."""
        self.beam = used["beam"]
        self.max_input_tokens = min(self.tokenizer.model_max_length, max_positions)
        self.max_output_tokens = (max_length or self.max_input_tokens) - 1

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
