"""Glossary terms forced into translations (--glossary-mode enforce): the prefix a
missed term gets, the translator's rounds and memory keys (echo backend), and the real
fixture model on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TINY_MODEL

from pipeline.glossary import Entry, Glossary
from pipeline.glossary.enforce import prefix, terms_digest
from pipeline.hub import ModelRef, resolve
from pipeline.memory import TranslationMemory
from pipeline.translate import DecodeSettings, Translator

GLOSSARY = Glossary([Entry("conseil municipal", ("city council",)), Entry("maire", ("mayor",))])


@pytest.mark.parametrize(
    "source, text, links, expected",
    [
        # the English before the first word linked to the term, then the term
        ("Le conseil municipal a voté.", "The municipal board voted.", ((0, 0), (1, 2), (2, 1), (3, 3), (4, 3)), "The city council"),
        ("Le conseil municipal a voté.", "The board of the town voted.", ((0, 0), (1, 1), (2, 4), (4, 5)), "The city council"),
        # at the start, capitalised as the English it replaces was
        ("Conseil municipal : le vote.", "Town board: the vote.", ((0, 0), (1, 1), (3, 2)), "City council"),
        # no word links: the term's share of the French
        ("Hier soir, le conseil municipal a voté.", "Last night, the board voted.", None, "Last night, city council"),
    ],
)
def test_prefix_keeps_the_english_up_to_the_term(source: str, text: str, links, expected: str) -> None:
    (hit,) = GLOSSARY.find(source)
    assert prefix(source, text, links, hit) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("He has the influenzam since yesterday.", "He has the influenza since"),
        ("He has the influenza since yesterday.", "He has the influenza since"),  # not glued: the next word all the same
        ("He has the influenzam.", "He has the influenza."),  # nothing follows: the glued word's final punctuation
        ("He has the influenzam", "He has the influenza"),
    ],
)
def test_a_second_try_anchors_the_term_with_the_word_after_the_glued_suffix(text: str, expected: str) -> None:
    source = "Il a la grippe depuis hier."
    (hit,) = Glossary([Entry("grippe", ("influenza",))]).find(source)
    assert prefix(source, "He has the flu since yesterday.", ((0, 0), (1, 1), (3, 3)), hit) == "He has the influenza"
    assert prefix(source, text, None, hit, forced="He has the influenza", anchor=True) == expected


def test_an_earlier_forced_prefix_is_never_cut() -> None:
    source = "Le maire et le conseil municipal."
    text = "The city council and the mayors."
    (_, hit) = GLOSSARY.find(source)  # conseil municipal, linked before the forced "The city council"
    assert hit.entry.source == "conseil municipal"
    assert prefix(source, text, ((4, 0), (5, 1)), hit, forced="The city council and") == "The city council and city council"


def test_terms_digest_names_only_the_entries_a_sentence_holds() -> None:
    assert terms_digest(GLOSSARY, "Le chat dort.") is None
    one = terms_digest(GLOSSARY, "Le conseil municipal a voté.")
    assert one and one == terms_digest(Glossary([*GLOSSARY.entries, Entry("chat", ("cat",))]), "Le conseil municipal a voté.")
    assert one != terms_digest(Glossary([Entry("conseil municipal", ("town council",))]), "Le conseil municipal a voté.")


def test_missed_terms_are_forced_one_round_each_and_the_first_output_kept(echo_model: ModelRef) -> None:
    translator = Translator(echo_model, "echo", DecodeSettings(), None, glossary=GLOSSARY)
    forced, plain, none = translator.translate(["Le conseil municipal et le maire partent.", "Le chat dort.", ""])
    assert forced.text == "LE city council ET LE mayor PARTENT." and forced.free == "LE CONSEIL MUNICIPAL ET LE MAIRE PARTENT."
    assert (plain.text, plain.free) == ("LE CHAT DORT.", None)
    assert none.free is None
    assert translator.backend().batches[1:] == [["Le conseil municipal et le maire partent."]] * 2  # one round per term


def test_sentences_without_terms_are_the_same_as_without_a_glossary(echo_model: ModelRef) -> None:
    sentences = ["Le chat dort.", "Il pleut sur la ville.", "Le conseil municipal a voté."]
    with_terms = Translator(echo_model, "echo", DecodeSettings(), None, glossary=GLOSSARY).translate(sentences)
    without = Translator(echo_model, "echo", DecodeSettings(), None).translate(sentences)
    assert with_terms[:2] == without[:2] and with_terms[2] != without[2]


def test_the_memory_keeps_both_outputs_and_a_glossary_change_touches_only_its_sentences(echo_model: ModelRef, tmp_path: Path) -> None:
    memory = TranslationMemory(tmp_path / "m.sqlite3")
    sentences = ["Le conseil municipal a voté.", "Le maire est parti.", "Le chat dort."]
    first = Translator(echo_model, "echo", DecodeSettings(), memory, glossary=GLOSSARY).translate(sentences)
    again = Translator(echo_model, "echo", DecodeSettings(), memory, glossary=GLOSSARY)
    assert [t.text for t in again.translate(sentences)] == [t.text for t in first] and not again.loaded
    assert [t.free for t in again.translate(sentences)] == [t.free for t in first]
    # the model's own output was kept under the plain key: a run without the glossary needs no model
    plain = Translator(echo_model, "echo", DecodeSettings(), memory)
    assert [t.text for t in plain.translate(sentences)] == ["LE CONSEIL MUNICIPAL A VOTÉ.", "LE MAIRE EST PARTI.", "LE CHAT DORT."] and not plain.loaded
    changed = Translator(echo_model, "echo", DecodeSettings(), memory, glossary=Glossary([Entry("conseil municipal", ("town council",)), Entry("maire", ("mayor",))]))
    assert [t.text for t in changed.translate(sentences)][0] == "LE town council A VOTÉ."
    assert changed.backend().batches == [["Le conseil municipal a voté."], ["Le conseil municipal a voté."]]  # only the sentence whose entry changed
    memory.close()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["transformers", "ctranslate2"])
def test_the_fixture_model_renders_forced_terms(backend: str, tmp_path: Path) -> None:
    model = resolve(str(TINY_MODEL))
    sentences = ["Le conseil municipal a voté le budget de la ville.", "Le maire a quitté la salle.", "Il fait beau aujourd'hui."]
    free = Translator(model, backend, DecodeSettings(beam=2), None).translate(sentences)
    forced = Translator(model, backend, DecodeSettings(beam=2), None, glossary=GLOSSARY).translate(sentences)
    for sentence, t in zip(sentences[:2], forced[:2]):
        assert not GLOSSARY.missed(sentence, t.text), t.text
    assert forced[2] == free[2]  # no term: the same translation, byte for byte
    assert all(f.free in (None, fr.text) for f, fr in zip(forced, free))


def test_a_forced_output_that_hits_the_length_cap_is_not_kept(echo_model: ModelRef, monkeypatch) -> None:
    from conftest import EchoBackend

    from pipeline.translate import Hypothesis

    real = EchoBackend.generate

    def capped(self, texts, max_new_tokens, prefixes=None):
        hyps = real(self, texts, max_new_tokens, prefixes)
        return hyps if prefixes is None else [Hypothesis(h.text[:10], h.logprob_sum, h.tokens, hit_limit=True, links=h.links) for h in hyps]

    monkeypatch.setattr(EchoBackend, "generate", capped)
    (t,) = Translator(echo_model, "echo", DecodeSettings(), None, glossary=GLOSSARY).translate(["Le conseil municipal a voté."])
    assert (t.text, t.free) == ("LE CONSEIL MUNICIPAL A VOTÉ.", None)  # the whole first translation, not a cut one
