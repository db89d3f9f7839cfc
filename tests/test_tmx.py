"""The one TMX writer (pipeline/tmx.py): both header shapes, units with ids or dates."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.tmx import Unit, tmx_date, tmx_text, xml_attribute, xml_text

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@pytest.mark.parametrize(
    ("text", "escaped"),
    [("a\r\nb", "a&#13;\nb"), ("<b> & c", "&lt;b&gt; &amp; c"), ("a\x00b\udfff", "a\ufffdb\ufffd"), ("\"q\" 'x'", "\"q\" 'x'")],
)
def test_xml_text(text: str, escaped: str) -> None:
    assert xml_text(text) == escaped


def test_attributes_keep_their_whitespace_and_quotes() -> None:
    assert xml_attribute('a"b\tc\nd\re') == "a&quot;b&#9;c&#10;d&#13;e"


def test_dates_are_tmx_dates() -> None:
    assert tmx_date("2024-05-01T12:00:00+00:00") == "20240501T120000Z"


@pytest.mark.parametrize("header_props", [(), (("x-article", "a/b.md"), ("x-model", "m"))], ids=["bare-header", "header-props"])
def test_units_come_back_with_their_props_ids_and_dates(header_props: tuple) -> None:
    units = [Unit("Le chat.", "The cat.", (("x-ids", "s1 s2"),), tuid="s1"), Unit("Il pleut.", "It rains.", (("x-mtpipe-origin", "tmx"),), created="2024-05-01T12:00:00Z")]
    root = ET.fromstring(tmx_text(units, "mtpipe test", "2024-05-02T00:00:00Z", header_props).encode())
    header = root.find("header")
    assert header.get("o-tmf") == "mtpipe test" and header.get("creationdate") == "20240502T000000Z" and header.get("srclang") == "fr"
    assert [(p.get("type"), p.text) for p in header.findall("prop")] == list(header_props)
    tus = root.findall("body/tu")
    assert [(tu.get("tuid"), tu.get("creationdate")) for tu in tus] == [("s1", None), (None, "20240501T120000Z")]
    assert [[(p.get("type"), p.text) for p in tu.findall("prop")] for tu in tus] == [[("x-ids", "s1 s2")], [("x-mtpipe-origin", "tmx")]]
    assert [[(v.get(XML_LANG), v.findtext("seg")) for v in tu.findall("tuv")] for tu in tus] == [[("fr", "Le chat."), ("en", "The cat.")], [("fr", "Il pleut."), ("en", "It rains.")]]


@given(st.text(), st.text())
def test_any_text_xml_can_hold_round_trips(source: str, target: str) -> None:
    root = ET.fromstring(tmx_text([Unit(source, target, tuid=target)], "x").encode())
    tu = root.find("body/tu")
    expected = [xml_text(t).replace("&#13;", "\r").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") for t in (source, target)]
    assert [v.findtext("seg") or "" for v in tu.findall("tuv")] == expected
    assert tu.get("tuid") == expected[1]
