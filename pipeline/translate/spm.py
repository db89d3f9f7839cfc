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
    """A Marian checkpoint's tokenizer with one shared vocabulary (the others raise
    UnsupportedTokenizer), as MarianTokenizer reads its folder: the
    `tokenizer(texts)["input_ids"]` call, `convert_ids_to_tokens`,
    `convert_tokens_to_ids`, `decode` and the special tokens."""

    def __init__(self, folder: Path) -> None:
        import sentencepiece

        config = _tokenizer_config(folder)
        if problem := unsupported(folder):
            raise UnsupportedTokenizer(problem)
        self.unk_token, self.eos_token, self.pad_token = _specials(config)
        self.specials = (self.eos_token, self.unk_token, self.pad_token)
        self.model_max_length = int(config.get("model_max_length", 512))
        self.clean_up_spaces = bool(config.get("clean_up_tokenization_spaces", False))
        self.encoder: dict[str, int] = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        if self.unk_token not in self.encoder:
            raise KeyError("<unk> token must be in the vocab")
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.spm_source, self.spm_target = (sentencepiece.SentencePieceProcessor(model_file=str(folder / name)) for name in ("source.spm", "target.spm"))
        self.eos_token_id, self.unk_token_id, self.pad_token_id = (self.encoder[t] for t in self.specials)
        self.special_ids = frozenset((self.eos_token_id, self.unk_token_id, self.pad_token_id))
        # Texts are cut at the special tokens they contain, which stay whole (longest first).
        self._split = re.compile("(" + "|".join(map(re.escape, sorted(self.specials, key=len, reverse=True))) + ")")

    def __call__(self, text: str | Sequence[str] | None = None, text_target: str | Sequence[str] | None = None) -> dict[str, list]:
        """{"input_ids": ids} of a text or a list of texts (source side), or of targets."""
        texts, spm = (text, self.spm_source) if text_target is None else (text_target, self.spm_target)
        encode = lambda t: [self._id(piece) for piece in self._pieces(t, spm)] + [self.eos_token_id]  # noqa: E731
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

    def _id(self, piece: str) -> int:
        return self.encoder.get(piece, self.unk_token_id)

    def convert_ids_to_tokens(self, ids: Sequence[int], skip_special_tokens: bool = False) -> list[str]:
        return [self.decoder[i] if i in self.decoder else self.spm_source.id_to_piece(i) or self.unk_token for i in ids if not (skip_special_tokens and i in self.special_ids)]

    def convert_tokens_to_ids(self, tokens: Sequence[str]) -> list[int]:
        return [self._id(token) for token in tokens]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        """The text of target ids, as MarianTokenizer.decode gives it (with the source
        model's pieces, as it does with a shared vocabulary)."""
        spm = self.spm_source
        out, run = "", []
        for token in self.convert_ids_to_tokens(ids, skip_special_tokens):
            if token in self.specials:
                out += spm.decode_pieces(run) + token + " "
                run = []
            else:
                run.append(token)
        out += spm.decode_pieces(run)
        out = out.replace(SPIECE_UNDERLINE, " ").strip()
        return _clean_up_spaces(out) if self.clean_up_spaces else out


def _tokenizer_config(folder: Path) -> dict:
    path = folder / "tokenizer_config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return {}  # the load says what is wrong with it
    return config if isinstance(config, dict) else {}


def _specials(config: dict) -> tuple[str, str, str]:
    """The unknown, end and padding tokens (saved as strings, or as objects with a content)."""

    def token(key: str, default: str) -> str:
        value = config.get(key, default)
        return value.get("content", default) if isinstance(value, dict) else str(value)

    return token("unk_token", "<unk>"), token("eos_token", "</s>"), token("pad_token", "<pad>")


def unsupported(folder: Path) -> str | None:
    """Why MarianSpm cannot stand in for the checkpoint's MarianTokenizer, if it cannot:
    added tokens or a target vocabulary of its own, whose handling it does not
    reproduce. Read from tokenizer_config.json alone, so `auto` can ask before loading."""
    config = _tokenizer_config(folder)
    decoder = config.get("added_tokens_decoder")
    added = {t.get("content") for t in decoder.values() if isinstance(t, dict)} if isinstance(decoder, dict) else set()
    added |= set(map(str, config.get("additional_special_tokens") or []))
    if config.get("separate_vocabs"):
        return "its tokenizer has a target vocabulary of its own, which the fast engine's tokenizer does not handle"
    if added - set(_specials(config)):
        return "its tokenizer has added tokens, which the fast engine's tokenizer does not handle"
    return None


class UnsupportedTokenizer(ValueError):
    """A checkpoint's tokenizer does more than MarianSpm reproduces."""


def _clean_up_spaces(text: str) -> str:
    """transformers' clean_up_tokenization, for a checkpoint whose config asks for it."""
    for before, after in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        text = text.replace(before, after)
    return text
