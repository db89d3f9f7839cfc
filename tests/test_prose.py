"""Prose or not: which text units go to the model."""

from __future__ import annotations

import pytest

from pipeline.prose import is_prose

NOT_PROSE = [
    "2011", "41", "2022-09", "12/05/2024", "2024-05-03T12:00Z", "14h30", "10:30:00", "1 234,5", "-3", "12 %", "+0,5",
    "45 €", "$45", "10km", "3,5 kg", "km/h", "kg", "°C", "v2.3.1", "1.13.0", "#ff0000", "0x1F", "3f2a9c1", "/usr/bin", "./a.md",
    "C:\\dossier", "https://a.fr/x", "contact@a.fr", "snake_case", "camelCase", "Array.at", "parse()", "$el",
    "UTF-8", "MP3", "RFC2397", "—", "…", "(2011)", "« 41 »", "2011–2022", "", "   ",
]  # fmt: skip
PROSE = [
    "Le chat", "Bonjour.", "1er", "2e", "XXIe siècle", "10 Mo", "3 Go", "chat", "Paris", "Oui", "41 ans",
    "2011 : la fin", "Voir https://a.fr/x", "A.", "B", "Plan B", "Accueil", "(voir plus bas)", "l'été", "MàJ", "AJAX et vous",
]  # fmt: skip


@pytest.mark.parametrize("text", NOT_PROSE)
def test_only_numbers_dates_codes_are_not_prose(text: str) -> None:
    """What reads the same in English is copied, never sent to the model."""
    assert not is_prose(text)


@pytest.mark.parametrize("text", PROSE)
def test_words_are_prose(text: str) -> None:
    """A single word, an ordinal or a French unit is translated."""
    assert is_prose(text)
