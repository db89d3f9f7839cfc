"""Word documents: blocks read from paragraphs, cells, headers, footers and footnotes,
and written back in English with their styles, formatting, hyperlinks and pictures.

The "translation" upper-cases each sentence with each word linked to itself, unless
a test gives the English and its links; no model is needed.
"""

from __future__ import annotations

import io
import re
import struct
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docx
import pytest
from docx.blkcntnr import BlockItemContainer
from docx.document import Document as WordDocument
from docx.drawing import Drawing
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.table import Table
from docx.text.paragraph import Paragraph
from helpers import grows_linearly
from lxml import etree

from pipeline.formats.base import FORMATS, ReadOptions, Written
from pipeline.formats.docx import Docx
from pipeline.ingest import Document, IngestError
from pipeline.protect import Protector
from pipeline.segment import segment
from pipeline.translate import Translation

Links = tuple[tuple[int, int], ...]
Build = Callable[[WordDocument], None]
URL = "https://example.org/monde"


def _png() -> bytes:
    """A 1×1 white PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff")) + chunk(b"IEND", b"")


def _hyperlink(paragraph: Paragraph, text: str, url: str) -> None:
    """Append a hyperlink to the paragraph (python-docx has no call for it)."""
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), paragraph.part.relate_to(url, RT.HYPERLINK, is_external=True))
    link.append(parse_xml(f'<w:r {nsdecls("w")}><w:rPr><w:rStyle w:val="Hyperlink"/></w:rPr><w:t>{text}</w:t></w:r>'))
    paragraph._p.append(link)


def _field(paragraph: Paragraph, code: str, result: str, rpr: str = "") -> None:
    """Append a complex field (begin, code, separate, result, end) to the paragraph, each
    run with the run properties `rpr` (XML)."""
    begin, separate, end = (f'<w:fldChar w:fldCharType="{kind}"/>' for kind in ("begin", "separate", "end"))
    for xml in (begin, f"<w:instrText> {code} </w:instrText>", separate, f"<w:t>{result}</w:t>", end):
        paragraph._p.append(parse_xml(f"<w:r {nsdecls('w')}>{rpr}{xml}</w:r>"))


def _lang(val: str, east_asia: str = "", bidi: str = "") -> str:
    """A language tag's XML: for text in `val`, East Asian text in `east_asia`, right-to-left text in `bidi`."""
    others = "".join(f' w:{name}="{tag}"' for name, tag in (("eastAsia", east_asia), ("bidi", bidi)) if tag)
    return f'<w:lang w:val="{val}"{others}/>'


def _tag(rpr: etree._Element, val: str, east_asia: str = "", bidi: str = "") -> None:
    """Add a language tag to run properties."""
    rpr.append(parse_xml(f'<w:rPr {nsdecls("w")}>{_lang(val, east_asia, bidi)}</w:rPr>')[0])


def _french_mark(p: Paragraph) -> None:
    """Tag the paragraph's mark French."""
    p._p.get_or_add_pPr().append(parse_xml(f'<w:rPr {nsdecls("w")}>{_lang("fr-FR")}</w:rPr>'))


def _in_french(d: WordDocument) -> None:
    """Styles of a document written in French: French by default, a French (Canada) heading,
    a German quote."""
    default = d.styles.element.find(f"{qn('w:docDefaults')}/{qn('w:rPrDefault')}/{qn('w:rPr')}/{qn('w:lang')}")
    default.set(qn("w:val"), "fr-FR")
    _tag(d.styles["Heading 1"].element.get_or_add_rPr(), "fr-CA")
    _tag(d.styles["Quote"].element.get_or_add_rPr(), "de-DE")


def _french_runs(d: WordDocument) -> None:
    """A French paragraph mark, a French run also tagged Chinese and Arabic for other
    scripts, a German word in bold."""
    _in_french(d)
    p = d.add_paragraph()
    _french_mark(p)
    _tag(p.add_run("Le mot ")._r.get_or_add_rPr(), "fr-FR", "zh-CN", "ar-SA")
    german = p.add_run("Zeitgeist")
    german.bold = True
    _tag(german._r.get_or_add_rPr(), "de-DE")
    p.add_run(" est allemand.")


def _british_quote(d: WordDocument) -> None:
    """French text around an English word in italics that the author tagged British."""
    _in_french(d)
    p = d.add_paragraph()
    _tag(p.add_run("Il a dit ")._r.get_or_add_rPr(), "fr-FR")
    quote = p.add_run("hello")
    quote.italic = True
    _tag(quote._r.get_or_add_rPr(), "en-GB")


def _untranslated_mark(d: WordDocument) -> None:
    """A paragraph with text, then an empty one whose mark is French."""
    _in_french(d)
    d.add_paragraph("Un texte.")
    _french_mark(d.add_paragraph())


def _plain(d: WordDocument) -> None:
    d.add_paragraph("Le chat dort sur le canapé. Il rêve.")


