"""HTML (.html, .htm): each block's text translated in place, every other byte kept.

A block is the maximal run of text and inline markup (`<a>`, `<em>`, `<b>`, `<span>`,
`<img>`, `<br>`…) between two block-level tags (`<p>`, `<li>`, `<td>`, `<h1>`, `<div>`,
`<title>`…, or any tag this module does not know as inline): a sentence is translated
whole, without its tags, which `markup.place` then puts back around the English words
linked to the French words they wrapped. A single `<br>` is markup inside its block;
two in a row (whitespace between) end it, as a paragraph break the source shows.

Never translated, copied as they are: `<script>`, `<style>`, `<pre>`, `<code>`, `<kbd>`,
`<samp>`, `<textarea>`, `<svg>`, `<math>`, elements marked `translate="no"` or class
`notranslate`, comments, the DOCTYPE, and URLs and e-mail addresses in running text.
Inside a block they are void markup the model never sees, which takes the whitespace
before it along (after it, at the block's start) so the English keeps its spacing;
punctuation glued after it stays glued for the model ("voir <code>x</code>." reads
"voir.", and `markup.place` puts the void back before the English full stop).

`alt`, `title`, `placeholder`, `aria-label` and `aria-description` values are blocks
of their own, on never-translated elements too (a `<textarea>`'s placeholder) unless
marked `translate="no"` or `notranslate`; `lang="fr"` becomes `lang="en"` except on
never-translated elements; every other byte comes from the source (entities as
written, attribute order and quoting, whitespace, line endings). `html.parser` gives
only token positions: nothing is re-serialised, and malformed HTML (unclosed or stray
tags) reads like any other. The file is decoded and written back in its own encoding:
a byte-order mark, else `<meta charset>` (read as the WHATWG Encoding standard
labels it, as browsers do: "iso-8859-1" is windows-1252; a label it does not know,
such as "unicode_escape", is ignored), else as `ingest.decode` detects it; characters the encoding lacks
become character references.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape, unescape
from html.parser import HTMLParser

import webencodings

from ..ingest import Document, Line, decode
from ..segment import Segment
from ..translate.types import Translation
from . import frontmatter
from .base import (
    ReadOptions,
    Written,
    fill,
    origin,
    placed_blocks,
    protected_line,
    register,
    unit_text,
)
from .markup import Event, Inline

INLINE = frozenset(
    "a abbr b bdi bdo big button cite data del dfn em font i ins label mark nobr q s small span strike strong sub sup time tt u var".split()
)
# Elements that end a block; any other element this module does not know (a custom
# element, Word's <o:p>, an autolink such as <https://a.fr/x> read as a tag) is
# inline, as a browser displays it.
BLOCK = frozenset(
    "address article aside audio blockquote body canvas caption center colgroup dd details dialog dir div dl dt "
    "fieldset figcaption figure footer form frame frameset h1 h2 h3 h4 h5 h6 head header hgroup html iframe "
    "legend li main menu nav noframes noscript object ol optgroup option p picture search section select "
    "summary table tbody td tfoot th thead title tr ul video".split()
)
INLINE_VOID = frozenset({"br", "img", "wbr"})
VOID = INLINE_VOID | frozenset("area base col embed hr input keygen link meta param source track".split())
# Never translated; the first set may sit inside a sentence (void markup there).
RAW_INLINE = frozenset("code kbd samp script style svg math textarea".split())
RAW = RAW_INLINE | frozenset({"pre", "template", "xmp", "listing"})
IN_SENTENCE = INLINE | RAW_INLINE
# Attribute values read by people (an input's hint, a screen reader's label): blocks of their own.
TRANSLATED_ATTRIBUTES = ("alt", "title", "placeholder", "aria-label", "aria-description")
LANG_ATTRIBUTES = ("lang", "xml:lang")
# <meta> whose content is read by people (search results, link previews): by name or property.
TRANSLATED_META = frozenset(
    "description og:title og:description og:image:alt twitter:title twitter:description twitter:image:alt".split()
)

_SPACE = " \t\n\r\f"  # HTML whitespace; a no-break space is text
_RUN = re.compile(f"[{_SPACE}]+|[^{_SPACE}]+")
_CHARREF = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")  # what html.unescape decodes
_TAG_NAME = re.compile(r"</?[^\s/>]*")
_ATTRIBUTE = re.compile(r"""([^\s/>"'=][^\s/>=]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]*))?""")
_META_CHARSET = re.compile(rb"""<meta\s[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True)
class _Token:
    """A piece of the source as html.parser saw it: kind is start, startend (self-closing),
    end, data, other (comment, declaration, processing instruction, skipped text) or
    rest (markup left open at the end, which a browser reads to the end)."""

    kind: str
    tag: str
    start: int
    end: int
    attrs: tuple[tuple[str, str | None], ...] = ()


class _Tokenizer(HTMLParser):
    """The source's tokens with their character ranges, in order, covering it all."""

    def __init__(self, source: str):
        super().__init__(convert_charrefs=True)
        self.source = source
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.found: list[tuple[str, str, int, int | None, tuple]] = []
        self.feed(source)
        self.parsed = len(source) - len(self.rawdata)
        if self.rawdata.startswith("<"):  # markup left open at the end: one "rest" token
            return
        self.close()
        self.parsed = len(source)

    def _add(self, kind: str, tag: str = "", attrs: Sequence = ()) -> None:
        line, column = self.getpos()
        start = self.line_starts[line - 1] + column
        end = start + len(self.get_starttag_text()) if kind in ("start", "startend") else None
        self.found.append((kind, tag, start, end, tuple(attrs)))

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._add("start", tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self._add("startend", tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self._add("end", tag)

    def handle_data(self, data: str) -> None:
        self._add("data")

    def handle_comment(self, data: str) -> None:
        self._add("other")

    handle_decl = handle_pi = unknown_decl = handle_comment

    def tokens(self) -> list[_Token]:
        """Each token ends where the next starts; text the parser skipped is "other"."""
        out: list[_Token] = []
        bounds = [f[2] for f in self.found[1:]] + [self.parsed]
        for (kind, tag, start, end, attrs), following in zip(self.found, bounds):
            end = following if end is None else end
            if out and out[-1].end < start:
                out.append(_Token("other", "", out[-1].end, start))
            out.append(_Token(kind, tag, start, end, attrs))
        if out and out[-1].end < len(self.source):
            out.append(_Token("rest", "", out[-1].end, len(self.source)))
        return out


@dataclass(frozen=True)
class _Block:
    """Where a Line's English goes: its source range, each markup element's source ranges
    (open, close) for text blocks, and for an attribute value its quote ("" if bare)."""

    start: int
    end: int
    parts: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = ()
    quote: str | None = None


@dataclass(frozen=True)
class _Layout:
    """What writing back needs: the decoded source, how to encode it, the blocks by line
    number - 1 after the front matter's fields (the first Document lines), fixed edits
    (lang="fr" → "en"), and the front matter."""

    source: str
    bom: bytes
    codec: str
    blocks: tuple[_Block, ...]
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


class _Reader:
    """Walks the tokens once, gathering blocks, attribute values and lang edits."""

    def __init__(self, source: str, tokens: list[_Token], options: ReadOptions):
        self.source, self.tokens, self.options = source, tokens, options
        self.blocks: list[tuple[_Block, Line]] = []
        self.fixed: list[tuple[int, int, str]] = []
        self.items: list[_Item] = []
        self.unclosed: list[int] = []  # the block's inline elements not closed yet, by item index
        self.open_names: list[str] = []  # elements open in the document, for where raw ones end
        k = 0
        while k < len(tokens):
            k = self._token(k) + 1
        self._flush()

    def _token(self, k: int) -> int:
        """Read token k; return the index of the last token it took."""
        tok = self.tokens[k]
        if tok.kind == "start" and tok.tag not in VOID and _protected(tok):
            if not _marked_no(tok):  # its content is kept; its attributes are read
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
            if not _protected(tok):
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
            elif t.kind == "end" and t.tag in self.open_names:
                return j - 1
        return len(self.tokens) - 1

    def _data(self, tok: _Token) -> None:
        raw, start = self.source[tok.start : tok.end], tok.start
        if not self.items:  # a block starts at its first word
            start += len(raw) - len(raw.lstrip(_SPACE))
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

    def _start(self, tok: _Token) -> None:
        if tok.kind == "start" and tok.tag not in VOID:
            self.open_names.append(tok.tag)
        if tok.tag == "br":
            self._br(tok)
        elif tok.tag in INLINE_VOID or (_inline(tok.tag) and tok.kind == "startend"):
            self._void(tok.start, tok.end, starts=True)
        elif _inline(tok.tag):
            self.unclosed.append(len(self.items))
            self.items.append(_Item("open", tok.start, tok.end, tok.tag))
        else:
            self._flush()

    def _end(self, tok: _Token) -> None:
        if tok.tag in self.open_names:  # closes it and whatever was left open inside it
            del self.open_names[max(i for i, name in enumerate(self.open_names) if name == tok.tag) :]
        if tok.tag in INLINE_VOID:
            self._void(tok.start, tok.end, starts=False)
        elif not _inline(tok.tag):
            self._flush()
        elif self.items:
            opened = [i for i in self.unclosed if self.items[i].tag == tok.tag]
            if opened:
                self.unclosed.remove(opened[-1])
                self.items[opened[-1]].pair = len(self.items)
                self.items.append(_Item("close", tok.start, tok.end, tok.tag, opened[-1]))
            else:  # a stray end tag: kept where it is
                self._void(tok.start, tok.end, starts=False)

    def _void(self, start: int, end: int, starts: bool) -> None:
        """Void markup; it opens a block only when `starts` (an image, protected code)."""
        if self.items or starts:
            self.items.append(_Item("void", start, end))

    def _br(self, tok: _Token) -> None:
        """A `<br>` is void markup in its block; a second one right after it (only
        whitespace between) ends the block before the first, unless an inline element
        is still open."""
        if not self.items:
            return
        last = len(self.items) - 1
        while last and self.items[last].kind == "text" and not self.source[self.items[last].start : self.items[last].end].strip(_SPACE):
            last -= 1
        if self.items[last].tag == "br" and not self.unclosed:
            del self.items[last:]
            self._flush()
        else:
            self.items.append(_Item("void", tok.start, tok.end, "br"))

    def _attributes(self, tok: _Token, lang: bool = True) -> None:
        """Translated attributes' values (and a described <meta>'s content) become
        blocks; lang="fr" becomes "en" if `lang`."""
        raw = self.source[tok.start : tok.end]
        named = {key: (value or "").strip().lower() for key, value in tok.attrs if key in ("name", "property")}
        meta = tok.tag == "meta" and not TRANSLATED_META.isdisjoint(named.values())
        for m in _ATTRIBUTE.finditer(raw, _TAG_NAME.match(raw).end()):
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
                self.blocks.append((_Block(start, end, quote=quote), line))
            elif lang and name in LANG_ATTRIBUTES and re.fullmatch(r"fr(?:-\w+)*", text.strip(), re.IGNORECASE):
                self.fixed.append((start, end, "en"))

    def _flush(self) -> None:
        """End the block being read; keep it if it has text to translate."""
        items, self.items, self.unclosed = self.items, [], []
        while items and items[-1].kind == "text" and not self.source[items[-1].start : items[-1].end].strip(_SPACE):
            items.pop()
        if not any(item.kind == "text" for item in items):
            return
        if items[-1].kind == "text":  # the block ends at its last word
            raw = self.source[items[-1].start : items[-1].end]
            items[-1].end -= len(raw) - len(raw.rstrip(_SPACE))
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


def _plain(source: str, items: list[_Item]) -> tuple[_Block, str, tuple[Inline, ...], tuple[tuple[int, int], ...]]:
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
            around.remove(i)
        else:
            if item.kind == "void" and source[item.start] in _SPACE and text and not text.endswith(" "):
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
    return _Block(items[0].start, items[-1].end, tuple(parts)), text, markup, origin(runs)


def _punctuation_first(runs: list[tuple[str, int, int]]) -> bool:
    """Whether decoded text starts with punctuation, no letter or digit before its first space."""
    first = "".join(run for run, _, _ in runs).split(" ", 1)[0]
    return bool(first) and not any(c.isalnum() for c in first)


def _decoded(source: str, start: int, end: int) -> list[tuple[str, int, int]]:
    """source[start:end] as a block's text reads it, in runs with the source range
    each came from: entities decoded (what `html.unescape` decodes), whitespace runs
    (entities of whitespace too) as one space."""
    atoms, pos = [], start
    for m in _CHARREF.finditer(source, start, end):
        atoms += [(r.group(), r.start(), r.end()) for r in _RUN.finditer(source, pos, m.start())]
        atoms += [(ch, m.start(), m.end()) for ch in unescape(m.group())]
        pos = m.end()
    atoms += [(r.group(), r.start(), r.end()) for r in _RUN.finditer(source, pos, end)]
    runs: list[tuple[str, int, int]] = []
    for run, a, b in atoms:
        if run[0] not in _SPACE:
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
    k = 0
    while k < len(items):
        moved[k] = len(out)
        last = _wordless_end(source, items, k)
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


def _wordless_end(source: str, items: list[_Item], k: int) -> int | None:
    """If items[k] opens an element that wraps no word and only whole elements, the
    index of its last item (its end tag, or the block's end when unclosed)."""
    if items[k].kind != "open":
        return None
    last = len(items) - 1 if items[k].pair is None else items[k].pair
    for item in items[k + 1 : last + 1]:
        if item.kind == "text" and source[item.start : item.end].strip(_SPACE):
            return None
        if item.kind == "open" and (last if item.pair is None else item.pair) > last or item.kind == "close" and item.pair < k:
            return None
    return last


def _absorb_spaces(source: str, items: list[_Item]) -> None:
    """Void markup takes the whitespace before it (after it, before the block's first
    word), so that it keeps its spacing wherever the English places it."""
    seen_word = False
    for k, item in enumerate(items):
        if item.kind == "text":
            seen_word = seen_word or bool(source[item.start : item.end].strip(_SPACE))
        elif item.kind == "void" and seen_word and k and items[k - 1].kind == "text":
            before = items[k - 1]
            moved = len(source[before.start : before.end]) - len(source[before.start : before.end].rstrip(_SPACE))
            before.end -= moved
            item.start -= moved
        elif item.kind == "void" and not seen_word and k + 1 < len(items) and items[k + 1].kind == "text":
            after = items[k + 1]
            moved = len(source[after.start : after.end]) - len(source[after.start : after.end].lstrip(_SPACE))
            after.start += moved
            item.end += moved


def _protected(tok: _Token) -> bool:
    """Never translated: raw elements, and those marked so."""
    return tok.tag in RAW or _marked_no(tok)


def _marked_no(tok: _Token) -> bool:
    """Marked never to be translated, attributes included: translate="no", class notranslate."""
    attrs = {name: (value or "") for name, value in tok.attrs}
    return attrs.get("translate", "").strip().lower() == "no" or "notranslate" in attrs.get("class", "").lower().split()


def _decode(data: bytes) -> tuple[str, str, bytes, str]:
    """(text, encoding name, byte-order mark, codec to write back with)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            text, encoding = decode(data)
            return text, encoding, bom, codec
    declared = _META_CHARSET.search(data[:4096])
    encoding = declared and webencodings.lookup(declared.group(1).decode("ascii"))  # labels as browsers read them
    if encoding:
        # A page that says UTF-16 without a byte-order mark is read as UTF-8, as browsers do.
        codec = "utf-8" if encoding.name.startswith("utf-16") else encoding.codec_info.name
        try:
            return data.decode(codec), codec, b"", codec
        except (LookupError, UnicodeDecodeError):
            pass  # wrong, or a codec Python lacks (x-user-defined): detect as for any text
    text, encoding = decode(data)
    return text, encoding, b"", "utf-8" if encoding.startswith("utf-8") else encoding


def _attribute_value(block: _Block, english: str) -> str:
    """An attribute's English, escaped for its quoting (quoted if bare and it must be)."""
    if block.quote:
        return escape(english, quote=False).replace(block.quote, "&quot;" if block.quote == '"' else "&#x27;")
    if english and not re.search(r"[\s\"'=<>`]", english):
        return escape(english, quote=False)
    return '"' + escape(english, quote=False).replace('"', "&quot;") + '"'


def _render(source: str, block: _Block, events: list[Event], leaves: list[tuple[int, int, str]]) -> str:
    """A text block in English: text escaped, markup as in the source (the attributes
    in it translated)."""
    out = []
    for kind, value in events:
        if kind == "text":
            out.append(escape(str(value), quote=False))
        else:
            start, end = block.parts[int(value)][kind == "close"]
            out.append(fill(source, start, end, leaves))
    return "".join(out)


@register
class Html:
    name = "html"
    suffixes = (".html", ".htm")

    def read(self, data: bytes, name: str, options: ReadOptions = ReadOptions()) -> Document:
        source, encoding, bom, codec = _decode(data)
        front = frontmatter.find(source, options.front_matter_keys, strict=True)
        read_from = source if front is None else frontmatter.blanked(source, front.end)
        reader = _Reader(read_from, _Tokenizer(read_from).tokens(), options)
        fields = [protected_line(f.text, options, source, f.text_at) for f in (front.fields if front else ())]
        blocks = sorted(reader.blocks, key=lambda b: b[0].start)
        return Document(
            name=name,
            lines=tuple(Line(n, line.text, "", line.markup, line.origin) for n, line in enumerate([*fields, *(line for _, line in blocks)], start=1)),
            encoding=encoding,
            sha256=hashlib.sha256(data).hexdigest(),
            layout=_Layout(source, bom, codec, tuple(b for b, _ in blocks), tuple(sorted(reader.fixed)), front),
        )

    def write(self, doc: Document, segments: Sequence[Segment], translations: Sequence[Translation]) -> Written:
        layout: _Layout = doc.layout
        placed, unsure = placed_blocks(doc, segments, translations)
        fields = len(layout.front.fields) if layout.front else 0
        english = {n: unit_text(events, doc.lines[n - 1].markup) for n, events in placed.items()}
        numbered = list(enumerate(layout.blocks, fields + 1))
        leaves = sorted([*layout.fixed] + [(b.start, b.end, _attribute_value(b, english[n])) for n, b in numbered if b.quote is not None and n in placed])
        rendered = [(b.start, b.end, _render(layout.source, b, placed[n], leaves)) for n, b in numbered if b.quote is None and n in placed]
        subs = rendered + leaves  # a leaf inside a rendered block was rendered with it: fill leaves it out
        if layout.front:
            subs.append((0, layout.front.end, frontmatter.write(layout.source, layout.front, {k: english[k + 1] for k in range(fields) if k + 1 in english})))
        text = fill(layout.source, 0, len(layout.source), sorted(subs))
        return Written(layout.bom + text.encode(layout.codec, errors="xmlcharrefreplace"), unsure)
