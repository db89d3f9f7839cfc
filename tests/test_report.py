"""Review rows, flags, HTML pages and the TMX/TSV exports, without a browser."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import PageParts
from pipeline.report import (
    FLAG_TITLES,
    PAGE_ROWS,
    PageInfo,
    Row,
    article_html,
    corrections_name,
    flags,
    index_html,
    rows,
    score_hue,
    tmx_text,
    tsv_text,
    xml_text,
)

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
PAYLOADS = ["<script>alert(1)</script>", '<img src=x onerror="alert(2)">', "</td></tr><b>x", "{{ 7*7 }} {% if 1 %}x{% endif %}", "\"quoted\" 'single' & amp"]


@pytest.mark.parametrize(
    "source, mt, expected",
    [
        ("Le chat dort sur le canapé.", "The cat is sleeping on the couch.", ()),
        ("Le chat dort sur le canapé.", "   ", ("empty",)),
        ("Le chat dort sur le canapé.", "", ("empty",)),
        ("Le chat dort sur le canapé.", "Le chat dort sur le canapé.", ("untranslated",)),
        ("Le chat dort.", "le chat dort", ("untranslated",)),
        ("Emmanuel Macron", "Emmanuel Macron", ()),  # names and numbers stay as they are
        ("https://example.org/a", "https://example.org/a", ()),
        ("2022", "2022", ()),
        ("---", "", ()),  # nothing to translate, nothing missing
        ("Il a déclaré que la situation était grave et que tout le monde devait partir.", "He said.", ("length",)),
        ("Oui.", "Yes, of course, absolutely, without any doubt at all.", ("length",)),
        ("Il est parti.", "He left, he left, he left.", ("repeated",)),
        ("Il a dit que la guerre.", "He said that the the the the war.", ("repeated",)),
        ("Non, non, non, et non !", "No, no, no, and no!", ()),  # the source repeats too
        ("Les troupes se sont battues.", "The eleicicicicicicic troops fought.", ("repeated",)),
        ("Il a crié « Aaaaaaaah ! »", "He shouted \"Aaaaaaaah!\"", ()),
        ("Le numéro 1000000 gagne.", "Number 1000000 wins.", ()),
        ("C'est fini.", "It's over, it's over.", ()),
    ],
)
def test_flags(source: str, mt: str, expected: tuple[str, ...]) -> None:
    assert flags(source, mt) == expected


def record(id_: str, line: int, src: str, mt: str, **extra) -> dict:
    return {"id": id_, "line": line, "src": src, "mt": mt, "logprob": extra.pop("logprob", -0.5), **extra}


def test_rows_group_sentences_of_one_unit() -> None:
    records = [
        record("p1.s1", 1, "Un.", "One.", unit="p1.s1", ref="One and two.", chrf=50.0, bleu=20.0, logprob=-0.2),
        record("p1.s2", 1, "Deux.", "Deux.", unit="p1.s1", ref="One and two.", chrf=50.0, bleu=20.0, logprob=-0.9),
        record("p3.s1", 3, "Trois fois rien du tout.", "", unit="p3.s1", ref="", chrf=None, bleu=None, logprob=None),
    ]
    assert rows(records) == [
        Row(("p1.s1", "p1.s2"), 1, "Un. Deux.", "One. Deux.", "One and two.", 50.0, 20.0, -0.9, ()),
        Row(("p3.s1",), 3, "Trois fois rien du tout.", "", "", None, None, None, ("empty",)),
    ]


def test_rows_without_reference_are_sentences() -> None:
    records = [record("p1.s1", 1, "Un.", "One."), record("p1.s2", 1, "Deux.", "Two.")]
    assert [(r.ids, r.reference, r.chrf) for r in rows(records)] == [(("p1.s1",), None, None), (("p1.s2",), None, None)]


HUMAN = {"human": True, "logprob": None}


@pytest.mark.parametrize(
    "records, expected",
    [
        # what the MT checks would flag (untranslated, too long) is a human's choice here
        ([record("p1.s1", 1, "Le Monde diplomatique.", "Le Monde diplomatique.", **HUMAN)], (True, None, None, ())),
        ([record("p1.s1", 1, "Oui.", "Yes, of course, absolutely, without any doubt.", **HUMAN)], (True, None, None, ())),
        ([record("p1.s1", 1, "Il dort.", "He sleeps.", machine="He is sleeping.", hter=50.0, **HUMAN)], (True, "He is sleeping.", 50.0, ())),
        # a unit of several sentences: the model's outputs joined, no HTER of its own
        (
            [
                record("p1.s1", 1, "Un.", "One.", unit="p1.s1", machine="A.", hter=100.0, **HUMAN),
                record("p1.s2", 1, "Deux.", "Two.", unit="p1.s1", machine="Two.", hter=0.0, **HUMAN),
            ],
            (True, "A. Two.", None, ()),
        ),
        ([record("p1.s1", 1, "Un.", "One.", unit="p1.s1", machine="A.", **HUMAN), record("p1.s2", 1, "Deux.", "Two.", unit="p1.s1", **HUMAN)], (True, None, None, ())),
        # half human: the machine half is checked as ever
        ([record("p1.s1", 1, "Le Monde diplomatique.", "Le Monde diplomatique.", unit="p1.s1", **HUMAN), record("p1.s2", 1, "Il est parti.", "", unit="p1.s1")], (False, None, None, ("empty",))),
        ([record("p1.s1", 1, "Le Monde diplomatique.", "Le Monde diplomatique.")], (False, None, None, ("untranslated",))),
        # where inline markup went is no MT heuristic: a human row says it too
        ([record("p1.s1", 1, "Le Monde diplomatique.", "Le Monde diplomatique.", markup=True, **HUMAN)], (True, None, None, ("markup",))),
    ],
)
def test_rows_of_human_translations(records: list[dict], expected: tuple) -> None:
    (row,) = rows(records)
    assert (row.human, row.machine, row.hter, row.flags) == expected


@pytest.mark.parametrize("score, hue", [(0, 25), (50, 85), (100, 145), (-3, 25), (140, 145)])
def test_score_hue(score: float, hue: int) -> None:
    assert score_hue(score) == hue


PAGE = PageInfo("dossier/<b>a</b>.txt", "Helsinki-NLP/opus-mt-fr-en", "abc", "transformers", {"beam": 4}, "2026-11-25T10:00:00+00:00", "lines", "ref/a.txt", {"chrf": 61.2, "bleu": 33.0})


def test_article_page_escapes_every_text() -> None:
    units = [Row((f"p{i + 1}.s1",), i + 1, text, text.upper(), text, 42.0, 10.0, -0.3) for i, text in enumerate(PAYLOADS)]
    page = article_html(PAGE, units)
    parsed = PageParts(page)
    assert parsed.tags.count("script") == 1  # the page's own
    assert "img" not in parsed.tags and "b" not in parsed.tags
    shown = "".join(parsed.text)
    for text in PAYLOADS:
        assert text in shown and text.upper() in shown
    assert "dossier/<b>a</b>.txt" in shown
    assert parsed.tags.count("tr") == 1 + len(units)


@pytest.mark.parametrize("count", [PAGE_ROWS, PAGE_ROWS + 1, 3 * PAGE_ROWS])
def test_a_long_article_page_is_capped_and_says_so(count: int) -> None:
    units = [Row((f"p{i + 1}.s1",), i + 1, f"Phrase {i}.", f"Sentence {i}.") for i in range(count)]
    page = article_html(PageInfo("long.txt"), units)
    assert page.count('class="unit') == min(count, PAGE_ROWS)
    notice = f"This page shows the first {PAGE_ROWS} of {count} rows"
    assert (notice in page) == (count > PAGE_ROWS)
    assert f"Sentence {min(count, PAGE_ROWS) - 1}." in page and f"Sentence {PAGE_ROWS}." not in page


def test_article_page_shows_reference_columns_only_with_a_reference() -> None:
    plain = article_html(PageInfo("a.txt"), [Row(("p1.s1",), 1, "Un.", "One.")])
    assert "Reference English" not in plain and "chrf-asc" not in plain
    scored = article_html(PAGE, [Row(("p1.s1",), 1, "Un.", "One.", "One.", 100.0, 100.0, -0.1)])
    assert "Reference English" in scored and 'style="--h: 145"' in scored and "61.20" in scored


def test_article_page_shows_human_rows_and_their_post_editing_effort() -> None:
    records = [
        record("p1.s1", 1, "Il dort.", "He sleeps <b>.", machine="He is <i>sleeping.", hter=23.456, **HUMAN),
        record("p2.s1", 2, "Il pleut.", "It rains.", **HUMAN),
        record("p3.s1", 3, "Le Monde diplomatique.", "Le Monde diplomatique."),
    ]
    html = article_html(PageInfo("a.txt", hter=12.34), rows(records))
    page = RowAttributes(html)
    assert [page.rows[i]["class"] for i in ("p1.s1", "p2.s1", "p3.s1")] == ["unit human", "unit human", "unit flagged"]
    parsed = PageParts(html)
    assert "b" not in parsed.tags and "i" not in parsed.tags
    shown = "".join(parsed.text)
    assert "HTER 23.5He is <i>sleeping." in shown  # the summary, then the machine output it expands to
    assert shown.count("HTER") == 2 and "12.3" in shown and "3 (1 flagged, 2 human)" in shown
    assert html.count('<span class="human-badge"') == 2 and html.count("<details") == 1
    assert "HTER" not in article_html(PageInfo("a.txt"), rows(records[1:]))


class BodyAttributes(HTMLParser):
    """The attributes of a page's <body>."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "body":
            self.attrs = dict(attrs)


