"""Shared fixtures: paths to real data, the fixture model, and a model-free test backend."""

from __future__ import annotations

import os
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipeline.hub import ModelRef
from pipeline.translate import BACKENDS, DecodeSettings, Hypothesis

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TINY_MODEL = ROOT / "models" / "tiny-fr-en"
SEED = ROOT / "seeds" / "000_46fe319679e0c617.txt"


class EchoBackend:
    """Translates by upper-casing, one token per word: lets tests see exactly what the
    engine was given, without a model. Instances record every batch."""

    max_input_tokens = 8
    loads = 0

    def __init__(self, model: ModelRef, settings: DecodeSettings):
        type(self).loads += 1
        self.batches: list[list[str]] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 1

    def generate(self, texts: Sequence[str], max_new_tokens: int, prefixes: Sequence[str] | None = None) -> list[Hypothesis]:
        """Each text upper-cased; after a prefix, the words of the text past as many
        words as the prefix has (a forced term takes the place of the French it renders)."""
        self.batches.append(list(texts))
        outs = [t.upper() if p is None else " ".join([*p.split(), *t.upper().split()[len(p.split()) :]]) for t, p in zip(texts, prefixes or [None] * len(texts))]
        return [Hypothesis(out, -0.5 * self.count_tokens(t), self.count_tokens(t), links=self._same(t, out)) for t, out in zip(texts, outs)]

    def align(self, sources: Sequence[str], targets: Sequence[str]) -> list[tuple[tuple[int, int], ...]]:
        self.aligned = [*getattr(self, "aligned", []), *sources]
        return [self._same(s, t) for s, t in zip(sources, targets)]

    @staticmethod
    def _same(source: str, target: str | None = None) -> tuple[tuple[int, int], ...]:
        """Each word linked to the word at its place: upper-casing keeps words where they are."""
        return tuple((i, i) for i in range(min(len(source.split()), len((target or source).split()))))


def register_echo() -> None:
    """The echo backend registered for good: for a command run in a process of its own
    (`import conftest; conftest.register_echo()`), which has nothing to restore."""
    BACKENDS["echo"] = EchoBackend


@pytest.fixture(autouse=True, scope="session")
def _echo_backend():
    """The echo backend registered for the session's tests, and unregistered after."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(BACKENDS, "echo", EchoBackend)
        yield


def shared_file(path: Path) -> Path:
    """A file of ../shared (the real data beside the checkout): skipped where it is not
    there, a failure under CI (MTPIPE_CI=1), where it must be."""
    if not path.exists():
        if os.environ.get("MTPIPE_CI") == "1":
            pytest.fail(f"{path} is missing; CI runs with ../shared beside the clone")
        pytest.skip(f"{path} is not here (../shared holds the real data)")
    return path


@pytest.fixture(autouse=True, scope="session")
def _caches_of_their_own(tmp_path_factory: pytest.TempPathFactory):
    """The user's caches (mtpipe's memory, conversions and record of local models; the
    Hugging Face hub's) are never read nor written by the tests, nor by the commands
    they start: one pair of empty cache folders for the session."""
    root = tmp_path_factory.mktemp("caches")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(root / "xdg"))
        patch.setenv("HF_HOME", str(root / "hf"))
        patch.delenv("HF_HUB_CACHE", raising=False)
        yield


class PageParts(HTMLParser):
    """What a browser would build from a page: the elements, and the text it shows."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture
def echo_model(tmp_path: Path) -> ModelRef:
    return ModelRef("echo-model", tmp_path, "rev1")
