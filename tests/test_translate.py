from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import SHARED, TINY_MODEL, EchoBackend, shared_file
from helpers import fixture_pairs

from pipeline.hub import ModelError, ModelRef, resolve
from pipeline.memory import TranslationMemory
from pipeline.segment import split_to_fit
from pipeline.translate import (
    DecodeSettings,
    Hypothesis,
    Translator,
    ct2_threads,
    length_batches,
    translate_texts,
)
from pipeline.translate.orchestrate import _merge


@pytest.mark.parametrize(
    "lengths, budget, expected",
    [
        ([], 10, []),
        ([3, 3, 3], 9, [[0, 1, 2]]),
        ([3, 3, 3], 8, [[0, 1], [2]]),
        ([1, 5, 2, 4], 10, [[1, 3], [2, 0]]),
        ([20, 1], 10, [[0], [1]]),
    ],
)
def test_length_batches(lengths: list[int], budget: int, expected: list[list[int]]) -> None:
    assert length_batches(lengths, budget) == expected


@pytest.mark.parametrize(
    "cores, layout",
    [(1, (1, 1)), (2, (2, 1)), (3, (3, 1)), (4, (4, 1)), (6, (3, 2)), (8, (4, 2)), (16, (4, 4)), (64, (4, 16))],
)
def test_ct2_threads(cores: int, layout: tuple[int, int]) -> None:
    """(workers, threads each): every core busy where it divides, never over four workers."""
    assert ct2_threads(cores) == layout


def test_length_batches_caps_batch_size() -> None:
    assert [len(b) for b in length_batches([1] * 10, 100, max_size=4)] == [4, 4, 2]


def echo(tmp_path: Path) -> EchoBackend:
    return EchoBackend(ModelRef("echo", tmp_path, "r"), DecodeSettings())


def test_long_sentence_is_split_translated_and_rejoined(tmp_path: Path) -> None:
    backend = echo(tmp_path)
    words = [f"mot{i}" for i in range(2000)]
    [result] = translate_texts(backend, [" ".join(words)], budget=64)
    assert result.links == tuple((i, i) for i in range(2000))  # each piece's links shifted into place
    assert result.text.split() == [w.upper() for w in words]
    assert result.pieces == 2000 // 7 + 1
    assert result.logprob == -0.5  # EchoBackend's -0.5 per token, averaged over all pieces
    assert all(backend.count_tokens(t) <= backend.max_input_tokens for batch in backend.batches for t in batch)


class RunawayBackend(EchoBackend):
    """Runs into the length cap whenever it is given more than two words."""

    def generate(self, texts: Sequence[str], max_new_tokens: int) -> list[Hypothesis]:
        self.batches.append(list(texts))
        return [Hypothesis(t.upper(), -1.0, max_new_tokens, hit_limit=len(t.split()) > 2) for t in texts]


def test_output_hitting_the_cap_is_retried_on_halves(tmp_path: Path) -> None:
    backend = RunawayBackend(ModelRef("r", tmp_path, "r"), DecodeSettings())
    [result] = translate_texts(backend, ["un deux trois quatre cinq six sept"], budget=64)
    assert result.text == "UN DEUX TROIS QUATRE CINQ SIX SEPT"
    assert all(len(t.split()) <= 2 for t in backend.batches[-1])
    # halved at the space nearest the middle until no piece has more than two words
    assert result.parts == (("un deux ", "UN DEUX"), ("trois ", "TROIS"), ("quatre cinq ", "QUATRE CINQ"), ("six sept", "SIX SEPT"))
    assert result.pieces == 4


class DroppingBackend(EchoBackend):
    """Drops every input longer than three words, as an NMT model may drop an input
    far longer than its training sentences."""

    def generate(self, texts: Sequence[str], max_new_tokens: int) -> list[Hypothesis]:
        self.batches.append(list(texts))
        kept = [[] if len(t.split()) > 3 else t.split() for t in texts]
        return [Hypothesis(" ".join(k).upper(), -1.0, len(k) + 1) for k in kept]


def test_output_far_shorter_than_input_is_retried_on_halves(tmp_path: Path) -> None:
    backend = DroppingBackend(ModelRef("d", tmp_path, "r"), DecodeSettings())
    words = "un deux trois quatre cinq six sept huit neuf dix onze douze".split()
    [result] = translate_texts(backend, [" ".join(words)], budget=64)
    assert result.text.split() == [w.upper() for w in words]
    assert "".join(src for src, _ in result.parts) == " ".join(words)
    # cut to fit 8 tokens (7 + 5 words), then each dropped piece halved until kept
    assert result.parts == (
        ("un deux trois ", "UN DEUX TROIS"),
        ("quatre cinq ", "QUATRE CINQ"),
        ("six sept ", "SIX SEPT"),
        ("huit neuf ", "HUIT NEUF"),
        ("dix onze douze", "DIX ONZE DOUZE"),
    )
    assert result.pieces == 5 and result.logprob == -5 / 17  # -1.0 per kept piece over its words + 1 tokens


