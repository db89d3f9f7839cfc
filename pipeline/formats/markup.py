"""Inline markup carried across translation: tags put back around the English words
aligned to the French words they wrapped.

A block (a paragraph, a heading, a table cell) is translated as plain text, its
inline markup (`<a>`, `<em>`, Markdown emphasis, a Word run's formatting) taken out;
`place` puts every piece of it back into the English, as Bergamot does, using the
sentences' word links and `project_spans`: each element wraps the English words
linked to the French words it wrapped, inside the element that held it in the
source, and whatever wraps no word (`<br>`, an image, a protected URL) follows the
English of the French word before it, inside exactly the elements that held it. The
result is always well nested, and no element is ever lost: when links cannot place
one, it is kept at the nearest sensible place and its sentence is reported.

Pure: formats turn the events into bytes their own way.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from ..wordalign import Links, project_spans

UNKNOWN = -1  # Inline.parent of a format that does not say: found from the spans
# Running text kept out of translation: a URL (an entity such as `&amp;` taken whole,
# final punctuation left out) or an e-mail address.
URL_OR_EMAIL = re.compile(
    r"""(?:https?://|ftp://|www\.)(?:&#?\w+;|&(?!#?\w+;)|[^\s<>"'«»&])*(?:&#?\w+;|[^\s<>"'«»&.,;:!?)\]])"""
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b"
)


@dataclass(frozen=True)
class Inline:
    """Markup inside a block: it wraps text[start:end] of the block's plain text; a
    void one (a line break, an image, a URL kept out of translation) sits at `start`.
    `open` and `close` are its source text, written back as they were. `parent` is
    the index in the block's markup of the innermost element around it in the source
    (None: none is), which tells an image just inside a link's edge from one just
    outside it; UNKNOWN takes the innermost non-void element whose span holds it."""

    start: int
    end: int
    open: str
    close: str = ""
    void: bool = False
    parent: int | None = UNKNOWN


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
_Words = tuple[int, int, int]  # sentence index, first and last source word in it


