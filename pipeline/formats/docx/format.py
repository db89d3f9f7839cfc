"""The Word (.docx) format: read the paragraphs and core properties, write the English back."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from copy import deepcopy
from dataclasses import dataclass, replace

from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.part import XmlPart
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from lxml import etree

from ...ingest import Document, IngestError, Line
from ...protect import Protector
from ...segment import Segment
from ...translate.types import Translation
from ..base import (
    ReadOptions,
    Written,
    placed_blocks,
    protected_line,
    register,
    unit_text,
)
from ..markup import Event
from .package import (
    PROPERTIES_READ,
    TEMPLATE_TEXT,
    core_properties,
    dated_as,
    drop_entities,
    english_tag,
    open_word,
    paragraphs_of,
    related,
    retag,
    stories_of,
)
from .runs import XML_SPACE, Paragraph, parse_paragraph

_PROPERTY_MAX = 255  # python-docx refuses longer core property values


@dataclass(frozen=True)
class _Layout:
    """What writing needs: the source file, the core properties translated (the first
    Document lines), and each following block's paragraph (by its index in `paragraphs_of`)."""

    data: bytes
    paragraphs: tuple[int, ...]
    properties: tuple[str, ...] = ()
    protect: Protector = Protector()


def _rebuild(paragraph: etree._Element, parsed: Paragraph, events: Sequence[Event], english: str) -> None:
    """Replace the paragraph's content by the English: runs with the formatting of the
    innermost open formatting span (the base outside any), inside copies of the open
    wrappers, tagged `english` where they were French, as is the paragraph mark; voids
    moved in as they were."""
    for child in list(paragraph):
        if child.tag == qn("w:pPr"):
            retag(child, english)
        else:
            paragraph.remove(child)
    stack: list[tuple[etree._Element, etree._Element | None]] = [(paragraph, parsed.base)]  # container, formatting
    last: etree._Element | None = None  # the text just written (a w:t), that more text may join
    pieces: list[str] = []  # the text of `last`, joined once it is done: lxml copies its text at every +=
    tail = ""  # the last character of text written
    drop_space = False  # a void was just written that stands for, or takes the place of, the next space

    def done() -> None:
        nonlocal last
        if last is not None:
            last.text = "".join(pieces)
            pieces.clear()
        last = None

    def write(text: str) -> None:
        nonlocal last, tail
        if last is None:
            container, rpr = stack[-1]
            run = OxmlElement("w:r")
            if rpr is not None:
                run.append(deepcopy(rpr))
                retag(run, english)
            last = OxmlElement("w:t")
            last.set(XML_SPACE, "preserve")
            run.append(last)
            container.append(run)
        pieces.append(text)
        tail = text[-1]

    for kind, value in events:
        if kind == "text":
            text = value[1:] if drop_space and value[:1].isspace() else value
            drop_space = False
            if text:
                write(text)
            continue
        part = parsed.parts[value]
        if kind == "void" and part.space_before and tail and not tail.isspace():
            write(" ")  # it follows white space, as in the source
        done()
        container, rpr = stack[-1]
        if kind == "void":
            container.append(part.element())
            drop_space = part.spacing or (part.space_before and not part.space_after)  # the start of the next word
        elif kind == "close":
            stack.pop()
        elif part.shell is None:
            stack.append((container, part.rpr))
        else:
            shell = deepcopy(part.shell)
            container.append(shell)
            stack.append((shell, rpr))
    done()


@register
class Docx:
    """Word documents, read and written with python-docx."""

    name = "docx"
    suffixes = (".docx",)

    def read(self, data: bytes, name: str, options: ReadOptions = ReadOptions()) -> Document:
        document = open_word(data)
        core = core_properties(document)
        properties = [(key, text) for key in PROPERTIES_READ if core and (text := getattr(core, key) or "").strip() not in ("", *TEMPLATE_TEXT)]
        lines = [protected_line(" ".join(text.split()), options, "", 0) for _, text in properties]
        where: list[int] = []
        paragraphs, _ = paragraphs_of(stories_of(document))
        for index, paragraph in enumerate(paragraphs):
            parsed = parse_paragraph(paragraph, options.protect)
            if parsed.text.strip():
                where.append(index)
                lines.append(Line(0, parsed.text, "", tuple(parsed.markup)))
        numbered = tuple(replace(line, number=n) for n, line in enumerate(lines, start=1))
        layout = _Layout(data, tuple(where), tuple(key for key, _ in properties), options.protect)
        return Document(name, numbered, "docx", hashlib.sha256(data).hexdigest(), layout=layout)

    def write(self, doc: Document, segments: Sequence[Segment], translations: Sequence[Translation]) -> Written:
        blocks, unsure = placed_blocks(doc, segments, translations)
        document = open_word(doc.layout.data)
        roots = stories_of(document)
        styles = related(document, RT.STYLES)
        english = english_tag([*roots, *styles])
        paragraphs, copies = paragraphs_of(roots)
        targets: list[tuple[etree._Element, list[Event]]] = []
        first, core = len(doc.layout.properties), core_properties(document)
        for number, events in blocks.items():
            if number <= first:
                text = unit_text(events, doc.lines[number - 1].markup)
                if len(text) <= _PROPERTY_MAX:
                    setattr(core, doc.layout.properties[number - 1], text)
                else:  # kept French, flagged, rather than cut
                    unsure |= {s.id for s in segments if s.line == number}
                continue
            paragraph = paragraphs[doc.layout.paragraphs[number - first - 1]]
            targets += [(p, events) for p in (paragraph, *copies.get(paragraph, ()))]
        parsed = [parse_paragraph(p, doc.layout.protect) for p, _ in targets]  # as read: before any change (a text box's paragraphs sit in another's run)
        for (paragraph, events), source in zip(targets, parsed):
            _rebuild(paragraph, source, events, english)
        for root in styles:
            retag(root, english)
        if core and (core.language or "").split("-")[0].lower() == "fr":
            core.language = english
        for part in document.part.package.iter_parts():
            if isinstance(part, XmlPart):
                drop_entities(part.element)
        out = io.BytesIO()
        document.save(out)
        data = dated_as(out.getvalue(), doc.layout.data)
        try:
            open_word(data)
        except IngestError as exc:
            raise ValueError(f"its English is not a Word document that opens ({exc})") from None
        return Written(data, unsure)
