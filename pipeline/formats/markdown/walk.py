"""The walk over a block's inline tokens that maps each character of its content back
to the source: the plain text the model sees, and each piece of markup as the source
text it came from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markdown_it.common.utils import unescapeAll
from markdown_it.helpers import parseLinkDestination, parseLinkLabel, parseLinkTitle
from markdown_it.rules_inline import StateInline, autolink, backtick, image, link
from markdown_it.token import Token

from ...protect import URL_OR_EMAIL
from .. import frontmatter
from ..base import origin
from ..markup import Inline
from .syntax import (
    BREAK,
    INLINE_SYNTAX,
    Unparsed,
    html_pairs,
    md_parser,
    merged,
    plain_text,
    skip_space,
)


@dataclass(frozen=True)
class Block:
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
class Leaf:
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
class Field:
    """A front matter value: its index in the layout's front matter fields."""

    index: int
    start: int


@dataclass(frozen=True)
class Layout:
    """A Markdown Document's layout: the decoded source, what each Document line is, its
    front matter, and the structure of its parse (`token_signature`), to check the English's."""

    source: str
    units: tuple[Block | Leaf | Field, ...]  # one per Document line
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
    index: int  # where its piece was put in the walk's pieces (it moves only if pieces before it go)


class Walk:
    """A block's inline tokens walked over its content: the plain text the model sees,
    and the markup taken out of it."""

    def __init__(self, content: str, env: dict, protected: Sequence[tuple[int, int]] = (), original: str | None = None):
        self.content = content  # protected spans masked (see masked_text)
        self.original = content if original is None else original
        self.protected = protected
        self.leaves: list[tuple[int, int, str, str, tuple[str, str] | None]] = []  # content start, end, style, text, reference label
        self.state = StateInline(content, md_parser(), env, [])
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
        """Walk the tokens; Unparsed when they do not cover the content exactly."""
        pairs = html_pairs(children)
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
                if tok.info != "escape" or tok.content in INLINE_SYNTAX:
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
                    raise Unparsed(kind)
                if key == "link":
                    close = opened.piece.close
                    if cursor != close[0]:
                        raise Unparsed("link text")
                else:
                    raw = tok.content if j in closers else tok.markup
                    self._expect(cursor, raw)
                    close = (cursor, cursor + len(raw))
                cursor = self._close(opened, close)
            else:
                raise Unparsed(kind)
            if kind != "text":
                self.raw_end = cursor
        if cursor != len(self.content) or self.opened:
            raise Unparsed("content left over")

    def _expect(self, cursor: int, raw: str) -> None:
        if not self.content.startswith(raw, cursor):
            raise Unparsed(raw)

    def _leaves(self, label: int, end: int, alt: bool) -> None:
        """Note the text people read in the link or image whose label opens at `label`:
        an image's alt text, and a title."""
        self.state.pos, self.state.posMax = label, len(self.content)
        label_end = parseLinkLabel(self.state, label, not alt)
        if alt:
            text = plain_text(md_parser().parseInline(self.original[label + 1 : label_end], self.state.env)[0].children or [])
            tail = self.content[label_end:end]
            if text.strip() and tail in ("]", "][]"):  # its alt text is its reference's label: the English names it
                self.leaves.append((label + 1, end, "alt", text, (self.original[label + 1 : label_end], tail)))
            elif text.strip():
                self.leaves.append((label + 1, label_end, "alt", text, None))
        if not self.content.startswith("](", label_end):
            return
        pos = skip_space(self.content, label_end + 2, end)
        destination = parseLinkDestination(self.content, pos, end)
        if not destination.ok:
            return
        start = skip_space(self.content, destination.pos, end)
        title = parseLinkTitle(self.content, start, end) if start > destination.pos else None
        if title is not None and title.ok and title.pos <= end:
            text = unescapeAll(self.original[start + 1 : title.pos - 1])
            if text.strip():
                self.leaves.append((start + 1, title.pos - 1, self.content[start], text, None))

    def _extent(self, rule, cursor: int) -> int:
        """Where the inline construct markdown-it's `rule` reads at cursor ends."""
        self.state.pos, self.state.posMax = cursor, len(self.content)
        if not rule(self.state, True):
            raise Unparsed(rule.__name__)
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
        for a, b in merged(spans):
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
        m = BREAK.match(self.content, cursor)
        if m is None:
            raise Unparsed("line break")
        ws = self._trailing_space(cursor)
        self._cut(len(self.text) - ws)
        self.pieces.append(_Piece(len(self.text), (cursor - ws, m.end()), void=True, brk=True, parent=self._within()))
        self.space_due = bool(self.text) and not self.text[-1].isspace()
        self.after_void = False
        return m.end()

    def _open(self, key: object, start: int, end: int, close: tuple[int, int] = (0, 0)) -> _Piece:
        piece = _Piece(0, (start, end), close, parent=self._within())
        self.opened.append(_Opened(key, piece, len(self.text), self.space_due, self.after_void, self.raw_end, len(self.pieces)))
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
        del self.opened[_last_index(self.opened, opened)]  # near the end: no quadratic walk
        piece = opened.piece
        index = opened.index if opened.index < len(self.pieces) and self.pieces[opened.index] is piece else _last_index(self.pieces, piece)
        if not self.text[piece.start :].strip():
            gone = {id(p) for p in self.pieces[index:]}
            del self.pieces[index:]
            self.opened = [o for o in self.opened if id(o.piece) not in gone]
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

    def block(self, source: str, src_of: Sequence[int], cell: bool, line_start: bool, token: int) -> tuple[tuple[Inline, ...], Block, tuple[tuple[int, int], ...]]:
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
        block = Block(
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


def _last_index(items: list, item: object) -> int:
    """Where `item` itself (not an equal one) last is in `items`, searched from the end."""
    return next(i for i in range(len(items) - 1, -1, -1) if items[i] is item)
