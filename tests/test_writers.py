from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.ingest import parse
from pipeline.segment import segment
from pipeline.translate import Translation
from pipeline.writers import atomic_write, english_text, sentence_records, write_jsonl


def upper_all(source: str, name: str = "a.txt") -> str:
    doc = parse(source.encode(), name)
    segs = segment(doc)
    return english_text(doc, segs, [Translation(s.text.upper(), -0.1) for s in segs])


@pytest.mark.parametrize(
    "source, expected",
    [
        ("Un. Deux.\n\nTrois.", "UN. DEUX.\n\nTROIS."),
        ("Un.\r\n\r\nDeux.\r\n", "UN.\r\n\r\nDEUX.\r\n"),
        ("  Indenté.  Deux  espaces.\n", "  INDENTÉ.  DEUX  ESPACES.\n"),
        ("Titre\n   \nFin", "TITRE\n   \nFIN"),
    ],
)
def test_english_text_keeps_layout(source: str, expected: str) -> None:
    assert upper_all(source) == expected


def test_markdown_markers_stay_verbatim() -> None:
    assert upper_all("## Titre\n- point un\n> cité", "a.md") == "## TITRE\n- POINT UN\n> CITÉ"


def test_records_hold_ids_texts_and_scores() -> None:
    doc = parse("Un. Deux.".encode(), "a.txt")
    segs = segment(doc)
    records = sentence_records(segs, [Translation("One.", -0.123456), Translation("Two.", None, 3, True)])
    assert records == [
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
    assert [{k: v for k, v in r.items() if k != "source"} for r in records] == sentence_records(segs, translations)
    assert [source[slice(*r["source"])] for r in records if "source" in r] == (spans or [])


@given(st.lists(st.text(), max_size=5))
def test_jsonl_round_trips_any_unicode(texts: list[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.jsonl"
        write_jsonl(path, [{"src": t} for t in texts])
        lines = path.read_bytes().decode("utf-8").split("\n")
        assert [json.loads(line)["src"] for line in lines[:-1]] == texts and lines[-1] == ""


def test_atomic_write_replaces_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "d" / "f.txt"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["f.txt"]
