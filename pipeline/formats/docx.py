"""Word (.docx): every paragraph with text is a block, translated whole — in the body,
in table cells (nested ones too), text boxes, each section's headers and footers,
footnotes and endnotes — and its formatting is put back around the English words
aligned to the French words it covered (`markup.place`).

A block's inline markup: each run of text whose formatting (`w:rPr`) differs from
the paragraph's usual one is a span, and so is each element that wraps runs (a
hyperlink, a tracked insertion, a content control, a smart tag); what is not text
(a picture, a tab, a break, a field, a footnote mark, a bookmark) is a void, moved
to the English as it was. Runs split only by editing history or spelling marks,
with the same look, give no span. Writing re-opens the source, finds each block's
paragraph again by the same walk, and rebuilds its runs from the placed events;
the paragraph's properties (style, numbering) and everything else stay as they were.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from copy import deepcopy
from dataclasses import dataclass, field, replace
from itertools import groupby

from docx.document import Document as WordDocument
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.part import Part
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import qn
from docx.package import Package
from lxml import etree

from ..ingest import Document, IngestError, Line
from ..segment import Segment
from ..translate import Translation
from .base import Written, placed_blocks, register
from .markup import Event, Inline

# Elements that wrap runs inside a paragraph: a span around the English of their text.
_WRAPPERS = frozenset(
    qn(tag) for tag in ("w:hyperlink", "w:ins", "w:moveTo", "w:smartTag", "w:customXml", "w:fldSimple", "w:dir", "w:bdo", "w:sdt", "w:sdtContent")
)
# Properties of a paragraph or of a wrapper: they stay where they are (in the wrapper's copy).
_PROPERTIES = frozenset(qn(tag) for tag in ("w:pPr", "w:rPr", "w:smartTagPr", "w:customXmlPr", "w:sdtPr", "w:sdtEndPr"))
# Run content that stands for white space: a space in the plain text keeps the words
# around it apart; written back, it takes the place of the space the English has there.
_SPACING = frozenset(qn(tag) for tag in ("w:tab", "w:ptab", "w:br", "w:cr"))
# Spelling marks, the last rendered page break, optional hyphens: meaningless once translated.
_DROPPED = frozenset(qn(tag) for tag in ("w:proofErr", "w:lastRenderedPageBreak", "w:softHyphen"))
# Formatting that does not change how a run looks: no reason for a span.
_INVISIBLE = frozenset(qn(tag) for tag in ("w:lang", "w:noProof"))
_TEXT, _HYPHEN, _FIELD = qn("w:t"), qn("w:noBreakHyphen"), qn("w:fldChar")
_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


@dataclass(frozen=True)
class _Layout:
    """What writing needs: the source file, and each block's paragraph (by its index in
    `_paragraphs`), by block number - 1."""

    data: bytes
    paragraphs: tuple[int, ...]


@dataclass(frozen=True)
class _Span:
    """A wrapper's copy without its runs, to hold the English it covers; or, when `shell`
    is None, the run formatting of the English it covers."""

    shell: etree._Element | None
    rpr: etree._Element | None = None


@dataclass(frozen=True)
class _Void:
    """Content that is not text, put back as it was: a paragraph-level element, or run
    children (`in_run`, written in a new run with their run's formatting)."""

    elements: tuple[etree._Element, ...]
    rpr: etree._Element | None = None
    in_run: bool = False
    spacing: bool = False  # a tab or break: a space in the plain text
    # Otherwise, whether white space comes right before and after it in the source.
    space_before: bool = False
    space_after: bool = False

    def element(self) -> etree._Element:
        """The element to put in the English (moving the source's own children)."""
        if not self.in_run:
            return self.elements[0]
        run = OxmlElement("w:r")
        if self.rpr is not None:
            run.append(deepcopy(self.rpr))
        run.extend(self.elements)
        return run


@dataclass
class _Paragraph:
    """A paragraph's plain text and markup, with what each markup item stands for."""

    text: str = ""
    markup: list[Inline] = field(default_factory=list)
    parts: list[_Span | _Void] = field(default_factory=list)  # by markup index
    # Text pieces in order: start, end, formatting, markup index of the innermost wrapper (-1: none).
    pieces: list[tuple[int, int, etree._Element | None, int]] = field(default_factory=list)
    base: etree._Element | None = None  # the formatting of the text outside formatting spans
    field_depth: int = 0  # inside a complex field (fldChar begin … end): kept as it is

    def content(self, element: etree._Element, container: int) -> None:
        """Read the children of a paragraph or wrapper."""
        for child in element:
            if child.tag in _PROPERTIES or child.tag in _DROPPED:
                continue
            if child.tag == qn("w:r"):
                self.run(child, container)
            elif child.tag in _WRAPPERS:
                self.wrapper(child, container)
            else:
                self.void(_Void((child,)))

    def run(self, run: etree._Element, container: int) -> None:
        """Text pieces with the run's formatting; its other children grouped in voids."""
        rpr = run.find(qn("w:rPr"))
        pending: list[etree._Element] = []
        for child in run:
            if child.tag in _PROPERTIES or child.tag in _DROPPED:
                continue
            if child.tag == _FIELD:
                kind = child.get(qn("w:fldCharType"))
                self.field_depth = max(0, self.field_depth + (kind == "begin") - (kind == "end"))
            elif self.field_depth == 0 and child.tag in (_TEXT, _HYPHEN):
                self.void_run(pending, rpr)
                pending = []
                text = (child.text or "") if child.tag == _TEXT else "-"
                self.pieces.append((len(self.text), len(self.text) + len(text), rpr, container))
                self.text += text
                continue
            pending.append(child)
        self.void_run(pending, rpr)

    def void_run(self, children: list[etree._Element], rpr: etree._Element | None) -> None:
        """A void of run children, if any."""
        if children:
            self.void(_Void(tuple(children), rpr, in_run=True, spacing=any(c.tag in _SPACING for c in children)))

    def void(self, void: _Void) -> None:
        """A void at the end of the text so far, then its stand-in space if it has one."""
        self.markup.append(Inline(len(self.text), len(self.text), "".join(f"<{_name(e)}/>" for e in void.elements), void=True))
        self.parts.append(void)
        self.text += " " * void.spacing

    def wrapper(self, element: etree._Element, container: int) -> None:
        """A span around the wrapper's text; a void of the whole element when it has none."""
        start, index, pieces = len(self.text), len(self.markup), len(self.pieces)
        shell = deepcopy(element)
        for child in list(shell):
            if child.tag not in _PROPERTIES:
                shell.remove(child)
        self.markup.append(Inline(start, start, ""))  # its place, filled in below
        self.parts.append(_Span(shell))
        self.content(element, index)
        inside = self.text[start:]
        if inside.strip():
            self.markup[index] = Inline(start, len(self.text), f"<{_name(element)}>", f"</{_name(element)}>")
            return
        del self.markup[index:], self.parts[index:], self.pieces[pieces:]
        self.text = self.text[:start]
        self.void(_Void((element,), spacing=bool(inside)))

    def spaces(self) -> None:
        """Note the white space around each void that is not a space itself."""
        for k, part in enumerate(self.parts):
            if isinstance(part, _Void) and not part.spacing:
                at = self.markup[k].start
                self.parts[k] = replace(part, space_before=self.text[at - 1 : at].isspace(), space_after=self.text[at : at + 1].isspace())

    def formatting(self) -> None:
        """Spans for consecutive text pieces (in one wrapper) that look unlike most of the
        text, whose formatting becomes the base; white space alone gets no span."""
        looks = [_look(rpr) for _, _, rpr, _ in self.pieces]
        weight: dict[bytes, int] = {}
        for (start, end, _, _), look in zip(self.pieces, looks):
            weight[look] = weight.get(look, 0) + end - start
        if not weight:
            return
        usual = max(weight, key=weight.__getitem__)
        self.base = self.pieces[looks.index(usual)][2]
        for (look, _), group in groupby(range(len(self.pieces)), key=lambda k: (looks[k], self.pieces[k][3])):
            first, *rest = group
            (start, _, rpr, _), end = self.pieces[first], self.pieces[rest[-1] if rest else first][1]
            if look != usual and self.text[start:end].strip():
                names = "".join(f" {_name(e)}" for e in (rpr if rpr is not None else ()))
                self.markup.append(Inline(start, end, f"<w:r{names}>", "</w:r>"))
                self.parts.append(_Span(None, rpr))


def _name(element: etree._Element) -> str:
    """An element's prefixed tag, as in the source: w:hyperlink, w:drawing."""
    qname = etree.QName(element)
    return f"{element.prefix}:{qname.localname}" if element.prefix else qname.localname


def _look(rpr: etree._Element | None) -> bytes:
    """Run formatting as it shows: its XML without the language and spelling settings."""
    if rpr is None:
        return b""
    shown = deepcopy(rpr)
    for child in list(shown):
        if child.tag in _INVISIBLE:
            shown.remove(child)
    return etree.tostring(shown) if len(shown) else b""


def _parse(paragraph: etree._Element) -> _Paragraph:
    """A paragraph's plain text and markup (the source is left untouched)."""
    parsed = _Paragraph()
    parsed.content(paragraph, -1)
    parsed.spaces()
    parsed.formatting()
    return parsed


def _open(data: bytes) -> WordDocument:
    """The file opened with python-docx, or IngestError."""
    try:
        main = Package.open(io.BytesIO(data)).main_document_part
    except Exception as exc:  # zipfile, lxml and python-docx raise many kinds on a damaged file
        reason = str(exc).strip("\"'") or type(exc).__name__
        raise IngestError(f"it is not a Word document ({reason}); open it in Word and save it again as .docx") from None
    if main.content_type != CT.WML_DOCUMENT_MAIN:  # a template, a macro-enabled document, a spreadsheet
        raise IngestError(f"it is not a Word document (its content is {main.content_type}); open it in Word and save it again as .docx")
    return main.document


def _stories(document: WordDocument) -> list[tuple[etree._Element, Part | None]]:
    """The roots holding the text, in a fixed order: the body, each section's headers and
    footers (one linked to the previous section's is that one, already read), footnotes
    and endnotes; with the part to serialize again for those python-docx keeps as bytes."""
    stories: list[tuple[etree._Element, Part | None]] = [(document.element.body, None)]
    for section in document.sections:
        for story in (section.header, section.first_page_header, section.even_page_header, section.footer, section.first_page_footer, section.even_page_footer):
            if not story.is_linked_to_previous:
                stories.append((story.part.element, None))
    for reltype in (RT.FOOTNOTES, RT.ENDNOTES):
        for rel in document.part.rels.values():
            if rel.reltype == reltype and not rel.is_external:
                stories.append((parse_xml(rel.target_part.blob), rel.target_part))
    return stories


def _paragraphs(stories: Sequence[tuple[etree._Element, Part | None]]) -> list[etree._Element]:
    """Every paragraph of the stories, in document order."""
    return [p for root, _ in stories for p in root.iter(qn("w:p"))]


def _rebuild(paragraph: etree._Element, parsed: _Paragraph, events: Sequence[Event]) -> None:
    """Replace the paragraph's content by the English: runs with the formatting of the
    innermost open formatting span (the base outside any), inside copies of the open
    wrappers; voids moved in as they were."""
    for child in list(paragraph):
        if child.tag != qn("w:pPr"):
            paragraph.remove(child)
    stack: list[tuple[etree._Element, etree._Element | None]] = [(paragraph, parsed.base)]  # container, formatting
    last: etree._Element | None = None  # the text just written (a w:t), that more text may join
    tail = ""  # the last character of text written
    drop_space = False  # a void was just written that stands for, or takes the place of, the next space

    def write(text: str) -> None:
        nonlocal last, tail
        if last is None:
            container, rpr = stack[-1]
            run = OxmlElement("w:r")
            if rpr is not None:
                run.append(deepcopy(rpr))
            last = OxmlElement("w:t")
            last.set(_XML_SPACE, "preserve")
            last.text = ""
            run.append(last)
            container.append(run)
        last.text += text
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
        last = None
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


@register
class Docx:
    """Word documents, read and written with python-docx."""

    name = "docx"
    suffixes = (".docx",)

    def read(self, data: bytes, name: str) -> Document:
        lines: list[Line] = []
        where: list[int] = []
        for index, paragraph in enumerate(_paragraphs(_stories(_open(data)))):
            parsed = _parse(paragraph)
            if parsed.text.strip():
                where.append(index)
                lines.append(Line(len(lines) + 1, parsed.text, "", tuple(parsed.markup)))
        if not lines:
            raise IngestError("it contains no text, so there is nothing to translate")
        return Document(name, tuple(lines), "docx", hashlib.sha256(data).hexdigest(), layout=_Layout(data, tuple(where)))

    def write(self, doc: Document, segments: Sequence[Segment], translations: Sequence[Translation]) -> Written:
        blocks, unsure = placed_blocks(doc, segments, translations)
        document = _open(doc.layout.data)
        stories = _stories(document)
        paragraphs = _paragraphs(stories)
        targets = [paragraphs[doc.layout.paragraphs[number - 1]] for number in blocks]
        parsed = [_parse(p) for p in targets]  # as read: before any change (a text box's paragraphs sit in another's run)
        for paragraph, source, events in zip(targets, parsed, blocks.values()):
            _rebuild(paragraph, source, events)
        for root, part in stories:
            if part is not None:  # python-docx keeps footnotes as bytes: no public way to replace them
                part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
        out = io.BytesIO()
        document.save(out)
        return Written(out.getvalue(), unsure)
