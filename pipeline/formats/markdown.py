r"""Markdown (.md, .markdown): each block's text translated in place, every other byte kept.

Blocks are what markdown-it (CommonMark, GFM tables and strikethrough, YAML/TOML front
matter) reads as inline text: paragraphs (in list items and block quotes too), ATX and
setext headings, table cells. Fenced and indented code, front matter, HTML blocks,
reference definitions and thematic breaks are no block: copied as they are, as is
everything around a block's text (markers, indentation, line endings, an ATX
heading's closing `#`s, a table's pipes and alignment row).

Inside a block the model sees plain text. markdown-it's inline tokens are walked over
the block's content, each character of which is mapped back to the source, so every
piece of markup is written back as the source text it came from:
- emphasis (`*`, `_`, `**`, `__`, `~~`), links (`[` … `](dest "title")`, `][ref]`, the
  title untranslated) and paired inline HTML (`<sup>` … `</sup>`) wrap text:
  `markup.place` puts them around the English words linked to the French words they
  wrapped; punctuation ending (or opening) the French word next to the markup stays
  outside it (`**gras**,` → `**bold**,`). A collapsed or shortcut reference link
  (`[texte][]`, `[texte]`) whose English no longer matches its label is written
  `[English][texte]`, so it still finds its definition. An element that wraps no
  text (`[`code`](url)`) is void as a whole;
- code spans, images (alt text untranslated), autolinks, unpaired inline HTML, and
  URLs and e-mail addresses in running text are void: the model never sees them.
  Each takes the whitespace before it along (after it, at the block's start), and a
  word glued after it (`` `Promise`-based ``, `` `x`s ``), so the English keeps its
  spacing; one that starts or ends an element's text goes with that element's
  opening or closing markup;
- line breaks, soft or hard, are void too: the model sees a space and the English
  keeps the source's line structure, each break (trailing spaces or backslash, line
  ending, the next line's `> ` or indentation) after the English of the French word
  before it. Breaks that land together are written once (the hard one if any), one
  with no English after it not at all;
- a backslash escape is its character for the model; a character that is inline
  syntax (`` \ ` * _ [ ] < > & | ~ ! ``) and was escaped in the block is escaped
  wherever it comes in the block's English; other escapes (`\.`, `\#`) only matter
  at a line's start, where English that would read as block syntax (`# `, `- `,
  `1. `, `> `, a fence, `===`, `<div`) always gets a backslash. An entity
  (`&eacute;`) is its character for the model and is written back as that entity.
  A pipe in a table cell is always written `\|`.
The file is written back in its own encoding, characters it lacks as character
references (Markdown reads them like HTML does).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.common.utils import normalizeReference
from markdown_it.helpers import parseLinkLabel
from markdown_it.rules_inline import StateInline, autolink, backtick, image, link
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

from ..ingest import Document, IngestError, Line, decode
from ..segment import Segment
from ..translate import Translation
from .base import Written, origin, placed_blocks, register
from .markup import URL_OR_EMAIL, Event, Inline

_NEWLINE = re.compile(r"\r\n|\r|\n")
# A soft or hard line break in a block's content, as markdown-it consumed it.
_BREAK = re.compile(r"[ \t]*\\?\n[ \t]*")
_HARD_BREAK = re.compile(r" {2,}|[ \t]*\\")
_TAG = re.compile(r"<(?P<close>/)?(?P<name>[A-Za-z][A-Za-z0-9-]*)[^>]*?(?P<self>/)?>", re.DOTALL)
_VOID_ELEMENTS = frozenset("area br col embed hr img input source track wbr".split())
_INLINE_SYNTAX = frozenset("\\`*_[]<>&|~!")
# English starting a line that Markdown would read as block syntax; an ordered list marker.
_BLOCK_SYNTAX = re.compile(r"#{1,6}(?:[ \t]|$)|[-+*](?:[ \t]|$)|>|(?:[-=*_][ \t]*)+$|`{3}|~{3}|<[A-Za-z/!?]")
_ORDERED = re.compile(r"\d{1,9}(?=[.)](?:[ \t]|$))")
_LINE = re.compile(r"[^\r\n]*")


class _Unparsed(Exception):
    """A block whose source the inline tokens could not be mapped back onto."""


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    """CommonMark with GFM tables and strikethrough and front matter; escapes and
    entities stay tokens of their own (no text_join), so their source is known."""
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).use(front_matter_plugin).disable("text_join")


@dataclass(frozen=True)
class _Block:
    """What writing a block back needs: its source range (its text's first character
    to its last), the indices of its markup that are line breaks, its spellings of
    characters, its label-dependent links (index → label, and the closing `]` or
    `][]`), and whether its text starts a line."""

    start: int
    end: int
    breaks: frozenset[int]
    respell: tuple[tuple[str, str], ...]
    labels: dict[int, tuple[str, str]]
    line_start: bool


@dataclass(frozen=True)
class _Layout:
    """A Markdown Document's layout: the decoded source, and its blocks."""

    source: str
    blocks: tuple[_Block, ...]  # one per Document line