def _split_word(d: WordDocument) -> None:
    """A word split across two runs of the same look (the second with another language),
    a spelling mark between them."""
    p = d.add_paragraph()
    p.add_run("Bon")
    p._p.append(parse_xml(f'<w:proofErr {nsdecls("w")} w:type="spellStart"/>'))
    second = p.add_run("jour à tous.")
    second._r.set(qn("w:rsidR"), "00A1B2C3")
    second._r.get_or_add_rPr().append(parse_xml(f'<w:lang {nsdecls("w")} w:val="en-US"/>'))


def _bold(d: WordDocument) -> None:
    p = d.add_paragraph("Le chat ")
    p.add_run("noir").bold = True
    p.add_run(" dort.")


def _bold_first(d: WordDocument) -> None:
    p = d.add_paragraph()
    p.add_run("Paris").bold = True
    p.add_run(" est la capitale.")


def _mostly_bold(d: WordDocument) -> None:
    p = d.add_paragraph()
    p.add_run("Le chat ").bold = True
    p.add_run("noir")
    p.add_run(" dort sur le lit.").bold = True


def _ordinal(d: WordDocument) -> None:
    """A bold suffix on a number: "1er"."""
    p = d.add_paragraph("Le 1")
    p.add_run("er").bold = True
    p.add_run(" janvier.")


def _no_break_spaces(d: WordDocument) -> None:
    d.add_paragraph("Il a 10\u00a0000 mots\u202f?")


def _bold_space(d: WordDocument) -> None:
    p = d.add_paragraph("Le chat")
    p.add_run(" ").bold = True
    p.add_run("noir dort.")


def _hyphen(d: WordDocument) -> None:
    p = d.add_paragraph("Un porte")
    p.add_run()._r.append(OxmlElement("w:noBreakHyphen"))
    p.add_run("monnaie neuf.")


def _link(d: WordDocument) -> None:
    p = d.add_paragraph("Lisez ")
    _hyperlink(p, "l'article du Monde", URL)
    p.add_run(" aujourd'hui.")


def _linked_picture(d: WordDocument) -> None:
    """A hyperlink around a space and a picture, after a sentence."""
    p = d.add_paragraph("Le logo du journal.")
    _hyperlink(p, " ", URL)
    p.hyperlinks[0]._hyperlink.append(p.add_run()._r)
    p.hyperlinks[0].runs[-1].add_picture(io.BytesIO(_png()))


def _content_control(d: WordDocument) -> None:
    """A word in an inline content control (w:sdt) with a name."""
    p = d.add_paragraph("Le ")
    p._p.append(parse_xml(f'<w:sdt {nsdecls("w")}><w:sdtPr><w:alias w:val="Nom"/></w:sdtPr><w:sdtContent><w:r><w:t>maire</w:t></w:r></w:sdtContent></w:sdt>'))
    p.add_run(" parle.")


def _text_box(d: WordDocument) -> None:
    """A paragraph with a (VML) text box holding a paragraph of its own."""
    box = '<w:pict><v:shape><v:textbox><w:txbxContent><w:p><w:r><w:t>Dans la boîte.</w:t></w:r></w:p></w:txbxContent></v:textbox></v:shape></w:pict>'
    p = d.add_paragraph("Voir l'encadré.")
    p._p.append(parse_xml(f'<w:r {nsdecls("w")} xmlns:v="urn:schemas-microsoft-com:vml">{box}</w:r>'))


def _text_box_with_fallback(fallback: str) -> Build:
    """A paragraph with a text box as Word writes it: for Word 2010 and later (mc:Choice)
    and in VML for older versions (mc:Fallback), the fallback holding `fallback`."""

    def build(d: WordDocument) -> None:
        content = "<w:txbxContent><w:p><w:r><w:t>{}</w:t></w:r></w:p></w:txbxContent>".format
        shape = "http://schemas.microsoft.com/office/word/2010/wordprocessingShape"
        box = (
            '<mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wp:inline><a:graphic>'
            f'<a:graphicData uri="{shape}"><wps:wsp><wps:txbx>{content("Dans la boîte.")}</wps:txbx></wps:wsp></a:graphicData>'
            f"</a:graphic></wp:inline></w:drawing></mc:Choice>"
            f"<mc:Fallback><w:pict><v:shape><v:textbox>{content(fallback)}</v:textbox></v:shape></w:pict></mc:Fallback></mc:AlternateContent>"
        )
        namespaces = f'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" xmlns:wps="{shape}" xmlns:v="urn:schemas-microsoft-com:vml"'
        p = d.add_paragraph("Voir l'encadré.")
        p._p.append(parse_xml(f'<w:r {nsdecls("w", "wp", "a")} {namespaces}>{box}</w:r>'))

    return build


def _table(d: WordDocument) -> None:
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Un chien"
    table.cell(1, 1).text = "Deux chats"
    table.cell(0, 1).add_table(rows=1, cols=1).cell(0, 0).text = "Trois oiseaux"


