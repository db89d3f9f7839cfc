"""Terms followed, not only checked: where a translation misses a glossary term, the
English to force on the model before it goes on.

The prefix keeps the translation's words up to where the term belongs (the first
English word the word links tie to the term's French words; without links, the same
share of the English as the term's share of the French) and adds the term's preferred
English. Decoding again from that prefix lets the model finish the sentence around
the term (CTranslate2's `target_prefix`, a transformers decoder prefix). A sentence
missing several terms is decoded once per term, left to right, each prefix keeping
the terms forced before it.
"""

from __future__ import annotations

import re

from ..wordalign import Links, word_spans, words_within
from . import Glossary, Hit, entries_digest


def prefix(source: str, text: str, links: Links | None, hit: Hit, forced: str = "", anchor: bool = False) -> str:
    """The English to force so that `hit`'s term is rendered: `text`'s words before the
    place of the term, then the term's first English variant (capitalised when it
    starts the sentence and the English it replaces did). `forced`, the prefix an
    earlier round forced on `text`, is always kept whole, so that no term forced
    before is lost. With `anchor`, `forced` ended with this term and the model glued
    a suffix to it ("influenzam"): see `anchored`."""
    if anchor and forced and text.startswith(forced):
        return anchored(text, forced)
    source_words, target_words = word_spans(source), word_spans(text)
    term = set(words_within(source_words, hit.start, hit.end))
    linked = sorted(t for s, t in links or () if s in term and t < len(target_words))
    if linked:
        cut = linked[0]
    else:
        first = min(term, default=0)
        cut = round(len(target_words) * first / max(len(source_words), 1))
    kept = text[: target_words[cut - 1][1]] if cut > 0 else ""
    if forced and text.startswith(forced) and len(kept) < len(forced):
        kept = forced
    english = hit.entry.targets[0]
    if not kept and text[:1].isupper() and english[:1].islower():
        english = english[0].upper() + english[1:]
    return f"{kept} {english}".strip()


def anchored(text: str, forced: str) -> str:
    """`forced`, which ends with a term, then the first whole word of `text` after the
    suffix the model glued to the term (or, when nothing follows, the suffix's final
    punctuation): the model must then start a new word after the term."""
    glued, _, after = text[len(forced) :].partition(" ")
    following = after.split()[:1]
    if following:
        return f"{forced} {following[0]}"
    tail = re.search(r"[^\w\s]+$", glued)
    return forced + (tail.group(0) if tail else "")


def terms_digest(glossary: Glossary, source: str) -> str | None:
    """A digest of the glossary entries found in a sentence (None: none): what a
    memory key adds, so that a glossary change touches only the sentences it matches."""
    hits = glossary.find(source)
    return entries_digest(h.entry for h in hits) if hits else None
