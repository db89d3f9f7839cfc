"""Protect rules: what the model never sees, found in any text."""

from __future__ import annotations

import pytest
from helpers import grows_linearly
from hypothesis import given
from hypothesis import strategies as st

from pipeline.protect import ProtectError, Protector

BUILT_IN = [
    ("Voir {{Compat}} ici", ["{{Compat}}"]),
    ('La méthode {{JSxRef("Array.at")}} et {{Glossary("AJAX")}}.', ['{{JSxRef("Array.at")}}', '{{Glossary("AJAX")}}']),
    ('{{< figure src="a.png" title="Un chat" >}} puis {{% note %}}', ['{{< figure src="a.png" title="Un chat" >}}', "{{% note %}}"]),
    ("{% include figure.html %} et {# commentaire #}", ["{% include figure.html %}", "{# commentaire #}"]),
    ("Les props {#props}", ["{#props}"]),
    ('--8<-- "includes/abbr.md"', ['--8<-- "includes/abbr.md"']),
    ("Titre {#id .classe cle=valeur}", ["{#id .classe cle=valeur}"]),
    ('Titre {: .note data-x="a b"} et {-}', ['{: .note data-x="a b"}', "{-}"]),
    (":warning: Attention, :material-check: fait", [":warning:", ":material-check:"]),
    ("Écrivez à contact@exemple.fr ou https://a.fr/x?q=1&amp;r=2.", ["contact@exemple.fr", "https://a.fr/x?q=1&amp;r=2"]),
    ("À 10:30:00, le ratio 3:4 et le mot : ici", []),  # times, ratios and colons are not emoji
    ("Un ensemble {a, b} et une accolade {", []),
]


@pytest.mark.parametrize("text, protected", BUILT_IN, ids=[t for t, _ in BUILT_IN])
def test_built_in_rules(text: str, protected: list[str]) -> None:
    assert [text[a:b] for a, b in Protector().spans(text)] == protected


def test_user_rules_win_over_built_in_ones_they_overlap() -> None:
    text = "Le ticket ACME-42 {{ x }} et <<nom>>."
    spans = Protector((r"ACME-\d+ \{\{", r"<<[^>]*>>")).spans(text)
    assert [text[a:b] for a, b in spans] == ["ACME-42 {{", "<<nom>>"]


def test_urls_left_to_the_caller() -> None:
    text = "Voir https://a.fr et {{ x }}"
    assert [text[a:b] for a, b in Protector().spans(text, urls=False)] == ["{{ x }}"]


def test_a_rule_that_is_not_a_regular_expression_says_so() -> None:
    with pytest.raises(ProtectError, match=r"'\(' is not a regular expression"):
        Protector(("(",)).check()


def test_empty_matches_protect_nothing() -> None:
    assert Protector(("x*",)).spans("abc") == []


@given(st.text(alphabet="{}%#<>:ab -.x", max_size=40), st.lists(st.sampled_from(["a+", r"\{x", "b:", "-"]), max_size=3))
def test_spans_are_sorted_disjoint_and_within_the_window(text: str, rules: list[str]) -> None:
    """A law: whatever the rules and the text, spans never overlap and stay in [start, end)."""
    start, end = len(text) // 4, len(text) - len(text) // 4
    spans = Protector(tuple(rules)).spans(text, start, end)
    assert all(start <= a < b <= end for a, b in spans)
    assert all(b <= c for (_, b), (c, _) in zip(spans, spans[1:]))


# Lines that made a rule backtrack: each start of a match scanned to the end of the line.
HOSTILE_LINES = {
    "one long word (e-mail)": "x",
    "dots (e-mail)": "a.",
    "hyphens (e-mail)": "a-",
    "template openers without a closer": "{{",
    "tag openers without a closer": "{%",
    "comment openers without a closer": "{#",
    "Smarty openers without a closer": "{*",
    "attribute list openers": "{#a ",
}


@pytest.mark.parametrize("unit", HOSTILE_LINES.values(), ids=HOSTILE_LINES.keys())
def test_protected_spans_take_linear_time_on_hostile_lines(unit: str) -> None:
    assert grows_linearly(lambda n: Protector().spans(unit * n), 5_000)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("{{ a {{ b }} }}", ["{{ b }}"]),  # nested: the innermost
        ("{{{ x }}}", ["{{{ x }}"]),
        ("{% if %}x{% endif %}", ["{% if %}", "{% endif %}"]),
        ("{{ a }\n}}", []),  # one line only
        ("écrire à a.b+c@d.fr.", ["a.b+c@d.fr"]),
        ("x@y@z.fr", ["y@z.fr"]),
    ],
)
def test_template_and_email_matches(text: str, found: list[str]) -> None:
    assert [text[a:b] for a, b in Protector().spans(text)] == found