@dataclass(eq=False)
class _Piece:
    """Markup met in a walk: its start (and end) in the plain text, the content ranges
    of its opening (a void's whole) and closing source; a line break; a link's label
    and closing `]` or `][]` when the label is its text; the element it is in."""

    start: int
    open: tuple[int, int]
    close: tuple[int, int] = (0, 0)
    end: int = 0
    void: bool = False
    brk: bool = False
    label: tuple[str, str] | None = None
    parent: _Piece | None = None


@dataclass(frozen=True)
class _Opened:
    """An element open in a walk, and the walk's state before it (to take the element
    back as one void if it wraps no text)."""

    key: object
    piece: _Piece
    text: int
    space_due: bool
    after_void: bool
    raw_end: int


class _Walk:
    """A block's inline tokens walked over its content: the plain text the model sees,
    and the markup taken out of it."""

    def __init__(self, content: str, env: dict):
        self.content = content
        self.state = StateInline(content, _parser(), env, [])
        self.text = ""
        self.runs: list[tuple[int, int, int, int]] = []  # the text's pieces: plain start, end; content start, end
        self.pieces: list[_Piece] = []
        self.respell: dict[str, str] = {}
        self.opened: list[_Opened] = []
        self.glue: _Piece | None = None  # markup that takes the whitespace after it
        self.space_due = False  # a line break or a void took the space before the next word
        self.after_void = False
        self.raw_end = 0  # where the source last taken as markup ends in the content

    def run(self, children: Sequence[Token]) -> None:
        """Walk the tokens; _Unparsed when they do not cover the content exactly."""
        pairs = _html_pairs(children)
        closers = {close: opener for opener, close in pairs.items()}
        cursor, skip = 0, 0
        for j, tok in enumerate(children):
            if skip:
                skip -= 1
                continue
            kind = tok.type
            if kind != "text":
                self.glue = None
            if kind == "text":
                self._expect(cursor, tok.content)
                self._text(cursor, tok.content)
                cursor += len(tok.content)
            elif kind == "text_special":  # an escape or an entity
                self._expect(cursor, tok.markup)
                if tok.info != "escape" or tok.content in _INLINE_SYNTAX:
                    self.respell.setdefault(tok.content, tok.markup)
                self._append(tok.content, cursor, cursor + len(tok.markup))
                cursor += len(tok.markup)
            elif kind in ("softbreak", "hardbreak"):
                cursor = self._break(cursor)
            elif kind == "code_inline":
                cursor = self._void(cursor, self._extent(backtick, cursor))
            elif kind == "image":
                cursor = self._void(cursor, self._extent(image, cursor))
            elif kind == "link_open" and tok.markup == "autolink":
                cursor = self._void(cursor, self._extent(autolink, cursor))
                skip = 2  # its text and link_close
            elif kind == "html_inline" and j not in pairs and j not in closers:
                self._expect(cursor, tok.content)
                cursor = self._void(cursor, cursor + len(tok.content))
            elif kind == "link_open":
                self.state.pos, self.state.posMax = cursor, len(self.content)
                label_end = parseLinkLabel(self.state, cursor, True)
                end = self._extent(link, cursor)
                piece = self._open("link", cursor, cursor + 1, (label_end, end))
                tail = self.content[label_end:end]
                if tail in ("]", "][]"):  # the label is the link's text
                    piece.label = (" ".join(self.content[cursor + 1 : label_end].split()), tail)
                cursor += 1
            elif kind.endswith("_open") or j in pairs:
                raw = tok.content if j in pairs else tok.markup
                self._expect(cursor, raw)
                self._open(j if j in pairs else kind[: -len("_open")], cursor, cursor + len(raw))
                cursor += len(raw)
            elif kind.endswith("_close") or j in closers:
                key = closers[j] if j in closers else kind[: -len("_close")]
                opened = next((o for o in reversed(self.opened) if o.key == key), None)
                if opened is None:
                    raise _Unparsed(kind)
                if key == "link":
                    close = opened.piece.close
                    if cursor != close[0]:
                        raise _Unparsed("link text")
                else:
                    raw = tok.content if j in closers else tok.markup
                    self._expect(cursor, raw)
                    close = (cursor, cursor + len(raw))
                cursor = self._close(opened, close)
            else:
                raise _Unparsed(kind)
            if kind != "text":
                self.raw_end = cursor
        if cursor != len(self.content) or self.opened:
            raise _Unparsed("content left over")

    def _expect(self, cursor: int, raw: str) -> None:
        if not self.content.startswith(raw, cursor):
            raise _Unparsed(raw)

    def _extent(self, rule, cursor: int) -> int:
        """Where the inline construct markdown-it's `rule` reads at cursor ends."""
        self.state.pos, self.state.posMax = cursor, len(self.content)
        if not rule(self.state, True):
            raise _Unparsed(rule.__name__)
        return self.state.pos

    def _trailing_space(self, cursor: int) -> int:
        """How much whitespace ends the text, when it lies in the content right before cursor."""
        ws = min(len(self.text) - len(self.text.rstrip()), cursor - self.raw_end)
        return ws if ws > 0 and self.content[cursor - ws : cursor] == self.text[-ws:] else 0

    def _text(self, cursor: int, text: str) -> None:
        """Running text, its URLs and e-mail addresses taken out as voids."""
        done = 0
        for m in URL_OR_EMAIL.finditer(text):
            self._plain(cursor + done, text[done : m.start()])
            self.raw_end = self._void(cursor + m.start(), cursor + m.end())
            done = m.end()
        self._plain(cursor + done, text[done:])

    def _plain(self, cursor: int, text: str) -> None:
        last = self.pieces[-1] if self.pieces else None
        if text and not text[0].isspace() and self.after_void and last is not None and last.open[1] == cursor:
            run = text.split(None, 1)[0]
            word = len(run)
            while word and not run[word - 1].isalnum():
                word -= 1
            if word:  # a word glued after a void ("`x`s", "`x`-based") goes with it
                last.open = (last.open[0], cursor + word)
                cursor, text = cursor + word, text[word:]
                self.raw_end = cursor
        if self.glue is not None:
            lead = len(text) - len(text.lstrip())
            cursor, text = cursor + lead, text[lead:]
            self.glue.open = (self.glue.open[0], cursor)
            self.raw_end = cursor
            if not text:
                return
            self.glue = None
        if text:
            self._append(text, cursor, cursor + len(text))

    def _append(self, text: str, start: int, end: int) -> None:
        """Text for the model, from content[start:end], after the space a line break or
        a void took, unless it is punctuation glued to a void ("`x`." reads "… x."
        without it)."""
        if self.space_due and not text[0].isspace():
            run = text.split(None, 1)[0]
            if not (self.after_void and not any(c.isalnum() for c in run)):
                self.text += " "
        self.space_due = self.after_void = False
        self.runs.append((len(self.text), len(self.text) + len(text), start, end))
        self.text += text

    def _cut(self, n: int) -> None:
        """Take the text back to its first n characters."""
        self.text = self.text[:n]
        while self.runs and self.runs[-1][0] >= n:
            self.runs.pop()
        if self.runs and self.runs[-1][1] > n:  # cut inside a run: whitespace, as written
            p, _, a, _ = self.runs[-1]
            self.runs[-1] = (p, n, a, a + n - p)

    def _within(self) -> _Piece | None:
        """The element open here, the innermost."""
        return self.opened[-1].piece if self.opened else None

    def _void(self, start: int, end: int) -> int:
        """Markup the model does not see, over content[start:end], with the whitespace
        before it (or, when the text so far ends in none it could take, after it)."""
        ws = self._trailing_space(start)
        if ws:
            start -= ws
            self._cut(len(self.text) - ws)
            self.space_due = True
        piece = _Piece(len(self.text), (start, end), void=True, parent=self._within())
        self.pieces.append(piece)
        self.glue = piece if not self.text or self.text[-1].isspace() else None
        self.after_void = True
        return end

    def _break(self, cursor: int) -> int:
        m = _BREAK.match(self.content, cursor)
        if m is None:
            raise _Unparsed("line break")
        ws = self._trailing_space(cursor)
        self._cut(len(self.text) - ws)
        self.pieces.append(_Piece(len(self.text), (cursor - ws, m.end()), void=True, brk=True, parent=self._within()))
        self.space_due = bool(self.text) and not self.text[-1].isspace()
        self.after_void = False
        return m.end()

    def _open(self, key: object, start: int, end: int, close: tuple[int, int] = (0, 0)) -> _Piece:
        piece = _Piece(0, (start, end), close, parent=self._within())
        self.opened.append(_Opened(key, piece, len(self.text), self.space_due, self.after_void, self.raw_end))
        if self.space_due:  # the element's text starts after the space
            self.text += " "
        self.space_due = self.after_void = False
        piece.start = len(self.text)
        self.pieces.append(piece)
        self.glue = piece if not self.text or self.text[-1].isspace() else None
        return piece

    def _close(self, opened: _Opened, close: tuple[int, int]) -> int:
        """Close an element: the voids and whitespace that start and end its text go
        with its opening and closing; one that wraps no text becomes a void, all it
        holds with it."""
        self.opened.remove(opened)
        piece = opened.piece
        index = next(i for i in range(len(self.pieces) - 1, -1, -1) if self.pieces[i] is piece)  # near the end: no quadratic walk
        if not self.text[piece.start :].strip():
            del self.pieces[index:]
            self.opened = [o for o in self.opened if o.piece in self.pieces]
            self._cut(opened.text)
            self.space_due, self.after_void, self.raw_end = opened.space_due, opened.after_void, opened.raw_end
            return self._void(piece.open[0], close[1])
        ws = self._trailing_space(close[0])
        if ws:
            self._cut(len(self.text) - ws)
            close = (close[0] - ws, close[1])
            self.space_due = True
        following = index + 1
        while following < len(self.pieces) and self.pieces[following].void and self.pieces[following].open[0] == piece.open[1]:
            if self.pieces[following].start != piece.start:
                break
            piece.open = (piece.open[0], self.pieces[following].open[1])
            following += 1
        del self.pieces[index + 1 : following]
        while self.pieces[-1] is not piece and self.pieces[-1].void and self.pieces[-1].open[1] == close[0]:
            if self.pieces[-1].start != len(self.text):
                break
            close = (self.pieces.pop().open[0], close[1])
        piece.end, piece.close = len(self.text), close
        return close[1]

    def block(self, source: str, src_of: Sequence[int], cell: bool, line_start: bool) -> tuple[tuple[Inline, ...], _Block, tuple[tuple[int, int], ...]]:
        """The markup as Inline (its open and close the source text they came from, its
        parent the element it is in), what writing the block back needs, and where the
        text comes from in the source."""

        def raw(span: tuple[int, int]) -> str:
            return source[src_of[span[0]] : src_of[span[1]]]

        index = {id(p): i for i, p in enumerate(self.pieces)}
        markup = tuple(
            Inline(p.start, p.start if p.void else p.end, raw(p.open), "" if p.void else raw(p.close), p.void, None if p.parent is None else index[id(p.parent)])
            for p in self.pieces
        )
        runs = []
        for p, q, a, b in self.runs:  # character by character where the source is not (an escaped pipe in a cell)
            if q - p == b - a and src_of[b] - src_of[a] != b - a:
                runs += [(p + k, p + k + 1, src_of[a + k], src_of[a + k + 1]) for k in range(q - p)]
            else:
                runs.append((p, q, src_of[a], src_of[b]))
        respell = {**self.respell, "|": "\\|"} if cell else self.respell
        block = _Block(
            src_of[0],
            src_of[-1],
            frozenset(i for i, p in enumerate(self.pieces) if p.brk),
            tuple(respell.items()),
            {i: p.label for i, p in enumerate(self.pieces) if p.label is not None},
            line_start,
        )
        return markup, block, origin(runs)