def _header_footer(d: WordDocument) -> None:
    """A header, a first-page header, a footer with a page number; a second section
    whose header and footer are the first's."""
    section = d.sections[0]
    section.header.paragraphs[0].text = "En-tête du journal"
    section.different_first_page_header_footer = True
    section.first_page_header.paragraphs[0].text = "Première page"
    footer = section.footer.paragraphs[0]
    footer.add_run("Page ")
    _field(footer, "PAGE", "1")
    footer.add_run(" sur 3.")
    d.add_paragraph("Corps du texte.")
    d.add_section()
    d.add_paragraph("Suite du texte.")


def _heading(d: WordDocument) -> None:
    d.add_heading("Titre de la section", level=1)
    d.add_paragraph("Un texte.", style="List Bullet")


def _empty(d: WordDocument) -> None:
    d.add_paragraph("Avant.")
    d.add_paragraph("")
    d.add_paragraph("Après.")


def _picture(d: WordDocument) -> None:
    p = d.add_paragraph("Voici une image ")
    p.add_run().add_picture(io.BytesIO(_png()))
    p.add_run(" au milieu.")


def _bookmark(d: WordDocument) -> None:
    """A bookmark around a word."""
    p = d.add_paragraph("Voir la ")
    p._p.append(parse_xml(f'<w:bookmarkStart {nsdecls("w")} w:id="0" w:name="section"/>'))
    p.add_run("section")
    p._p.append(parse_xml(f'<w:bookmarkEnd {nsdecls("w")} w:id="0"/>'))
    p.add_run(" deux.")


def _tab(d: WordDocument) -> None:
    p = d.add_paragraph("Nom :")
    p.add_run().add_tab()
    p.add_run("Dupont")


@dataclass(frozen=True)
class _Notes:
    """Footnotes or endnotes: their part's kind and their element's name."""

    reltype: str
    content_type: str
    name: str  # footnote, endnote

    def build(self, d: WordDocument) -> None:
        """A note (python-docx has no call for it: the part is made by hand)."""
        name = self.name
        xml = (
            f"<w:{name}s {nsdecls('w')}>"
            f'<w:{name} w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:{name}>'
            f'<w:{name} w:id="1"><w:p><w:r><w:{name}Ref/></w:r><w:r><w:t xml:space="preserve"> Source : le ministère.</w:t></w:r></w:p></w:{name}>'
            f"</w:{name}s>"
        )
        part = Part(PackURI(f"/word/{name}s.xml"), self.content_type, xml.encode(), d.part.package)
        d.part.relate_to(part, self.reltype)
        d.add_paragraph("Le chiffre est connu.").add_run()._r.append(parse_xml(f'<w:{name}Reference {nsdecls("w")} w:id="1"/>'))


FOOTNOTES = _Notes(RT.FOOTNOTES, CT.WML_FOOTNOTES, "footnote")
ENDNOTES = _Notes(RT.ENDNOTES, CT.WML_ENDNOTES, "endnote")


def _comment(d: WordDocument) -> None:
    """A comment on a sentence."""
    p = d.add_paragraph("Le chiffre est connu.")
    d.add_comment(p.runs[0], text="Vérifier la source.", author="Rédaction")


def _complex_field(d: WordDocument) -> None:
    """A cross reference showing a heading's French text, its runs tagged French."""
    p = d.add_paragraph("Voir la section ")
    _field(p, "REF _Ref1 \\h", "Méthodes", f"<w:rPr>{_lang('fr-FR')}</w:rPr>")
    p.add_run(" plus bas.")


def _simple_field(d: WordDocument) -> None:
    """A page number as a simple field."""
    p = d.add_paragraph("Voir la page ")
    p._p.append(parse_xml(f'<w:fldSimple {nsdecls("w")} w:instr=" PAGEREF _Ref1 "><w:r><w:t>3</w:t></w:r></w:fldSimple>'))
    p.add_run(" plus bas.")


CASES: dict[str, Build] = {
    "plain": _plain,
    "split word": _split_word,
    "bold": _bold,
    "mostly bold": _mostly_bold,
    "non-breaking hyphen": _hyphen,
    "hyperlink": _link,
    "linked picture": _linked_picture,
    "content control": _content_control,
    "text box": _text_box,
    "text box with fallback": _text_box_with_fallback("Dans la boîte."),
    "table": _table,
    "header and footer": _header_footer,
    "heading": _heading,
    "empty paragraph": _empty,
    "picture": _picture,
    "bookmark": _bookmark,
    "tab": _tab,
    "footnote": FOOTNOTES.build,
    "endnote": ENDNOTES.build,
    "comment": _comment,
    "French styles and runs": _french_runs,
}


def _source(build: Build, tmp_path: Path) -> bytes:
    """A new Word document made by `build`, as saved."""
    d = docx.Document()
    build(d)
    path = tmp_path / "a.docx"
    d.save(path)
    return path.read_bytes()


def _read(data: bytes) -> Document:
    return FORMATS[".docx"].read(data, "a.docx")


def _english(data: bytes, given: dict[str, tuple[str, Links]] | None = None) -> Written:
    """The document written back with each sentence in `given` English, else upper-cased."""
    doc = _read(data)
    segments = segment(doc)
    translations = []
    for s in segments:
        text, links = (given or {}).get(s.text) or (s.text.upper(), tuple((i, i) for i in range(len(s.text.split()))))
        translations.append(Translation(text, -1.0, links=links))
    return FORMATS[".docx"].write(doc, segments, translations)


