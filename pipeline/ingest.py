"""Ingest: article bytes → Document (lines with their own line endings, encoding, hash).

Decoding is strict and explicit so that nothing is silently mangled: a byte-order
mark decides first, then strict UTF-8, then charset-normalizer restricted to the
single-byte encodings French files actually come in. Anything else is refused with
a one-sentence reason instead of being guessed.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from .errors import InputError

# Byte-order marks, longest first (UTF-32 LE's starts with UTF-16 LE's): the codec that
# reads a text starting with one (the mark dropped, the name ingest reports), and the
# codec that writes the text back after the same mark (formats that keep the mark).
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32", "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32", "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16-be"),
)
# Legacy encodings of French text, most common first (ties go to the first).
_LEGACY_ENCODINGS = ["cp1252", "latin_1", "iso8859_15", "mac_roman"]
# charset-normalizer's default (0.2) rejects short French texts dense in accents and
# curly quotes; random binary data still scores far above this.
_MAX_CHAOS = 0.5
# The largest article (in MB, of bytes and of text) a run reads unless told otherwise:
# a run holds an article's sentences, alignments and page in memory, and 10 MB peaks near 1 GB.
MAX_ARTICLE_MB = 10
_NEWLINE = re.compile(r"\r\n|\r|\n")


class IngestError(InputError):
    """The file cannot be read as a text article; the message says why and what to do."""


@dataclass(frozen=True)
class Line:
    """One physical line: its text and the line ending that followed it ("" at EOF).
    In a document with markup (HTML, Markdown, Word) a line is a block to translate
    (a paragraph, heading, list item or table cell): its plain text, and the inline
    markup taken out of it (`pipeline.formats.markup.Inline`), to be put back.
    `origin` ties the text to the source file's text where a format knows it (HTML,
    Markdown): anchors (plain offset, source offset), sorted, wherever the text stops
    following the source character for character (see `formats.base.origin`)."""

    number: int
    text: str
    newline: str
    markup: tuple[Any, ...] = ()
    origin: tuple[tuple[int, int], ...] = ()

    def source_span(self, start: int, end: int) -> tuple[int, int] | None:
        """Where text[start:end] (not empty) lies in the source file's text: from its first
        character's source to the end of its last one's, markup between them included;
        None when the line has no origin."""
        if not self.origin:
            return None
        plain, source = self.origin[bisect_right(self.origin, start, key=itemgetter(0)) - 1]
        first = source + start - plain
        k = bisect_left(self.origin, end, key=itemgetter(0))
        if k < len(self.origin) and self.origin[k][0] == end:  # a piece ends there: where it ends in the source
            return first, self.origin[k][1]
        plain, source = self.origin[k - 1]
        return first, source + end - plain


@dataclass(frozen=True)
class Document:
    """A decoded article, line by line (or block by block), as it was laid out.
    `layout` is what its format needs to write it back (None for plain text)."""

    name: str
    lines: tuple[Line, ...]
    encoding: str
    sha256: str
    layout: Any = None

    @property
    def text(self) -> str:
        """The document's text: plain text as it was; a document with markup (whose
        blocks have no line endings) block by block, a blank line between two."""
        if self.layout is None:
            return "".join(line.text + line.newline for line in self.lines)
        return "\n\n".join(line.text for line in self.lines)


def decode(data: bytes) -> tuple[str, str]:
    """Return (text, encoding name) for an article's bytes, or raise IngestError. An
    empty file is empty text (an article with nothing to translate, copied)."""
    if not data:
        return "", "utf-8"
    for bom, encoding, _ in BYTE_ORDER_MARKS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise IngestError(f"it starts with a {encoding} byte-order mark but is not valid {encoding} ({exc.reason} at byte {exc.start})") from None
    if b"\x00" in data:
        raise IngestError("it contains NUL bytes, so it is binary, not a text article")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    if bad <= max(3, len(text) // 1000) and any("\x7f" < c != "\ufffd" for c in text):
        # Valid UTF-8 accents around a few broken bytes: a damaged UTF-8 file, not Latin-1.
        return text, f"utf-8 ({bad} invalid byte sequence{'s' * (bad > 1)} replaced by U+FFFD)"
    from charset_normalizer import from_bytes

    match = from_bytes(data, cp_isolation=_LEGACY_ENCODINGS, threshold=_MAX_CHAOS).best()
    if match is None:
        raise IngestError("its encoding is neither UTF-8 nor a Western European one, so it is probably not text; convert it to UTF-8")
    return str(match), match.encoding


def split_lines(text: str) -> tuple[Line, ...]:
    """Split text into lines, keeping each line's own ending (LF, CRLF or CR)."""
    lines: list[Line] = []
    end = 0
    for m in _NEWLINE.finditer(text):  # matching the line text too backtracks quadratically on a huge line
        lines.append(Line(len(lines) + 1, text[end : m.start()], m.group()))
        end = m.end()
    if end < len(text):
        lines.append(Line(len(lines) + 1, text[end:], ""))
    return tuple(lines)


def parse(data: bytes, name: str) -> Document:
    """Decode an article's bytes into a Document (one without words has nothing to
    translate: it is copied); IngestError when the bytes are not text."""
    text, encoding = decode(data)
    return Document(
        name=name,
        lines=split_lines(text),
        encoding=encoding,
        sha256=hashlib.sha256(data).hexdigest(),
    )