def _html_pairs(children: Sequence[Token]) -> dict[int, int]:
    """Inline HTML tags that open and close an element in the block: opener → closer
    (token indices). The others are void."""
    stack: list[tuple[str, int]] = []
    pairs: dict[int, int] = {}
    for j, tok in enumerate(children):
        m = _TAG.fullmatch(tok.content) if tok.type == "html_inline" else None
        if m is None:
            continue
        name = m["name"].lower()
        if m["close"]:
            for k in range(len(stack) - 1, -1, -1):
                if stack[k][0] == name:
                    pairs[stack[k][1]] = j
                    del stack[k:]
                    break
        elif not m["self"] and name not in _VOID_ELEMENTS:
            stack.append((name, j))
    return pairs


def _line_spans(text: str) -> list[tuple[int, int]]:
    """Each line's (start, end), line ending excluded."""
    spans, start = [], 0
    for m in _NEWLINE.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return spans


def _lines_map(content: str, source: str, spans: Sequence[tuple[int, int]]) -> list[int] | None:
    """Source offset of each character of a paragraph's content (and of its end): each
    content line is the end of its source line (markdown-it took container markers and
    indentation off the front, trailing whitespace off the last); a line break maps to
    the source's line ending."""
    rows = content.split("\n")
    if len(rows) != len(spans):
        return None
    src_of: list[int] = []
    for k, (row, (a, b)) in enumerate(zip(rows, spans)):
        last = k == len(rows) - 1
        core = row.lstrip(" \t")  # indentation markdown-it may have rewritten (tabs)
        line = source[a:b].rstrip() if last else source[a:b]
        if not line.endswith(core):
            return None
        start = a + len(line) - len(core)
        src_of += [start] * (len(row) - len(core)) + list(range(start, start + len(core)))
        src_of.append(start + len(core) if last else b)
    return src_of