def _paragraphs(container: WordDocument | BlockItemContainer) -> list[Paragraph]:
    """The paragraphs of a body, header or cell, those of its tables (nested too) in place."""
    out: list[Paragraph] = []
    for item in container.iter_inner_content():
        if isinstance(item, Table):
            out += [p for row in item.rows for cell in row.cells for p in _paragraphs(cell)]
        else:
            out.append(item)
    return out


def _all_paragraphs(d: WordDocument) -> list[Paragraph]:
    """The body's paragraphs, then each section's own headers' and footers'."""
    out = _paragraphs(d)
    for section in d.sections:
        for story in (section.header, section.first_page_header, section.even_page_header, section.footer, section.first_page_footer, section.even_page_footer):
            if not story.is_linked_to_previous:
                out += _paragraphs(story)
    return out


def _open(data: bytes) -> WordDocument:
    return docx.Document(io.BytesIO(data))


@pytest.mark.slow
@pytest.mark.parametrize("build", CASES.values(), ids=CASES.keys())
def test_english_document_keeps_the_structure(build: Build, tmp_path: Path) -> None:
    """The English opens with python-docx, with the source's paragraphs, styles and
    hyperlink targets, every paragraph with text in English, none flagged."""
    source = _source(build, tmp_path)
    written = _english(source)
    before, after = _all_paragraphs(_open(source)), _all_paragraphs(_open(written.data))
    assert len(after) == len(before)
    assert [p.style.name for p in after] == [p.style.name for p in before]
    assert [p.text for p in after] == [p.text.upper() for p in before]
    assert [h.url for p in after for h in p.hyperlinks] == [h.url for p in before for h in p.hyperlinks]
    assert written.unsure == frozenset()


SLEEPS = {"Le chat noir dort.": ("THE BLACK CAT SLEEPS.", ((0, 0), (1, 2), (2, 1), (3, 3)))}


@pytest.mark.slow
@pytest.mark.parametrize(
    "build, given, runs",
    [
        (_plain, None, [("LE CHAT DORT SUR LE CANAPÉ. IL RÊVE.", None)]),
        (_split_word, None, [("BONJOUR À TOUS.", None)]),
        (_bold, None, [("LE CHAT ", None), ("NOIR", True), (" DORT.", None)]),
        (_bold, SLEEPS, [("THE ", None), ("BLACK", True), (" CAT SLEEPS.", None)]),
        (_mostly_bold, None, [("LE CHAT ", True), ("NOIR", None), (" DORT SUR LE LIT.", True)]),
        (_bold_space, None, [("LE CHAT NOIR DORT.", None)]),
        (_ordinal, None, [("LE 1", None), ("ER", True), (" JANVIER.", None)]),
        (_no_break_spaces, None, [("IL A 10\u00a0000 MOTS\u202f?", None)]),
    ],
    ids=["plain", "split word", "bold", "bold reordered", "mostly bold", "bold space", "part of a word", "no-break spaces"],
)
def test_formatting_follows_the_aligned_words(
    build: Build, given: dict[str, tuple[str, Links]] | None, runs: list[tuple[str, bool | None]], tmp_path: Path
) -> None:
    """Each run's formatting lands on the English words aligned to its French words; runs
    that look the same make one run."""
    paragraph = _open(_english(_source(build, tmp_path), given).data).paragraphs[-1]
    assert [(r.text, r.bold) for r in paragraph.runs] == runs


@pytest.mark.parametrize(
    "build, text, markup",
    [
        (_split_word, "Bonjour à tous.", []),
        (_hyphen, "Un porte-monnaie neuf.", []),
        (_bold_space, "Le chat noir dort.", []),
        (_bold, "Le chat noir dort.", [("noir", "<w:r w:b>")]),
        (_bold_first, "Paris est la capitale.", [("Paris", "<w:r w:b>")]),
        (_mostly_bold, "Le chat noir dort sur le lit.", [("noir", "<w:r>")]),
        (_link, "Lisez l'article du Monde aujourd'hui.", [("l'article du Monde", "<w:hyperlink>"), ("l'article du Monde", "<w:r w:rStyle>")]),
        (_linked_picture, "Le logo du journal. ", [(" ", "<w:hyperlink/>")]),
        (_tab, "Nom : Dupont", [(" ", "<w:tab/>")]),
    ],
    ids=["split word", "non-breaking hyphen", "bold space", "bold", "bold first", "mostly bold", "hyperlink", "linked picture", "tab"],
)
def test_read_takes_out_only_the_markup_that_shows(build: Build, text: str, markup: list[tuple[str, str]], tmp_path: Path) -> None:
    """A block's markup: a span for the runs that look unlike most of the text (not for
    white space alone) and one for a hyperlink with text; a void for a hyperlink without
    text and for a tab, which a space stands for; none for a run split without a change of look."""
    [line] = _read(_source(build, tmp_path)).lines
    assert line.text == text
    assert [(line.text[m.start : m.end + m.void], m.open) for m in line.markup] == markup


