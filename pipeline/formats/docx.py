"""Word (.docx): every paragraph with text is a block, translated whole — in the body,
in table cells (nested ones too), text boxes, each section's headers and footers,
footnotes, endnotes and comments — and its formatting is put back around the English
words aligned to the French words it covered (`markup.place`).

A block's inline markup: each run of text whose formatting (`w:rPr`) differs from
the paragraph's usual one is a span, and so is each element that wraps runs (a
hyperlink, a tracked insertion, a content control, a smart tag); what is not text
(a picture, a tab, a break, a field, a footnote mark, a bookmark) is a void, moved
to the English as it was. Runs split only by editing history or spelling marks,
with the same look, give no span. Writing re-opens the source, finds each block's
paragraph again by the same walk, and rebuilds its runs from the placed events;
the paragraph's properties (style, numbering) and everything else stay as they were.

A text box's copy for older versions of Word gets the English of the box. A field's
code and result (a page number, a cross reference's text) are kept as they are: Word
computes the result, and shows it in English once fields are updated. The language tags that name French in the English runs, in the paragraph marks and in the
styles name English instead, so that Word checks the spelling in English.
"""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from collections.abc import Sequence
from copy import deepcopy
from dataclasses import dataclass, field, replace
from itertools import groupby

from docx.document import Document as WordDocument
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.part import PartFactory, XmlPart
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.package import Package
from lxml import etree

from ..ingest import Document, IngestError, Line
from ..segment import Segment
from ..translate import Translation
from .base import Written, placed_blocks, register
from .markup import Event, Inline

# Elements that wrap runs inside a paragraph: a span around the English of their text.
# Not a simple field (w:fldSimple): like a complex one, its result is Word's to compute.
_WRAPPERS = frozenset(qn(tag) for tag in ("w:hyperlink", "w:ins", "w:moveTo", "w:smartTag", "w:customXml", "w:dir", "w:bdo", "w:sdt", "w:sdtContent"))
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
_PARAGRAPH = qn("w:p")
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_ALTERNATE, _CHOICE, _FALLBACK = (_MC + name for name in ("AlternateContent", "Choice", "Fallback"))
_LANG = qn("w:lang")
_LANG_NAMES = tuple(qn(f"w:{name}") for name in ("val", "eastAsia", "bidi"))
_ENGLISH = "en-US"

# python-docx has no part class for footnotes and endnotes (nor for comments before 1.2):
# it would load them as a plain Part, which holds bytes, and saving writes each part's
# `blob`, for a Part a read-only property over the private `_blob`. Its XmlPart parses a
# part on opening and `blob` serializes its `element`, as for the body; PartFactory is how
# client code chooses a part's class (a class python-docx registers itself is kept).
for _type in (CT.WML_FOOTNOTES, CT.WML_ENDNOTES, CT.WML_COMMENTS):
    PartFactory.part_type_for.setdefault(_type, XmlPart)


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


def _stories(document: WordDocument) -> list[etree._Element]:
    """The roots holding the text, in a fixed order: the body, each section's headers and
    footers (one linked to the previous section's is that one, already read), footnotes,
    endnotes and comments."""
    roots = [document.element.body]
    for section in document.sections:
        for story in (section.header, section.first_page_header, section.even_page_header, section.footer, section.first_page_footer, section.even_page_footer):
            if not story.is_linked_to_previous:
                roots.append(story.part.element)
    return roots + [root for reltype in (RT.FOOTNOTES, RT.ENDNOTES, RT.COMMENTS) for root in _related(document, reltype)]


def _related(document: WordDocument, reltype: str) -> list[etree._Element]:
    """The XML of the document's parts of a kind; none when it has none (`document.comments`
    and `document.styles` would add an empty one to the English)."""
    return [rel.target_part.element for rel in document.part.rels.values() if rel.reltype == reltype and not rel.is_external]


