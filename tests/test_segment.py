from __future__ import annotations

from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import segment as segment_module
from pipeline.formats import format_for
from pipeline.ingest import parse
from pipeline.segment import halve, segment, sentence_spans, split_to_fit


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Il pleut. Il fait froid.", ["Il pleut.", "Il fait froid."]),
        ("M. Dupont est arrivé. Mme Durand aussi.", ["M. Dupont est arrivé.", "Mme Durand aussi."]),
        ("Il a dit « Bonjour. » Capitale de la France.", ["Il a dit « Bonjour. »", "Capitale de la France."]),
        ("Il a dit « Bonjour. »\u00a0Capitale de la France.", ["Il a dit « Bonjour. »", "Capitale de la France."]),
        ("Il a dit “Bonjour !” Puis il est parti.", ["Il a dit “Bonjour !”", "Puis il est parti."]),
        ("C'est fini… Demain on verra.", ["C'est fini…", "Demain on verra."]),
        ("Des pommes, des poires, etc. Le marché était plein.", ["Des pommes, des poires, etc.", "Le marché était plein."]),
        ("Saut en wingsuit au-dessus de Bogota Le sportif a sauté.", ["Saut en wingsuit au-dessus de Bogota", "Le sportif a sauté."]),
        ("Il lit Le Monde chaque matin.", ["Il lit Le Monde chaque matin."]),
        ("Marine Le Pen a parlé à La Haye.", ["Marine Le Pen a parlé à La Haye."]),
        ("Le 3,5 % de hausse. 12 000 personnes.", ["Le 3,5 % de hausse.", "12 000 personnes."]),
        ("Crédit : Getty", ["Crédit : Getty"]),
        ("Bonjour", ["Bonjour"]),
        ("   ", []),
        ("  Deux espaces.  Avant et après.  ", ["Deux espaces.", "Avant et après."]),
    ],
)
def test_sentence_spans(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


@pytest.mark.parametrize("name", ["a.md", "a.txt"])
def test_segment_ids_offsets_and_markdown_markers(name: str) -> None:
    """Markdown's block markers are the format's: its lines hold the blocks' text only."""
    data = ("# Le titre\n\n- Premier point. Second point.\nFin" if name.endswith(".md") else "Le titre\n\nPremier point. Second point.\nFin").encode()
    doc = format_for(name).read(data, name)
    segs = segment(doc)
    expected = [("p1.s1", "Le titre"), ("p3.s1", "Premier point."), ("p3.s2", "Second point."), ("p4.s1", "Fin")]
    if name.endswith(".md"):  # a line per block; "Fin" continues the list item's paragraph
        expected = [("p1.s1", "Le titre"), ("p2.s1", "Premier point."), ("p2.s2", "Second point."), ("p2.s3", "Fin")]
    assert [(s.id, s.text) for s in segs] == expected
    for s in segs:
        assert doc.lines[s.line - 1].text[s.start : s.end] == s.text


def test_markdown_markers_are_text_in_plain_files() -> None:
    assert [s.text for s in segment(parse(b"## Titre", "a.txt"))] == ["## Titre"]


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from(list("abcé .!?…«»“”\"'’,;:\u00a0\tLMAÉ0123")), max_size=80))
def test_spans_cover_the_line_in_order(text: str) -> None:
    spans = sentence_spans(text)
    assert all(a < b for a, b in spans)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(spans, spans[1:]))
    covered = "".join(text[a:b] for a, b in spans)
    assert "".join(covered.split()) == "".join(text.split())
    assert all(text[a:b] == text[a:b].strip() for a, b in spans)


@settings(max_examples=200)
@given(st.text(alphabet=st.sampled_from(list("abcé .!?LM")), max_size=300))
def test_windowed_spans_of_long_lines_cover_the_line(text: str) -> None:
    with patch.object(segment_module, "_WINDOW", 40):
        spans = sentence_spans(text)
    assert all(a < b for a, b in spans) and all(b1 <= a2 for (_, b1), (a2, _) in zip(spans, spans[1:]))
    assert "".join("".join(text[a:b] for a, b in spans).split()) == "".join(text.split())


def test_windowing_does_not_change_ordinary_text() -> None:
    text = " ".join(["M. Dupont est arrivé à 3 h. Il a dit « Bonjour. » Puis il est reparti."] * 20)
    with patch.object(segment_module, "_WINDOW", 200):
        windowed = sentence_spans(text)
    assert windowed == sentence_spans(text) and len(windowed) == 60


def words_plus_eos(text: str) -> int:
    return len(text.split()) + 1


@pytest.mark.parametrize(
    "text, limit, expected",
    [
        ("un deux trois", 8, ["un deux trois"]),
        ("un deux, trois quatre, cinq six", 4, ["un deux,", " trois quatre,", " cinq six"]),
        ("un deux trois quatre cinq", 3, ["un deux ", "trois quatre ", "cinq"]),
        ("a b c, d e f g h i, j", 4, ["a b c,", " d e f ", "g h i,", " j"]),
    ],
)
def test_split_to_fit_prefers_clauses_then_words(text: str, limit: int, expected: list[str]) -> None:
    assert split_to_fit(text, words_plus_eos, limit) == expected


def test_split_to_fit_cuts_a_giant_word_between_characters() -> None:
    pieces = split_to_fit("x" * 100, lambda t: len(t) // 10 + 1, 3)
    assert "".join(pieces) == "x" * 100 and all(len(p) // 10 + 1 <= 3 for p in pieces)


@settings(max_examples=200)
@given(st.text(alphabet=st.sampled_from(list("ab ,;:—\n")), max_size=200), st.integers(2, 12))
def test_split_to_fit_pieces_rebuild_the_text_and_fit(text: str, limit: int) -> None:
    pieces = split_to_fit(text, words_plus_eos, limit)
    assert "".join(pieces) == text
    assert all(words_plus_eos(p) <= limit for p in pieces)


@pytest.mark.parametrize(
    "text, expected",
    [("a b c d", ["a b ", "c d"]), ("mot", ["mot"]), (" mot ", [" mot "]), ("un deux", ["un ", "deux"])],
)
def test_halve(text: str, expected: list[str]) -> None:
    assert halve(text) == expected
