from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.ingest import parse
from pipeline.records import (
    Article,
    RunMeta,
    RunSummary,
    SentenceRecord,
    article_from_json,
    read_records,
    record_from_json,
    records_text,
    sentence_records,
)
from pipeline.segment import segment
from pipeline.translate import Translation


def test_records_hold_ids_texts_and_scores() -> None:
    doc = parse("Un. Deux.".encode(), "a.txt")
    records = sentence_records(segment(doc), [Translation("One.", -0.123456), Translation("Two.", None, 3, True)])
    assert [r.to_json() for r in records] == [
        {"id": "p1.s1", "line": 1, "start": 0, "end": 3, "src": "Un.", "mt": "One.", "logprob": -0.1235, "pieces": 1},
        {"id": "p1.s2", "line": 1, "start": 4, "end": 9, "src": "Deux.", "mt": "Two.", "logprob": None, "pieces": 3},
    ]


@pytest.mark.parametrize(
    ("name", "source", "spans"),
    [
        ("a.html", "<p>Le <b>chat</b> dort. Il&nbsp;r&ecirc;ve.</p>", ["Le <b>chat</b> dort.", "Il&nbsp;r&ecirc;ve."]),
        ("a.md", "# Titre\n\nLe **chat**\ndort. [Il](x) rêve.\n", ["Titre", "Le **chat**\ndort.", "Il](x) rêve."]),
        ("a.txt", "Un. Deux.", None),
        ("a.md.txt", "Le <b>chat</b> dort.", None),
    ],
)
def test_records_locate_sentences_in_the_source(name: str, source: str, spans: list[str] | None) -> None:
    """Given the document, HTML and Markdown records carry each sentence's [start, end)
    in the source file's text; plain text records stay as they were."""
    from pipeline.formats import format_for

    doc = format_for(name).read(source.encode(), name)
    segs = segment(doc)
    translations = [Translation(s.text.upper(), None) for s in segs]
    records = sentence_records(segs, translations, doc=doc)
    assert [replace(r, source=None) for r in records] == sentence_records(segs, translations)
    assert [source[slice(*r.source)] for r in records if r.source] == (spans or [])


def test_the_key_order_is_the_files() -> None:
    """Optional fields come after the sentence's, in the order runs have written them."""
    record = SentenceRecord("p1.s1", 1, "Un.", "One.", 0, 3, (5, 8), -0.5, 1, True, "0-0", "p1.s1", "One.", 100.0, None, "Uno.", 50.0, "unsure")
    assert list(record.to_json()) == ["id", "line", "start", "end", "source", "src", "mt", "logprob", "pieces", "human", "words", "unit", "ref", "chrf", "bleu", "machine", "hter", "markup"]
    assert list(SentenceRecord("p1.s1", 1, "Un.", "One.").to_json()) == ["id", "line", "start", "end", "src", "mt", "logprob", "pieces"]


_texts = st.text(alphabet=st.characters(blacklist_categories=["Cs"]))
_numbers = st.none() | st.floats(allow_nan=False, allow_infinity=False, width=32)


@given(
    st.builds(
        SentenceRecord,
        id=_texts,
        line=st.integers(0, 10**6),
        src=_texts,
        mt=_texts,
        start=st.none() | st.integers(0, 999),
        source=st.none() | st.tuples(st.integers(0, 99), st.integers(0, 99)),
        logprob=_numbers,
        human=st.booleans(),
        unit=st.none() | _texts,
        ref=_texts,
        chrf=_numbers,
        machine=st.none() | _texts,
        hter=_numbers,
        markup=st.none() | st.just("unsure"),
    )
)
def test_a_record_written_reads_back_the_same(record: SentenceRecord) -> None:
    """What `records_text` writes, `read_records` reads back, whatever the text (U+2028
    and other line separators included); the fields only written with their `unit` or
    `machine` come back when those are set."""
    [back] = read_records(records_text([record]))
    if record.unit is None:
        record = replace(record, ref=None, chrf=None, bleu=None)
    if record.machine is None:
        record = replace(record, hter=None)
    assert back == record


