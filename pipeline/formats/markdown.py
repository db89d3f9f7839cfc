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
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.common.utils import normalizeReference, unescapeAll
from markdown_it.helpers import parseLinkDestination, parseLinkLabel, parseLinkTitle
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline, autolink, backtick, image, link
from markdown_it.token import Token
from mdit_py_plugins.admon import admon_plugin
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin

from ..ingest import Document, IngestError, Line, decode
from ..protect import URL_OR_EMAIL
from ..segment import Segment
from ..translate.types import Translation
from . import frontmatter
from .base import (
    ReadOptions,
    Written,
    block_sentences,
    fill,
    origin,
    protected_line,
    register,
    unit_text,
)
from .markup import Event, Inline, Sentence, place

_NEWLINE = re.compile(r"\r\n|\r|\n")
# A soft or hard line break in a block's content, as markdown-it consumed it.
_BREAK = re.compile(r"[ \t]*\\?\n[ \t]*")
_HARD_BREAK = re.compile(r" {2,}|[ \t]*\\")
_TAG = re.compile(r"<(?P<close>/)?(?P<name>[A-Za-z][A-Za-z0-9-]*)[^>]*?(?P<self>/)?>", re.DOTALL)
_VOID_ELEMENTS = frozenset("area br col embed hr img input source track wbr".split())
_INLINE_SYNTAX = frozenset("\\`*_[]<>&|~!")
# English starting a line that Markdown would read as block syntax; an ordered list marker.
_BLOCK_SYNTAX = re.compile(r"#{1,6}(?:[ \t]|$)|[-+*](?:[ \t]|$)|>|(?:[-=*_][ \t]*)+$|`{3}|~{3}|<[A-Za-z/!?]|:{3}|!!!|\?{3}|={3}|\${2}|\[\^[^\]]*\]:")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).+?(?<!`)\1(?!`)")
# A content tab of pymdownx.tabbed (MkDocs Material): `=== "Titre"`, its body indented.
_TAB = re.compile(r"""===\+?!?[ \t]+"(?P<title>[^"\n]*)"[ \t]*$""")
_ORDERED = re.compile(r"\d{1,9}(?=[.)](?:[ \t]|$))")
_LINE = re.compile(r"[^\r\n]*")


# markdown-it's limit is 20 levels (a list level is two, its paragraph one more): 30 nested
# lists and quotes need about 90; the parser recurses per level, far from Python's limit at 256.
_MAX_NESTING = 256


class _Unparsed(Exception):
    """A block whose source the inline tokens could not be mapped back onto."""


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    """CommonMark with GFM tables and strikethrough, and the documentation dialects:
    `:::` containers of any name, MkDocs admonitions, footnotes, `$` math (Pandoc's
    rules: no space inside the dollars, no digit after the closing one, so prices stay
    text). Escapes and entities stay tokens of their own (no text_join), so their
    source is known. Front matter is blanked out before parsing (see `read`). Lists and
    quotes nest up to _MAX_NESTING deep (markdown-it stops reading deeper content)."""
    md = MarkdownIt("commonmark", {"maxNesting": _MAX_NESTING}).enable(["table", "strikethrough"]).disable("text_join")
    md.use(container_plugin, name="any", validate=lambda params, markup: True)
    md.use(admon_plugin).use(footnote_plugin, inline=False)
    md.block.ruler.before("fence", "tabbed", _tabbed, {"alt": ["paragraph", "reference", "blockquote", "list"]})
    return md.use(dollarmath_plugin, allow_space=False, allow_digits=False, double_inline=True)


