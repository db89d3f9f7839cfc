"""The HTML format: read a page into blocks, write the English back in place."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from html import escape

from ...ingest import Document, Line
from ...segment import Segment
from ...translate.types import Translation
from .. import frontmatter
from ..base import (
    ReadOptions,
    Written,
    fill,
    placed_blocks,
    protected_line,
    register,
    unit_text,
)
from ..markup import Event
from .reader import Block, Layout, Reader
from .tokens import Tokenizer, decode_page


def _attribute_value(block: Block, english: str) -> str:
    """An attribute's English, escaped for its quoting (quoted if bare and it must be)."""
    if block.quote:
        return escape(english, quote=False).replace(block.quote, "&quot;" if block.quote == '"' else "&#x27;")
    if english and not re.search(r"[\s\"'=<>`]", english):
        return escape(english, quote=False)
    return '"' + escape(english, quote=False).replace('"', "&quot;") + '"'


def _render(source: str, block: Block, events: list[Event], leaves: list[tuple[int, int, str]]) -> str:
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
        source, encoding, bom, codec = decode_page(data)
        front = frontmatter.find(source, options.front_matter_keys, strict=True)
        read_from = source if front is None else frontmatter.blanked(source, front.end)
        reader = Reader(read_from, Tokenizer(read_from).tokens(), options)
        fields = [protected_line(f.text, options, source, f.text_at) for f in (front.fields if front else ())]
        blocks = sorted(reader.blocks, key=lambda b: b[0].start)
        return Document(
            name=name,
            lines=tuple(Line(n, line.text, "", line.markup, line.origin) for n, line in enumerate([*fields, *(line for _, line in blocks)], start=1)),
            encoding=encoding,
            sha256=hashlib.sha256(data).hexdigest(),
            layout=Layout(source, bom, codec, tuple(b for b, _ in blocks), tuple(sorted(reader.fixed)), front),
        )

    def write(self, doc: Document, segments: Sequence[Segment], translations: Sequence[Translation]) -> Written:
        layout: Layout = doc.layout
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