def _blocks(tokens: Sequence[Token], source: str) -> list[tuple[Token, list[int], bool, bool]]:
    """Each inline token with text, the source offset of each character of its content,
    whether it is a table cell, and whether its text starts a line (not a cell's nor
    an ATX heading's)."""
    spans = _line_spans(source)
    found, row, cursor = [], -1, 0
    for before, tok in zip(tokens, tokens[1:]):
        if tok.type != "inline" or not tok.content.strip() or tok.map is None:
            continue
        first, last = tok.map
        content = tok.content
        src_of: list[int] | None
        if before.type in ("th_open", "td_open"):
            if first != row:
                row, cursor = first, 0
            a, b = spans[first]
            escaped = content.replace("|", "\\|")  # markdown-it unescaped the cell's pipes
            at = source.find(escaped, a + cursor, b)
            if at < 0:
                continue
            src_of, pos = [], at
            for ch in content:
                src_of.append(pos)
                pos += 2 if ch == "|" else 1
            src_of.append(pos)
            cursor = pos - a
            found.append((tok, src_of, True, False))
            continue
        atx = before.type == "heading_open" and before.markup.startswith("#")
        if atx:
            a, b = spans[first]
            line = source[a:b]
            at = line.find(content, line.index("#") + len(before.markup))
            src_of = list(range(a + at, a + at + len(content) + 1)) if at >= 0 else None
        else:  # a paragraph, or a setext heading (the inline token's lines leave its underline out)
            src_of = _lines_map(content, source, spans[first:last])
        if src_of is not None:
            found.append((tok, src_of, False, not atx))
    return found


