"""The record of local model folders commands used (pipeline/used_models.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import TINY_MODEL

from pipeline import used_models
from pipeline.hub import ModelRef, folder_size, resolve
from pipeline.used_models import local_models, local_record, remember_used


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user cache dir (platformdirs reads XDG_CACHE_HOME) of each test is its own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def used(name: str) -> ModelRef:
    """A model folder resolved, then recorded as a command that loaded it does."""
    ref = resolve(name)
    remember_used(ref)
    return ref


def test_resolving_records_nothing(tmp_path: Path, cache_home: Path) -> None:
    resolve(str(TINY_MODEL))
    assert not local_record().exists() and local_models() == []


def test_local_folders_are_recorded_when_used_latest_first(tmp_path: Path, cache_home: Path) -> None:
    copy = tmp_path / "m"
    shutil.copytree(TINY_MODEL, copy)
    assert local_models() == []
    first, second = used(str(copy)), used(str(TINY_MODEL))
    assert local_record() == cache_home / "mtpipe" / "local-models.json"
    models = local_models()
    assert [(m.path, m.revision, m.size) for m in models] == [(second.path, second.revision, folder_size(TINY_MODEL)), (first.path, first.revision, folder_size(copy))]
    assert models[0].used >= models[1].used
    shutil.rmtree(copy)
    assert [m.size for m in local_models()] == [folder_size(TINY_MODEL), None]


def test_the_record_keeps_the_latest_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(used_models, "_LOCAL_KEPT", 3)
    copies = []
    for n in range(5):
        copies.append(tmp_path / f"m{n}")
        (copies[-1]).mkdir()
        (copies[-1] / "config.json").write_text("{}")
        used(str(copies[-1]))
    assert {m.path for m in local_models()} == {c.resolve() for c in copies[2:]}


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda record: record.write_text("not json"), [TINY_MODEL.resolve()]),
        (lambda record: record.write_text('{"/x": {"revision": "r", "used": "yesterday"}, "/y": 3}'), [TINY_MODEL.resolve()]),
        (lambda record: shutil.rmtree(record.parent) or record.parent.write_text("a file where the cache dir should be"), []),
    ],
    ids=["not-json", "bad-entries", "unwritable"],
)
def test_a_damaged_or_unwritable_record_never_stops_a_model(damage, expected: list[Path]) -> None:
    used(str(TINY_MODEL))
    damage(local_record())
    assert used(str(TINY_MODEL)).path == TINY_MODEL.resolve()
    assert [m.path for m in local_models()] == expected