@pytest.mark.parametrize(
    "page, expected",
    [
        (PageInfo("a/b.txt", "m", "abc"), {"data-article": "a/b.txt", "data-model": "m", "data-revision": "abc", "data-corrections": "b.corrections.json"}),
        (PageInfo("b.tar.md", "m", ""), {"data-article": "b.tar.md", "data-model": "m", "data-revision": "", "data-corrections": "b.tar.corrections.json"}),
        (PageInfo('x/<"é">&.txt'), {"data-article": 'x/<"é">&.txt', "data-model": "", "data-corrections": '<"é">&.corrections.json'}),
    ],
)
def test_article_page_tells_its_script_what_the_corrections_are_of(page: PageInfo, expected: dict) -> None:
    assert BodyAttributes(article_html(page, [Row(("p1.s1",), 1, "Un.", "One.")])).attrs == expected


@pytest.mark.parametrize("article, name", [("b.txt", "b.corrections.json"), ("a/b.html", "b.corrections.json"), ("a.b/c", "c.corrections.json"), (".txt", ".txt.corrections.json")])
def test_corrections_name(article: str, name: str) -> None:
    assert corrections_name(article) == name


@pytest.mark.parametrize(
    "source, mt, attributes",
    [
        ("Un\r\ndeux.", "One\rtwo.", {"data-src": "Un\r\ndeux.", "data-mt": "One\rtwo."}),
        ("Un\ndeux <b>&.", "One.", {}),  # what HTML reads back as it was needs no copy
    ],
)
def test_texts_with_a_carriage_return_are_also_carried_exactly(source: str, mt: str, attributes: dict) -> None:
    row = RowAttributes(article_html(PageInfo("a.txt"), rows([record("p1.s1", 1, source, mt)]))).rows["p1.s1"]
    assert {k: v for k, v in row.items() if k in ("data-src", "data-mt")} == attributes