@register
class Markdown:
    name = "markdown"
    suffixes = (".md", ".markdown")

    def read(self, data: bytes, name: str) -> Document:
        source, encoding = decode(data)
        if not source.strip():
            raise IngestError("it contains only whitespace, so there is nothing to translate")
        env: dict = {}
        tokens = _parser().parse(source, env)
        lines: list[Line] = []
        blocks: list[_Block] = []
        for tok, src_of, cell, line_start in _blocks(tokens, source):
            walk = _Walk(tok.content, env)
            try:
                walk.run(tok.children or [])
            except _Unparsed:
                continue  # kept as it is
            if walk.text.strip():
                markup, block, where = walk.block(source, src_of, cell, line_start)
                lines.append(Line(len(lines) + 1, walk.text, "", markup, where))
                blocks.append(block)
        if not lines:
            raise IngestError("it has no text outside code, HTML and front matter, so there is nothing to translate")
        return Document(name=name, lines=tuple(lines), encoding=encoding, sha256=hashlib.sha256(data).hexdigest(), layout=_Layout(source, tuple(blocks)))

    def write(self, doc: Document, segments: Sequence[Segment], translations: Sequence[Translation]) -> Written:
        layout: _Layout = doc.layout
        placed, unsure = placed_blocks(doc, segments, translations)
        out, pos = [], 0
        for line, block in zip(doc.lines, layout.blocks, strict=True):
            events = placed.get(line.number)
            if events is None:
                continue
            out += [layout.source[pos : block.start], _render(events, line.text, line.markup, block)]
            pos = block.end
        out.append(layout.source[pos:])
        codec = doc.encoding.split()[0]  # "utf-8 (3 invalid byte sequences replaced…)" too
        return Written("".join(out).encode(codec, errors="xmlcharrefreplace"), unsure)


