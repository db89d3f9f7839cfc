"""A Word paragraph as mtpipe reads it: its runs' text, their formatting as markup,
void pieces (tabs, breaks, pictures, fields) and protected text; and its rebuilding
from the English, each part keeping its run's formatting."""

from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy
from dataclasses import dataclass, field, replace
from itertools import groupby

from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from lxml import etree

from ...protect import Protector
from ..markup import Inline

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
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
PARAGRAPH = qn("w:p")
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
ALTERNATE, CHOICE, FALLBACK = (_MC + name for name in ("AlternateContent", "Choice", "Fallback"))


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
class Paragraph:
    """A paragraph's plain text and markup, with what each markup item stands for."""

    text: str = ""
    markup: list[Inline] = field(default_factory=list)
    parts: list[_Span | _Void] = field(default_factory=list)  # by markup index
    # Text pieces in order: start, end, formatting, markup index of the innermost wrapper (-1: none).
    pieces: list[tuple[int, int, etree._Element | None, int]] = field(default_factory=list)
    base: etree._Element | None = None  # the formatting of the text outside formatting spans
    field_depth: int = 0  # inside a complex field (fldChar begin … end): kept as it is
    protected: Sequence[tuple[int, int]] = ()  # spans of the text read without protection, made voids
    removed: int = 0  # how much protected text was left out of `text` so far

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
                for text, protected in self._cut(_text_of(child) if child.tag == _TEXT else "-"):
                    if protected:
                        self.removed += len(text)
                        self.void(_Void((_text_element(text),), rpr, in_run=True))
                    else:
                        self.pieces.append((len(self.text), len(self.text) + len(text), rpr, container))
                        self.text += text
                continue
            pending.append(child)
        self.void_run(pending, rpr)

    def _cut(self, text: str) -> list[tuple[str, bool]]:
        """A run's text in pieces, each protected or not (`protected` spans)."""
        at, out = len(self.text) + self.removed, []
        cuts = sorted({0, len(text), *(max(0, min(len(text), x - at)) for span in self.protected for x in span)})
        for a, b in zip(cuts, cuts[1:]):
            inside = any(s <= at + a and at + b <= e for s, e in self.protected)
            if out and out[-1][1] == inside:
                out[-1] = (out[-1][0] + text[a:b], inside)
            else:
                out.append((text[a:b], inside))
        return out or [(text, False)]

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


def _text_of(element: etree._Element) -> str:
    """A w:t's text, that after an unresolved entity reference in it too (not the
    reference: `drop_entities`)."""
    return (element.text or "") + "".join(child.tail or "" for child in element)


def _text_element(text: str) -> etree._Element:
    """A w:t holding the text, its spaces kept."""
    element = OxmlElement("w:t")
    element.text = text
    element.set(XML_SPACE, "preserve")
    return element


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


def parse_paragraph(paragraph: etree._Element, protect: Protector | None = None) -> Paragraph:
    """A paragraph's plain text and markup (the source is left untouched); with
    `protect`, the text its rules find kept out of the plain text, as voids."""
    parsed = Paragraph()
    parsed.content(paragraph, -1)
    spans = protect.spans(parsed.text) if protect and parsed.text.strip() else []
    if spans:
        parsed = Paragraph(protected=spans)
        parsed.content(paragraph, -1)
    parsed.spaces()
    parsed.formatting()
    return parsed