def test_merge_joins_outputs_in_order_and_sums_their_scores() -> None:
    merged = _merge(
        [
            Hypothesis("The cat", -1.5, 3, hit_limit=True, parts=(("Le chat ", "The cat"),)),
            Hypothesis("", -0.25, 1, parts=(("euh ", ""),)),  # an empty output adds no space
            Hypothesis("sleeps.", -2.0, 2, parts=(("dort", "sleeps"), (".", "."))),
        ]
    )
    assert merged == Hypothesis("The cat sleeps.", -3.75, 6, hit_limit=False, parts=(("Le chat ", "The cat"), ("euh ", ""), ("dort", "sleeps"), (".", ".")))
    assert _merge([]) == Hypothesis("", 0, 0, links=())


def test_merge_shifts_word_links_into_the_whole_sentence() -> None:
    merged = _merge(
        [
            Hypothesis("The cat", -1, 2, parts=(("Le chat ", "The cat"),), links=((0, 0), (1, 1))),
            Hypothesis("", -1, 1, parts=(("euh ", ""),), links=()),
            Hypothesis("sleeps well.", -1, 2, parts=(("dort bien.", "sleeps well."),), links=((0, 0), (1, 1))),
        ]
    )
    assert merged.text == "The cat sleeps well." and merged.links == ((0, 0), (1, 1), (3, 2), (4, 3))
    unknown = Hypothesis("x", 0, 1, parts=(("y", "x"),))
    assert _merge([merged, unknown]).links is None  # never guessed


def test_translator_uses_memory_and_loads_backend_only_on_a_miss(tmp_path: Path, echo_model: ModelRef) -> None:
    memory = TranslationMemory(tmp_path / "tm.sqlite3")
    first = Translator(echo_model, "echo", DecodeSettings(), memory)
    out = first.translate(["Un.", "Deux.", "Un."])
    assert [t.text for t in out] == ["UN.", "DEUX.", "UN."] and first.loaded
    assert first.backend().batches == [["Un.", "Deux."]]  # each distinct sentence once
    second = Translator(echo_model, "echo", DecodeSettings(), memory)
    again = second.translate(["Deux.", "Un."])
    assert [t.text for t in again] == ["DEUX.", "UN."] and all(t.from_memory for t in again)
    assert not second.loaded
    other_beam = Translator(echo_model, "echo", DecodeSettings(beam=2), memory)
    assert not any(t.from_memory for t in other_beam.translate(["Un."]))


def test_memory_entries_without_links_get_them_only_when_the_model_is_loaded_anyway(echo_model: ModelRef, tmp_path: Path) -> None:
    """Entries an older mtpipe stored (no word links) are never given invented links:
    recalled alone they go without; beside a sentence the model must translate, the
    loaded model aligns them (each once) and the memory keeps the links."""
    memory = TranslationMemory(tmp_path / "tm.sqlite3")
    older = Translator(echo_model, "echo", DecodeSettings(), memory)
    memory.put({older._memory_key(s): (s, s.upper(), -0.5, 1, None) for s in ["Un chat.", "Deux chiens noirs."]})
    alone = Translator(echo_model, "echo", DecodeSettings(), memory)
    assert [t.links for t in alone.translate(["Un chat."])] == [None] and not alone.loaded
    mixed = Translator(echo_model, "echo", DecodeSettings(), memory)
    out = mixed.translate(["Un chat.", "Il pleut.", "Deux chiens noirs.", "Un chat."])
    assert [t.links for t in out] == [((0, 0), (1, 1)), ((0, 0), (1, 1)), ((0, 0), (1, 1), (2, 2)), ((0, 0), (1, 1))]
    assert mixed.backend().aligned == ["Un chat.", "Deux chiens noirs."]
    again = Translator(echo_model, "echo", DecodeSettings(), memory)
    assert [t.links for t in again.translate(["Deux chiens noirs."])] == [((0, 0), (1, 1), (2, 2))] and not again.loaded
    other_head = Translator(echo_model, "echo", DecodeSettings(align_layer=0), memory)
    assert [t.links for t in other_head.translate(["Deux chiens noirs."])] == [None]  # links of another head are not these


def test_unknown_backend_is_a_model_error(echo_model: ModelRef) -> None:
    with pytest.raises(ModelError, match="unknown backend 'nope'"):
        Translator(echo_model, "nope", DecodeSettings(), None)


# --- the real transformers backend on the fixture model ---------------------------


