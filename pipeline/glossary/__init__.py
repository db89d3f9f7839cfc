"""Glossaries: French terms and the English the translation must give them.

A `Glossary` finds its terms in a French sentence (`find`) by lemma, so that an entry
*conseil municipal* matches *conseils municipaux*; the longest match wins, matches never
overlap nor fall inside protected text (URLs, code, placeholders). It says which terms a
translation misses (`missed`): none of the entry's English variants is there, compared
by English lemma (*city councils* renders *city council*).

An entry written with a capital after its first letter (*ONU*, *PyTorch*) matches only
as written; any other matches in any case. Accents always count (*a* is not *à*).
Files are read by `readers.load` (TSV, CSV, TBX, MultiTerm XML).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from ..errors import UsageError

_TOKEN = re.compile(r"[^\W_]+")
# Texts whose terms a Glossary keeps found (a window of a run's sentences).
FOUND_CACHED = 8192
# What may stand between two words of one term: spaces, a hyphen, an apostrophe.
_JOINER = re.compile(r"[\s\-'’]*")


class GlossaryError(UsageError):
    """A glossary file that cannot be read as one."""


@dataclass(frozen=True)
class Entry:
    """A French term, the English variants that render it (the first preferred), a note."""

    source: str
    targets: tuple[str, ...]
    note: str = ""

    @property
    def case_sensitive(self) -> bool:
        return _case_sensitive(self.source)


@dataclass(frozen=True)
class Hit:
    """Where an entry's term is in a sentence: [start, end) in characters, as written."""

    entry: Entry
    start: int
    end: int
    text: str


def _inside_compound(text: str, start: int, end: int) -> bool:
    """Whether [start, end) is part of a hyphenated word (covid in COVID-19, porte in
    porte-parole): a term is a whole word or words."""
    before = start >= 2 and text[start - 1] == "-" and text[start - 2].isalnum()
    after = end + 1 < len(text) and text[end] == "-" and text[end + 1].isalnum()
    return before or after


def _case_sensitive(term: str) -> bool:
    return any(c.isupper() for word in _TOKEN.findall(term) for c in word[1:])


@cache
def _lemmatizer():
    import simplemma

    return simplemma


@cache
def lemma(word: str, lang: str) -> str:
    """A word's dictionary form, lowercased (conseils → conseil), with the plural and
    feminine endings simplemma leaves on some words folded away in longer words
    (présidentielles and présidentielle → présidentiel)."""
    form = _lemmatizer().lemmatize(word.casefold(), lang=lang).casefold()
    if len(form) >= 6:
        form = form.removesuffix("s") if form.endswith("s") and not form.endswith("ss") else form
        if lang == "fr" and form.endswith("e"):
            form = form[:-1]
            form = form[:-1] if form[-2:] in ("ll", "nn", "tt", "ss") else form
    return form


@dataclass(frozen=True)
class _Words:
    """A text cut into words: their surface forms, lemmas and character spans."""

    surfaces: tuple[str, ...]
    lemmas: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, text: str, lang: str) -> _Words:
        found = list(_TOKEN.finditer(text))
        return cls(tuple(m.group(0) for m in found), tuple(lemma(m.group(0), lang) for m in found), tuple(m.span() for m in found))

    def joined(self, text: str, i: int, n: int) -> bool:
        """Whether words i..i+n-1 follow one another with only spaces, hyphens or apostrophes between."""
        return all(_JOINER.fullmatch(text, self.spans[k][1], self.spans[k + 1][0]) for k in range(i, i + n - 1))


@dataclass(frozen=True)
class _Pattern:
    """A term as the matcher compares it: its words' surfaces and lemmas."""

    surfaces: tuple[str, ...]
    lemmas: tuple[str, ...]
    case_sensitive: bool

    @classmethod
    def of(cls, term: str, lang: str) -> _Pattern:
        words = _Words.of(term, lang)
        return cls(words.surfaces, words.lemmas, _case_sensitive(term))

    def at(self, words: _Words, text: str, i: int) -> bool:
        """Whether the pattern is in `text` from its word i: the words match and follow
        one another."""
        n = len(self.lemmas)
        return i + n <= len(words.lemmas) and self.matches(words, i) and words.joined(text, i, n)

    def matches(self, words: _Words, i: int) -> bool:
        n = len(self.lemmas)
        if self.case_sensitive:
            return words.surfaces[i : i + n] == self.surfaces
        if words.lemmas[i : i + n] == self.lemmas:
            return True
        return tuple(w.casefold() for w in words.surfaces[i : i + n]) == tuple(w.casefold() for w in self.surfaces)