_Entry = tuple[str, str, int]  # (event kind, "break" or "moved" punctuation; its source; markup index)


def _render(events: Sequence[Event], text: str, markup: Sequence[Inline], block: _Block) -> str:
    """A block's English events as Markdown source (see the module docstring)."""
    out: list[_Entry] = []
    pending: _Entry | None = None  # a line break waiting for English after it
    opened: dict[int, int] = {}  # label-dependent links: where their text starts in out
    for kind, value in events:
        if kind == "void" and value in block.breaks:
            raw = markup[value].open
            if pending is None or (_HARD_BREAK.match(raw) and not _HARD_BREAK.match(pending[1])):
                pending = ("break", raw, value)
            continue
        at = len(out)
        moved = ""
        if kind in ("close", "void"):
            moved, at = _trail_after(out, at, opened, _trailing_punctuation(text, markup[value].end if kind == "close" else markup[value].start))
        if kind == "text":
            piece = _respell(value, block.respell)
        elif kind == "close":
            piece = markup[value].close
            if value in block.labels:
                piece = _label_close(markup[value], block.labels[value], "".join(p for _, p, _ in out[opened[value] :]))
        else:
            piece = markup[value].open
        if kind in ("text", "void") and (pending is not None or not at or out[at - 1][1][-1:].isspace()):
            piece = piece.lstrip()
        if not piece:
            continue
        if pending is not None:
            _insert(out, at, pending, opened)
            at, pending = at + 1, None
        if kind == "text":
            piece = _lead_before_opens(out, piece, text, markup, opened)
            at = len(out)
        _insert(out, at, (kind, piece, value), opened)
        if moved:
            _insert(out, at + 1, ("moved", moved, -1), opened)
        if kind == "open" and value in block.labels:
            opened[value] = at + 1
    return _escape_line_starts(out, block.line_start)