@pytest.fixture(scope="module")
def tiny() -> Translator:
    return Translator(resolve(str(TINY_MODEL)), "transformers", DecodeSettings(), None)


def test_fixture_model_translates_training_sentences(tiny: Translator) -> None:
    pairs = fixture_pairs()
    assert len(pairs) >= 10
    out = tiny.translate([fr for fr, _ in pairs])
    correct = sum(t.text == en for t, (_, en) in zip(out, pairs))
    assert correct >= 0.8 * len(pairs), [(fr, t.text) for t, (fr, _) in zip(out, pairs)]
    assert all(t.logprob is not None and t.logprob <= 0 for t in out)


@pytest.mark.slow
@pytest.mark.parametrize("beam", [1, 4])
def test_greedy_and_beam_give_real_output(beam: int) -> None:
    translator = Translator(resolve(str(TINY_MODEL)), "transformers", DecodeSettings(beam=beam), None)
    fr, en = fixture_pairs()[0]
    [t] = translator.translate([fr])
    assert t.text == en and -10 < t.logprob <= 0


@pytest.mark.slow
def test_2000_word_sentence_is_translated_in_full(tiny: Translator) -> None:
    words = shared_file(SHARED / "data/testsets/fra-eng/newstest2014.fra").read_text(encoding="utf-8").split()
    sentence = " ".join(w.strip(".,;:!?«»\"()") or "x" for w in words[:2000])
    backend = tiny.backend()
    assert backend.count_tokens(sentence) > backend.max_input_tokens
    [result] = translate_texts(backend, [sentence], budget=4096)
    assert result.pieces >= len(split_to_fit(sentence, backend.count_tokens, backend.max_input_tokens)) >= 5
    assert "".join(src for src, _ in result.parts) == sentence  # every word went to the model
    assert all(backend.count_tokens(src.strip()) <= backend.max_input_tokens for src, _ in result.parts)
    # a piece of several words whose output came back empty would have been halved and retried
    assert all(mt for src, mt in result.parts if len(src.split()) > 1)
    assert -10 < result.logprob < 0


@pytest.mark.slow
def test_pickled_weights_are_never_loaded_beside_safetensors(tmp_path: Path) -> None:
    """A pytorch_model.bin that torch's weights-only loader does load (plain tensors,
    unlike a pickle with a booby-trapped __reduce__, which it refuses anyway), holding
    the fixture's weights with the end of sentence made certain: any translation made
    from them is empty. Beside model.safetensors, the translation must be the real one."""
    import shutil

    import torch
    from safetensors.torch import load_file

    weights = load_file(TINY_MODEL / "model.safetensors")
    weights["final_logits_bias"][0, 0] = 1e4  # token 0 is </s> (config.json eos_token_id)
    model = tmp_path / "model"
    shutil.copytree(TINY_MODEL, model)
    torch.save(weights, model / "pytorch_model.bin")
    assert torch.load(model / "pytorch_model.bin", weights_only=True)["final_logits_bias"][0, 0] == 1e4
    fr, en = fixture_pairs()[0]

    def translate(folder: Path) -> str:
        return Translator(resolve(str(folder)), "transformers", DecodeSettings(beam=1), None).translate([fr])[0].text

    assert translate(model) == en
    (model / "model.safetensors").unlink()
    assert translate(model) == ""  # the trap works: loaded, these weights give nothing


# --- streaming across articles -------------------------------------------------------


class CountingMemory(TranslationMemory):
    """A real memory that counts its write transactions."""

    puts = 0

    def put(self, items, alignment: str = "") -> None:
        type(self).puts += 1
        super().put(items, alignment)


def articles(count: int, size: int) -> list[list[str]]:
    return [[f"phrase {a} {s}" + " mot" * ((a + s) % 5) for s in range(size)] for a in range(count)]


def streamed(translator: Translator, groups: list[list[str]]) -> tuple[dict[int, list[str]], list[int]]:
    steps: list[int] = []
    done = {i: [t.text for t in ts] for i, ts in translator.stream(groups, steps.append)}
    return done, steps


def test_short_articles_share_the_batches_one_long_article_would_have(tmp_path: Path, echo_model: ModelRef) -> None:
    groups = articles(20, 3)
    many = Translator(echo_model, "echo", DecodeSettings(batch_tokens=64), None)
    done, steps = streamed(many, groups)
    one = Translator(echo_model, "echo", DecodeSettings(batch_tokens=64), None)
    one.translate([s for g in groups for s in g])
    assert done == {i: [s.upper() for s in g] for i, g in enumerate(groups)}  # each article once, in its order
    assert [len(b) for b in many.backend().batches] == [len(b) for b in one.backend().batches]
    assert len(many.backend().batches) < 20  # not one batch (or more) per article
    assert len(steps) == len(many.backend().batches) and sum(steps) == 60  # progress after every batch


