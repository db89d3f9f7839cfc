"""A reference translation paired with a run's units: line by line when the
layouts agree, else by aligning sentences."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..ingest import Document
from ..segment import Segment, segment
from .sentences import align


@dataclass(frozen=True)
class Unit:
    """Source sentences (indices into the article's segments, in order) and the
    reference text that translates them ("" when the reference has none)."""

    source: tuple[int, ...]
    reference: str


def _layout(doc: Document) -> list[bool]:
    """Which lines hold text, trailing blank lines left out (they are layout)."""
    filled = [bool(line.text.strip()) for line in doc.lines]
    while filled and not filled[-1]:
        filled.pop()
    return filled


def pair_reference(doc: Document, segments: Sequence[Segment], mt: Sequence[str], reference: Document) -> tuple[list[Unit], str]:
    """Pair an article's sentences with its human reference translation.

    When the reference has text on exactly the lines where the article has, line i
    translates line i and each line is one unit ("lines"). Otherwise the reference is
    segmented and aligned to the article through its machine translation ("aligned");
    reference sentences aligned to nothing join the unit before them (the first unit
    when they open the text), so no reference text is left out.
    """
    if _layout(doc) == _layout(reference):
        lines: dict[int, list[int]] = {}
        for i, seg in enumerate(segments):
            lines.setdefault(seg.line, []).append(i)
        return [Unit(tuple(idx), reference.lines[line - 1].text.strip()) for line, idx in lines.items()], "lines"
    targets = [s.text for s in segment(reference)]
    units: list[Unit] = []
    pending: list[str] = []
    for link in align([s.text for s in segments], targets, mt):
        text = " ".join([*pending, *(targets[j] for j in link.tgt)])
        if link.src:
            units.append(Unit(link.src, text))
            pending = []
        elif units:
            units[-1] = Unit(units[-1].source, f"{units[-1].reference} {text}".strip())
        else:
            pending = [text]
    return units, "aligned"
