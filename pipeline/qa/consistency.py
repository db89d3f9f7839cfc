"""Consistency across a run: the same French translated two ways, or the same English
given to two different French sentences (the inconsistency check of CAT tools)."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable

# How much of the other translation a reason quotes.
QUOTED_CHARS = 80


def _key(text: str) -> bytes:
    """A short digest of a sentence with its spacing and Unicode form made uniform, so
    that a run of many articles keeps 8 bytes per distinct sentence, not its text."""
    return hashlib.blake2b(" ".join(unicodedata.normalize("NFC", text).split()).encode("utf-8"), digest_size=8).digest()


def _quoted(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTED_CHARS else text[: QUOTED_CHARS - 1] + "…"


class Consistency:
    """The sentence pairs a run has translated so far, by French and by English: each
    French sentence's distinct Englishes and each English's distinct French, with the
    first text of each kept (shortened) to quote in a reason."""

    def __init__(self) -> None:
        self._by_source: dict[bytes, dict[bytes, str]] = {}
        self._by_target: dict[bytes, dict[bytes, str]] = {}

    def add(self, pairs: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
        """Record sentence pairs (French, English), sentences without a letter left out;
        their keys (for `count`)."""
        keys = []
        for source, mt in pairs:
            if any(c.isalpha() for c in source) and mt.strip():
                s, t = _key(source), _key(mt)
                self._by_source.setdefault(s, {}).setdefault(t, _quoted(mt))
                self._by_target.setdefault(t, {}).setdefault(s, _quoted(source))
                keys.append((s, t))
        return keys

    def reason(self, source: str, mt: str) -> str | None:
        """Why this pair is inconsistent with the others recorded, or None."""
        return self._reason(_key(source), _key(mt))

    def _reason(self, s: bytes, t: bytes) -> str | None:
        # The smallest of the other texts is quoted, not the first seen, so that a
        # reason does not depend on the order articles were translated in.
        others = sorted(text for key, text in self._by_source.get(s, {}).items() if key != t)
        if others:
            return f"the same French is also translated “{others[0]}”"
        sources = sorted(text for key, text in self._by_target.get(t, {}).items() if key != s)
        if sources:
            return f"the same English also translates “{sources[0]}”"
        return None

    def count(self, units: Iterable[Iterable[tuple[bytes, bytes]]]) -> int:
        """How many units (each the keys `add` returned for its sentences) hold an
        inconsistent sentence now: the rows a page flags."""
        return sum(any(self._reason(s, t) is not None for s, t in unit) for unit in units)
