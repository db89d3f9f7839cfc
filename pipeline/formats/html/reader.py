"""Reading a page into blocks: the inline elements of each block become the markup of
one line of plain text, mapped back to the source run by run."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from itertools import accumulate

from ...ingest import Line
from .. import frontmatter
from ..base import ReadOptions, origin, protected_line
from ..markup import Inline
from .tokens import (
    ATTRIBUTE,
    BLOCK,
    CHARREF,
    IN_SENTENCE,
    INLINE,
    INLINE_VOID,
    LANG_ATTRIBUTES,
    RUN,
    SPACE,
    TAG_NAME,
    TRANSLATED_ATTRIBUTES,
    TRANSLATED_META,
    VOID,
    Token,
    is_protected,
    marked_no,
)


@dataclass(frozen=True)
class Block:
    """Where a Line's English goes: its source range, each markup element's source ranges
    (open, close) for text blocks, and for an attribute value its quote ("" if bare)."""

    start: int
    end: int
    parts: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = ()
    quote: str | None = None


@dataclass(frozen=True)
class Layout:
    """What writing back needs: the decoded source, how to encode it, the blocks by line
    number - 1 after the front matter's fields (the first Document lines), fixed edits
    (lang="fr" → "en"), and the front matter."""

    source: str
    bom: bytes
    codec: str
    blocks: tuple[Block, ...]
    fixed: tuple[tuple[int, int, str], ...]
    front: frontmatter.FrontMatter | None = None


@dataclass
class _Item:
    """A piece of the block being read: text, an inline element's open or close tag
    (`pair`: the other one's index), or void markup (a `<br>`, an image, protected text)."""

    kind: str
    start: int
    end: int
    tag: str = ""
    pair: int | None = None


class Reader:
    """Walks the tokens once, gathering blocks, attribute values and lang edits."""

    def __init__(self, source: str, tokens: list[Token], options: ReadOptions):
        self.source, self.tokens, self.options = source, tokens, options
        self.blocks: list[tuple[Block, Line]] = []
        self.fixed: list[tuple[int, int, str]] = []
        self.items: list[_Item] = []
        self.unclosed: dict[str, list[int]] = {}  # the block's inline elements not closed yet: item indexes by name
        self.open_names: list[str] = []  # elements open in the document, for where raw ones end
        self.open_at: dict[str, list[int]] = {}  # each name's places in open_names
        k = 0
        while k < len(tokens):
            k = self._token(k) + 1
        self._flush()

    def _token(self, k: int) -> int:
        """Read token k; return the index of the last token it took."""
        tok = self.tokens[k]
        if tok.kind == "start" and tok.tag not in VOID and is_protected(tok):
            if not marked_no(tok):  # its content is kept; its attributes are read
                self._attributes(tok, lang=False)
            last = self._raw_end(k)
            closed = last < len(self.tokens) - 1 or (self.tokens[last].kind, self.tokens[last].tag) == ("end", tok.tag)
            if tok.tag in IN_SENTENCE and closed:
                self._void(tok.start, self.tokens[last].end, starts=True)
            else:  # a block, or the rest of the file (nothing of the block can follow it)
                self._flush()
            return last
        if tok.kind == "data":
            self._data(tok)
        elif tok.kind in ("start", "startend"):
            if not is_protected(tok):
                self._attributes(tok)
            self._start(tok)
        elif tok.kind == "end":
            self._end(tok)
        elif tok.kind == "rest":
            self._flush()
        elif self.items:
            self._void(tok.start, tok.end, starts=False)
        return k

    def _raw_end(self, k: int) -> int:
        """Last token of the never-translated element opened at k: its end tag, else the
        token before an end tag of an element open around it, else the last token."""
        tag, depth = self.tokens[k].tag, 0
        for j in range(k + 1, len(self.tokens)):
            t = self.tokens[j]
            if t.kind == "start" and t.tag == tag:
                depth += 1
            elif t.kind == "end" and t.tag == tag:
                if not depth:
                    return j
                depth -= 1
            elif t.kind == "end" and self.open_at.get(t.tag):
                return j - 1
        return len(self.tokens) - 1

    def _data(self, tok: Token) -> None:
        raw, start = self.source[tok.start : tok.end], tok.start
        if not self.items:  # a block starts at its first word
            start += len(raw) - len(raw.lstrip(SPACE))
            if start == tok.end:
                return
        for a, b in self.options.protect.spans(self.source, start, tok.end):
            self._text(start, a)
            self.items.append(_Item("void", a, b))
            start = b
        self._text(start, tok.end)

    def _text(self, start: int, end: int) -> None:
        if start < end:
            self.items.append(_Item("text", start, end))

    def _start(self, tok: Token) -> None:
        if tok.kind == "start" and tok.tag not in VOID:
            self.open_at.setdefault(tok.tag, []).append(len(self.open_names))
            self.open_names.append(tok.tag)
        if tok.tag == "br":
            self._br(tok)
        elif tok.tag in INLINE_VOID or (_inline(tok.tag) and tok.kind == "startend"):
            self._void(tok.start, tok.end, starts=True)
        elif _inline(tok.tag):
            self.unclosed.setdefault(tok.tag, []).append(len(self.items))
            self.items.append(_Item("open", tok.start, tok.end, tok.tag))
        else:
            self._flush()

    def _end(self, tok: Token) -> None:
        if self.open_at.get(tok.tag):  # closes it and whatever was left open inside it
            at = self.open_at[tok.tag][-1]
            for name in self.open_names[at:]:
                self.open_at[name].pop()
            del self.open_names[at:]
        if tok.tag in INLINE_VOID:
            self._void(tok.start, tok.end, starts=False)
        elif not _inline(tok.tag):
            self._flush()
        elif self.items:
            if self.unclosed.get(tok.tag):
                i = self.unclosed[tok.tag].pop()
                self.items[i].pair = len(self.items)
                self.items.append(_Item("close", tok.start, tok.end, tok.tag, i))
            else:  # a stray end tag: kept where it is
                self._void(tok.start, tok.end, starts=False)

    def _void(self, start: int, end: int, starts: bool) -> None:
        """Void markup; it opens a block only when `starts` (an image, protected code)."""
        if self.items or starts:
            self.items.append(_Item("void", start, end))

    def _br(self, tok: Token) -> None:
        """A `<br>` is void markup in its block; a second one right after it (only
        whitespace between) ends the block before the first, unless an inline element
        is still open."""
        if not self.items:
            return
        last = len(self.items) - 1
        while last and self.items[last].kind == "text" and not self.source[self.items[last].start : self.items[last].end].strip(SPACE):
            last -= 1
        if self.items[last].tag == "br" and not any(self.unclosed.values()):
            del self.items[last:]
            self._flush()
        else:
            self.items.append(_Item("void", tok.start, tok.end, "br"))

    def _attributes(self, tok: Token, lang: bool = True) -> None:
        """Translated attributes' values (and a described <meta>'s content) become
        blocks; lang="fr" becomes "en" if `lang`."""
        raw = self.source[tok.start : tok.end]
        named = {key: (value or "").strip().lower() for key, value in tok.attrs if key in ("name", "property")}
        meta = tok.tag == "meta" and not TRANSLATED_META.isdisjoint(named.values())
        for m in ATTRIBUTE.finditer(raw, TAG_NAME.match(raw).end()):
            if m.group(2) is None:
                continue
            name, value = m.group(1).lower(), m.group(2)
            quote = value[0] if value[:1] in ("'", '"') else ""
            start = tok.start + m.start(2) + len(quote)
            end = tok.start + m.end(2) - len(quote)
            runs = _decoded(self.source, start, end)
            text = "".join(run for run, _, _ in runs)
            if (name in TRANSLATED_ATTRIBUTES or meta and name == "content") and text.strip():
                line = protected_line(text, self.options, self.source, start)
                if not line.markup:
                    line = Line(0, text, "", (), _origin(runs))
                self.blocks.append((Block(start, end, quote=quote), line))
            elif lang and name in LANG_ATTRIBUTES and re.fullmatch(r"fr(?:-\w+)*", text.strip(), re.IGNORECASE):
                self.fixed.append((start, end, "en"))

    def _flush(self) -> None:
        """End the block being read; keep it if it has text to translate."""
        items, self.items, self.unclosed = self.items, [], {}
        while items and items[-1].kind == "text" and not self.source[items[-1].start : items[-1].end].strip(SPACE):
            items.pop()
        if not any(item.kind == "text" for item in items):
            return
        if items[-1].kind == "text":  # the block ends at its last word
            raw = self.source[items[-1].start : items[-1].end]
            items[-1].end -= len(raw) - len(raw.rstrip(SPACE))
        for item in items:  # an unknown element left open (an autolink read as a tag) wraps nothing
            if item.kind == "open" and item.pair is None and item.tag not in INLINE:
                item.kind = "void"
        items = _wordless_whole(self.source, items)
        _absorb_spaces(self.source, items)
        block, text, markup, where = _plain(self.source, items)
        if text.strip():
            self.blocks.append((block, Line(0, text, "", markup, where)))


def _inline(tag: str) -> bool:
    """Whether an element stays inside the block it is in."""
    return tag in INLINE or tag not in BLOCK and tag not in VOID


def _plain(source: str, items: list[_Item]) -> tuple[Block, str, tuple[Inline, ...], tuple[tuple[int, int], ...]]:
    """A block's plain text (entities decoded, whitespace runs as one space), its
    markup at their places in it, each in the element it was in, and its origin."""
    text, spans, parts, parents, runs = "", [], [], [], []
    index: dict[int, int] = {}  # item → markup element
    around: list[int] = []  # the elements open here, innermost last
    added = -1  # where a space was put in that the source lacks
    took = -1  # where a space stands for the whitespace a void took
    for k, item in enumerate(items):
        if item.kind == "text":
            decoded = _decoded(source, item.start, item.end)
            if took == len(text) - 1 and _punctuation_first(decoded):  # "voir <code>x</code>." reads "voir."
                text, added, took = text[:-1], -1, -1
                spans = [(min(a, len(text)), None if b is None else min(b, len(text))) for a, b in spans]
            for run, a, b in decoded:
                if not (run == " " and text.endswith(" ")):
                    runs.append((len(text), len(text) + len(run), a, b))
                    text += run
        elif item.kind == "close":
            i = index[item.pair]
            spans[i] = (spans[i][0], len(text))
            parts[i] = (parts[i][0], (item.start, item.end))
            if around[-1] == i:
                around.pop()
            else:
                around.remove(i)
        else:
            if item.kind == "void" and source[item.start] in SPACE and text and not text.endswith(" "):
                took = added = len(text)
                text += " "  # after the space it took: outside an element closed before it
            index[k] = len(spans)
            parents.append(around[-1] if around else None)
            if item.kind == "open":
                around.append(index[k])
            spans.append((len(text), len(text) if item.kind == "void" else None))
            parts.append(((item.start, item.end), (item.end, item.end)))  # unclosed: closes with nothing
            if item.tag == "br" and text and not text.endswith(" "):
                added, text = len(text), text + " "  # a line break parts words
    if added == len(text) - 1:  # no word after it
        text = text[:-1]
    n = len(text)
    markup = tuple(
        Inline(min(a, n), n if b is None else min(b, n), source[slice(*o)], source[slice(*c)], items[k].kind == "void", parent)
        for k, (a, b), (o, c), parent in zip(index, spans, parts, parents)
    )
    return Block(items[0].start, items[-1].end, tuple(parts)), text, markup, origin(runs)


def _punctuation_first(runs: list[tuple[str, int, int]]) -> bool:
    """Whether decoded text starts with punctuation, no letter or digit before its first space."""
    first = "".join(run for run, _, _ in runs).split(" ", 1)[0]
    return bool(first) and not any(c.isalnum() for c in first)


def _decoded(source: str, start: int, end: int) -> list[tuple[str, int, int]]:
    """source[start:end] as a block's text reads it, in runs with the source range
    each came from: entities decoded (what `html.unescape` decodes), whitespace runs
    (entities of whitespace too) as one space."""
    atoms, pos = [], start
    for m in CHARREF.finditer(source, start, end):
        atoms += [(r.group(), r.start(), r.end()) for r in RUN.finditer(source, pos, m.start())]
        atoms += [(ch, m.start(), m.end()) for ch in unescape(m.group())]
        pos = m.end()
    atoms += [(r.group(), r.start(), r.end()) for r in RUN.finditer(source, pos, end)]
    runs: list[tuple[str, int, int]] = []
    for run, a, b in atoms:
        if run[0] not in SPACE:
            runs.append((run, a, b))
        elif runs and runs[-1][0] == " ":
            runs[-1] = (" ", runs[-1][1], b)
        else:
            runs.append((" ", a, b))
    return runs


def _origin(runs: list[tuple[str, int, int]]) -> tuple[tuple[int, int], ...]:
    """The origin of text made of these runs end to end."""
    pieces, at = [], 0
    for run, a, b in runs:
        pieces.append((at, at + len(run), a, b))
        at += len(run)
    return origin(pieces)


def _wordless_whole(source: str, items: list[_Item]) -> list[_Item]:
    """An inline element that wraps no word (an image link, a link around code, an
    empty one) becomes one void markup item, so the English keeps it whole."""
    out: list[_Item] = []
    moved: dict[int, int] = {}
    words = list(accumulate((item.kind == "text" and bool(source[item.start : item.end].strip(SPACE)) for item in items), initial=0))
    k = 0
    while k < len(items):
        moved[k] = len(out)
        last = _wordless_end(items, k, words)
        if last is None:
            out.append(items[k])
            k += 1
        else:
            out.append(_Item("void", items[k].start, items[last].end))
            k = last + 1
    for item in out:
        if item.pair is not None:
            item.pair = moved[item.pair]
    return out


def _wordless_end(items: list[_Item], k: int, words: list[int]) -> int | None:
    """If items[k] opens an element that wraps no word and only whole elements, the
    index of its last item (its end tag, or the block's end when unclosed). `words`:
    how many texts with a word the items before each index hold."""
    if items[k].kind != "open":
        return None
    last = len(items) - 1 if items[k].pair is None else items[k].pair
    if words[last + 1] > words[k + 1]:
        return None
    for item in items[k + 1 : last + 1]:
        if item.kind == "open" and (last if item.pair is None else item.pair) > last or item.kind == "close" and item.pair < k:
            return None
    return last


def _absorb_spaces(source: str, items: list[_Item]) -> None:
    """Void markup takes the whitespace before it (after it, before the block's first
    word), so that it keeps its spacing wherever the English places it."""
    seen_word = False
    for k, item in enumerate(items):
        if item.kind == "text":
            seen_word = seen_word or bool(source[item.start : item.end].strip(SPACE))
        elif item.kind == "void" and seen_word and k and items[k - 1].kind == "text":
            before = items[k - 1]
            moved = len(source[before.start : before.end]) - len(source[before.start : before.end].rstrip(SPACE))
            before.end -= moved
            item.start -= moved
        elif item.kind == "void" and not seen_word and k + 1 < len(items) and items[k + 1].kind == "text":
            after = items[k + 1]
            moved = len(source[after.start : after.end]) - len(source[after.start : after.end].lstrip(SPACE))
            after.start += moved
            item.end += moved