def _tabbed(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """A content tab (`=== "Titre"`): a block holding the lines indented under it, as
    MkDocs admonitions do (two blank lines, or a line indented less, end it)."""
    if state.sCount[start_line] - state.blkIndent >= 4:
        return False
    start = state.bMarks[start_line] + state.tShift[start_line]
    if not _TAB.match(state.src, start, state.eMarks[start_line]):
        return False
    if silent:
        return True
    saved = state.parentType, state.lineMax, state.blkIndent
    state.parentType, state.blkIndent = "tabbed", state.sCount[start_line] + 4
    line, was_empty = start_line, False
    while line + 1 < end_line:
        line += 1
        empty = state.bMarks[line] + state.tShift[line] >= state.eMarks[line]
        if empty and was_empty or not empty and state.sCount[line] < state.blkIndent:
            break
        was_empty = empty
    else:
        line = end_line
    state.lineMax = line
    token = state.push("tabbed_open", "div", 1)
    token.block, token.map = True, [start_line, line]
    state.md.block.tokenize(state, start_line + 1, line)
    state.push("tabbed_close", "div", -1).block = True
    state.parentType, state.lineMax, state.blkIndent = saved
    state.line = line
    return True


@dataclass(frozen=True)
class _Block:
    """What writing a block back needs: its source range (its text's first character
    to its last), each markup piece's source ranges (open, close), the indices of its
    markup that are line breaks, its spellings of characters, its label-dependent
    links (index → label, and the closing `]` or `][]`), and whether its text starts
    a line."""

    start: int
    end: int
    parts: tuple[tuple[tuple[int, int], tuple[int, int]], ...]
    breaks: frozenset[int]
    respell: tuple[tuple[str, str], ...]
    labels: dict[int, tuple[str, str]]
    line_start: bool
    token: int  # its inline token's index in the parse


@dataclass(frozen=True)
class _Leaf:
    """Text read by people inside markup or block syntax, translated as a unit of its
    own: an image's alt text (`style` "alt", escaped as inline text), a link's or an
    image's title (its quote: `"`, `'` or `(`), a container's title ("title", escaped
    as inline text), an admonition's `"…"` title ("quoted"). The alt text of a
    collapsed or shortcut reference image (`![texte]`) is also its `label`: its range
    takes the closing `]` or `][]` in, written as `][label]` after the English."""

    start: int
    end: int
    style: str
    label: tuple[str, str] | None = None  # the reference's label, and the `]` or `][]` after it


@dataclass(frozen=True)
class _Field:
    """A front matter value: its index in the layout's front matter fields."""

    index: int
    start: int


@dataclass(frozen=True)
class _Layout:
    """A Markdown Document's layout: the decoded source, what each Document line is, its
    front matter, and the structure of its parse (`_signature`), to check the English's."""

    source: str
    units: tuple[_Block | _Leaf | _Field, ...]  # one per Document line
    front: frontmatter.FrontMatter | None
    signature: tuple[tuple, ...]


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

    def __init__(self, content: str, env: dict, protected: Sequence[tuple[int, int]] = (), original: str | None = None):
        self.content = content  # protected spans masked (see _masked)
        self.original = content if original is None else original
        self.protected = protected
        self.leaves: list[tuple[int, int, str, str, tuple[str, str] | None]] = []  # content start, end, style, text, reference label
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
            elif kind in ("math_inline", "math_inline_double", "footnote_ref"):
                raw = f"[^{tok.meta['label']}]" if kind == "footnote_ref" else tok.markup + tok.content + tok.markup
                self._expect(cursor, raw)
                cursor = self._void(cursor, cursor + len(raw))
            elif kind == "image":
                end = self._extent(image, cursor)
                self._leaves(cursor + 1, end, alt=True)
                cursor = self._void(cursor, end)
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
                self._leaves(cursor, end, alt=False)
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

    def _leaves(self, label: int, end: int, alt: bool) -> None:
        """Note the text people read in the link or image whose label opens at `label`:
        an image's alt text, and a title."""
        self.state.pos, self.state.posMax = label, len(self.content)
        label_end = parseLinkLabel(self.state, label, not alt)
        if alt:
            text = _plain(_parser().parseInline(self.original[label + 1 : label_end], self.state.env)[0].children or [])
            tail = self.content[label_end:end]
            if text.strip() and tail in ("]", "][]"):  # its alt text is its reference's label: the English names it
                self.leaves.append((label + 1, end, "alt", text, (self.original[label + 1 : label_end], tail)))
            elif text.strip():
                self.leaves.append((label + 1, label_end, "alt", text, None))
        if not self.content.startswith("](", label_end):
            return
        pos = _skip_space(self.content, label_end + 2, end)
        destination = parseLinkDestination(self.content, pos, end)
        if not destination.ok:
            return
        start = _skip_space(self.content, destination.pos, end)
        title = parseLinkTitle(self.content, start, end) if start > destination.pos else None
        if title is not None and title.ok and title.pos <= end:
            text = unescapeAll(self.original[start + 1 : title.pos - 1])
            if text.strip():
                self.leaves.append((start + 1, title.pos - 1, self.content[start], text, None))

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
        """Running text, its protected spans (URLs and e-mail addresses too) taken out
        as voids."""
        end = cursor + len(text)
        spans = [(m.start(), m.end()) for m in URL_OR_EMAIL.finditer(self.original, cursor, end)]
        spans += [(a, b) for a, b in self.protected if cursor <= a and b <= end]
        done = cursor
        for a, b in _merged(spans):
            self._plain(done, self.content[done:a])
            self.raw_end = self._void(a, b)
            done = b
        self._plain(done, self.content[done:end])

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

    def block(self, source: str, src_of: Sequence[int], cell: bool, line_start: bool, token: int) -> tuple[tuple[Inline, ...], _Block, tuple[tuple[int, int], ...]]:
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
            tuple(((src_of[p.open[0]], src_of[p.open[1]]), (src_of[p.close[0]], src_of[p.close[1]])) for p in self.pieces),
            frozenset(i for i, p in enumerate(self.pieces) if p.brk),
            tuple(respell.items()),
            {i: p.label for i, p in enumerate(self.pieces) if p.label is not None},
            line_start,
            token,
        )
        return markup, block, origin(runs)