def entries_digest(entries: Iterable[Entry]) -> str:
    """A hash of glossary entries (their French and English, not their notes nor their
    order): the same for the same terms."""
    unique = sorted({(e.source, e.targets) for e in entries})
    text = "\n".join(f"{source}\t{'|'.join(targets)}" for source, targets in unique)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Glossary:
    """Entries indexed by the lemma of their first word, for matching in linear time in
    the sentence's words (each word tries only the entries starting with its lemma or
    its lowercased form)."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries: tuple[Entry, ...] = tuple(dict.fromkeys(e for e in entries if _TOKEN.search(e.source)))
        self._index: dict[str, list[tuple[_Pattern, Entry]]] = {}
        for entry in self.entries:
            pattern = _Pattern.of(entry.source, "fr")
            for key in {pattern.lemmas[0], pattern.surfaces[0].casefold()}:
                self._index.setdefault(key, []).append((pattern, entry))
        for candidates in self._index.values():
            candidates.sort(key=lambda pe: -len(pe[0].lemmas))
        self._targets: dict[Entry, tuple[_Pattern, ...]] = {e: tuple(_Pattern.of(t, "en") for t in e.targets if _TOKEN.search(t)) for e in self.entries}
        self._found: dict[tuple[str, tuple[tuple[int, int], ...]], tuple[Hit, ...]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def digest(self) -> str:
        """A hash of the entries, to name this glossary in settings hashes."""
        return entries_digest(self.entries)

    def find(self, text: str, protected: Sequence[tuple[int, int]] = ()) -> list[Hit]:
        """The terms of a French text, left to right, longest first, never overlapping
        nor touching a protected [start, end) span. The terms of the last FOUND_CACHED
        texts are kept: a run asks for a sentence's terms several times (its memory
        key, its check, its forced rounds)."""
        key = (text, tuple(protected))
        if key in self._found:
            return list(self._found[key])
        hits = self._find(text, protected)
        if len(self._found) >= FOUND_CACHED:
            self._found.pop(next(iter(self._found)))
        self._found[key] = tuple(hits)
        return hits

    def _find(self, text: str, protected: Sequence[tuple[int, int]]) -> list[Hit]:
        words = _Words.of(text, "fr")
        hits: list[Hit] = []
        i = 0
        while i < len(words.lemmas):
            for pattern, entry in self._candidates(words.lemmas[i], words.surfaces[i].casefold()):
                n = len(pattern.lemmas)
                if pattern.at(words, text, i):
                    start, end = words.spans[i][0], words.spans[i + n - 1][1]
                    if not any(a < end and start < b for a, b in protected) and not _inside_compound(text, start, end):
                        hits.append(Hit(entry, start, end, text[start:end]))
                        i += n
                        break
            else:
                i += 1
        return hits

    def _candidates(self, lemma: str, surface: str) -> list[tuple[_Pattern, Entry]]:
        """The entries a word may start, longest first: those indexed by its lemma, and by
        its lowercased form when that differs (each list is sorted once, at indexing)."""
        by_lemma = self._index.get(lemma, [])
        by_surface = self._index.get(surface) if surface != lemma else None
        if not by_surface:
            return by_lemma
        merged = list(dict.fromkeys(by_lemma + by_surface))
        merged.sort(key=lambda pe: -len(pe[0].lemmas))
        return merged

    def locate(self, entry: Entry, mt: str, words: _Words | None = None) -> tuple[int, int] | None:
        """Where the first of the entry's English variants is in the translation: [start, end)."""
        words = words or _Words.of(mt, "en")
        for i in range(len(words.lemmas)):
            for pattern in self._targets[entry]:
                if pattern.at(words, mt, i):
                    return words.spans[i][0], words.spans[i + len(pattern.lemmas) - 1][1]
        return None

    def rendered(self, entry: Entry, mt: str) -> bool:
        """Whether one of the entry's English variants is in the translation."""
        return self.locate(entry, mt) is not None

    def missed(self, source: str, mt: str, protected: Sequence[tuple[int, int]] = ()) -> list[Hit]:
        """The terms of the French whose English the translation does not give."""
        hits = self.find(source, protected)
        words = _Words.of(mt, "en") if hits else None
        return [hit for hit in hits if self.locate(hit.entry, mt, words) is None]
