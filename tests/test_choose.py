"""--backend auto: the fast engine when it can run, else the reference one, saying why."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import EchoBackend

from pipeline.hub import ModelError, ModelRef
from pipeline.translate import BACKENDS, DecodeSettings, Translator
from pipeline.translate.choose import choose_backend


@pytest.mark.parametrize(
    "settings, installed, expected, why",
    [
        (DecodeSettings(), True, "ctranslate2", None),
        (DecodeSettings(device="cuda", compute_type="float16"), True, "ctranslate2", None),
        (DecodeSettings(), False, "transformers", "CTranslate2 is not installed here"),
        (DecodeSettings(align_layer=2), True, "transformers", "word links from another attention head"),
        (DecodeSettings(align_head=3), False, "transformers", "word links from another attention head"),
    ],
)
def test_auto_is_ctranslate2_unless_it_is_missing_or_the_settings_need_transformers(
    monkeypatch: pytest.MonkeyPatch, settings: DecodeSettings, installed: bool, expected: str, why: str | None
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: (real(name, *a) if installed else None) if name == "ctranslate2" else real(name, *a))
    backend, reason = choose_backend(settings)
    assert backend == expected and (reason is None if why is None else why in reason)


class Unconvertible:
    def __init__(self, model: ModelRef, settings: DecodeSettings) -> None:
        raise ModelError("model m could not be converted for CTranslate2: no space left")


def translator(tmp_path: Path, backend: str = "auto") -> Translator:
    return Translator(ModelRef("m", tmp_path, "r"), backend, DecodeSettings(), None)


def test_a_fast_engine_that_cannot_load_gives_way_to_the_reference_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(BACKENDS, "ctranslate2", Unconvertible)
    monkeypatch.setitem(BACKENDS, "transformers", EchoBackend)
    chosen = translator(tmp_path)
    before = chosen.key
    assert (chosen.backend_name, chosen.warnings) == ("ctranslate2", [])
    assert [t.text for t in chosen.translate(["le chat"])] == ["LE CHAT"]
    assert chosen.backend_name == "transformers" and chosen.key != before and '"backend": "transformers"' in chosen.key
    [warning] = chosen.warnings
    assert warning.startswith("translating with transformers, several times slower") and "no space left" in warning


def test_a_backend_asked_for_by_name_never_gives_way(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(BACKENDS, "ctranslate2", Unconvertible)
    monkeypatch.setitem(BACKENDS, "transformers", EchoBackend)
    with pytest.raises(ModelError, match="no space left"):
        translator(tmp_path, "ctranslate2").translate(["le chat"])


def test_an_unknown_backend_lists_auto_too(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="choose one of auto, "):
        translator(tmp_path, "marian")


def test_a_compute_type_only_ctranslate2_has_never_falls_back(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Its own error (not transformers' 'needs --backend ctranslate2', for a flag never given)."""
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert choose_backend(DecodeSettings(compute_type="int8")) == ("ctranslate2", None)
    monkeypatch.setitem(BACKENDS, "ctranslate2", Unconvertible)
    monkeypatch.setitem(BACKENDS, "transformers", EchoBackend)
    chosen = Translator(ModelRef("m", tmp_path, "r"), "auto", DecodeSettings(compute_type="int8"), None)
    with pytest.raises(ModelError, match="no space left"):
        chosen.translate(["le chat"])


def test_after_a_fallback_the_memory_keeps_translations_under_the_backend_that_made_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pipeline.memory import TranslationMemory

    monkeypatch.setitem(BACKENDS, "ctranslate2", Unconvertible)
    monkeypatch.setitem(BACKENDS, "transformers", EchoBackend)
    model = ModelRef("m", tmp_path, "r")
    memory = TranslationMemory(tmp_path / "tm.sqlite3")
    Translator(model, "auto", DecodeSettings(), memory).translate(["le chat dort"])
    [again] = Translator(model, "transformers", DecodeSettings(), memory).translate(["le chat dort"])
    assert again.from_memory and again.text == "LE CHAT DORT"


def test_a_model_whose_tokenizer_the_fast_engine_does_not_reproduce_is_given_to_transformers_up_front(tmp_path: Path) -> None:
    """Chosen before anything loads, so the memory and the settings hash stay those of
    one backend from run to run."""
    pytest.importorskip("ctranslate2")
    (tmp_path / "tokenizer_config.json").write_text('{"additional_special_tokens": [">>fra<<", ">>spa<<"]}', encoding="utf-8")
    backend, why = choose_backend(DecodeSettings(), ModelRef("m", tmp_path, "r"))
    assert backend == "transformers" and why == "model m: its tokenizer has added tokens, which the fast engine's tokenizer does not handle"
    assert choose_backend(DecodeSettings(), ModelRef("m", tmp_path.parent / "no-such-folder", "r")) == ("ctranslate2", None)
