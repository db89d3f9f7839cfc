"""Review rows, flags, HTML pages and the TMX/TSV exports, without a browser."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from conftest import PageParts
from hypothesis import given
from hypothesis import strategies as st

from pipeline.records import Article, RunSummary, SentenceRecord
from pipeline.report import (
    PAGE_ROWS,
    SCORE_BINS,
    PageInfo,
    Row,
    article_html,
    confidence,
    confidence_title,
    corrections_name,
    flag_bars,
    flag_counts,
    flag_titles,
    index_html,
    output_links,
    rows,
    score_bars,
    score_hue,
    tmx_text,
    tsv_text,
)

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
PAYLOADS = ["<script>alert(1)</script>", '<img src=x onerror="alert(2)">', "</td></tr><b>x", "{{ 7*7 }} {% if 1 %}x{% endif %}", "\"quoted\" 'single' & amp"]


def record(id_: str, line: int, src: str, mt: str, **extra) -> SentenceRecord:
    return SentenceRecord(id_, line, src, mt, logprob=extra.pop("logprob", -0.5), **extra)


def test_rows_group_sentences_of_one_unit() -> None:
    records = [
        record("p1.s1", 1, "Un.", "One.", unit="p1.s1", ref="One and two.", chrf=50.0, bleu=20.0, logprob=-0.2),
        record("p1.s2", 1, "Deux.", "Deux.", unit="p1.s1", ref="One and two.", chrf=50.0, bleu=20.0, logprob=-0.9),
        record("p3.s1", 3, "Trois fois rien du tout.", "", unit="p3.s1", ref="", chrf=None, bleu=None, logprob=None),
    ]
    assert rows(records) == [
        Row(("p1.s1", "p1.s2"), 1, "Un. Deux.", "One. Deux.", "One and two.", 50.0, 20.0, -0.9, ()),
        Row(("p3.s1",), 3, "Trois fois rien du tout.", "", "", None, None, None, ("empty",), ("the translation is empty",)),
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


@pytest.mark.slow
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
    summary = RunSummary.from_json({
        "model": "m",
        "backend": "transformers",
        "settings": {},
        "articles": [
            {"input": "a b/é #1.txt", "status": "ok", "sentences": 3, "flagged": 1, "scores": None},
            {"input": "<img src=x onerror=alert(1)>.txt", "status": "error", "sentences": 0, "flagged": None, "error": "x.txt: it contains NUL bytes"},
        ],
    })
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
    assert '<span class="flag" data-check="uncovered" title="no English word comes from noir">uncovered</span>' in html
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


def read_tsv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter="\t"))


@given(st.lists(st.tuples(st.text(), st.text(), st.one_of(st.none(), st.text())), max_size=4))
def test_tsv_round_trips_any_text(texts: list[tuple[str, str, str | None]]) -> None:
    units = units_from(texts)
    table = read_tsv(tsv_text(units))
    assert table[0] == ["ids", "source", "mt", "reference", "chrf", "flags", "confidence", "qa"]
    assert [(r[1], r[2], r[3]) for r in table[1:]] == [(s, m, ref or "") for s, m, ref in texts]
    assert all(r[0] == "p%d.s1 p%d.s2" % (i + 1, i + 1) and r[5] == "length" and r[6] == "-0.25" for i, r in enumerate(table[1:]))


def test_tsv_confidence_is_the_units_lowest_mean_logprob_and_empty_for_human_rows() -> None:
    records = [
        record("p1.s1", 1, "Un.", "One.", unit="p1.s1", logprob=-0.125),
        record("p1.s2", 1, "Deux.", "Two.", unit="p1.s1", logprob=-1.5),
        record("p2.s1", 2, "Trois.", "Three.", **HUMAN),
    ]
    assert [r[6] for r in read_tsv(tsv_text(rows(records)))[1:]] == ["-1.5", ""]


@pytest.mark.parametrize("logprob, word", [(0.0, "high"), (-0.4, "high"), (-0.41, "medium"), (-1.0, "medium"), (-1.01, "low"), (-7.0, "low")])
def test_confidence_words(logprob: float, word: str) -> None:
    assert confidence(logprob) == word


def test_confidence_cells_show_the_word_and_the_figures_on_hover() -> None:
    records = [record("p1.s1", 1, "Un.", "One.", logprob=-0.2), record("p2.s1", 2, "Deux.", "Two.", logprob=-2.0), record("p3.s1", 3, "Trois.", "Three.", **HUMAN)]
    html = article_html(PageInfo("a.txt"), rows(records))
    assert confidence_title(-0.2) == "mean token log-probability -0.20, a mean token probability of 82%"
    assert f'<td class="conf conf-high" title="{confidence_title(-0.2)}">high</td>' in html
    assert f'<td class="conf conf-low" title="{confidence_title(-2.0)}">low</td>' in html
    assert '<td class="conf conf-human" title="a human translation: the model\'s confidence does not apply">human</td>' in html
    assert [RowAttributes(html).rows[i].get("data-conf") for i in ("p1.s1", "p2.s1", "p3.s1")] == ["-0.2", "-2.0", None]  # sorting stays numeric


@pytest.mark.parametrize(
    "article, expected",
    [
        ("b.txt", ["index.html", "b.en.txt", "b.tmx", "b.tsv", "b.align.jsonl"]),
        ("a/b/c.md", ["../../index.html", "c.en.md", "c.tmx", "c.tsv", "c.align.jsonl"]),
        ("a.b/README", ["../index.html", "README.en.txt", "README.tmx", "README.tsv", "README.align.jsonl"]),
        ("dir a/é #1?.html", ["../index.html", "é #1?.en.html", "é #1?.tmx", "é #1?.tsv", "é #1?.align.jsonl"]),
    ],
)
def test_output_links(article: str, expected: list[str]) -> None:
    assert list(output_links(article).values()) == expected


def test_article_page_links_the_index_and_its_files_url_escaped() -> None:
    html = article_html(PageInfo("dir a/é #1?:x.html"), [Row(("p1.s1",), 1, "Un.", "One.")])
    hrefs = [h for h in LinkTargets(html).hrefs if not h.startswith("#")]
    assert hrefs == ["../index.html", *(f"%C3%A9%20%231%3F%3Ax{end}" for end in (".en.html", ".tmx", ".tsv", ".align.jsonl"))]


class LinkTargets(HTMLParser):
    """The href of every link of a page, in order."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "a" and dict(attrs).get("href") is not None:
            self.hrefs.append(dict(attrs)["href"])


