"""MarianSpm gives what transformers' MarianTokenizer gives, on the fixture's tokenizer
and the real opus-mt one: ids of any text (source and target side), pieces of ids,
and decoded text."""

from __future__ import annotations

import json
import shutil
from functools import cache
from pathlib import Path

import pytest
from conftest import ROOT, SHARED, shared_file
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.translate.spm import MarianSpm, UnsupportedTokenizer

FOLDERS = {"fixture": ROOT / "models" / "tiny-fr-en", "opus-mt": SHARED / "tokenizers" / "opus-mt-tc-big-fr-en"}
SENTENCES = [
    "Le chat dort sur le tapis.",
    "« Ça va ? » — l'été 2024, à 14 h 30, coûte 1 234,5 € (≈ 12 %).",
    "Œuvre naïve : Ærø, Ångström, ﬁn, ½, x², ǅ, ﬀ, Ⅻ, ㎏.",
    "  espaces   multiples\tet\u00a0insécables\u202f! ",
    "</s> au milieu <unk> et <pad> et </s></s>",
    ">>fra<< avec un code de langue",
    "emoji 👍🏽 et 中文 et العربية et עברית",
    "",
    " ",
    "x" * 300,
]


@cache
def both(name: str) -> tuple[object, MarianSpm]:
    from transformers import MarianTokenizer

    folder = shared_file(FOLDERS[name])
    return MarianTokenizer.from_pretrained(folder), MarianSpm(folder)


def same(name: str, text: str) -> None:
    reference, ours = both(name)
    ids = reference(text)["input_ids"]
    assert ours(text)["input_ids"] == ids
    assert ours(text_target=text)["input_ids"] == reference(text_target=text)["input_ids"]
    assert ours.convert_ids_to_tokens(ids) == reference.convert_ids_to_tokens(ids)
    assert ours.convert_tokens_to_ids(ours.convert_ids_to_tokens(ids)) == reference.convert_tokens_to_ids(reference.convert_ids_to_tokens(ids))
    assert ours.decode(ids, skip_special_tokens=True) == reference.decode(ids, skip_special_tokens=True)
    assert ours.decode(ids) == reference.decode(ids)


@pytest.mark.parametrize("name", FOLDERS)
@pytest.mark.parametrize("text", SENTENCES, ids=range(len(SENTENCES)))
def test_the_same_as_marian_tokenizer_on_hard_cases(name: str, text: str) -> None:
    same(name, text)


@pytest.mark.parametrize("name", FOLDERS)
def test_the_same_special_tokens_and_limits(name: str) -> None:
    reference, ours = both(name)
    assert (ours.eos_token, ours.pad_token, ours.eos_token_id, ours.pad_token_id, ours.model_max_length) == (
        reference.eos_token, reference.pad_token, reference.eos_token_id, reference.pad_token_id, reference.model_max_length
    )
    assert ours(SENTENCES[:3])["input_ids"] == reference(SENTENCES[:3])["input_ids"]


@pytest.mark.slow
@pytest.mark.parametrize("name", FOLDERS)
def test_the_same_as_marian_tokenizer_on_flores(name: str) -> None:
    lines = shared_file(SHARED / "data" / "testsets" / "fra-eng" / "flores101-devtest.fra").read_text(encoding="utf-8").splitlines()
    reference, ours = both(name)
    assert ours(lines)["input_ids"] == reference(lines)["input_ids"]


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=80), name=st.sampled_from(list(FOLDERS)))
def test_the_same_as_marian_tokenizer_on_any_text(text: str, name: str) -> None:
    same(name, text)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), name=st.sampled_from(list(FOLDERS)))
def test_any_ids_decode_the_same(data: st.DataObject, name: str) -> None:
    """Model output is any sequence of ids, special ones included."""
    reference, ours = both(name)
    ids = data.draw(st.lists(st.integers(0, len(ours.decoder) - 1), max_size=40))
    assert ours.convert_ids_to_tokens(ids) == reference.convert_ids_to_tokens(ids)
    assert ours.decode(ids, skip_special_tokens=True) == reference.decode(ids, skip_special_tokens=True)


def fixture_copy(tmp_path: Path, **config: object) -> Path:
    """The fixture's tokenizer files, with tokenizer_config.json amended."""
    folder = tmp_path / "tok"
    folder.mkdir()
    for name in ("source.spm", "target.spm", "vocab.json"):
        shutil.copy(FOLDERS["fixture"] / name, folder / name)
    settings = json.loads((FOLDERS["fixture"] / "tokenizer_config.json").read_text(encoding="utf-8")) | config
    (folder / "tokenizer_config.json").write_text(json.dumps(settings), encoding="utf-8")
    return folder


def test_spaces_are_cleaned_up_when_the_config_asks_as_marian_tokenizer_does(tmp_path: Path) -> None:
    from transformers import MarianTokenizer

    folder = fixture_copy(tmp_path, clean_up_tokenization_spaces=True)
    reference, ours = MarianTokenizer.from_pretrained(folder), MarianSpm(folder)
    ids = reference(text_target="Is it , he said , n't it ? Yes .")["input_ids"]
    assert ours.decode(ids, skip_special_tokens=True) == reference.decode(ids, skip_special_tokens=True)
    assert " ," not in ours.decode(ids, skip_special_tokens=True)


def test_special_tokens_saved_as_objects_are_read_by_their_content(tmp_path: Path) -> None:
    folder = fixture_copy(tmp_path, unk_token={"__type": "AddedToken", "content": "<unk>", "lstrip": False})
    assert MarianSpm(folder).unk_token == "<unk>"


@pytest.mark.parametrize(
    "config",
    [{"separate_vocabs": True}, {"additional_special_tokens": [">>fra<<"]}, {"added_tokens_decoder": {"5": {"content": "<extra>", "special": True}}}],
    ids=["separate-vocabularies", "additional-special", "added-token"],
)
def test_what_it_does_not_reproduce_is_refused_not_guessed(tmp_path: Path, config: dict) -> None:
    with pytest.raises(UnsupportedTokenizer):
        MarianSpm(fixture_copy(tmp_path, **config))
