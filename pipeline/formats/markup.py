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

The English keeps its own spacing: between two words comes the separator the
translation has there (a no-break space in "10 000" or before "?" stays), between
sentences the source's text. Only where wordless markup (a break, a tab, a URL) is
put between two words are the separator's ASCII whitespace runs made one space,
which each format then spaces its markup with, its own way.

Markup that covers part of a French word goes around the same part of the English
word when the cut is trivial to find again: the two words read as the same sequence
of runs of digits, of letters and of other characters (`1er` and `1st`, `voir.`
and `see.`), and each cut falls between a run of digits and one of letters, or
leaves only punctuation on one side (`1<sup>er</sup>` → `1<sup>st</sup>`, `<b>gras</b>,`
→ `<b>bold</b>,`, a URL glued before a full stop stays before it), and the French
word goes to one English word. Otherwise it goes around the whole English words (a
void after them), as for whole words: `l'<em>UE</em>` → `<em>L'UE</em>`,
`<b>anti</b>-vaccins` → `<b>anti-vaxxers</b>`.

Pure: formats turn the events into bytes their own way.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from ..wordalign import Links, project_spans, word_spans

UNKNOWN = -1  # Inline.parent of a format that does not say: found from the spans


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


class _Projection:
    """Source character positions → boundaries between the block's English words."""

    def __init__(self, text: str, sentences: Sequence[Sentence]):
        self.sentences = sentences
        self.starts = [s.start for s in sentences]
        self.ends = [s.end for s in sentences]
        words = [word_spans(text[s.start : s.end], s.start) for s in sentences]
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


_RUNS = re.compile(r"(?P<digits>\d+)|(?P<letters>[^\W\d_]+)|(?P<other>[\W_]+)")
_ASCII_SPACE = re.compile(r"[ \t\n\r\f\v]+")


def _runs(word: str) -> list[tuple[str, int]]:
    """The word's runs of digits, of letters and of other characters: (kind, start)."""
    return [(m.lastgroup, m.start()) for m in _RUNS.finditer(word)]


def _same_cuts(french: str, cuts: Sequence[int], english: str) -> list[int] | None:
    """Where the English word is cut as the French word is at `cuts` (inside it), when
    that is trivial (see the module docstring); None when it is not."""
    ours, theirs = _runs(french), _runs(english)
    kinds, starts = [kind for kind, _ in ours], [start for _, start in ours]
    if kinds != [kind for kind, _ in theirs]:
        return None
    found = []
    for cut in cuts:
        if cut not in starts:
            return None
        k = starts.index(cut)
        if not ({kinds[k - 1], kinds[k]} == {"digits", "letters"} or {*kinds[:k]} == {"other"} or {*kinds[k:]} == {"other"}):
            return None
        found.append(theirs[k][1])
    return found


class _English:
    """The block's English as pieces, words cut where markup goes inside them, and what
    comes before each piece: the source's text before the first sentence or between
    two, the translation's own separator between its words (`spaced`), nothing
    inside a word. English word g is cut at `bounds[g]` and starts piece `first[g]`."""

    def __init__(self, text: str, sentences: Sequence[Sentence], cuts: dict[int, list[int]]):
        self.pieces: list[str] = []
        self.before: list[str] = []
        self.spaced: list[bool] = []
        self.first: list[int] = []
        self.bounds: list[list[int]] = []
        pending, end = "", 0
        for s in sentences:
            pending += text[end : s.start]
            end = s.end
            for j, m in enumerate(re.finditer(r"(\s*)(\S+)", s.english)):
                separator, word = m.groups()
                bounds = [0, *cuts.get(len(self.first), ()), len(word)]
                self.first.append(len(self.pieces))
                self.bounds.append(bounds)
                for a, b in zip(bounds, bounds[1:]):
                    self.pieces.append(word[a:b])
                    self.before.append("" if a else separator if j else pending)
                    self.spaced.append(bool(j) and not a)
                pending = ""
        self.first.append(len(self.pieces))
        self.tail = pending + text[end:]

    def at(self, word: int, offset: int = 0) -> int:
        """The piece boundary `offset` characters into English word `word`: its start,
        one of its cuts, or its end."""
        return self.first[word] + (self.bounds[word].index(offset) if offset else 0)


def place(text: str, markup: Sequence[Inline], sentences: Sequence[Sentence]) -> tuple[list[Event], set[int]]:
    """The block in English as events: text, and each element of `markup` opened and
    closed (or, void, placed) once, well nested; and the indices of the sentences
    whose markup the links could not place with confidence (no links, an element moved
    to keep the nesting, or siblings that would have overlapped: those sentences are
    placed again without their links, their elements in source order)."""
    events, unsure, crossed = _place(text, markup, sentences, frozenset())
    if not crossed:
        return events, unsure
    unlinked = [Sentence(s.start, s.end, s.english, None) if k in crossed else s for k, s in enumerate(sentences)]
    events, unsure, _ = _place(text, markup, unlinked, frozenset(crossed))
    return events, unsure | crossed