def test_flag_counts_count_rows_per_kind_in_the_order_of_the_titles() -> None:
    units = [Row(("a",), 1, "", "", flags=("repeated", "length")), Row(("b",), 2, "", "", flags=("length",)), Row(("c",), 3, "", "")]
    assert list(flag_counts(units).items()) == [("repeated", 1), ("length", 2)]


def test_score_bars_bin_scores_with_100_in_the_last_bin() -> None:
    bars = score_bars([0.0, 9.99, 10.0, 55.5, 100.0, 100.0])
    assert len(bars) == SCORE_BINS
    assert [b.count for b in bars] == [2, 1, 0, 0, 0, 1, 0, 0, 0, 2]
    assert (bars[0].label, bars[-1].label, bars[-1].title) == ("0–10", "90–100", "chrF2 90 to 100: 2 articles")
    assert bars[1].title == "chrF2 10 to under 20: 1 article" and bars[0].hue < bars[-1].hue


def test_flag_bars_sum_the_articles_counts_and_leave_out_kinds_no_row_has() -> None:
    articles = [Article("a", flags={"length": 2, "repeated": 1}), Article("b", flags={"length": 1}), Article("c", flags=None), Article("d")]
    assert [(b.label, b.count) for b in flag_bars(articles)] == [("repeated", 1), ("length", 3)]
    assert flag_bars([Article("d")]) == []


def index_summary(*articles: dict) -> RunSummary:
    return RunSummary.from_json({"model": "m", "backend": "transformers", "settings": {}, "articles": list(articles)})


class IndexCells(HTMLParser):
    """The text of each cell of the index's article rows, by article."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self.cells: list[str] | None = None  # those of the row being read, in <tbody>
        self.in_cell = False
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "tbody":
            self.cells = []
        elif self.cells is not None and tag in ("th", "td"):
            self.cells.append("")
            self.in_cell = True

    def handle_endtag(self, tag: str) -> None:
        self.in_cell &= tag not in ("th", "td")
        if tag == "tbody":
            self.cells = None
        elif tag == "tr" and self.cells:
            self.rows[self.cells[0]] = self.cells[1:]
            self.cells = []

    def handle_data(self, data: str) -> None:
        if self.in_cell and self.cells:
            self.cells[-1] += data


def test_index_leaves_counts_blank_for_articles_not_reached() -> None:
    summary = index_summary(
        {"input": "ok.txt", "status": "ok", "sentences": 3, "flagged": 0},
        {"input": "pending.txt", "status": "pending", "sentences": 0, "flagged": None},
        {"input": "error.txt", "status": "error", "sentences": 0, "flagged": None, "error": "it failed"},
        {"input": "other.pdf", "status": "unsupported", "sentences": 0},
    )
    cells = IndexCells(index_html(summary, {}, "")).rows
    assert {name: row[1:3] for name, row in cells.items()} == {"ok.txt": ["3", "0"], "pending.txt": ["", ""], "error.txt": ["", ""], "other.pdf": ["", ""]}


def test_index_charts_score_spread_and_flags_only_when_they_say_something() -> None:
    scored = [{"input": f"{i}.txt", "status": "ok", "sentences": 2, "flagged": 1, "scores": {"chrf": 10.0 * i, "bleu": 1.0}, "flags": {"length": i}} for i in range(3)]
    page = index_html(index_summary(*scored, {"input": "x.txt", "status": "error", "sentences": 0, "flags": {"empty": 5}}), {}, "")
    parsed = PageParts(page)
    assert parsed.tags.count("svg") == 2 and "Articles by chrF2 score" in parsed.text and "Flagged rows by kind" in parsed.text
    assert "chrF2 0 to under 10: 1 article" in parsed.text and "length: 3 rows, where " + flag_titles()["length"] in parsed.text
    assert "empty" not in parsed.text  # an article in error counts for nothing
    one = PageParts(index_html(index_summary({**scored[1], "flags": None}), {}, ""))
    assert "svg" not in one.tags  # one score is no distribution, and no flag was counted