def test_hyperlink_keeps_its_target_around_the_english(tmp_path: Path) -> None:
    """The hyperlink holds the English of its French words, with the same target."""
    paragraph = _open(_english(_source(_link, tmp_path)).data).paragraphs[-1]
    assert [(h.url, h.text) for h in paragraph.hyperlinks] == [(URL, "L'ARTICLE DU MONDE")]
    assert [r.text for r in paragraph.runs] == ["LISEZ ", " AUJOURD'HUI."]


def test_content_control_keeps_its_properties(tmp_path: Path) -> None:
    """A content control holds the English of its word and keeps its name."""
    paragraph = _open(_english(_source(_content_control, tmp_path)).data).paragraphs[-1]
    assert paragraph._p.xpath("string(.//w:sdt/w:sdtContent)") == "MAIRE"
    assert paragraph._p.xpath("string(.//w:sdt/w:sdtPr/w:alias/@w:val)") == "Nom"


def test_text_box_is_translated_inside_its_paragraph(tmp_path: Path) -> None:
    """A text box's paragraph is a block of its own, after the one that holds it, and
    both are in English."""
    source = _source(_text_box, tmp_path)
    assert [line.text for line in _read(source).lines] == ["Voir l'encadré.", "Dans la boîte."]
    paragraph = _open(_english(source).data).paragraphs[-1]
    assert paragraph.text == "VOIR L'ENCADRÉ."
    assert paragraph._p.xpath("string(.//w:txbxContent)") == "DANS LA BOÎTE."


@pytest.mark.parametrize(
    "fallback, sentences, boxes",
    [
        ("Dans la boîte.", ["Voir l'encadré.", "Dans la boîte."], ["DANS LA BOÎTE.", "DANS LA BOÎTE."]),
        ("Dans la vieille boîte.", ["Voir l'encadré.", "Dans la boîte.", "Dans la vieille boîte."], ["DANS LA BOÎTE.", "DANS LA VIEILLE BOÎTE."]),
    ],
    ids=["same copy", "different copy"],
)
def test_text_box_fallback_is_written_not_read(fallback: str, sentences: list[str], boxes: list[str], tmp_path: Path) -> None:
    """A text box's VML copy for older Word (mc:Fallback) is not translated again: it gets
    the English of the box it copies; one that differs is translated on its own."""
    source = _source(_text_box_with_fallback(fallback), tmp_path)
    assert [s.text for s in segment(_read(source))] == sentences
    paragraph = _open(_english(source).data).paragraphs[-1]
    assert [box.xpath("string(.)") for box in paragraph._p.iter(qn("w:txbxContent"))] == boxes


def test_headers_and_footers_are_read_once_and_keep_their_fields(tmp_path: Path) -> None:
    """Headers and footers are blocks after the body, a section's linked ones not again;
    a page number field stays a field, between the English words."""
    source = _source(_header_footer, tmp_path)
    assert [line.text for line in _read(source).lines] == ["Corps du texte.", "Suite du texte.", "En-tête du journal", "Première page", "Page  sur 3."]
    section = _open(_english(source).data).sections[0]
    assert section.header.paragraphs[0].text == "EN-TÊTE DU JOURNAL"
    assert section.first_page_header.paragraphs[0].text == "PREMIÈRE PAGE"
    footer = section.footer.paragraphs[0]
    assert footer.text == "PAGE 1 SUR 3."
    assert footer._p.xpath("string(.//w:instrText)") == " PAGE "


def test_pictures_tabs_and_bookmarks_keep_their_place(tmp_path: Path) -> None:
    """A picture stays between the words it stood between, a tab stays a tab, and a
    bookmark still starts and ends at its word."""
    picture = _open(_english(_source(_picture, tmp_path)).data).paragraphs[-1]
    content = [type(x).__name__ if isinstance(x, Drawing) else x for r in picture.runs for x in r.iter_inner_content()]
    assert content == ["VOICI UNE IMAGE ", "Drawing", " AU MILIEU."]
    tab = _open(_english(_source(_tab, tmp_path)).data).paragraphs[-1]
    assert tab.text == "NOM :\tDUPONT"
    bookmark = _open(_english(_source(_bookmark, tmp_path)).data).paragraphs[-1]
    parts = [child.xpath("string(.)") or child.tag.split("}")[1] for child in bookmark._p]
    assert parts == ["VOIR LA ", "bookmarkStart", "SECTION", "bookmarkEnd", " DEUX."]


@pytest.mark.parametrize("notes", [FOOTNOTES, ENDNOTES], ids=["footnote", "endnote"])
def test_notes_are_translated(notes: _Notes, tmp_path: Path) -> None:
    """A note's text is a block; its mark and the body's reference to it stay."""
    english = _open(_english(_source(notes.build, tmp_path)).data)
    root = parse_xml(english.part.part_related_by(notes.reltype).blob)
    [note] = [n for n in root.iter(qn(f"w:{notes.name}")) if n.get(qn("w:type")) is None]
    assert "".join(t.text for t in note.iter(qn("w:t"))) == " SOURCE : LE MINISTÈRE."
    assert len(list(note.iter(qn(f"w:{notes.name}Ref")))) == 1
    assert english.paragraphs[-1].text == "LE CHIFFRE EST CONNU."
    assert [r.get(qn("w:id")) for r in english.element.body.iter(qn(f"w:{notes.name}Reference"))] == ["1"]


