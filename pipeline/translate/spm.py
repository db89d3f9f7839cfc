"""Marian's tokenization without transformers, for the fast engine.

What transformers' MarianTokenizer does with a checkpoint's SentencePiece models and
vocabulary, done with sentencepiece alone, so that CTranslate2 starts without
importing transformers and torch (about 3 of the 5 s of a one-article run). Only the
part mtpipe uses: ids of source and target texts (the special tokens in a text kept
whole, an end-of-sentence token appended), ids to pieces and back, and decoding with
the special tokens left out. tests/test_spm.py checks every one against
MarianTokenizer on real tokenizers and arbitrary text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

SPIECE_UNDERLINE = "▁"


class MarianSpm:
    """A Marian checkpoint's tokenizer, as MarianTokenizer reads its folder: the
    `tokenizer(texts)["input_ids"]` call, `convert_ids_to_tokens`,
    `convert_tokens_to_ids`, `decode` and the special tokens."""

    def __init__(self, folder: Path) -> None:
        import sentencepiece

        config_path = folder / "tokenizer_config.json"
        config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
        self.unk_token, self.eos_token, self.pad_token = (str(config.get(k, d)) for k, d in (("unk_token", "<unk>"), ("eos_token", "</s>"), ("pad_token", "<pad>")))
        self.model_max_length = int(config.get("model_max_length", 512))
        self.separate_vocabs = bool(config.get("separate_vocabs", False))
        self.encoder: dict[str, int] = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        if self.unk_token not in self.encoder:
            raise KeyError("<unk> token must be in the vocab")
        self.target_encoder = json.loads((folder / config["target_vocab_file"]).read_text(encoding="utf-8")) if self.separate_vocabs else self.encoder
        self.decoder = {v: k for k, v in self.target_encoder.items()}
        self.spm_source, self.spm_target = (sentencepiece.SentencePieceProcessor(model_file=str(folder / name)) for name in ("source.spm", "target.spm"))
        self.specials = (self.eos_token, self.unk_token, self.pad_token)
        self.eos_token_id, self.unk_token_id, self.pad_token_id = (self.encoder[t] if t in self.encoder else self.target_encoder[t] for t in self.specials)
        self.special_ids = frozenset((self.eos_token_id, self.unk_token_id, self.pad_token_id))
        # Texts are cut at the special tokens they contain, which stay whole (longest first).
        self._split = re.compile("(" + "|".join(map(re.escape, sorted(self.specials, key=len, reverse=True))) + ")")

    def __call__(self, text: str | Sequence[str] | None = None, text_target: str | Sequence[str] | None = None) -> dict[str, list]:
        """{"input_ids": ids} of a text or a list of texts (source side), or of targets."""
        texts, spm, encoder = (text, self.spm_source, self.encoder) if text_target is None else (text_target, self.spm_target, self.target_encoder)
        encode = lambda t: [self._id(piece, encoder) for piece in self._pieces(t, spm)] + [self.eos_token_id]  # noqa: E731
        return {"input_ids": encode(texts) if isinstance(texts, str) else [encode(t) for t in texts]}

    def _pieces(self, text: str, spm: object) -> list[str]:
        pieces: list[str] = []
        for chunk in self._split.split(text):
            if chunk in self.specials:
                pieces.append(chunk)
            elif chunk:
                code = []
                if chunk.startswith(">>") and (end := chunk.find("<<")) != -1:  # a target language code
                    code, chunk = [chunk[: end + 2]], chunk[end + 2 :]
                pieces += code + spm.encode(chunk, out_type=str)  # type: ignore[attr-defined]
        return pieces

    def _id(self, piece: str, encoder: dict[str, int]) -> int:
        return encoder.get(piece, self.unk_token_id)

    def convert_ids_to_tokens(self, ids: Sequence[int], skip_special_tokens: bool = False) -> list[str]:
        spm = self.spm_target if self.separate_vocabs else self.spm_source
        return [self.decoder[i] if i in self.decoder else spm.id_to_piece(i) or self.unk_token for i in ids if not (skip_special_tokens and i in self.special_ids)]

    def convert_tokens_to_ids(self, tokens: Sequence[str]) -> list[int]:
        return [self._id(token, self.target_encoder) for token in tokens]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        """The text of target ids, as MarianTokenizer.decode gives it (with the source
        model's pieces when the vocabulary is shared, as it does)."""
        spm = self.spm_target if self.separate_vocabs else self.spm_source
        out, run = "", []
        for token in self.convert_ids_to_tokens(ids, skip_special_tokens):
            if token in self.specials:
                out += spm.decode_pieces(run) + token + " "
                run = []
            else:
                run.append(token)
        out += spm.decode_pieces(run)
        return out.replace(SPIECE_UNDERLINE, " ").strip()