def _words(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Character spans of the whitespace-separated words of text."""
    return [(offset + m.start(), offset + m.end()) for m in re.finditer(r"\S+", text)]


class _Projection:
    """Source character positions → boundaries between the block's English words."""

    def __init__(self, text: str, sentences: Sequence[Sentence]):
        self.sentences = sentences
        self.starts = [s.start for s in sentences]
        self.ends = [s.end for s in sentences]
        words = [_words(text[s.start : s.end], s.start) for s in sentences]
        self.word_starts = [[a for a, _ in w] for w in words]
        self.word_ends = [[b for _, b in w] for w in words]
        self.offsets, total = [], 0
        for s in sentences:
            self.offsets.append(total)
            total += len(s.english.split())
        self.unsure: set[int] = set()

    def covered(self, start: int, end: int) -> list[_Words]:
        """The source words [start, end) overlaps, sentence by sentence."""
        found = []
        for k in range(bisect_right(self.ends, start), bisect_left(self.starts, end)):
            first, last = bisect_right(self.word_ends[k], start), bisect_left(self.word_starts[k], end) - 1
            if first <= last:
                found.append((k, first, last))
        return found

    def before(self, position: int) -> _Words | None:
        """The last source word that starts before position (None when none does)."""
        for k in range(bisect_left(self.starts, position) - 1, -1, -1):
            w = bisect_left(self.word_starts[k], position) - 1
            if w >= 0:
                return k, w, w
        return None

    def targets(self, wanted: set[_Words]) -> dict[_Words, tuple[int, int]]:
        """English word spans (block-wide) of source word ranges, each sentence's links
        projected at once; a sentence without links is spread evenly and reported."""
        by_sentence: dict[int, list[_Words]] = {}
        for request in wanted:
            by_sentence.setdefault(request[0], []).append(request)
        found = {}
        for k, requests in by_sentence.items():
            sentence, offset = self.sentences[k], self.offsets[k]
            n_target, n_source = len(sentence.english.split()), max(1, len(self.word_starts[k]))
            if sentence.links:
                spans = project_spans([(first, last + 1) for _, first, last in requests], sentence.links, n_target)
            else:
                self.unsure.add(k)
                spans = [_spread(first, last, n_source, n_target) for _, first, last in requests]
            found.update({r: (offset + a, offset + min(b, n_target)) for r, (a, b) in zip(requests, spans)})
        return found


def _spread(first: int, last: int, n_source: int, n_target: int) -> tuple[int, int]:
    """Without links: the English words at the source words' relative place."""
    a = first * n_target // n_source
    return a, max(a + (n_target > 0), -(-(last + 1) * n_target // n_source))


class _Siblings:
    """English spans of the elements placed so far under one parent, kept disjoint or
    nested (a tree of nodes, children sorted by start), so that a new one is fitted
    in by walking down instead of looking at them all."""

    def __init__(self, start: int = 0, end: int = 0):
        self.start, self.end = start, end
        self.kids: list[_Siblings] = []
        self.kid_starts: list[int] = []

    def _straddling(self, point: int) -> list[_Siblings]:
        """The nodes that hold `point` strictly inside them, outermost first."""
        chain, node = [], self
        while True:
            k = bisect_left(node.kid_starts, point) - 1
            if k < 0 or node.kids[k].end <= point:
                return chain
            node = node.kids[k]
            chain.append(node)

    def fit(self, a: int, b: int) -> tuple[int, int]:
        """[a, b) cut so that it overlaps no sibling partly (it goes after one it starts
        inside of, before one it ends inside of), then kept."""
        if a >= b:
            return a, b
        a = next((n.end for n in self._straddling(a) if n.end < b), a)
        b = next((n.start for n in self._straddling(b) if n.start > a), b)
        node = self
        while True:  # down to the innermost node that holds it (an equal one holds it)
            k = bisect_right(node.kid_starts, a) - 1
            if k < 0 or node.kids[k].end < b:
                break
            node = node.kids[k]
        new = _Siblings(a, b)
        lo, hi = bisect_left(node.kid_starts, a), bisect_left(node.kid_starts, b)
        new.kids, new.kid_starts = node.kids[lo:hi], node.kid_starts[lo:hi]
        node.kids[lo:hi], node.kid_starts[lo:hi] = [new], [a]
        return a, b


def _tree(markup: Sequence[Inline]) -> tuple[list[int | None], list[int]]:
    """Each element's parent: as its format gave it, else (UNKNOWN) the innermost
    non-void element whose span holds it, the first of equal ones being the outer;
    and the elements parents first, each one's children in source order."""
    parents: list[int | None] = [None] * len(markup)
    children: dict[int | None, list[int]] = {}
    stack: list[int] = []
    for i in sorted(range(len(markup)), key=lambda i: (markup[i].start, -markup[i].end, i)):
        m = markup[i]
        while stack and markup[stack[-1]].end < m.end:
            stack.pop()
        parents[i] = (stack[-1] if stack else None) if m.parent == UNKNOWN else m.parent
        children.setdefault(parents[i], []).append(i)
        if not m.void:
            stack.append(i)
    order, todo = [], children.get(None, [])[::-1]
    while todo:
        i = todo.pop()
        order.append(i)
        todo += children.get(i, [])[::-1]
    return parents, order


def place(text: str, markup: Sequence[Inline], sentences: Sequence[Sentence]) -> tuple[list[Event], set[int]]:
    """The block in English as events: text, and each element of `markup` opened and
    closed (or, void, placed) once, well nested; and the indices of the sentences
    whose markup the links could not place with confidence (no links, or an element
    moved to keep the nesting)."""
    projection = _Projection(text, sentences)
    covered = [[] if m.void else projection.covered(m.start, m.end) for m in markup]
    anchors = {i: projection.before(m.start) for i, (m, words) in enumerate(zip(markup, covered)) if not words}
    targets = projection.targets({w for words in covered for w in words} | {w for w in anchors.values() if w is not None})
    parents, order = _tree(markup)
    sentence_starts = [s.start for s in sentences]
    siblings: dict[int | None, _Siblings] = {}
    spans: dict[int, tuple[int, int]] = {}
    for i in order:
        m, parent = markup[i], parents[i]
        if covered[i]:
            found = targets[covered[i][0]][0], targets[covered[i][-1]][1]
        else:
            g = 0 if anchors[i] is None else targets[anchors[i]][1]
            found = (g, g)
        a, b = found
        if parent is not None:  # inside its parent
            pa, pb = spans[parent]
            a, b = min(max(a, pa), pb), min(max(b, pa), pb)
        if not m.void:
            a, b = siblings.setdefault(parent, _Siblings()).fit(a, b)
        if (a, b) != found or not (m.void or covered[i]):
            projection.unsure.add(max(0, bisect_right(sentence_starts, m.start) - 1))
        spans[i] = (a, b)
    return _events(text, sentences, markup, parents, spans, order), projection.unsure


def _events(
    text: str, sentences: Sequence[Sentence], markup: Sequence[Inline], parents: Sequence[int | None], spans: dict[int, tuple[int, int]], order: list[int]
) -> list[Event]:
    """Walk the English word boundaries: at each, close what ends there, put what
    wraps no English word there (a void, an emptied element, with what it holds),
    write what comes before the word (the source's text before the first sentence or
    between two, else a space), open what starts there, then write the word; the
    source's text after the last sentence ends the block. What wraps no word goes
    inside its parent: before its parent's close when that ends there, after its
    open when that starts there, else as deep as the elements open there let it."""
    words = [w for s in sentences for w in s.english.split()]
    n = len(words)
    gaps = {0: text[: sentences[0].start] if sentences else text}
    total = 0
    for k, s in enumerate(sentences):
        if k:
            gaps[total] = gaps.get(total, "") + text[sentences[k - 1].end : s.start]
        total += len(s.english.split())
    tail = text[sentences[-1].end :] if sentences else ""
    rank = {i: r for r, i in enumerate(order)}
    empty = {i for i in order if not markup[i].void and spans[i][0] == spans[i][1]}
    opening: dict[int, list[int]] = {}  # by boundary, outer first
    points: dict[int, dict[int | None, list[int]]] = {}  # wordless, by boundary and parent
    held: dict[int, list[int]] = {}  # what an emptied element holds
    for i in order:
        a, b = spans[i]
        if a < b:
            opening.setdefault(a, []).append(i)
        elif parents[i] in empty:
            held.setdefault(parents[i], []).append(i)
        else:
            points.setdefault(a, {}).setdefault(parents[i], []).append(i)

    def put(units: list[int]) -> list[Event]:
        """The events of wordless units: a void, or an emptied element around what it held."""
        out: list[Event] = []
        todo = [("unit", i) for i in reversed(units)]
        while todo:
            kind, i = todo.pop()
            if kind == "close" or markup[i].void:
                out.append((kind if kind == "close" else "void", i))
            else:
                out.append(("open", i))
                todo += [("close", i)] + [("unit", k) for k in reversed(held.get(i, []))]
        return out

    events: list[Event] = []
    stack: list[int] = []
    for g in range(n + 1):
        here = points.get(g, {})
        while stack and spans[stack[-1]][1] <= g:
            events += put(here.pop(stack[-1], []))
            events.append(("close", stack.pop()))
        opens = sorted(opening.get(g, []), key=lambda i: -spans[i][1])  # stable: parents first
        starting = set(opens)
        events += put(sorted((i for p, units in here.items() if p not in starting for i in units), key=rank.__getitem__))
        separator = gaps.get(g, " " if 0 < g < n else "")
        if g == n:
            if separator + tail:
                events.append(("text", separator + tail))
            break
        if separator:
            events.append(("text", separator))
        for i in opens:
            events.append(("open", i))
            stack.append(i)
            events += put(here.get(i, []))
        events.append(("text", words[g]))
    while stack:
        events.append(("close", stack.pop()))
    return events