@pytest.mark.parametrize(
    "build, lines, comments",
    [
        (_comment, ["Le chiffre est connu.", "Vérifier la source."], ["VÉRIFIER LA SOURCE."]),
        (_plain, ["Le chat dort sur le canapé. Il rêve."], []),
    ],
    ids=["comment", "none"],
)
def test_comments_are_translated(build: Build, lines: list[str], comments: list[str], tmp_path: Path) -> None:
    """A comment's text is a block, after the body's, written back in English; a document
    without comments gets none."""
    source = _source(build, tmp_path)
    assert [line.text for line in _read(source).lines] == lines
    english = _open(_english(source).data)
    assert [rel.reltype for rel in english.part.rels.values()].count(RT.COMMENTS) == len(comments)
    assert [c.text for c in english.comments] == comments


def _fields(paragraph: Paragraph) -> list[bytes]:
    """The XML of a paragraph's fields: each run of a complex field (begin to end), each simple field."""
    out, depth = [], 0
    for child in paragraph._p:
        kinds = [c.get(qn("w:fldCharType")) for c in child.findall(qn("w:fldChar"))]
        depth += kinds.count("begin")
        if depth or child.tag == qn("w:fldSimple"):
            out.append(etree.tostring(child))
        depth -= kinds.count("end")
    return out


@pytest.mark.parametrize(
    "build, text, fields",
    [(_complex_field, "Voir la section  plus bas.", 5), (_simple_field, "Voir la page  plus bas.", 1)],
    ids=["complex field", "simple field"],
)
def test_fields_are_kept_as_they_are(build: Build, text: str, fields: int, tmp_path: Path) -> None:
    """A field's code and result are not translated (Word computes the result): they are
    left out of the block, and written back byte for byte, language tags included."""
    source = _source(build, tmp_path)
    assert [line.text for line in _read(source).lines] == [text]
    before, after = _open(source).paragraphs[-1], _open(_english(source).data).paragraphs[-1]
    assert len(_fields(before)) == fields
    assert _fields(after) == _fields(before)


def _langs(element: etree._Element) -> list[tuple[str | None, ...]]:
    """The language tags under the element, each as (text, East Asian, right-to-left)."""
    return [tuple(lang.get(qn(f"w:{name}")) for name in ("val", "eastAsia", "bidi")) for lang in element.iter(qn("w:lang"))]


FRENCH_STYLES = [("en-US", "en-US", "ar-SA"), ("en-US", None, None), ("de-DE", None, None)]


@pytest.mark.parametrize(
    "build, paragraph, styles",
    [
        (
            _french_runs,
            [("en-US", None, None), ("en-US", "zh-CN", "ar-SA"), ("de-DE", None, None), ("en-US", "zh-CN", "ar-SA")],
            FRENCH_STYLES,
        ),
        (_british_quote, [("en-GB", None, None), ("en-GB", None, None)], [("en-GB", "en-US", "ar-SA"), ("en-GB", None, None), ("de-DE", None, None)]),
        (_untranslated_mark, [("fr-FR", None, None)], FRENCH_STYLES),
        (_plain, [], [("en-US", "en-US", "ar-SA")]),
    ],
    ids=["French runs", "British quote", "untranslated paragraph", "English styles"],
)
def test_language_tags_name_english_where_they_named_french(
    build: Build, paragraph: list[tuple[str | None, ...]], styles: list[tuple[str | None, ...]], tmp_path: Path
) -> None:
    """In the English runs, their paragraph's mark and the styles, a language tag naming
    French names English instead (en-US, or the variant the source names for English);
    other languages, and paragraphs not translated, keep theirs."""
    english = _open(_english(_source(build, tmp_path)).data)
    assert _langs(english.paragraphs[-1]._p) == paragraph
    assert _langs(english.styles.element) == styles


def _zip_without_document(tmp_path: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("notes.txt", "bonjour")
    return out.getvalue()


def _macro_enabled(tmp_path: Path) -> bytes:
    """A Word document saved with macros (.docm), renamed .docx."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_source(_plain, tmp_path))) as source, zipfile.ZipFile(out, "w") as z:
        for name in source.namelist():
            data = source.read(name)
            z.writestr(name, data.replace(CT.WML_DOCUMENT_MAIN.encode(), b"application/vnd.ms-word.document.macroEnabled.main+xml"))
    return out.getvalue()


def _zip_bomb(tmp_path: Path) -> bytes:
    """A real document with a picture member that inflates to 300 MB (300 kB on disk)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_source(_plain, tmp_path))) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in source.namelist():
            z.writestr(name, source.read(name))
        with z.open("word/media/image1.png", "w") as member:
            for _ in range(300):
                member.write(bytes(1_000_000))
    return out.getvalue()