def _place(text: str, markup: Sequence[Inline], sentences: Sequence[Sentence], ordered: frozenset[int]) -> tuple[list[Event], set[int], set[int]]:
    """`place`, with the elements of the `ordered` sentences placed one after another in
    source order; and the sentences whose siblings overlap in the English."""
    projection = _Projection(text, sentences)
    covered = [[] if m.void else projection.covered(m.start, m.end) for m in markup]
    anchors = {i: projection.before(m.start) for i, (m, words) in enumerate(zip(markup, covered)) if not words}
    targets = projection.targets({w for words in covered for w in words} | {w for w in anchors.values() if w is not None})
    words = [w for s in sentences for w in s.english.split()]
    inside = {i: where for i in range(len(markup)) if (where := _in_word(text, markup[i], covered[i] or [anchors[i]], projection, targets, words))}
    cuts: dict[int, list[int]] = {}
    for word, offsets in inside.values():
        cuts[word] = sorted({*cuts.get(word, ()), *(c for c in offsets if 0 < c < len(words[word]))})
    english = _English(text, sentences, cuts)
    parents, order = _tree(markup)
    sentence_starts = [s.start for s in sentences]
    sentence_of = [max(0, bisect_right(sentence_starts, m.start) - 1) for m in markup]  # the sentence each element starts in
    end = len(text.rstrip())
    siblings: dict[int | None, _Siblings] = {}
    reached: dict[int | None, int] = {}  # for ordered sentences: where the last sibling placed ends
    spans: dict[int, tuple[int, int]] = {}
    for i in order:
        m, parent, k = markup[i], parents[i], sentence_of[i]
        if i in inside:
            word, offsets = inside[i]
            found = english.at(word, offsets[0]), english.at(word, offsets[-1])
        elif covered[i]:
            found = english.at(targets[covered[i][0]][0]), english.at(targets[covered[i][-1]][1])
        elif m.start >= end and end:  # after the last word: it stays at the end
            found = (len(english.pieces),) * 2
        else:
            g = english.at(0 if anchors[i] is None else targets[anchors[i]][1])
            found = (g, g)
        a, b = found
        if k in ordered:
            a = max(a, reached.get(parent, 0))
            b = max(a, b)
        if parent is not None:  # inside its parent
            pa, pb = spans[parent]
            a, b = min(max(a, pa), pb), min(max(b, pa), pb)
        if not m.void:
            a, b = siblings.setdefault(parent, _Siblings()).fit(a, b)
        if k in ordered:
            reached[parent] = b
        if (a, b) != found or not (m.void or covered[i]):
            projection.unsure.add(k)
        spans[i] = (a, b)
    crossed = _crossed(parents, spans, sentence_of)
    return _events(english, markup, parents, spans, order), projection.unsure, crossed


def _crossed(parents: Sequence[int | None], spans: dict[int, tuple[int, int]], sentence_of: Sequence[int]) -> set[int]:
    """The sentences of the elements placed inside a sibling's English (an element that
    would nest in, or overlap, one it stood beside in the source)."""
    by_parent: dict[int | None, list[int]] = {}
    for i, parent in enumerate(parents):
        by_parent.setdefault(parent, []).append(i)
    crossed: set[int] = set()
    for kids in by_parent.values():
        reach, holder = -1, None
        for i in sorted(kids, key=lambda i: (spans[i][0], -spans[i][1])):
            a, b = spans[i]
            if a < reach:
                crossed.update(sentence_of[j] for j in (i, holder))
            if a < b and b > reach:
                reach, holder = b, i
    return crossed


def _in_word(
    text: str, m: Inline, words: list[_Words | None], projection: _Projection, targets: dict[_Words, tuple[int, int]], english: list[str]
) -> tuple[int, list[int]] | None:
    """Markup inside one French word that goes to one English word: that word, and the
    offsets in it of the markup's start and end (a void's place), when the word can
    be cut as the French one is; None otherwise."""
    if len(words) != 1 or words[0] is None or words[0][1] != words[0][2]:
        return None
    k, w, _ = words[0]
    a, b = targets[words[0]]
    ws, we = projection.word_starts[k][w], projection.word_ends[k][w]
    edges = [m.start] if m.void else [max(m.start, ws), min(m.end, we)]
    if b != a + 1 or not any(ws < e < we for e in edges):
        return None
    offsets = _same_cuts(text[ws:we], [e - ws for e in edges if ws < e < we], english[a])
    if offsets is None:
        return None
    at = iter(offsets)
    return a, [0 if e <= ws else len(english[a]) if e >= we else next(at) for e in edges]


def _events(english: _English, markup: Sequence[Inline], parents: Sequence[int | None], spans: dict[int, tuple[int, int]], order: list[int]) -> list[Event]:
    """Walk the boundaries between the English pieces: at each, close what ends there,
    put what wraps no English there (a void, an emptied element, with what it holds),
    write what comes before the piece (see _English; its ASCII whitespace made one
    space when something was put there), open what starts there, then write the
    piece; the source's text after the last sentence ends the block. What wraps no
    word goes inside its parent: before its parent's close when that ends there,
    after its open when that starts there, else as deep as the elements open there
    let it."""
    n = len(english.pieces)
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
        separator = english.before[g] if g < n else english.tail
        if here and g < n and english.spaced[g]:
            separator = _ASCII_SPACE.sub(" ", separator)
        while stack and spans[stack[-1]][1] <= g:
            events += put(here.pop(stack[-1], []))
            events.append(("close", stack.pop()))
        opens = sorted(opening.get(g, []), key=lambda i: -spans[i][1])  # stable: parents first
        starting = set(opens)
        events += put(sorted((i for p, units in here.items() if p not in starting for i in units), key=rank.__getitem__))
        if separator:
            events.append(("text", separator))
        if g == n:
            break
        for i in opens:
            events.append(("open", i))
            stack.append(i)
            events += put(here.get(i, []))
        events.append(("text", english.pieces[g]))
    while stack:
        events.append(("close", stack.pop()))
    return events
