"""Formats: an article file's bytes → a Document of blocks to translate, and back.

Each kind of file (plain text, Markdown, HTML, Word) is one module with a Format,
registered by suffix. Reading gives a Document whose lines are the translation
units (blocks) with their plain text and inline markup; writing puts the English
back, copying everything outside the translated text from the source as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..ingest import Document
from ..segment import Segment
from ..translate import Translation
from .markup import Event, Sentence, place


@dataclass(frozen=True)
class Written:
    """A format's output: the English file's bytes, and the ids of the sentences whose
    markup could not be placed with confidence (they are flagged for review)."""

    data: bytes
    unsure: frozenset[str] = frozenset()


class Format(Protocol):
    """How one kind of article file is read and written back in English."""

    name: str
    suffixes: tuple[str, ...]

    def read(self, data: bytes, name: str) -> Document:
        """Decode and parse; IngestError (one sentence, what and why) when it cannot."""

    def write(self, doc: Document, segments: Sequence[Segment], translations: Sequence[Translation]) -> Written:
        """The article in English: each block's sentences replaced by their translations."""


FORMATS: dict[str, Format] = {}  # by lower-case suffix, dot included


def register(fmt: Callable[[], Format]) -> Callable[[], Format]:
    """Class decorator: read files with the class's suffixes with it."""
    instance = fmt()
    for suffix in instance.suffixes:
        FORMATS[suffix] = instance
    return fmt


def origin(pieces: Iterable[tuple[int, int, int, int]]) -> tuple[tuple[int, int], ...]:
    """A block's `Line.origin` from its pieces of text in order, each (plain start, plain
    end, source start, source end): an anchor (plain offset, source offset) wherever
    the plain text stops following the source character for character, on both
    sides of markup it skips and of an entity or whitespace run it reads as one
    character; the last one where the text ends."""
    anchors: list[tuple[int, int]] = []

    def add(anchor: tuple[int, int] | None) -> None:
        if anchor is not None and anchor not in anchors[-1:]:
            anchors.append(anchor)

    ended: tuple[int, int] | None = None  # where the previous piece ends
    flowing = False  # and whether the plain text follows the source there
    for p, q, a, b in pieces:
        linear = q - p == b - a
        if not (linear and flowing and ended == (p, a)):
            add(ended)
            add((p, a))
        ended, flowing = (q, b), linear
    add(ended)
    return tuple(anchors)


def placed_blocks(doc: Document, segments: Sequence[Segment], translations: Sequence[Translation]) -> tuple[dict[int, list[Event]], frozenset[str]]:
    """Each block with sentences, in English with its markup put back (`markup.place`),
    by block number; and the ids of sentences whose markup was placed without
    confidence. Blocks without sentences are left out: they are written as they were."""
    by_block: dict[int, list[tuple[Segment, Translation]]] = {}
    for seg, tr in zip(segments, translations, strict=True):
        by_block.setdefault(seg.line, []).append((seg, tr))
    blocks, unsure = {}, set()
    for line in doc.lines:
        pairs = by_block.get(line.number)
        if not pairs:
            continue
        sentences = [Sentence(seg.start, seg.end, tr.text, tr.links) for seg, tr in pairs]
        blocks[line.number], doubtful = place(line.text, line.markup, sentences)
        unsure.update(pairs[k][0].id for k in doubtful)
    return blocks, frozenset(unsure)