def test_the_window_bounds_what_is_pooled(tmp_path: Path, echo_model: ModelRef, monkeypatch) -> None:
    import pipeline.translate.translator as translate

    monkeypatch.setattr(translate, "WINDOW_SENTENCES", 7)
    groups = articles(10, 3)
    translator = Translator(echo_model, "echo", DecodeSettings(batch_tokens=10_000), None)
    done, steps = streamed(translator, groups)
    assert done == {i: [s.upper() for s in g] for i, g in enumerate(groups)} and sum(steps) == 30
    assert max(len(b) for b in translator.backend().batches) <= 9  # at most the window plus the article that filled it


def test_each_batch_is_one_memory_transaction_and_repeats_are_translated_once(tmp_path: Path, echo_model: ModelRef, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = CountingMemory(tmp_path / "tm.sqlite3")
    groups = [["Le chat dort.", "Il pleut."], ["Il pleut.", "Fin."], ["Le chat dort."]]
    translator = Translator(echo_model, "echo", DecodeSettings(batch_tokens=6), memory)
    done, steps = streamed(translator, groups)
    batches = translator.backend().batches
    assert sorted(t for b in batches for t in b) == ["Fin.", "Il pleut.", "Le chat dort."]
    assert CountingMemory.puts == len(batches) > 1 and sum(steps) == 5
    again = Translator(echo_model, "echo", DecodeSettings(batch_tokens=6), memory)
    monkeypatch.setattr(EchoBackend, "loads", 0)
    assert streamed(again, groups) == (done, [2, 2, 1]) and EchoBackend.loads == 0  # all recalled, nothing loaded


class Faulty(EchoBackend):
    """Fails any batch holding the word BOOM."""

    def generate(self, texts: Sequence[str], max_new_tokens: int) -> list[Hypothesis]:
        if any("BOOM" in t for t in texts):
            raise RuntimeError("the engine choked")
        return super().generate(texts, max_new_tokens)


def test_a_failing_shared_batch_fails_only_the_article_at_fault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.run import run
    from pipeline.translate import BACKENDS

    monkeypatch.setitem(BACKENDS, "faulty", Faulty)
    (tmp_path / "in").mkdir()
    for i in range(6):
        (tmp_path / "in" / f"a{i}.txt").write_text(f"Phrase {i}. " + ("BOOM ici." if i == 3 else "Fin."), encoding="utf-8")
    summary = run([tmp_path / "in"], tmp_path / "out", Translator(ModelRef("f", tmp_path, "r"), "faulty", DecodeSettings(), None)).to_json()
    status = {a["input"]: (a["status"], a["error"]) for a in summary["articles"]}
    assert status["a3.txt"][0] == "error" and "the engine choked" in status["a3.txt"][1]
    assert all(status[f"a{i}.txt"] == ("ok", None) for i in (0, 1, 2, 4, 5))
    assert (tmp_path / "out" / "a5.en.txt").read_text(encoding="utf-8") == "PHRASE 5. FIN."


def test_settings_used_say_what_ran(tmp_path: Path) -> None:
    import json

    import torch

    translator = Translator(resolve(str(TINY_MODEL)), "transformers", DecodeSettings(device="auto"), None)

    configured = json.loads((TINY_MODEL / "generation_config.json").read_text(encoding="utf-8")).get("num_beams", 1)
    planned = translator.settings_used()
    assert not translator.loaded  # decided without loading the model
    assert planned == {"beam": configured, "device": "cpu", "compute_type": "float32", "threads": torch.get_num_threads(), "batch_tokens": 2048}
    translator.translate(["Bonne conversation."])
    assert translator.backend().beam == configured and translator.backend().device == "cpu" and translator.settings_used() == planned


def test_batches_go_to_the_registered_executor(tmp_path: Path, echo_model: ModelRef, monkeypatch) -> None:
    import pipeline.translate.translator as translate

    handed: list[list[str]] = []

    class Recording(translate.Local):
        def generate(self, texts, max_new_tokens):
            handed.append(list(texts))
            return super().generate(texts, max_new_tokens)

    monkeypatch.setitem(translate.EXECUTORS, "recording", Recording)
    translator = Translator(echo_model, "echo", DecodeSettings(), None, executor="recording")
    assert [t.text for t in translator.translate(["Un chat.", "Deux chats."])] == ["UN CHAT.", "DEUX CHATS."]
    assert sorted(t for batch in handed for t in batch) == ["Deux chats.", "Un chat."]
    assert translator.engine_used() == {"name": "recording"}
    translator.close()
    with pytest.raises(ModelError, match="unknown executor 'nowhere'"):
        Translator(echo_model, "echo", DecodeSettings(), None, executor="nowhere")
