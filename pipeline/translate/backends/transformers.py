"""The transformers backend: the reference path, MarianMT through torch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...hub import ModelError, ModelRef
from ...wordalign import Links
from ..marian import MarianTokens, beam_size, load_error
from ..shortlist import ONLY_CT2
from ..types import DecodeSettings, Hypothesis, register

_SCORE_FLOATS = 32 << 20  # logits scored at once (128 MB of float32)


@register("transformers")
class TransformersBackend(MarianTokens):
    """MarianMT through Hugging Face transformers, on CPU or CUDA."""

    def __init__(self, model: ModelRef, settings: DecodeSettings):
        if settings.compute_type not in (None, "float32"):
            raise ModelError(f"--compute-type {settings.compute_type} needs --backend ctranslate2; the transformers backend runs in float32")
        if settings.shortlist:
            raise ModelError(ONLY_CT2)
        import torch
        from transformers import MarianMTModel, MarianTokenizer

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
            raise load_error(model, exc) from None
        self.model.to(device).eval()
        self.device = device
        layers, heads = self.model.config.decoder_layers, self.model.config.decoder_attention_heads
        if not (-layers <= settings.align_layer < layers and 0 <= settings.align_head < heads):
            raise ModelError(
                f"--align-layer {settings.align_layer} --align-head {settings.align_head} is not in model {model.name}: "
                f"it has {layers} decoder layers (0 to {layers - 1}, or -1 for the last) of {heads} heads (0 to {heads - 1})"
            )
        self.align_layer, self.align_head = settings.align_layer, settings.align_head
        self._set_limits(self.used, self.model.config.max_position_embeddings, self.model.generation_config.max_length)

    @staticmethod
    def plan(model: ModelRef, settings: DecodeSettings) -> dict:
        """Beam, device, compute type and threads these settings run with, decided
        without loading the model (the load follows it)."""
        import torch

        device = settings.device if settings.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        return {"beam": beam_size(model, settings), "device": device, "compute_type": "float32", "threads": settings.cores or torch.get_num_threads()}

    def options(self, texts: Sequence[str], cap: int) -> dict:
        """generate() keyword arguments; a hook for subclasses (the benchmark).

        early_stopping=True ends a beam search once `beam` hypotheses have finished, as
        Marian (which trained and published the OPUS-MT models) and CTranslate2 decode;
        transformers' default keeps searching while a running beam might still win,
        and gave other output than CTranslate2 for 9% of sentences of the fixture check.
        """
        return {"max_new_tokens": cap, "early_stopping": True}

    def generate(self, texts: Sequence[str], max_new_tokens: int, prefixes: Sequence[str] | None = None) -> list[Hypothesis]:
        forced_ids = None if prefixes is None else self._forced_targets(prefixes)
        if forced_ids is not None and len({len(ids) for ids in forced_ids}) > 1:
            # A decoder prefix has one length per batch: the sentences are decoded in
            # groups of equal prefix length (left padding would move the decoder's positions).
            groups: dict[int, list[int]] = {}
            for i, ids in enumerate(forced_ids):
                groups.setdefault(len(ids), []).append(i)
            out: dict[int, Hypothesis] = {}
            for members in groups.values():
                hyps = self.generate([texts[i] for i in members], max_new_tokens, [prefixes[i] for i in members])  # type: ignore[index]
                out.update(zip(members, hyps))
            return [out[i] for i in range(len(texts))]
        cap = min(max_new_tokens, self.max_output_tokens)
        batch = self.tokenizer(list(texts), return_tensors="pt", padding=True).to(self.device)
        forced = {}
        if forced_ids is not None:
            start = self.model.config.decoder_start_token_id
            forced = {"decoder_input_ids": self.torch.tensor([[start, *ids] for ids in forced_ids], device=self.device)}
            cap = min(cap + len(forced_ids[0]), self.max_output_tokens)
        with self.torch.inference_mode():
            sequences = self.model.generate(**batch, num_beams=self.beam, **forced, **self.options(texts, cap))
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
