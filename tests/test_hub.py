from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import TINY_MODEL
from helpers import MARIAN, cache_repo

from pipeline.hub import DEFAULT_MODEL, ModelError, hub_models, resolve
from pipeline.translate import DecodeSettings, TransformersBackend


def test_local_folder_has_a_content_revision(tmp_path: Path) -> None:
    copy = tmp_path / "m"
    shutil.copytree(TINY_MODEL, copy)
    first = resolve(str(copy))
    assert first.path == copy.resolve() and first.revision == resolve(str(TINY_MODEL)).revision
    (copy / "generation_config.json").write_text('{"num_beams": 2}')
    assert resolve(str(copy)).revision != first.revision


def test_weights_changed_in_place_change_the_revision(tmp_path: Path) -> None:
    """Same size, one byte changed in the middle of the weights (far from either end of
    a file of several MB): another revision, so the memory serves none of the old
    model's translations."""
    copy = tmp_path / "m"
    shutil.copytree(TINY_MODEL, copy)
    weights = copy / "model.safetensors"
    size = weights.stat().st_size
    assert size > 4 << 20
    before = resolve(str(copy)).revision
    with weights.open("r+b") as fh:
        fh.seek(size // 2)
        byte = fh.read(1)
        fh.seek(size // 2)
        fh.write(bytes([byte[0] ^ 0x01]))
    assert weights.stat().st_size == size
    assert resolve(str(copy)).revision != before


@pytest.mark.parametrize(
    "name, message",
    [
        ("does/not/exist", "model folder does/not/exist does not exist"),
        ("./nothing-here", "does not exist"),
        ("./models/no-such-fr-en", r"model folder ./models/no-such-fr-en does not exist \(no such folder in "),
        ("/nowhere/tiny-fr-en", "model folder /nowhere/tiny-fr-en does not exist"),
    ],
)
def test_bad_paths_name_the_problem(name: str, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        resolve(name)


def test_folder_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="config.json is missing"):
        resolve(str(tmp_path))


def test_hub_model_missing_offline_names_model_and_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelError) as err:
        resolve(DEFAULT_MODEL)
    assert DEFAULT_MODEL in str(err.value) and "--model DIR" in str(err.value)


def test_a_relative_folder_that_reads_as_a_hub_id_is_named_as_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--model models/tiny-fr-en` from the wrong folder: the folder is not there, nor the hub model."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError) as err:
        resolve("models/tiny-fr-en")
    assert f"there is no folder models/tiny-fr-en in {tmp_path}, and it is not in the Hugging Face cache" in str(err.value)
    assert "check the path if it is a folder" in str(err.value)


def test_corrupt_weights_name_the_model(tmp_path: Path) -> None:
    copy = tmp_path / "m"
    shutil.copytree(TINY_MODEL, copy)
    (copy / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match=r"m/model.safetensors is not a safetensors file"):
        TransformersBackend(resolve(str(copy)), DecodeSettings())


# --- models on disk: the hub cache and the local folders used ---------------------


@pytest.mark.parametrize(
    "repos, expected",
    [
        ([], []),
        ([("Helsinki-NLP/opus-mt-fr-en", MARIAN, 1, "models")], [("Helsinki-NLP/opus-mt-fr-en", 1)]),
        ([("Helsinki-NLP/opus-mt-fr-en", MARIAN, 2, "models")], [("Helsinki-NLP/opus-mt-fr-en", 2)]),
        ([("google-bert/bert-base-uncased", {"model_type": "bert"}, 1, "models"), ("a/marian-data", MARIAN, 1, "datasets"), ("x/broken", {}, 1, "models")], []),
        ([("b/opus-mt-de-en", MARIAN, 1, "models"), ("a/opus-mt-es-en", MARIAN, 1, "models")], [("a/opus-mt-es-en", 1), ("b/opus-mt-de-en", 1)]),
    ],
    ids=["empty", "one", "two-revisions", "not-marian", "sorted"],
)
def test_hub_models_are_the_marian_checkpoints_of_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repos: list, expected: list) -> None:
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    (tmp_path / "hub").mkdir()
    for repo, config, revisions, kind in repos:
        cache_repo(tmp_path / "hub", repo, config, revisions, kind)
    models = hub_models()
    assert [(m.name, len(m.revisions)) for m in models] == expected
    for model in models:
        commit = (tmp_path / "hub" / f"models--{model.name.replace('/', '--')}" / "refs" / "main").read_text()
        assert f"{commit[:8]} (main)" in model.revisions
        assert model.size == len(json.dumps(MARIAN))


def test_no_hub_cache_is_no_hub_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "nothing"))
    assert hub_models() == []
