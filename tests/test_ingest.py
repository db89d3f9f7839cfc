from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.ingest import IngestError, decode, parse, split_lines

FRENCH = "L’armée a récupéré « 3 000 km² » — œuvre à 5 €.\nÇa va très bien, où êtes-vous ?\n"


@pytest.mark.parametrize(
    "data, encoding",
    [
        (FRENCH.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + FRENCH.encode("utf-8"), "utf-8-sig"),
        (FRENCH.encode("utf-16"), "utf-16"),
        (FRENCH.encode("cp1252"), "cp1252"),
        ("Le garçon était à l'école près de la forêt.\n".encode("latin-1"), "cp1252"),
        ("été\n".encode("cp1252"), "cp1252"),
        ("L’été à Noël coûte 5 €.\r\n".encode("cp1252"), "cp1252"),
    ],
)
def test_decode_recovers_french_text(data: bytes, encoding: str) -> None:
    text, found = decode(data)
    assert found == encoding
    assert "é" in text and "\ufffd" not in text


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", "binary"),
        (b"abc\x00def", "binary"),
        (bytes(range(1, 256)) * 8, "probably not text"),
        (b"\xef\xbb\xbf\xff\xfe\xfd", "not valid"),
    ],
)
def test_parse_refuses_non_articles_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(IngestError, match=reason):
        parse(data, "x.txt")


@pytest.mark.parametrize("data", [b"", b" \n\t\r\n"])
def test_nothing_to_translate_is_an_article(data: bytes) -> None:
    """An empty or blank file is text with nothing to translate, not an error: it is copied."""
    doc = parse(data, "a.txt")
    assert doc.text == data.decode() and not any(line.text.strip() for line in doc.lines)


@pytest.mark.parametrize(
    "text, lines",
    [
        ("a\nb", [("a", "\n"), ("b", "")]),
        ("a\r\nb\r\n", [("a", "\r\n"), ("b", "\r\n")]),
        ("a\rb\n\nc", [("a", "\r"), ("b", "\n"), ("", "\n"), ("c", "")]),
        ("\n\n", [("", "\n"), ("", "\n")]),
        ("x", [("x", "")]),
    ],
)
def test_split_lines_keeps_each_ending(text: str, lines: list[tuple[str, str]]) -> None:
    assert [(line.text, line.newline) for line in split_lines(text)] == lines


@given(st.text())
def test_split_lines_round_trips(text: str) -> None:
    lines = split_lines(text)
    assert "".join(line.text + line.newline for line in lines) == text
    assert [line.number for line in lines] == list(range(1, len(lines) + 1))


def test_a_few_broken_bytes_in_utf8_are_replaced_not_mojibake() -> None:
    data = "Le café est très bon.\n".encode() * 20 + b"Un octet \xff perdu.\n"
    text, encoding = decode(data)
    assert "café" in text and "Un octet \ufffd perdu." in text
    assert encoding == "utf-8 (1 invalid byte sequence replaced by U+FFFD)"


def test_parse_hashes_bytes() -> None:
    doc = parse(b"# Titre\n\nTexte.", "a/b.md")
    assert doc.encoding == "utf-8" and len(doc.sha256) == 64
    assert doc.text == "# Titre\n\nTexte."