def _truncated(tmp_path: Path) -> bytes:
    data = _source(_plain, tmp_path)
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda tmp_path: b"Ceci n'est pas un document Word.", "not a Word document"),
        (_zip_without_document, "not a Word document"),
        (_truncated, "not a Word document"),
        (_macro_enabled, r"not a Word document \(its content is .*macroEnabled"),
        (_zip_bomb, r"it would inflate to 30\d MB, more than the 200 MB mtpipe opens in a Word file \(a zip bomb"),
        (lambda tmp_path: _source(lambda d: d.add_paragraph("Le chat dort. " * 730_000), tmp_path), "it holds a run of more than 10 MB of text in one piece"),
    ],
    ids=["not a zip", "zip without a document", "truncated", "macro-enabled", "zip bomb", "a 10 MB text node"],
)
def test_read_refuses_what_it_cannot_translate(make: Callable[[Path], bytes], reason: str, tmp_path: Path) -> None:
    """IngestError, one sentence saying why, for a file that is not a Word document."""
    with pytest.raises(IngestError, match=reason):
        _read(make(tmp_path))


EMPTY = Path(__file__).parent / "data" / "docx-empty"


@pytest.mark.parametrize("name", ["blank.docx", "only-table.docx", "only-picture.docx", "space"])
def test_nothing_to_translate_is_copied(name: str, tmp_path: Path) -> None:
    """A document without words (blank, numbers only, a picture only) has nothing for the
    model; written back it opens, with the same paragraphs and its styles in English."""
    data = _source(_french_runs_only_space, tmp_path) if name == "space" else (EMPTY / name).read_bytes()
    doc = _read(data)
    assert segment(doc) == []
    english = FORMATS[".docx"].write(doc, [], []).data
    before, after = _open(data), _open(english)
    assert [p.text for p in after.paragraphs] == [p.text for p in before.paragraphs]
    assert len(after.inline_shapes) == len(before.inline_shapes)
    assert b'w:val="fr-FR"' not in _part(english, "word/styles.xml")


def _french_runs_only_space(d: WordDocument) -> None:
    d.add_paragraph(" ")
    _in_french(d)


