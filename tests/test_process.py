from __future__ import annotations

import os
import platform

import pytest

from pipeline import process


def test_keep_freed_memory_applies_under_glibc() -> None:
    assert process.keep_freed_memory() is (platform.libc_ver()[0] == "glibc")


def test_quiet_libraries_sets_what_the_user_left_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    monkeypatch.setenv("TRANSFORMERS_VERBOSITY", "info")
    process.quiet_libraries()
    assert (os.environ["TRANSFORMERS_VERBOSITY"], os.environ["HF_HUB_DISABLE_PROGRESS_BARS"]) == ("info", "1")


@pytest.mark.parametrize(
    "backend, device, tuned",
    [("ctranslate2", "cpu", True), ("ctranslate2", "cuda", False), ("transformers", "cpu", False), (None, "cpu", False)],
)
def test_settle_tunes_the_allocator_for_ctranslate2_on_cpu_only(monkeypatch: pytest.MonkeyPatch, backend: str | None, device: str, tuned: bool) -> None:
    calls: list[bool] = []
    monkeypatch.setattr(process, "keep_freed_memory", lambda: calls.append(True) or True)
    monkeypatch.setattr(process, "quiet_libraries", lambda: None)
    process.settle(backend, device)
    assert calls == ([True] if tuned else [])


@pytest.mark.parametrize("gpus, tuned", [(0, True), (1, False)])
def test_auto_is_the_cpu_for_ctranslate2_when_it_sees_no_gpu(monkeypatch: pytest.MonkeyPatch, gpus: int, tuned: bool) -> None:
    ctranslate2 = pytest.importorskip("ctranslate2")
    calls: list[bool] = []
    monkeypatch.setattr(process, "keep_freed_memory", lambda: calls.append(True) or True)
    monkeypatch.setattr(process, "quiet_libraries", lambda: None)
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: gpus)
    process.settle("ctranslate2", "auto")
    assert calls == ([True] if tuned else [])