GOOD = {"id": "p1.s1", "line": 1, "src": "Un chat.", "mt": "A cat."}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("[1, 2]", "it is not a JSON object"),
        ("{nope", "it is not JSON"),
        (json.dumps({**GOOD, "id": None}), "its id is not what mtpipe writes there"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "mt"}), "it has no mt"),
        (json.dumps({**GOOD, "line": True}), "its line is not what mtpipe writes there"),
        (json.dumps({**GOOD, "chrf": "high"}), "its chrf is not what mtpipe writes there"),
        (json.dumps({**GOOD, "logprob": [1]}), "its logprob is not what mtpipe writes there"),
        (json.dumps({**GOOD, "human": 1}), "its human is not what mtpipe writes there"),
        (json.dumps({**GOOD, "source": [1]}), "its source is not a [start, end] pair"),
        (json.dumps({**GOOD, "words": "0-5"}), "its word links are not pairs of its words"),
        (json.dumps({**GOOD, "words": "zero-one"}), "its word links are not pairs of its words"),
    ],
)
def test_a_line_that_is_not_a_record_is_refused_with_its_number(line: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        read_records(json.dumps(GOOD) + "\n" + line + "\n")
    assert str(caught.value) == f"line 2 is not a sentence record ({reason})"


def test_keys_mtpipe_does_not_write_are_ignored_and_blank_lines_skipped() -> None:
    assert read_records("\n" + json.dumps({**GOOD, "later": {"x": 1}}) + "\n\n") == [record_from_json(GOOD)]


ENTRY = {"input": "a.txt", "status": "ok", "sentences": 2, "scores": {"chrf": 50.5}, "flags": {"length": 1}}


@pytest.mark.parametrize(
    "entry",
    [
        "a.txt",
        {**ENTRY, "status": "done"},
        {**ENTRY, "sentences": "2"},
        {**ENTRY, "sentences": True},
        {**ENTRY, "scores": {"chrf": "x"}},
        {**ENTRY, "flags": {"length": 1.5}},
        {**ENTRY, "error": 3},
        {k: v for k, v in ENTRY.items() if k != "input"},
    ],
)
def test_an_entry_not_as_mtpipe_writes_it_is_left_out(entry: object) -> None:
    assert article_from_json(ENTRY) == Article("a.txt", "ok", sentences=2, scores={"chrf": 50.5}, flags={"length": 1})
    assert article_from_json(entry) is None


def test_a_summary_written_reads_back_the_same() -> None:
    articles = [Article("a.txt", "ok", sentences=3), Article("b.pdf", "unsupported", error="b.pdf: not an article"), Article("c.txt", "error", error="c.txt: bad")]
    summary = RunSummary("1.0", "2026-01-01T00:00:00+00:00", RunMeta("m", "r", "ctranslate2", {"beam": 4}), articles, {"name": "local"}, True, 1.5, ["w"], {"chrf": {"score": 1.0, "signature": "s"}})
    raw = json.loads(json.dumps(summary.to_json()))
    assert raw["totals"] == {"articles": 3, "ok": 1, "skipped": 0, "error": 1, "unsupported": 1, "ignored": 0, "pending": 0, "sentences": 3, "from_memory": 0}
    assert list(raw) == ["mtpipe", "date", "model", "revision", "backend", "settings", "engine", "model_loaded", "seconds", "warnings", "totals", "articles", "scores"]
    assert RunSummary.from_json(raw) == summary
    assert "scores" not in RunSummary(**{**vars(summary), "scores": None}).to_json()


@pytest.mark.parametrize("raw", [[], {"articles": {}}, {"mtpipe": "1.0"}])
def test_a_summary_without_a_list_of_articles_is_refused(raw: object) -> None:
    with pytest.raises(ValueError, match="no list of articles"):
        RunSummary.from_json(raw)


def test_hand_edited_values_of_a_summary_become_blanks() -> None:
    summary = RunSummary.from_json({"articles": [ENTRY, "junk"], "model": 3, "settings": [], "warnings": ["w", 4], "model_loaded": "yes"})
    assert (summary.meta, summary.warnings, summary.model_loaded, [a.input for a in summary.articles]) == (RunMeta(), ["w"], False, ["a.txt"])