def _part(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read(name)


def test_core_properties_people_read_are_translated(tmp_path: Path) -> None:
    """Title, subject and description (File > Info) are translated; the author and
    keywords are not, and a French language property names English."""

    def build(d: WordDocument) -> None:
        d.add_paragraph("Le chat dort.")
        props = d.core_properties
        props.title, props.subject, props.comments = "Le chat", "Les animaux", "Un article sur le chat."
        props.author, props.keywords, props.language = "Jean Dupont", "chat, animaux", "fr-FR"

    doc = _read(_source(build, tmp_path))
    assert [line.text for line in doc.lines] == ["Le chat", "Les animaux", "Un article sur le chat.", "Le chat dort."]
    props = _open(_english(_source(build, tmp_path)).data).core_properties
    assert (props.title, props.subject, props.comments) == ("LE CHAT", "LES ANIMAUX", "UN ARTICLE SUR LE CHAT.")
    assert (props.author, props.keywords, props.language) == ("Jean Dupont", "chat, animaux", "en-US")
    assert [p.text for p in _open(_english(_source(build, tmp_path)).data).paragraphs] == ["LE CHAT DORT."]


def test_protected_text_is_kept_verbatim_even_across_runs(tmp_path: Path) -> None:
    """URLs, template tags split over two runs, emoji and the user's rules never reach
    the model; each keeps its run's formatting."""

    def build(d: WordDocument) -> None:
        p = d.add_paragraph("Voir https://a.fr/x et {{ page")
        bold = p.add_run(".title }} pour :warning: le ticket acme-42.")
        bold.bold = True

    options = ReadOptions(Protector((r"acme-\d+",)))
    doc = FORMATS[".docx"].read(_source(build, tmp_path), "a.docx", options)
    assert [s.text for s in segment(doc)] == ["Voir  et  pour  le ticket ."]
    segments = segment(doc)
    english = FORMATS[".docx"].write(doc, segments, [Translation(s.text.upper(), -1.0, links=_same(s.text)) for s in segments])
    [paragraph] = _open(english.data).paragraphs
    assert paragraph.text == "VOIR https://a.fr/x ET {{ page.title }} POUR :warning: LE TICKET acme-42."
    assert [(r.text, r.bold) for r in paragraph.runs if "{{" in r.text or "}}" in r.text] == [("{{ page", None), (".title }}", True)]


def _same(text: str) -> tuple[tuple[int, int], ...]:
    return tuple((i, i) for i in range(len(text.split())))


def _with_entity(tmp_path: Path, text: str, member: str = "word/document.xml") -> bytes:
    """A Word file whose `member` declares an external entity (an XXE attempt) and
    refers to it where `text` has XXX (the document) or first thing in its root (another member)."""
    data = _source(lambda d: d.add_paragraph(text), tmp_path)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            part = zin.read(item.filename)
            if item.filename == member:
                body = part.decode().split("?>", 1)[1].strip()
                body = body.replace("XXX", "&xxe;") if "XXX" in body else body.replace(">", ">&xxe;", 1)
                part = ('<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE root [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + body).encode()
            zout.writestr(item, part)
    return out.getvalue()


@pytest.mark.parametrize("text", ["Le chat dort XXX ici.", "2011 XXX"], ids=["translated", "copied"])
def test_an_unresolved_entity_is_dropped_and_the_english_opens(text: str, tmp_path: Path) -> None:
    """The reference is never resolved nor kept (saved without its declaration it would
    make the file unreadable); the text after it is not lost."""
    data = _with_entity(tmp_path, text)
    doc = _read(data)
    assert "/etc/passwd" not in doc.text and "root:" not in doc.text
    english = _english(data).data
    [paragraph] = _open(english).paragraphs
    assert paragraph.text == text.replace("XXX", "").upper() and b"xxe" not in _part(english, "word/document.xml").lower()


@pytest.mark.slow
@pytest.mark.parametrize("member", ["docProps/core.xml", "word/settings.xml", "word/styles.xml", "word/fontTable.xml"])
def test_an_unresolved_entity_in_any_part_is_dropped_and_the_english_opens(member: str, tmp_path: Path) -> None:
    data = _with_entity(tmp_path, "Le chat dort ici.", member)
    assert b"&xxe;" in _part(data, member)
    english = _english(data).data
    assert _open(english).paragraphs[0].text == "LE CHAT DORT ICI."
    with zipfile.ZipFile(io.BytesIO(english)) as zf:
        for name in zf.namelist():
            if name.endswith((".xml", ".rels")):
                assert b"&xxe;" not in zf.read(name), name
                etree.fromstring(zf.read(name))  # well-formed without the declaration


def test_the_english_is_dated_as_the_source(tmp_path: Path) -> None:
    """Each member keeps its source's date, not the time of writing: the same English
    is the same bytes, run after run."""
    data = _source(_plain, tmp_path)
    english = _english(data).data
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(io.BytesIO(english)) as out:
        dates = {info.filename: info.date_time for info in source.infolist()}
        assert {info.filename: info.date_time for info in out.infolist() if info.filename in dates} == {
            info.filename: dates[info.filename] for info in out.infolist() if info.filename in dates
        }
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in out.infolist() if info.filename not in dates)


def _without_core_properties(data: bytes) -> bytes:
    """The file without docProps/core.xml (some generators leave it out)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            part = zin.read(item.filename)
            if item.filename == "docProps/core.xml":
                continue
            if item.filename == "_rels/.rels":
                part = re.sub(rb"<Relationship [^>]*core-properties[^>]*/>", b"", part)
            if item.filename == "[Content_Types].xml":
                part = re.sub(rb"<Override [^>]*docProps/core.xml[^>]*/>", b"", part)
            zout.writestr(item, part)
    return out.getvalue()


@pytest.mark.slow
def test_a_file_without_core_properties_gets_none_made_up(tmp_path: Path) -> None:
    """python-docx would invent a title ("Word Document") and a modification date: not
    translated, not written, so the English is the same bytes run after run."""
    data = _without_core_properties(_source(lambda d: d.add_paragraph("Le chat dort."), tmp_path))
    assert [line.text for line in _read(data).lines] == ["Le chat dort."]
    first = _english(data).data
    time.sleep(1.1)
    assert _english(data).data == first and b"docProps/core.xml" not in first


def test_an_english_core_property_too_long_keeps_its_french_flagged(tmp_path: Path) -> None:
    """A property over 255 characters (python-docx's limit) is not cut: the French stays
    and its sentences are flagged."""

    def build(d: WordDocument) -> None:
        d.add_paragraph("Le chat dort.")
        d.core_properties.comments = "Un article. " * 21  # 252 characters

    data = _source(build, tmp_path)
    doc = _read(data)
    segments = segment(doc)
    written = FORMATS[".docx"].write(doc, segments, [Translation(s.text.upper() + " ENGLISH IS LONGER.", -1.0) for s in segments])
    assert _open(written.data).core_properties.comments == "Un article. " * 21
    assert {s.id for s in segments if s.line == 1} <= written.unsure


def test_registered_for_docx() -> None:
    """Files ending in .docx are read as Word documents."""
    assert isinstance(FORMATS[".docx"], Docx) and FORMATS[".docx"].name == "docx"


def test_a_long_paragraph_is_written_in_linear_time(tmp_path: Path) -> None:
    """One paragraph of thousands of sentences: its English text was grown by lxml
    string concatenation, which copies it whole at every sentence."""

    def article(n: int) -> bytes:
        return _source(lambda d: d.add_paragraph("Le chat dort. " * n), tmp_path)

    sources = {n: article(n) for n in (1_500, 6_000)}
    assert grows_linearly(lambda n: _english(sources[n]), 1_500)
    english = _open(_english(sources[1_500]).data)
    assert english.paragraphs[0].text.strip() == ("LE CHAT DORT. " * 1_500).strip()
