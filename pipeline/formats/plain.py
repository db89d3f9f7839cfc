"""Plain text (.txt): each line's sentences replaced in place, everything between them
kept (see writers.english_text). Protected text (`pipeline.protect`) is taken out of
a line as void markup and put back after the English of the word before it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..ingest import Document, Line, parse
from ..segment import Segment
from ..translate.types import Translation
from ..writers import english_text
from .base import (
    ReadOptions,
    Written,
    placed_blocks,
    protected_unit,
    register,
    unit_text,
)


@register
class PlainText:
    name = "text"
    suffixes = (".txt",)

    def read(self, data: bytes, name: str, options: ReadOptions = ReadOptions()) -> Document:
        doc = parse(data, name)
        return replace(doc, lines=tuple(_protected(line, options) for line in doc.lines))

    def write(self, doc: Document, segments: Sequence[Segment], translations: Sequence[Translation]) -> Written:
        if not any(line.markup for line in doc.lines):
            return Written(english_text(doc, segments, translations).encode("utf-8"))
        placed, unsure = placed_blocks(doc, segments, translations)
        text = "".join(
            (unit_text(placed[line.number], line.markup) if line.number in placed else _restored(line)) + line.newline for line in doc.lines
        )
        return Written(text.encode("utf-8"), unsure)


def _protected(line: Line, options: ReadOptions) -> Line:
    """The line with its protected spans as void markup."""
    spans = options.protect.spans(line.text)
    if not spans:
        return line
    plain, markup, _ = protected_unit(line.text, spans)
    return Line(line.number, plain, line.newline, markup)


def _restored(line: Line) -> str:
    """A line without sentences as it was read: its protected spans back in place."""
    out, pos = [], 0
    for void in line.markup:
        out += [line.text[pos : void.start], void.open]
        pos = void.start
    out.append(line.text[pos:])
    return "".join(out)
