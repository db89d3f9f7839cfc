"""HTML as mtpipe tokenizes it: the element classes (inline, block, void, raw), the
attributes and meta tags that hold text, the tokenizer that keeps every byte, and
the page's encoding (byte-order mark, then <meta charset> read as browsers read it)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

import webencodings

from ...ingest import BYTE_ORDER_MARKS, decode

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
SPACE = " \t\n\r\f"  # HTML whitespace; a no-break space is text
RUN = re.compile(f"[{SPACE}]+|[^{SPACE}]+")
CHARREF = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")  # what html.unescape decodes
TAG_NAME = re.compile(r"</?[^\s/>]*")
ATTRIBUTE = re.compile(r"""([^\s/>"'=][^\s/>=]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]*))?""")
_META_CHARSET = re.compile(rb"""<meta\s[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class Token:
    """A piece of the source as html.parser saw it: kind is start, startend (self-closing),
    end, data, other (comment, declaration, processing instruction, skipped text) or
    rest (markup left open at the end, which a browser reads to the end)."""

    kind: str
    tag: str
    start: int
    end: int
    attrs: tuple[tuple[str, str | None], ...] = ()


class Tokenizer(HTMLParser):
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

    def tokens(self) -> list[Token]:
        """Each token ends where the next starts; text the parser skipped is "other"."""
        out: list[Token] = []
        bounds = [f[2] for f in self.found[1:]] + [self.parsed]
        for (kind, tag, start, end, attrs), following in zip(self.found, bounds):
            end = following if end is None else end
            if out and out[-1].end < start:
                out.append(Token("other", "", out[-1].end, start))
            out.append(Token(kind, tag, start, end, attrs))
        if out and out[-1].end < len(self.source):
            out.append(Token("rest", "", out[-1].end, len(self.source)))
        return out


def is_protected(tok: Token) -> bool:
    """Never translated: raw elements, and those marked so."""
    return tok.tag in RAW or marked_no(tok)


def marked_no(tok: Token) -> bool:
    """Marked never to be translated, attributes included: translate="no", class notranslate."""
    attrs = {name: (value or "") for name, value in tok.attrs}
    return attrs.get("translate", "").strip().lower() == "no" or "notranslate" in attrs.get("class", "").lower().split()


def decode_page(data: bytes) -> tuple[str, str, bytes, str]:
    """(text, encoding name, byte-order mark, codec to write back with)."""
    for bom, _, codec in BYTE_ORDER_MARKS:
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
