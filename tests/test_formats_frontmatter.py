"""Front matter: human-facing values found and written back in their own style."""

from __future__ import annotations

import pytest
import yaml

from pipeline.formats import frontmatter

CASES = [
    # source, values found, English for each (upper-cased), expected front matter written
    ("---\ntitle: Le chat\nslug: chat\n---\n", ["Le chat"], "---\ntitle: LE CHAT\nslug: chat\n---\n"),
    ("---\ntitle: 'L''été'\n---\n", ["L'été"], "---\ntitle: 'L''ÉTÉ'\n---\n"),
    ('---\ntitle: "Le \\"chat\\""  # commentaire\n---\n', ['Le "chat"'], '---\ntitle: "LE \\"CHAT\\""  # commentaire\n---\n'),
    ("---\ndescription: |\n  Une ligne\n  et une autre\ntags: [a, b]\n---\n", ["Une ligne et une autre"], "---\ndescription: |\n  UNE LIGNE ET UNE AUTRE\ntags: [a, b]\n---\n"),
    (
        "---\nhero:\n  name: Outil\n  title: Un outil rapide\nfeatures:\n  - title: Simple\n    details: Facile\n---\n",
        ["Un outil rapide", "Simple"],
        "---\nhero:\n  name: Outil\n  title: UN OUTIL RAPIDE\nfeatures:\n  - title: SIMPLE\n    details: Facile\n---\n",
    ),
    ("---\ntitle: 2011\ndate: 2017-02-01\n---\n", [], "---\ntitle: 2011\ndate: 2017-02-01\n---\n"),
    ('+++\ntitle = "Le logo"\ndescription = \'\'\ndraft = true\n+++\n', ["Le logo"], '+++\ntitle = "LE LOGO"\ndescription = \'\'\ndraft = true\n+++\n'),
    ("---\r\ntitle: Le chat\r\n...\r\n", ["Le chat"], "---\r\ntitle: LE CHAT\r\n...\r\n"),
]


@pytest.mark.parametrize("source, values, expected", CASES, ids=[c[0].split("\n")[1][:20] for c in CASES])
def test_values_translated_in_their_style(source: str, values: list[str], expected: str) -> None:
    front = frontmatter.find(source + "Texte.\n")
    assert [f.text for f in front.fields] == values
    written = frontmatter.write(source + "Texte.\n", front, {k: f.text.upper() for k, f in enumerate(front.fields)})
    assert written == expected


def test_english_that_plain_yaml_would_misread_is_quoted() -> None:
    """Read back, the data is the source's with exactly the English values."""
    source = "---\ntitle: Le chat\nlist:\n  - a\n---\n"
    front = frontmatter.find(source)
    for english in ["Note: read this", "- a dash", "yes", "# hash", "[a]", "{b}", "x #c", "2011", "'quote"]:
        written = frontmatter.write(source, front, {0: english})
        assert yaml.safe_load(written.split("---\n")[1]) == {"title": english, "list": ["a"]}, english


def test_keys_are_configurable() -> None:
    source = "---\ntitle: Le chat\ntagline: Un outil\n---\n"
    assert [f.text for f in frontmatter.find(source, ("tagline",)).fields] == ["Un outil"]


@pytest.mark.parametrize(
    "source, strict, found",
    [
        ("---\ntitle: a\n", False, False),  # never closed
        ("---\njust text\n---\n<p>x</p>", True, False),  # not a mapping: an HTML page's horizontal rule
        ("---\njust text\n---\nTexte", False, True),  # in Markdown, a closed block at the top is front matter
        ("--- \ntitle: a\n---\n", True, True),
        ("\n---\ntitle: a\n---\n", True, False),  # not at the very start
        ("+++\ntitle = \n+++\n", True, False),  # not TOML
    ],
)
def test_what_is_front_matter(source: str, strict: bool, found: bool) -> None:
    assert (frontmatter.find(source, strict=strict) is not None) == found


def test_blanked_keeps_offsets_and_lines() -> None:
    source = "---\ntitle: a\n---\nTexte"
    blank = frontmatter.blanked(source, frontmatter.find(source).end)
    assert len(blank) == len(source) and blank.count("\n") == source.count("\n") and blank.endswith("\nTexte") and not blank[:15].strip()
