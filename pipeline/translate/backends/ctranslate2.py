"""The CTranslate2 backend: the converted model, several times faster on CPU."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...hub import ModelError, ModelRef
from ...messages import first_line
from ...wordalign import Links
from ..convert import NEEDS_CT2, convert_ct2
from ..marian import MarianTokens, beam_size, load_error
from ..shortlist import PieceLinks, shortlist_digest, shortlist_for
from ..spm import MarianSpm, UnsupportedTokenizer
from ..types import (
    COMPUTE_TYPES,
    DEFAULT_COMPUTE_TYPE,
    DecodeSettings,
    Hypothesis,
    register,
    usable_cores,
)

MAX_CT2_WORKERS = 4


@register("ctranslate2")
class CTranslate2Backend(MarianTokens):
    """MarianMT through CTranslate2 (the default engine), converted once and cached.

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

        self.used = self.plan(model, settings)
        compute_type, device = self.used["compute_type"], self.used["device"]
        if device == "cuda" and ctranslate2.get_cuda_device_count() == 0:
            raise ModelError("--device cuda was asked for but CTranslate2 sees no CUDA GPU: use --device cpu or auto")
        supported = [t for t in COMPUTE_TYPES if t in ctranslate2.get_supported_compute_types(device)]
        if compute_type not in supported:  # refused before converting for it
            raise ModelError(f"--compute-type {compute_type} cannot run on {device} with CTranslate2: choose one of {', '.join(supported)}")
        try:  # the checkpoint's files read as transformers reads them, without importing it
            self.tokenizer = MarianSpm(model.path)
        except UnsupportedTokenizer as exc:
            raise ModelError(f"model {model.name} cannot run on CTranslate2 here: {exc}; use --backend transformers") from None
        except Exception as exc:
            raise load_error(model, exc) from None
        self.use_vmap = settings.shortlist
        folder = convert_ct2(model, compute_type, shortlist=shortlist_for(model) if settings.shortlist else None)
        try:
            config = json.loads((model.path / "config.json").read_text(encoding="utf-8"))
            generation = _generation_config(model.path)
        except Exception as exc:
            raise load_error(model, exc) from None
        self.workers, threads = self.used["workers"], self.used.get("threads", 0)
        try:
            self.translator = ctranslate2.Translator(
                str(folder), device=device, compute_type=compute_type, inter_threads=self.workers, intra_threads=threads
            )
        except (RuntimeError, OSError, ValueError) as exc:
            raise ModelError(
                f"the CTranslate2 conversion {folder} of model {model.name} could not be loaded ({first_line(exc)}): "
                f"convert it again with `mtpipe models convert {model.name} --compute-type {compute_type} --force`"
            ) from None
        self._set_limits(self.used, config.get("max_position_embeddings", 512), generation.get("max_length"))
        self.length_penalty = 1.0 if generation.get("length_penalty") is None else generation["length_penalty"]
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
        workers, threads = ct2_threads(settings.cores or usable_cores()) if device == "cpu" else (1, 0)
        return {
            "beam": beam_size(model, settings),
            "device": device,
            "compute_type": settings.compute_type or DEFAULT_COMPUTE_TYPE["ctranslate2"],
            "workers": workers,
            **({"threads": threads} if device == "cpu" else {}),
            **({"shortlist": shortlist_digest(model)} if settings.shortlist else {}),
        }

    def options(self, texts: Sequence[str], cap: int) -> dict:
        """translate_batch keyword arguments; a hook for subclasses (the benchmark)."""
        return {"max_decoding_length": cap}

    def generate(self, texts: Sequence[str], max_new_tokens: int, prefixes: Sequence[str] | None = None) -> list[Hypothesis]:
        cap = min(max_new_tokens, self.max_output_tokens)
        source = self._source_tokens(texts)
        forced = None if prefixes is None else [self.tokenizer.convert_ids_to_tokens(ids) for ids in self._forced_targets(prefixes)]
        if forced is not None:  # the prefix counts towards the length cap
            cap = min(cap + max(len(f) for f in forced), self.max_output_tokens)
        hyps = []
        for (tokens, score, attention), tokens_in, text_in in zip(self._search(texts, source, cap, self.use_vmap, forced), source, texts):
            n = len(tokens)
            words = tokens[:-1] if tokens and tokens[-1] == self.eos else tokens
            text = self.tokenizer.decode(self.tokenizer.convert_tokens_to_ids(words), skip_special_tokens=True).strip()
            total = score * (n**self.length_penalty if n else 1.0)
            links = self._links(attention, tokens_in, text_in, tokens, text)
            hyps.append(Hypothesis(text, float(total), n, hit_limit=n >= cap, links=links))
        return hyps

    def piece_links(self, texts: Sequence[str]) -> list[PieceLinks]:
        """Translate with the whole vocabulary and link each produced piece to the source
        piece the alignment head attends to most: what a shortlist is built from."""
        source = self._source_tokens(texts)
        return [
            PieceLinks(tokens_in, tokens, [max(range(len(row)), key=row.__getitem__) for row in attention])
            for (tokens, _, attention), tokens_in in zip(self._search(texts, source, self.max_output_tokens, False), source)
        ]

    def _search(
        self, texts: Sequence[str], source: list[list[str]], cap: int, use_vmap: bool, prefixes: list[list[str]] | None = None
    ) -> list[tuple[list[str], float, list[list[float]]]]:
        """Each sentence's best hypothesis: its tokens (end token included), score and
        attention rows, the first row read correctly (see _first_rows); with `prefixes`,
        each hypothesis starts with its prefix's tokens."""
        results = self.translator.translate_batch(
            source,
            **({"target_prefix": prefixes} if prefixes is not None else {}),
            beam_size=self.beam,
            length_penalty=self.length_penalty,
            return_scores=True,
            return_end_token=True,
            return_attention=True,
            use_vmap=use_vmap,
            max_batch_size=self._share(source),
            **self.options(texts, cap),
        )
        first = self._first_rows(source) if self.beam > 1 and len(source) > 1 else None
        best = []
        for k, result in enumerate(results):
            attention = result.attention[0]
            if first is not None and attention:
                attention = [first[k], *attention[1:]]
            best.append((result.hypotheses[0], result.scores[0], attention))
        return best

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


def _generation_config(folder: Path) -> dict:
    """The checkpoint's generation_config.json, {} when it has none (a missing
    max_length then caps output at the input limit, as transformers' config gave)."""
    path = folder / "generation_config.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


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


