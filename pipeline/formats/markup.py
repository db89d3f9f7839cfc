"""Inline markup carried across translation: tags put back around the English words
aligned to the French words they wrapped.

A block (a paragraph, a heading, a table cell) is translated as plain text, its
inline markup (`<a>`, `<em>`, Markdown emphasis, a Word run's formatting) taken out;
`place` puts every piece of it back into the English, as Bergamot does, using the
sentences' word links and `project_spans`: each element wraps the English words
linked to the French words it wrapped, and whatever wraps no word (`<br>`, an
image, a protected URL) follows the English of the French word before it. The
result is always well nested, and no element is ever lost: when links cannot place
one, it is kept at the nearest sensible place and its sentence is reported.

Pure: formats turn the events into bytes their own way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..wordalign import Links, project_spans


@dataclass(frozen=True)
class Inline:
    """Markup inside a block: it wraps text[start:end] of the block's plain text; a
    void one (a line break, an image, a URL kept out of translation) sits at `start`.
    `open` and `close` are its source text, written back as they were."""

    start: int
    end: int
    open: str
    close: str = ""
    void: bool = False


@dataclass(frozen=True)
class Sentence:
    """A translated sentence of the block: its span in the block's plain text, its
    English, and the word links between them (None when unknown)."""

    start: int
    end: int
    english: str
    links: Links | None


# Events: ("text", str), ("open", i), ("close", i), ("void", i); i indexes the markup.
Event = tuple[str, object]


def _words(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Character spans of the whitespace-separated words of text."""
    spans, start = [], None
    for i, ch in enumerate(text):
        if ch.isspace():
            if start is not None:
                spans.append((offset + start, offset + i))
                start = None
        elif start is None:
            start = i
    if start is not None:
        spans.append((offset + start, offset + len(text)))
    return spans


class _Projection:
    """Source character positions → boundaries between the block's English words."""

    def __init__(self, text: str, sentences: Sequence[Sentence]):
        self.sentences = sentences
        self.source_words = [_words(text[s.start : s.end], s.start) for s in sentences]
        self.offsets, total = [], 0
        for s in sentences:
            self.offsets.append(total)
            total += len(s.english.split())
        self.total = total
        self.unsure: set[int] = set()

    def _target(self, k: int, first: int, last: int) -> tuple[int, int]:
        """English word span (block-wide) of source words first..last of sentence k."""
        sentence, n_target = self.sentences[k], len(self.sentences[k].english.split())
        n_source = len(self.source_words[k])
        if sentence.links is None or not sentence.links:
            self.unsure.add(k)
            a = first * n_target // max(1, n_source)
            b = max(a + (n_target > 0), -(-(last + 1) * n_target // max(1, n_source)))
        else:
            [(a, b)] = project_spans([(first, last + 1)], sentence.links, n_target)
        return self.offsets[k] + a, self.offsets[k] + min(b, n_target)

    def span(self, start: int, end: int) -> tuple[int, int] | None:
        """English word span of the source words that [start, end) overlaps; None when
        it overlaps none."""
        hits = []
        for k, words in enumerate(self.source_words):
            inside = [w for w, (a, b) in enumerate(words) if a < end and start < b]
            if inside:
                hits.append(self._target(k, inside[0], inside[-1]))
        if not hits:
            return None
        return min(a for a, _ in hits), max(b for _, b in hits)

    def anchor(self, position: int) -> int:
        """The English boundary for a source position no word covers: after the
        English of the last French word that starts before it (the block's start
        when none does)."""
        before = [(k, w) for k, words in enumerate(self.source_words) for w, (a, _) in enumerate(words) if a < position]
        if not before:
            return 0
        k, w = before[-1]
        return self._target(k, w, w)[1]


def place(text: str, markup: Sequence[Inline], sentences: Sequence[Sentence]) -> tuple[list[Event], set[int]]:
    """The block in English as events: text, and each element of `markup` opened and
    closed (or, void, placed) once, well nested; and the indices of the sentences
    whose markup the links could not place with confidence (no links, or an element
    moved to keep the nesting)."""
    projection = _Projection(text, sentences)
    order = sorted(range(len(markup)), key=lambda i: (markup[i].start, -markup[i].end, i))
    spans: dict[int, tuple[int, int]] = {}
    parents: dict[int, int | None] = {}
    for i in order:
        m = markup[i]
        found = None if m.void else projection.span(m.start, m.end)
        if found is None:
            g = projection.anchor(m.start)
            found = (g, g)
            if not m.void:
                projection.unsure.add(_sentence_at(sentences, m.start))
        containers = [j for j in spans if not markup[j].void and markup[j].start <= m.start and m.end <= markup[j].end and j != i]
        parent = max(containers, key=lambda j: (markup[j].start, -markup[j].end), default=None)
        parents[i] = parent
        a, b = found
        if parent is not None:  # inside its parent
            pa, pb = spans[parent]
            a, b = min(max(a, pa), pb), min(max(b, pa), pb)
        for j, (ja, jb) in spans.items():  # no partial overlap with what is placed already
            if parents.get(j) == parent and j != i and not markup[j].void:
                if ja < a < jb < b:
                    a = jb
                elif a < ja < b < jb:
                    b = ja
        if (a, b) != found:
            projection.unsure.add(_sentence_at(sentences, m.start))
        spans[i] = (a, b)
    return _events(text, sentences, markup, spans, order), projection.unsure


def _sentence_at(sentences: Sequence[Sentence], position: int) -> int:
    """The sentence a source position belongs to (the one before it in a gap)."""
    k = 0
    for index, s in enumerate(sentences):
        if s.start <= position:
            k = index
    return k


def _events(text: str, sentences: Sequence[Sentence], markup: Sequence[Inline], spans: dict[int, tuple[int, int]], order: list[int]) -> list[Event]:
    """Walk the English word boundaries: at each, close what ends there, place voids,
    write what comes before the word (the source's text before the first sentence or
    between two, else a space), open what starts there, then write the word; the
    source's text after the last sentence ends the block."""
    words = [w for s in sentences for w in s.english.split()]
    n = len(words)
    gaps = {0: text[: sentences[0].start] if sentences else text}
    total = 0
    for k, s in enumerate(sentences):
        if k:
            gaps[total] = gaps.get(total, "") + text[sentences[k - 1].end : s.start]
        total += len(s.english.split())
    tail = text[sentences[-1].end :] if sentences else ""
    rank = {i: r for r, i in enumerate(order)}  # parents before children on equal spans
    events: list[Event] = []
    stack: list[int] = []
    for g in range(n + 1):
        voids = [i for i in order if markup[i].void and spans[i][0] == g]
        while stack and spans[stack[-1]][1] <= g:
            closing = markup[stack[-1]]
            inside = [i for i in voids if closing.start <= markup[i].start <= closing.end]
            events += [("void", i) for i in inside] + [("close", stack.pop())]  # a void stays in the element it was in
            voids = [i for i in voids if i not in inside]
        events += [("void", i) for i in voids]
        # an element around no English word stays with the word before it, as voids do
        events += [e for i in order if not markup[i].void and spans[i] == (g, g) for e in (("open", i), ("close", i))]
        separator = gaps.get(g, " " if 0 < g < n else "")
        if g == n:
            if separator + tail:
                events.append(("text", separator + tail))
            break
        if separator:
            events.append(("text", separator))
        for i in sorted((i for i in order if not markup[i].void and spans[i][0] == g < spans[i][1]), key=lambda i: (-spans[i][1], rank[i])):
            events.append(("open", i))
            stack.append(i)
        events.append(("text", words[g]))
    while stack:
        events.append(("close", stack.pop()))
    return events