def _paragraphs(roots: Sequence[etree._Element]) -> tuple[list[etree._Element], dict[etree._Element, list[etree._Element]]]:
    """Every paragraph of the stories to read, in document order; and, by paragraph, its
    copies, to write the same English into.

    Word writes a text box twice: for Word 2010 and later (mc:Choice) and in VML for older
    versions (mc:Fallback). A fallback paragraph that reads the same (text and markup) as
    the one in its place in the choice is its copy, not a block; one that does not (Word
    writes the same content twice, but another program may not) is read as a block of its
    own, so that none is left in French."""
    copies: dict[etree._Element, list[etree._Element]] = {}
    copied: set[etree._Element] = set()
    for root in roots:
        for alternate in root.iter(_ALTERNATE):
            choice, fallback = alternate.find(_CHOICE), alternate.find(_FALLBACK)
            if choice is None or fallback is None or _fallback_depth(alternate):
                continue
            originals, fallbacks = _own(choice), _own(fallback)
            if len(originals) != len(fallbacks):
                continue
            for original, copy in zip(originals, fallbacks):
                if _reads_as(original) == _reads_as(copy):
                    copies.setdefault(original, []).append(copy)
                    copied.add(copy)
    return [p for root in roots for p in root.iter(_PARAGRAPH) if p not in copied], copies


def _fallback_depth(element: etree._Element) -> int:
    """How many mc:Fallback elements hold the element, itself included."""
    return sum(1 for _ in element.iterancestors(_FALLBACK)) + (element.tag == _FALLBACK)


def _own(element: etree._Element) -> list[etree._Element]:
    """The paragraphs of a choice or fallback, not those of the fallbacks nested in it."""
    depth = _fallback_depth(element)
    return [p for p in element.iter(_PARAGRAPH) if _fallback_depth(p) == depth]


def _reads_as(paragraph: etree._Element) -> tuple[str, list[Inline]]:
    """A paragraph's plain text and markup."""
    parsed = _parse(paragraph)
    return parsed.text, parsed.markup


def _english_tag(roots: Sequence[etree._Element]) -> str:
    """The language tag for the English: the English variant the source's tags name most
    (its author's, for the English it quotes), else en-US."""
    tags = Counter(lang.get(_LANG_NAMES[0]) or "" for root in roots for lang in root.iter(_LANG))
    return next((tag for tag, _ in tags.most_common() if tag.lower().startswith("en-")), _ENGLISH)


def _retag(element: etree._Element, english: str) -> None:
    """Name English where the language tags under the element name French (fr, fr-XX);
    other languages stay."""
    for lang in element.iter(_LANG):
        for name in _LANG_NAMES:
            if (lang.get(name) or "").split("-")[0].lower() == "fr":
                lang.set(name, english)


def _rebuild(paragraph: etree._Element, parsed: _Paragraph, events: Sequence[Event], english: str) -> None:
    """Replace the paragraph's content by the English: runs with the formatting of the
    innermost open formatting span (the base outside any), inside copies of the open
    wrappers, tagged `english` where they were French, as is the paragraph mark; voids
    moved in as they were."""
    for child in list(paragraph):
        if child.tag == qn("w:pPr"):
            _retag(child, english)
        else:
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
                _retag(run, english)
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
        paragraphs, _ = _paragraphs(_stories(_open(data)))
        for index, paragraph in enumerate(paragraphs):
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
        roots = _stories(document)
        styles = _related(document, RT.STYLES)
        english = _english_tag([*roots, *styles])
        paragraphs, copies = _paragraphs(roots)
        targets: list[tuple[etree._Element, list[Event]]] = []
        for number, events in blocks.items():
            paragraph = paragraphs[doc.layout.paragraphs[number - 1]]
            targets += [(p, events) for p in (paragraph, *copies.get(paragraph, ()))]
        parsed = [_parse(p) for p, _ in targets]  # as read: before any change (a text box's paragraphs sit in another's run)
        for (paragraph, events), source in zip(targets, parsed):
            _rebuild(paragraph, source, events, english)
        for root in styles:
            _retag(root, english)
        out = io.BytesIO()
        document.save(out)
        return Written(out.getvalue(), unsure)