def _skip_space(text: str, pos: int, end: int) -> int:
    while pos < end and text[pos] in " \t\n":
        pos += 1
    return pos


def _merged(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans sorted, overlapping ones made one."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a < out[-1][1]:
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        else:
            out.append((a, b))
    return out


def _plain(children: Sequence[Token]) -> str:
    """Inline tokens as the text a reader sees (an image's alt text)."""
    out = []
    for tok in children:
        if tok.type in ("text", "text_special", "code_inline"):
            out.append(tok.content)
        elif tok.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif tok.type == "image":
            out.append(_plain(tok.children or []))
    return " ".join("".join(out).split())


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


_CONTAINER = re.compile(r"(?P<fence>:{3,})[ \t]*(?P<name>\{[^}\n]*\}|[\w-]*)(?:\[(?P<bracketed>[^\]\n]*)\]|[ \t]+(?P<title>[^\n{]*?))?[ \t]*(?:\{[^}\n]*\})?[ \t]*$")
_ADMONITION = re.compile(r"""(?:!!!|\?\?\?\+?)[ \t]+[\w-]+(?:[ \t]+[\w-]+)*[ \t]+"(?P<title>[^"\n]*)"[ \t]*$""")


def _blocks(tokens: Sequence[Token], source: str) -> list[tuple]:
    """What to translate, in token order: ("block", token index, source offset of each
    character of its content, whether it is a table cell, whether its text starts a
    line (not a cell's nor an ATX heading's)) for each inline token with text; and
    ("leaf", start, end, style, text) for the titles of containers and admonitions."""
    spans = _line_spans(source)
    found: list[tuple] = []
    row, cursor = -1, 0
    for k, (before, tok) in enumerate(zip([Token("", "", 0), *tokens], tokens)):
        if tok.type in ("tabbed_open", "container_any_open") and tok.map:
            tabbed = tok.type == "tabbed_open"
            found += _title(_TAB if tabbed else _CONTAINER, source, spans[tok.map[0]], "quoted" if tabbed else "title")
            continue
        if tok.type != "inline" or not tok.content.strip() or tok.map is None:
            continue
        first, last = tok.map
        content = tok.content
        src_of: list[int] | None
        if before.type == "admonition_title_open":
            found += _title(_ADMONITION, source, spans[first], "quoted")
            continue
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
            found.append(("block", k, src_of, True, False))
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
            found.append(("block", k, src_of, False, not atx))
    return found


def _title(syntax: re.Pattern[str], source: str, span: tuple[int, int], style: str) -> list[tuple]:
    """The leaf of the title a block-syntax line (a tab's, a container's, an
    admonition's) has, in a list: empty when it has none."""
    line = syntax.search(source, *span)
    group = next((g for g in ("bracketed", "title") if line and line.re.groupindex.get(g) and line.group(g) is not None), None)
    if group is None or not line.group(group).strip():
        return []
    return [("leaf", line.start(group), line.end(group), style, line.group(group))]


def _signature(tokens: Sequence[Token]) -> tuple[tuple, ...]:
    """The structure a parse gives, text aside: each token's kind, and an inline
    token's children's kinds with what they point at (a link's target, code)."""
    out = []
    for tok in tokens:
        if tok.type != "inline":
            out.append((tok.type, tok.tag, tok.nesting))
            continue
        children = []
        for child in tok.children or []:
            if child.type in ("text", "text_special"):
                continue
            if child.type in ("code_inline", "html_inline", "math_inline", "math_inline_double"):
                children.append((child.type, child.content))
            elif child.type in ("link_open", "image"):
                children.append((child.type, child.attrs.get("href") or child.attrs.get("src")))
            elif child.type == "footnote_ref":
                children.append((child.type, child.meta.get("label")))
            else:
                children.append((child.type,))
        out.append(("inline", tuple(children)))
    return tuple(out)


def _masked(content: str, spans: Sequence[tuple[int, int]]) -> str:
    """Content with its protected spans as private-use characters, which markdown-it
    reads as plain text: no emphasis or link inside a template tag."""
    out, pos = [], 0
    for a, b in spans:
        out += [content[pos:a], "\ue000" * (b - a)]
        pos = b
    out.append(content[pos:])
    return "".join(out)


@register
class Markdown:
    name = "markdown"
    suffixes = (".md", ".markdown")

    def read(self, data: bytes, name: str, options: ReadOptions = ReadOptions()) -> Document:
        source, encoding = decode(data)
        front = frontmatter.find(source, options.front_matter_keys, strict=False)
        env: dict = {}
        tokens = _parser().parse(source if front is None else frontmatter.blanked(source, front.end), env)
        if any(tok.level >= _MAX_NESTING - 1 for tok in tokens):
            raise IngestError(f"it nests lists, quotes or emphasis more than {_MAX_NESTING} levels deep, past which mtpipe cannot read it; flatten the deepest parts")
        units: list[tuple[tuple, Line]] = []  # (sort key, unit), line
        for k, field in enumerate(front.fields if front else ()):
            units.append(((field.start, 0), _Field(k, field.start), protected_line(field.text, options, source, field.text_at)))
        for entry in _blocks(tokens, source):
            if entry[0] == "leaf":
                _, start, end, style, text = entry
                code = [m.span() for m in _CODE_SPAN.finditer(text)]  # such a title is inline Markdown
                units.append(((start, 0), _Leaf(start, end, style), protected_line(text, options, source, start, code)))
                continue
            _, k, src_of, cell, line_start = entry
            tok = tokens[k]
            protected = options.protect.spans(tok.content, urls=False)
            content = _masked(tok.content, protected)
            walk = _Walk(content, env, protected, tok.content)
            try:
                walk.run((_parser().parseInline(content, env)[0].children if protected else tok.children) or [])
            except _Unparsed:
                continue  # kept as it is
            for a, b, style, text, label in walk.leaves:
                units.append(((src_of[a], 1), _Leaf(src_of[a], src_of[b], style, label), protected_line(text, options, source, src_of[a])))
            if walk.text.strip():
                markup, block, where = walk.block(source, src_of, cell, line_start, k)
                units.append(((block.start, 0), block, Line(0, walk.text, "", markup, where)))
        units.sort(key=lambda u: u[0])
        lines = tuple(Line(n, line.text, "", line.markup, line.origin) for n, (_, _, line) in enumerate(units, start=1))
        layout = _Layout(source, tuple(unit for _, unit, _ in units), front, _signature(tokens))
        return Document(name=name, lines=lines, encoding=encoding, sha256=hashlib.sha256(data).hexdigest(), layout=layout)

    def write(self, doc: Document, segments: Sequence[Segment], translations: Sequence[Translation]) -> Written:
        layout: _Layout = doc.layout
        by_block = block_sentences(segments, translations)
        placed: dict[int, tuple[list[Event], set[int]]] = {}
        for number, (sentences, _) in by_block.items():
            line = doc.lines[number - 1]
            placed[number] = place(line.text, line.markup, sentences)
        leaves, fields = [], {}
        for number, unit in enumerate(layout.units, start=1):
            english = unit_text(placed[number][0], doc.lines[number - 1].markup) if number in placed else ""
            if not english.strip():  # no English (an empty model output): kept as it was
                continue
            if isinstance(unit, _Leaf):
                leaves.append((unit.start, unit.end, _leaf_text(unit, placed[number][0], doc.lines[number - 1].markup)))
            elif isinstance(unit, _Field):
                fields[unit.index] = english
        head = frontmatter.write(layout.source, layout.front, fields) if layout.front else ""
        blocks = [(number, unit) for number, unit in enumerate(layout.units, start=1) if number in placed and isinstance(unit, _Block)]
        # A block without English words (an empty model output) cannot hold its markup: kept.
        levels = {n: 0 if any(k == "text" and str(v).strip() for k, v in placed[n][0]) else _KEPT for n, _ in blocks}
        for _ in range(_ROUNDS):
            rendered = {}
            for number, block in blocks:
                line = doc.lines[number - 1]
                if levels[number] == _KEPT:
                    rendered[number] = layout.source[block.start : block.end]
                    continue
                if levels[number] == _UNLINKED:
                    sentences = [Sentence(x.start, x.end, x.english, None) for x in by_block[number][0]]
                    placed[number] = place(line.text, line.markup, sentences)
                rendered[number] = _render(placed[number][0], line.text, line.markup, block, layout.source, leaves, levels[number] > 0)
            text = _assembled(layout, head, leaves, [(block.start, block.end, rendered[number]) for number, block in blocks])
            faults, every = _faults(layout, text, len(head), {block.token: number for number, block in blocks})
            todo = [n for n in faults if levels[n] < _KEPT]
            if not todo:
                break
            for number in todo if every else todo[:1]:
                levels[number] += 1
        unsure = {by_block[n][1][k] for n, (_, doubtful) in placed.items() for k in doubtful}
        unsure |= {i for n in {*faults, *(n for n, level in levels.items() if level >= _UNLINKED)} for i in by_block[n][1]}
        codec = doc.encoding.split()[0]  # "utf-8 (3 invalid byte sequences replaced…)" too
        return Written(text.encode(codec, errors="xmlcharrefreplace"), frozenset(unsure))


# How hard the English of a block is made to keep the source's structure, should the
# page read back otherwise: 0 as placed, 1 its text escaped, _UNLINKED placed again
# without word links (elements in source order), _KEPT its source kept (an English
# that cannot hold the structure: empty where an element needs text), both flagged;
# and how many times the page is read back.
_UNLINKED = 2
_KEPT = 3
_ROUNDS = 16


def _leaf_text(leaf: _Leaf, events: Sequence[Event], markup: Sequence[Inline]) -> str:
    """A leaf's English as source text of its kind: its text escaped as the kind
    needs, its protected spans (code in a title) as they were."""
    if leaf.style == "quoted":  # inline Markdown, which MkDocs reads up to the next quote, escapes or not
        spell = lambda text: _spell(text, (), escape=True).replace('"', "”")  # noqa: E731
    elif leaf.style in ("alt", "title"):
        spell = lambda text: _spell(text, (), escape=True)  # noqa: E731
    else:
        closer = ")" if leaf.style == "(" else leaf.style
        spell = lambda text: re.sub(r"[\\%s]" % re.escape(closer + ("(" if leaf.style == "(" else "")), lambda m: "\\" + m.group(), " ".join(text.splitlines()))  # noqa: E731
    english = "".join(spell(str(value)) if kind == "text" else markup[int(value)].open for kind, value in events if kind in ("text", "void"))
    if leaf.label is None:
        return english
    name, tail = leaf.label
    return english + (tail if normalizeReference(english) == normalizeReference(name) else f"][{name}]")


def _assembled(layout: _Layout, head: str, leaves: list[tuple[int, int, str]], blocks: list[tuple[int, int, str]]) -> str:
    """The page: the front matter's English, then the source with the blocks' English,
    and the leaves' outside any block."""
    start = layout.front.end if layout.front else 0
    return head + fill(layout.source, start, len(layout.source), sorted(blocks + leaves))  # a leaf inside a block was written with it


def _faults(layout: _Layout, text: str, head: int, by_token: dict[int, int]) -> tuple[list[int], bool]:
    """The blocks (by line number) whose English gives the page another structure
    than the source's, and whether all are at fault: those whose inline content reads
    otherwise (all); or, when the blocks themselves differ, the suspects, likeliest
    first: the first translated block from the first difference on (its text made
    another block: a rule, a heading), the last one before it (its text took the
    next line in: a setext heading, a table), then the others outwards."""
    got = _signature(_parser().parse(frontmatter.blanked(text, head) if head else text, {}))
    want = layout.signature
    if len(got) == len(want) and all(g[0] == w[0] for g, w in zip(got, want)):
        return [by_token[k] for k, (g, w) in enumerate(zip(got, want)) if g != w and k in by_token], True
    first = next((k for k, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
    after, before = sorted(k for k in by_token if k >= first), sorted((k for k in by_token if k < first), reverse=True)
    return [by_token[k] for k in after[:1] + before[:1] + after[1:] + before[1:]], False


_Entry = tuple[str, str, int]  # (event kind, "break" or "moved" punctuation; its source; markup index)


def _render(events: Sequence[Event], text: str, markup: Sequence[Inline], block: _Block, source: str, leaves: Sequence[tuple[int, int, str]], escape: bool) -> str:
    """A block's English events as Markdown source (see the module docstring): markup as
    the source wrote it (the English of the leaves in it), text spelled the block's
    way (with `escape`, every character of Markdown syntax escaped and emphasis that
    would merge with its neighbour's written with the other delimiter), and as many
    line breaks as the source had."""
    swapped = _swaps(events, markup) if escape else set()
    out: list[_Entry] = []
    breaks: list[tuple[int, int]] = []  # (markup index, where the word links put it in the English)
    opened: dict[int, int] = {}  # label-dependent links: where their text starts in out
    for kind, value in events:
        if kind == "void" and value in block.breaks:
            breaks.append((int(value), sum(len(p) for _, p, _ in out)))
            continue
        at = len(out)
        moved = ""
        if kind in ("close", "void"):
            moved, at = _trail_after(out, at, opened, _trailing_punctuation(text, markup[value].end if kind == "close" else markup[value].start))
        if kind == "text":
            piece = _spell(str(value), block.respell, escape)
        elif kind == "close":
            piece = _source(block, int(value), 1, source, leaves)
            if value in block.labels:
                piece = _label_close(markup[value], block.labels[value], "".join(p for _, p, _ in out[opened[value] :]))
        else:
            piece = _source(block, int(value), 0, source, leaves)
        if value in swapped and kind != "text":
            piece = piece.translate(_OTHER_DELIMITER)
        if kind in ("text", "void") and (not at or out[at - 1][1][-1:].isspace()):
            piece = piece.lstrip()
        if not piece:
            continue
        if kind == "text":
            piece = _lead_before_opens(out, piece, text, markup, opened)
            at = len(out)
        _insert(out, at, (kind, piece, value), opened)
        if moved:
            _insert(out, at + 1, ("moved", moved, -1), opened)
        if kind == "open" and value in block.labels:
            opened[value] = at + 1
    return _escape_line_starts(_with_breaks(out, breaks, text, markup), block.line_start)


_OTHER_DELIMITER = str.maketrans("*_", "_*")
_EMPHASIS = re.compile(r"\*+|_+")
_SYNTAX = re.compile(r"[\\`*_\[\]<~|$]|&(?=#?\w+;)|[\r\n]")
# Escaped in any English, whatever the block: what could make raw HTML, a link (a
# `javascript:` one for some renderers), an image or a reference, or an entity.
_UNSAFE = re.compile(r"(?<!\\)((?:\\\\)*)(<|\[|&(?=#?\w+;))")  # after an even number of backslashes: unescaped


def _source(block: _Block, index: int, side: int, source: str, leaves: Sequence[tuple[int, int, str]]) -> str:
    """A markup piece's opening (side 0) or closing as the source wrote it, with the
    English of the leaves inside it."""
    a, b = block.parts[index][side]
    return fill(source, a, b, leaves)


def _swaps(events: Sequence[Event], markup: Sequence[Inline]) -> set[int]:
    """Emphasis whose delimiters would touch a neighbour's of the same character (`*(*a*)*`
    translated as `**a**` reads as strong): the inner or later one, to be written with
    the other character."""
    swapped: set[int] = set()

    def delimiter(kind: str, i: int) -> str:
        raw = markup[i].open if kind == "open" else markup[i].close
        return raw[0] if _EMPHASIS.fullmatch(raw) else ""

    for (k1, v1), (k2, v2) in zip(events, events[1:]):
        if k1 in ("open", "close") and k2 in ("open", "close") and (k1, k2) != ("open", "close"):
            d1, d2 = delimiter(k1, int(v1)), delimiter(k2, int(v2))
            if d1 and d1 == d2 and int(v1) not in swapped:
                swapped.add(int(v1) if (k1, k2) == ("close", "close") else int(v2))
    return swapped


def _spell(text: str, respell: tuple[tuple[str, str], ...], escape: bool) -> str:
    """English text spelled as the block spells characters it escaped or wrote as
    entities; with `escape`, every character Markdown would read as syntax escaped
    (an entity spelling kept), and line endings made spaces."""
    if not escape:  # line endings the model wrote are spaces: a block's lines are the source's
        text = " ".join(text.splitlines()) if "\n" in text or "\r" in text else text
        spelled = dict(respell)  # the block's own spelling of a character wins
        return _respell(_UNSAFE.sub(lambda m: m.group() if m.group(2) in spelled else m.group(1) + "\\" + m.group(2), text), respell)
    spelling = {char: spelled for char, spelled in respell if spelled.startswith("&")}
    if "|" not in dict(respell):  # outside a table cell: markdown-it reads `\|` as a cell border there too
        spelling["|"] = "&#124;"

    def one(m: re.Match[str]) -> str:
        char = m.group()
        if char in "\r\n":
            return " "
        return spelling.get(char) or ("\\" + char if _SYNTAX.fullmatch(char) or char == "&" else char)

    pattern = _SYNTAX if not spelling else re.compile("|".join([_SYNTAX.pattern, *map(re.escape, spelling)]))
    return pattern.sub(one, text)


def _with_breaks(out: list[_Entry], breaks: Sequence[tuple[int, int]], text: str, markup: Sequence[Inline]) -> list[_Entry]:
    """The entries with the block's line breaks, in source order, each at a space
    between two words: a hard one where the word links put it, a soft one where
    wrapping the English over as many lines as the source puts it; soft ones are
    dropped only when the English has fewer spaces than the source had breaks."""
    if not breaks or not out:  # no English at all: the page will not read back the same, and the block is kept
        return out
    spaces, offset = [], 0  # (offset in the English, entry, start, end in its piece)
    for k, (kind, piece, _) in enumerate(out):
        if kind in ("text", "moved"):
            spaces += [(offset + m.start(), k, m.start(), m.end()) for m in re.finditer(r"[ \t]+", piece)]
        elif kind == "void" and piece[:1] in " \t":
            spaces.append((offset, k, 0, len(piece) - len(piece.lstrip(" \t"))))
        offset += len(piece)
    joined = "".join(p for _, p, _ in out)
    first, last = len(joined) - len(joined.lstrip()), len(joined.rstrip())
    spaces = [sp for sp in spaces if first < sp[0] and sp[0] + sp[3] - sp[2] < last]
    ordered = sorted(breaks)
    hard = [bool(_HARD_BREAK.match(markup[i].open)) for i, _ in ordered]
    keep = list(range(len(ordered)))
    while len(keep) > len(spaces) and any(not hard[j] for j in keep):
        keep.remove(max(j for j in keep if not hard[j]))
    wanted = [ordered[j][1] if hard[j] else round(len(joined) * markup[ordered[j][0]].start / max(1, len(text))) for j in keep]
    positions = [sp[0] for sp in spaces]
    chosen: list[int] = []  # index in spaces of each kept break
    for n, target in enumerate(wanted):
        lo = chosen[-1] + 1 if chosen else 0
        hi = len(spaces) - (len(wanted) - n)
        if hi < lo:  # more hard breaks than spaces: with the one before
            chosen.append(chosen[-1] if chosen else -1)
            continue
        k = min(max(bisect_left(positions, target, lo, hi + 1), lo), hi)
        if k > lo and abs(positions[k - 1] - target) <= abs(positions[k] - target):
            k -= 1
        chosen.append(k)
    at: dict[int, list[tuple[int, int, str]]] = {}  # by entry: (start, end, break's source)
    for j, k in zip(keep, chosen):
        raw = markup[ordered[j][0]].open
        if k < 0:  # no space at all: the break goes after the English
            at.setdefault(len(out) - 1, []).append((len(out[-1][1]), len(out[-1][1]), raw))
            continue
        _, entry, a, b = spaces[k]
        at.setdefault(entry, []).append((a, b, raw))
    result: list[_Entry] = []
    for k, (kind, piece, value) in enumerate(out):
        pos = 0
        for a, b, raw in at.get(k, []):
            if a > pos:
                result.append((kind, piece[pos:a], value))
            result.append(("break", raw, -1))
            pos = max(pos, b)
        if pos < len(piece) or not at.get(k):
            result.append((kind, piece[pos:], value))
    return result


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
