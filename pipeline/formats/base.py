"""Formats: an article file's bytes → a Document of blocks to translate, and back.

Each kind of file (plain text, Markdown, HTML, Word) is one module with a Format,
registered by suffix. Reading gives a Document whose lines are the translation
units (blocks) with their plain text and inline markup; writing puts the English
back, copying everything outside the translated text from the source as it was.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Protocol

from ..ingest import MAX_ARTICLE_MB, Document, IngestError, Line
from ..protect import Protector
from ..segment import Segment
from ..translate.types import Translation
from .frontmatter import FRONT_MATTER_KEYS
from .markup import Event, Inline, Sentence, place


@dataclass(frozen=True)
class ReadOptions:
    """How articles are read, the same for every format: the protect rules in force
    (the user's and the built-in ones), the front matter keys whose values are
    translated, and the largest article read (its bytes, and its text once read: a
    run holds an article's sentences, alignments and page in memory, about 50 bytes
    per byte of article)."""

    protect: Protector = Protector()
    front_matter_keys: tuple[str, ...] = FRONT_MATTER_KEYS
    max_bytes: int = field(default=MAX_ARTICLE_MB * 1_000_000, compare=False)  # it changes no English

    def check_size(self, size: int, what: str = "it is") -> None:
        """IngestError when an article (or its text) is larger than `max_bytes`."""
        if size > self.max_bytes:
            raise IngestError(
                f"{what} {size / 1e6:,.1f} MB, more than the {self.max_bytes / 1e6:g} MB mtpipe translates as one article; "
                "split it into smaller articles, or raise the limit with --max-article-mb (a run needs about 50 MB of memory per MB of article)"
            )

    @property
    def key(self) -> str:
        """What of these options changes an article's English (for the run's settings)."""
        return json.dumps({"protect": list(self.protect.patterns), "front_matter_keys": list(self.front_matter_keys)}, ensure_ascii=False)


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

    def read(self, data: bytes, name: str, options: ReadOptions = ReadOptions()) -> Document:
        """Decode and parse; IngestError (one sentence, what and why) when it cannot. A
        file with nothing to translate is a Document without lines (written back as it
        was, but for its language tags)."""

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


def fill(source: str, start: int, end: int, subs: Sequence[tuple[int, int, str]]) -> str:
    """source[start:end] with the substitutions (start, end, text), sorted by start, made
    inside it; one that starts inside an earlier one's range is left out (a leaf inside
    a block, written with the block)."""
    out, pos = [], start
    for a, b, text in subs[bisect_left(subs, start, key=itemgetter(0)) :]:
        if a >= end:
            break
        if a < pos:
            continue
        out += [source[pos:a], text]
        pos = b
    out.append(source[pos:end])
    return "".join(out)


def block_sentences(segments: Sequence[Segment], translations: Sequence[Translation]) -> dict[int, tuple[list[Sentence], list[str]]]:
    """Each block's translated sentences (for `markup.place`) and their ids, by block
    number; blocks without sentences are left out."""
    by_block: dict[int, tuple[list[Sentence], list[str]]] = {}
    for seg, tr in zip(segments, translations, strict=True):
        sentences, ids = by_block.setdefault(seg.line, ([], []))
        sentences.append(Sentence(seg.start, seg.end, tr.text, tr.links))
        ids.append(seg.id)
    return by_block


def placed_blocks(doc: Document, segments: Sequence[Segment], translations: Sequence[Translation]) -> tuple[dict[int, list[Event]], frozenset[str]]:
    """Each block with sentences, in English with its markup put back (`markup.place`),
    by block number; and the ids of sentences whose markup was placed without
    confidence. Blocks without sentences are left out: they are written as they were."""
    blocks, unsure = {}, set()
    for number, (sentences, ids) in block_sentences(segments, translations).items():
        line = doc.lines[number - 1]
        blocks[number], doubtful = place(line.text, line.markup, sentences)
        unsure.update(ids[k] for k in doubtful)
    return blocks, frozenset(unsure)


def protected_unit(text: str, spans: Sequence[tuple[int, int]], at: int | None = None) -> tuple[str, tuple[Inline, ...], tuple[tuple[int, int], ...]]:
    """A text unit without protected markup (such as `Protector.spans` finds): its
    plain text, each protected span as void markup (its `open` the span's text) with
    the whitespace before it (after it, before the unit's first word), and the plain
    text's `Line.origin` when the unit is the source's text from offset `at` on."""
    plain, markup, pos, runs = "", [], 0, []
    for a, b in spans:
        runs.append((len(plain), len(plain) + a - pos, pos, a))
        plain += text[pos:a]
        if plain.strip():
            kept = plain.rstrip()
            raw, plain = plain[len(kept) :] + text[a:b], kept
        else:
            after = len(text) - b - len(text[b:].lstrip())
            raw, b = text[a : b + after], b + after
        markup.append(Inline(len(plain), len(plain), raw, void=True, parent=None))
        pos = b
    runs.append((len(plain), len(plain) + len(text) - pos, pos, len(text)))
    plain += text[pos:]
    where = () if at is None else origin((p, min(q, len(plain)), at + a, at + b) for p, q, a, b in runs if p < min(q, len(plain)))
    return plain, tuple(markup), where


def protected_line(text: str, options: ReadOptions, source: str, start: int, extra: Sequence[tuple[int, int]] = ()) -> Line:
    """A unit of plain text (a title, a front matter value, an attribute's), its
    protected spans (and the `extra` ones, sorted and disjoint, such as code) void; its
    origin when the source at `start` reads as the text."""
    spans = sorted([*extra, *(s for s in options.protect.spans(text) if all(s[1] <= a or s[0] >= b for a, b in extra))])
    plain, markup, where = protected_unit(text, spans, start if source.startswith(text, start) else None)
    return Line(0, plain, "", markup, where)


def unit_text(events: Sequence[Event], markup: Sequence[Inline]) -> str:
    """A unit's English with its void markup (a unit of `protected_unit`)."""
    return "".join(str(value) if kind == "text" else markup[int(value)].open for kind, value in events if kind in ("text", "void"))
