"""Quality checks (pipeline/qa): each check on a table of sentences, every registered
check on its own example, numbers across the French and English formats, the check
selection, and the run-wide consistency."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import UsageError
from pipeline.glossary import Entry, Glossary
from pipeline.qa import CHECKS, Context, Sentence, check_sentence, selection
from pipeline.qa.consistency import Consistency
from pipeline.qa.numbers import differences

# The checks that read the sentence alone: term needs a glossary, consistency the run.
SENTENCE_CHECKS = tuple(name for name in selection(None) if name not in ("consistency", "term"))
CAT = "Le chat dort sur le canapé."
LONG = "Le gouvernement a annoncé de nouvelles mesures pour soutenir les agriculteurs touchés par la sécheresse."


def flags(source: str, mt: str, **extra) -> tuple[str, ...]:
    return tuple(f.check for f in check_sentence(Sentence(source, mt, **extra), SENTENCE_CHECKS))


@pytest.mark.parametrize(
    "source, mt, expected",
    [
        # the former cases
        (CAT, "The cat is sleeping on the couch.", ()),
        (CAT, "   ", ("empty",)),
        (CAT, "", ("empty",)),
        (CAT, CAT, ("untranslated",)),
        ("Le chat dort.", "le chat dort", ("untranslated",)),
        ("Emmanuel Macron", "Emmanuel Macron", ()),
        ("https://example.org/a", "https://example.org/a", ()),
        ("2022", "2022", ()),
        ("---", "", ()),
        (LONG, "He said.", ("length",)),
        ("Oui.", "Yes, of course, absolutely, without any doubt at all.", ("length",)),
        ("Il est parti.", "He left, he left, he left.", ("repeated",)),
        ("Les troupes se sont battues.", "The eleicicicicicicic troops fought.", ("repeated",)),
        ("Non, non, non, et non !", "No, no, no, and no!", ()),
        # untranslated: French left in an English sentence, but not a quoted French title
        ("Le chat dort dans la maison.", "The cat est dans la maison et le jardin.", ("untranslated",)),
        ("Il a vu « Le Dîner de cons » hier.", 'He saw "Le Dîner de cons" yesterday.', ()),
        # numbers
        ("En 2011, 41 % des élèves.", "In 2012, 41% of pupils.", ("numbers",)),
        ("En 2011, 41 % des élèves.", "In 2011, 41% of pupils.", ()),
        ("Il coûte 1 234,50 euros.", "It costs 1,234.50 euros.", ()),
        ("Il coûte 12 euros.", "It costs a few euros.", ("numbers",)),
        ("Il a deux chats.", "He has 2 cats.", ()),
        # protected: a URL, e-mail, inline code or placeholder exactly once
        ("Écrivez à contact@exemple.fr aujourd'hui.", "Write to our address today, please.", ("protected",)),
        ("Écrivez à contact@exemple.fr.", "Write to contact@exemple.fr.", ()),
        ("Voir https://ex.org/a pour plus.", "See https://ex.org/a https://ex.org/a for more.", ("protected",)),
        ("Tapez `ls -l` ici.", "Type ls here.", ("protected",)),
        ("Bonjour %s !", "Hello!", ("protected",)),
        ("Bonjour {name} !", "Hello {name}!", ()),
        # punctuation
        ("Qui a gagné ?", "Who won.", ("punctuation",)),
        ("Qui a gagné ?", "Who won?", ()),
        ("Il a gagné !", "He won.", ("punctuation",)),
        ("Il a gagné.", "He won?", ("punctuation",)),
        ("Il a gagné (enfin).", "He won (finally.", ("punctuation",)),
        ("Il a gagné.", "He won", ()),
        # repeated: a doubled word, but not the doubles English grammar allows
        ("Le chat dort.", "The the cat sleeps.", ("repeated",)),
        ("Il a dit que cela suffit.", "He said that that is enough.", ()),
        ("Il a eu des problèmes.", "He had had problems.", ()),
    ],
)
def test_check_sentence(source: str, mt: str, expected: tuple[str, ...]) -> None:
    assert flags(source, mt) == expected


@pytest.mark.parametrize(
    "source, mt, expected",
    [
        # untranslated, length and uncovered judge the model: a human's choice is not flagged
        (CAT, CAT, ()),
        (LONG, "He said.", ()),
        ("Oui.", "Yes, of course, absolutely, without any doubt at all.", ()),
        ("Le chat noir dort.", "The cat sleeps.", ()),
        # the other checks read a human's translation as a model's
        ("Le chat dort.", "The the cat sleeps.", ("repeated",)),
        ("En 2011, 41 % des élèves.", "In 2012, 41% of pupils.", ("numbers",)),
        ("Qui a gagné ?", "Who won.", ("punctuation",)),
        (CAT, "", ("empty",)),
    ],
)
def test_human_rows_skip_machine_only_checks(source: str, mt: str, expected: tuple[str, ...]) -> None:
    assert flags(source, mt, human=True, links=((0, 0), (1, 1), (3, 2))) == expected


def test_machine_only_checks() -> None:
    assert {name for name, c in CHECKS.items() if c.machine_only} == {"untranslated", "length", "uncovered"}


# A correct translation of each check's example, and what a check needs to run on it.
CORRECT = {
    "empty": "Hello everyone.",
    "untranslated": "The city council passed the budget.",
    "numbers": "In 2011, 41% of pupils.",
    "protected": "Write to contact@exemple.fr.",
    "term": "The city council voted.",
    "punctuation": "Who won?",
    "repeated": "The cat sleeps.",
    "consistency": "Thank you.",
    "length": "The government announced new measures.",
    "uncovered": "The black cat sleeps.",
    "markup": "See the <a>page</a>.",
}
# Le chat noir dort / The cat sleeps: noir (2) linked to nothing.
BAD_LINKS = {"uncovered": {"links": ((0, 0), (1, 1), (3, 2))}, "markup": {"markup": True}}
GOOD_LINKS = {"uncovered": {"links": ((0, 0), (1, 2), (2, 1), (3, 3))}}


def full_context() -> Context:
    consistency = Consistency()
    consistency.add([("Merci.", "Thank you.")])
    return Context(glossary=Glossary([Entry("conseil municipal", ("city council",))]), consistency=consistency)


def test_every_check_has_a_correct_translation_here() -> None:
    assert set(CORRECT) == set(CHECKS)


@pytest.mark.parametrize("name", list(CHECKS))
def test_check_flags_its_example(name: str) -> None:
    source, mt = CHECKS[name].example
    found = check_sentence(Sentence(source, mt, **BAD_LINKS.get(name, {})), (name,), full_context())
    assert [f.check for f in found] == [name]
    assert found[0].reason


@pytest.mark.parametrize("name", list(CHECKS))
def test_check_passes_a_correct_translation_of_its_example(name: str) -> None:
    source, _ = CHECKS[name].example
    good = Sentence(source, CORRECT[name], **GOOD_LINKS.get(name, {}))
    assert check_sentence(good, (name,), full_context()) == []
    assert check_sentence(good, selection(None), full_context()) == []


def test_checks_without_what_they_need_say_nothing() -> None:
    for name in ("term", "consistency", "uncovered", "markup"):
        source, mt = CHECKS[name].example
        assert check_sentence(Sentence(source, mt), (name,)) == []


FAILING_THREE = Sentence("Écrivez à contact@exemple.fr en 2011 ?", "Write to our address in 2012.")


def test_findings_of_a_selection_in_registry_order() -> None:
    assert [f.check for f in check_sentence(FAILING_THREE, selection("punctuation,protected,numbers"))] == ["numbers", "protected", "punctuation"]


def test_findings_in_registry_order_whatever_the_order_given() -> None:
    assert [f.check for f in check_sentence(FAILING_THREE, tuple(reversed(SENTENCE_CHECKS)))] == ["numbers", "protected", "punctuation"]


# Numbers

SAME_NUMBERS = [
    ("1 234,5", "1,234.5"),
    ("12 %", "12%"),
    ("3 mai 2024", "May 3, 2024"),
    ("3 mai 2024", "3 May 2024"),
    ("14h30", "2:30 pm"),
    ("14h30", "14:30"),
    ("1er", "1st"),
    ("XIXe siècle", "19th century"),
    ("deux", "2"),
    ("2", "two"),
    ("10\u2009000", "10,000"),
    ("10\u202f000", "10,000"),
    ("10\u00a0000", "10,000"),
    ("10000", "10,000"),
    ("0,5", "0.5"),
    ("1,5 milliard", "1.5 billion"),
    ("1 000 000", "1,000,000"),
    ("1.500", "1,500"),
    ("Le 1er mai 2024 à 14h30, 1 234,5 euros.", "On May 1st, 2024 at 2:30 pm, 1,234.5 euros."),
    ("Il a deux chats.", "He has 2 cats."),
    ("Il a 2 chats.", "He has two cats."),
]


@pytest.mark.parametrize("source, mt", SAME_NUMBERS)
def test_numbers_match_across_formats(source: str, mt: str) -> None:
    assert differences(source, mt) == ([], [])


@pytest.mark.parametrize(
    "source, mt, missing, added",
    [
        ("2011", "I was born.", ["2011"], []),
        ("41", "I'm intersex.", ["41"], []),
        ("date 2022-09", "Get in 99%.", ["2022", "09"], ["99"]),
        ("1,5 million", "1,500 million", ["1,5"], ["1,500"]),
        ("3 mai", "June 3", ["mai"], ["June"]),
        ("3 mai 2024", "May 3, 2025", ["2024"], ["2025"]),
        ("XIXe siècle", "18th century", ["XIXe"], ["18th"]),
        ("12 %", "13%", ["12"], ["13"]),
    ],
)
def test_numbers_differ(source: str, mt: str, missing: list[str], added: list[str]) -> None:
    assert differences(source, mt) == (missing, added)


@pytest.mark.parametrize(
    "source, mt",
    [
        ("14h30", "4:15 pm"),
        ("14h30", "3:30 pm"),  # the same minutes
        ("14h30", "2:45 pm"),  # the same hour
        ("14h30", "15:30"),
        ("à 21h", "at 9 am"),  # the other half of the day
    ],
)
def test_wrong_times_differ(source: str, mt: str) -> None:
    assert differences(source, mt) != ([], [])


def grouped(digits: str, separator: str) -> str:
    """digits in groups of three from the right, joined by separator."""
    head = len(digits) % 3 or 3
    return separator.join([digits[:head], *(digits[i : i + 3] for i in range(head, len(digits), 3))])


def in_french(amount: Decimal, space: str) -> str:
    whole, _, cents = format(amount, "f").partition(".")
    return grouped(whole, space) + (f",{cents}" if cents else "")


def in_english(amount: Decimal) -> str:
    whole, _, cents = format(amount, "f").partition(".")
    return grouped(whole, ",") + (f".{cents}" if cents else "")


# Whole numbers, and amounts with two decimals (cents scaled down: 0.05, 1234.50).
AMOUNTS = st.one_of(
    st.integers(0, 10**9).map(Decimal),
    st.integers(0, 10**11).map(lambda cents: Decimal(cents).scaleb(-2)),
)


@given(AMOUNTS, st.sampled_from(["\u202f", "\u00a0"]))
def test_numbers_in_both_formats_match(amount: Decimal, space: str) -> None:
    assert differences(f"Le total est de {in_french(amount, space)} euros.", f"The total is {in_english(amount)} euros.") == ([], [])


@given(AMOUNTS, AMOUNTS, st.sampled_from(["\u202f", "\u00a0"]))
def test_numbers_another_value_differs(amount: Decimal, other: Decimal, space: str) -> None:
    if other == amount:
        other += 1
    missing, added = differences(f"Le total est de {in_french(amount, space)} euros.", f"The total is {in_english(other)} euros.")
    assert missing and added


def test_number_formats_of_the_property() -> None:
    assert in_french(Decimal(1234567), "\u202f") == "1\u202f234\u202f567"
    assert in_french(Decimal("1234.50"), "\u00a0") == "1\u00a0234,50"
    assert in_english(Decimal("1234567.05")) == "1,234,567.05"
    assert in_english(Decimal(12)) == "12"


# Selection


def test_selection() -> None:
    assert selection(None) == tuple(CHECKS)
    assert selection("all") == tuple(CHECKS)
    assert selection("none") == ()
    assert selection("numbers,term") == ("numbers", "term")
    assert selection("term, numbers") == ("numbers", "term")
    assert selection(["term", "empty"]) == ("empty", "term")


def test_selection_unknown_names_the_known_checks() -> None:
    with pytest.raises(UsageError) as caught:
        selection("numbers,spelling")
    message = str(caught.value)
    assert "spelling" in message
    assert all(name in message for name in CHECKS)


def test_context_selected() -> None:
    assert Context().selected == tuple(CHECKS)
    assert Context(checks=("term", "numbers")).selected == ("numbers", "term")


# Consistency


def test_consistency_same_french_two_englishes() -> None:
    consistency = Consistency()
    consistency.add([("Bonjour.", "Hello.")])
    assert consistency.reason("Bonjour.", "Hello.") is None
    assert consistency.reason("Bonjour.", "Hi.") == "the same French is also translated “Hello.”"
    consistency.add([("Bonjour.", "Hi.")])
    assert consistency.reason("Bonjour.", "Hello.") == "the same French is also translated “Hi.”"
    assert consistency.reason("Bonjour.", "Hi.") == "the same French is also translated “Hello.”"


def test_consistency_same_english_from_two_frenches() -> None:
    consistency = Consistency()
    consistency.add([("Merci.", "Thank you.")])
    assert consistency.reason("Je vous remercie.", "Thank you.") == "the same English also translates “Merci.”"
    consistency.add([("Je vous remercie.", "Thank you.")])
    assert consistency.reason("Merci.", "Thank you.") == "the same English also translates “Je vous remercie.”"


def test_consistency_spacing_is_not_a_difference() -> None:
    consistency = Consistency()
    consistency.add([("Bonjour  à tous.", "Hello everyone.")])
    assert consistency.reason("Bonjour à tous.", " Hello   everyone. ") is None


def test_consistency_leaves_out_sentences_without_letters_or_english() -> None:
    consistency = Consistency()
    assert consistency.add([("---", "---"), ("Oui.", "  ")]) == []
    assert consistency.reason("Oui.", "Yes.") is None


def test_consistency_count_follows_later_adds() -> None:
    consistency = Consistency()
    keys = consistency.add([("Bonjour.", "Hello."), ("Merci.", "Thanks.")])
    assert consistency.count([key] for key in keys) == 0
    consistency.add([("Bonjour.", "Hi.")])
    assert consistency.count([key] for key in keys) == 1
    consistency.add([("Merci beaucoup.", "Thanks.")])
    assert consistency.count([key] for key in keys) == 2
