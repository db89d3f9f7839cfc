from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.ingest import parse
from pipeline.segment import segment
from pipeline.translate import Translation
from pipeline.writers import atomic_write, english_text, write_jsonl


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