def _label_close(link: Inline, label: tuple[str, str], inner: str) -> str:
    """A collapsed or shortcut reference link's closing, made a full reference when its
    English text no longer matches the label."""
    name, tail = label
    before = link.close[: -len(tail)]  # voids that ended its text
    if normalizeReference(link.open[1:] + inner + before) == normalizeReference(name):
        return link.close
    return f"{before}][{name}]"


def _insert(out: list[_Entry], at: int, entry: _Entry, opened: dict[int, int]) -> None:
    out.insert(at, entry)
    for i, position in opened.items():
        opened[i] = position + (position > at)


def _trailing_punctuation(text: str, position: int) -> str:
    """The punctuation that ends the French word markup at `position` is glued to
    ("**gras**,", "[lien](u)."): it stays after the markup in English too."""
    end = position
    while end < len(text) and not text[end].isspace():
        end += 1
    run = text[position:end]
    glued = position > 0 and not text[position - 1].isspace()
    return run if run and glued and not any(c.isalnum() for c in run) else ""


def _leading_punctuation(text: str, position: int) -> str:
    """The punctuation that starts the French word markup at `position` is glued to ("(*voir*)")."""
    start = position
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    run = text[start:position]
    glued = position < len(text) and not text[position].isspace()
    return run if run and glued and not any(c.isalnum() for c in run) else ""


def _trail_after(out: list[_Entry], at: int, opened: dict[int, int], punctuation: str) -> tuple[str, int]:
    """Take `punctuation` off the English before out[at], to follow the markup; and
    where out[at] is now."""
    if not punctuation or not at:
        return "", at
    kind, piece, _ = out[at - 1]
    if kind == "moved" and piece.endswith(punctuation):
        if piece == punctuation:
            del out[at - 1]
            for i, position in opened.items():
                opened[i] = position - (position >= at)
            return punctuation, at - 1
        out[at - 1] = (kind, piece[: -len(punctuation)], -1)
        return punctuation, at
    if kind == "text" and piece.endswith(punctuation) and len(piece) > len(punctuation) and not piece[-len(punctuation) - 1].isspace():
        out[at - 1] = (kind, piece[: -len(punctuation)], -1)
        return punctuation, at
    return "", at


def _lead_before_opens(out: list[_Entry], piece: str, text: str, markup: Sequence[Inline], opened: dict[int, int]) -> str:
    """Move the French leading punctuation of the markup just opened, when the English
    word starts with it, in front of that markup; the rest of the word."""
    first = len(out)
    while first and out[first - 1][0] == "open":
        first -= 1
    for at in range(first, len(out)):
        lead = _leading_punctuation(text, markup[out[at][2]].start)
        if lead and piece.startswith(lead) and len(piece) > len(lead):
            _insert(out, at, ("text", lead, -1), opened)
            return piece[len(lead) :]
    return piece


def _escape_line_starts(out: Sequence[_Entry], line_start: bool) -> str:
    """The entries joined, a backslash before English that starts a line as block syntax."""
    pieces, starts, length = [], [], 0
    for kind, piece, _ in out:
        if line_start and kind in ("text", "moved"):
            starts.append(length)
        line_start = kind == "break"
        pieces.append(piece)
        length += len(piece)
    joined = "".join(pieces)
    for at in reversed(starts):
        line = _LINE.match(joined, at).group()
        joined = joined[:at] + _escape_line_start(line) + joined[at + len(line) :]
    return joined


def _escape_line_start(line: str) -> str:
    m = _ORDERED.match(line)
    if m:
        return f"{m.group()}\\{line[m.end() :]}"
    return "\\" + line if _BLOCK_SYNTAX.match(line) else line


@lru_cache(maxsize=256)
def _respeller(respell: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(char) for char, _ in sorted(respell, key=lambda pair: -len(pair[0]))))


def _respell(text: str, respell: tuple[tuple[str, str], ...]) -> str:
    """English text with the characters the block escaped or wrote as entities written
    the block's way."""
    if not respell:
        return text
    spelling = dict(respell)
    return _respeller(respell).sub(lambda m: spelling[m.group()], text)