def test_index_links_pages_and_reports_errors() -> None:
    summary = {
        "model": "m",
        "backend": "transformers",
        "settings": {},
        "totals": {"ok": 1, "skipped": 0, "error": 1},
        "articles": [
            {"input": "a b/é #1.txt", "status": "ok", "sentences": 3, "flagged": 1, "scores": None},
            {"input": "<img src=x onerror=alert(1)>.txt", "status": "error", "sentences": 0, "flagged": None, "error": "x.txt: it contains NUL bytes"},
        ],
    }
    page = index_html(summary, {"a b/é #1.txt": "a b/é #1.review.html"}, "2026-11-25T10:00:00+00:00")
    assert 'href="a%20b/%C3%A9%20%231.review.html"' in page
    parsed = PageParts(page)
    assert "img" not in parsed.tags
    shown = "".join(parsed.text)
    assert "<img src=x onerror=alert(1)>.txt" in shown and "x.txt: it contains NUL bytes" in shown
    assert "None" not in shown


class RowAttributes(HTMLParser):
    """The attributes of each row of a review page, by row id."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str | None]] = {}
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "tr" and "unit" in (dict(attrs).get("class") or "").split():
            self.rows[dict(attrs)["id"]] = dict(attrs)


def test_article_page_carries_the_word_links_of_each_row() -> None:
    records = [
        record("p1.s1", 1, "Un chat.", "A cat.", unit="p1.s1", words="0-0 1-1"),
        record("p1.s2", 1, "Deux  chiens.", "Two dogs.", unit="p1.s1", words="0-0 1-1 0-1"),
        record("p2.s1", 2, "Le chat dort.", "The cat sleeps.", words="2-2 0-0 1-1"),
    ]
    page = RowAttributes(article_html(PageInfo("a.txt"), rows(records)))
    # the unit's links index its joined words: "Un chat. Deux  chiens." / "A cat. Two dogs."
    assert page.rows["p1.s1"]["data-words"] == "0-0 1-1 2-2 2-3 3-3"
    assert page.rows["p2.s1"]["data-words"] == "0-0 1-1 2-2"
    assert "data-uncovered" not in page.rows["p2.s1"]


def test_article_page_has_no_links_when_records_have_none() -> None:
    records = [record("p1.s1", 1, "Le chat noir dort.", "The cat sleeps."), record("p2.s1", 2, "Il pleut.", "It rains.", words="0-0 1-1")]
    page = RowAttributes(article_html(PageInfo("a.txt"), rows(records)))
    assert "data-words" not in page.rows["p1.s1"] and page.rows["p2.s1"]["data-words"] == "0-0 1-1"
    # a unit is linked only when all its sentences are
    joined = [record("p1.s1", 1, "Un.", "One.", unit="p1.s1", words="0-0"), record("p1.s2", 1, "Deux.", "Two.", unit="p1.s1")]
    assert "data-words" not in RowAttributes(article_html(PageInfo("a.txt"), rows(joined))).rows["p1.s1"]


def test_an_unlinked_content_word_flags_its_row_uncovered() -> None:
    linked = record("p1.s1", 1, "Le chat noir dort.", "The cat sleeps.", words="0-0 1-1 3-2")  # "noir" is linked to nothing
    units = rows([linked, record("p2.s1", 2, "Le chat dort.", "The cat sleeps.", words="0-0 1-1 2-2")])
    assert [u.flags for u in units] == [("uncovered",), ()]
    html = article_html(PageInfo("a.txt"), units)
    assert f'<span class="flag" title="{FLAG_TITLES["uncovered"]}">uncovered</span>' in html
    page = RowAttributes(html)
    assert page.rows["p1.s1"]["class"] == "unit flagged" and page.rows["p1.s1"]["data-uncovered"] == "2"
    assert page.rows["p2.s1"]["class"] == "unit"


@pytest.mark.parametrize(
    "source, mt, words",
    [
        ("Le chat noir dort.", "The cat sleeps.", "0-0 1-1 3-2"),
        ("Le chat noir dort.", "", ""),
        ("Bonjour tout le monde.", "Hello everyone.", ""),
    ],
)
def test_records_without_words_are_never_uncovered(source: str, mt: str, words: str) -> None:
    without = rows([record("p1.s1", 1, source, mt)])[0]
    assert "uncovered" not in without.flags and without.links is None
    assert ">uncovered</span>" not in article_html(PageInfo("a.txt"), [without])
    if mt:  # with their links, the same records are
        assert "uncovered" in rows([record("p1.s1", 1, source, mt, words=words)])[0].flags


def units_from(texts: list[tuple[str, str, str | None]]) -> list[Row]:
    return [Row((f"p{i + 1}.s1", f"p{i + 1}.s2"), i + 1, src, mt, ref, 12.5 if ref else None, None, -0.25, ("length",)) for i, (src, mt, ref) in enumerate(texts)]


def read_tmx(text: str) -> list[dict]:
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "tmx" and root.get("version") == "1.4"
    header = root.find("header")
    assert header is not None and header.get("srclang") == "fr" and header.get("segtype") == "sentence"
    out = []
    for tu in root.find("body"):
        assert tu.tag == "tu"
        langs = [tuv.get(XML_LANG) for tuv in tu.findall("tuv")]
        assert langs == ["fr", "en"]
        assert [child.tag for child in tu][-2:] == ["tuv", "tuv"]  # the <prop>s come first
        segs = [tuv.find("seg").text or "" for tuv in tu.findall("tuv")]
        props = {p.get("type"): p.text or "" for p in tu.findall("prop")}
        out.append({"id": tu.get("tuid"), "fr": segs[0], "en": segs[1], **props})
    return out


XML_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\ufffe\uffff")


@given(st.lists(st.tuples(st.text(XML_CHARS), st.text(XML_CHARS), st.one_of(st.none(), st.text(XML_CHARS))), max_size=4))
def test_tmx_round_trips_any_text_xml_can_hold(texts: list[tuple[str, str, str | None]]) -> None:
    units = units_from(texts)
    back = read_tmx(tmx_text(PAGE, units))
    assert [(u["fr"], u["en"], u.get("x-reference")) for u in back] == texts
    assert [u["id"] for u in back] == [r.id for r in units]
    assert all(u["x-ids"] == " ".join(r.ids) for u, r in zip(back, units))


def test_tmx_marks_the_origin_of_each_unit() -> None:
    records = [
        record("p1.s1", 1, "Un.", "One.", **HUMAN),
        record("p2.s1", 2, "Deux.", "Two."),
        record("p3.s1", 3, "Trois.", "Three.", unit="p3.s1", **HUMAN),
        record("p3.s2", 3, "Quatre.", "Four.", unit="p3.s1"),
    ]
    assert [u["x-mtpipe-translation"] for u in read_tmx(tmx_text(PAGE, rows(records)))] == ["human", "machine", "machine"]


def test_tmx_replaces_what_xml_cannot_hold() -> None:
    back = read_tmx(tmx_text(PAGE, units_from([("a\x00b\x1bc", "\x0cx", None)])))
    assert (back[0]["fr"], back[0]["en"]) == ("a\ufffdb\ufffdc", "\ufffdx")
    assert xml_text("a\r\nb") == "a&#13;\nb"


@given(st.lists(st.tuples(st.text(), st.text(), st.one_of(st.none(), st.text())), max_size=4))
def test_tsv_round_trips_any_text(texts: list[tuple[str, str, str | None]]) -> None:
    units = units_from(texts)
    table = list(csv.reader(io.StringIO(tsv_text(units), newline=""), delimiter="\t"))
    assert table[0] == ["ids", "source", "mt", "reference", "chrf", "flags"]
    assert [(r[1], r[2], r[3]) for r in table[1:]] == [(s, m, ref or "") for s, m, ref in texts]
    assert all(r[0] == "p%d.s1 p%d.s2" % (i + 1, i + 1) and r[5] == "length" for i, r in enumerate(table[1:]))
