"""Plain text (.txt): each line's sentences replaced in place, everything between them
kept (see writers.english_text)."""

from __future__ import annotations

from collections.abc import Sequence

from ..ingest import Document, parse
from ..segment import Segment
from ..translate import Translation
from ..writers import english_text
from .base import Written, register


@register
class PlainText:
    name = "text"
    suffixes = (".txt",)

    def read(self, data: bytes, name: str) -> Document:
        return parse(data, name)

    def write(self, doc: Document, segments: Sequence[Segment], translations: Sequence[Translation]) -> Written:
        return Written(english_text(doc, segments, translations).encode("utf-8"))

