"""Process-wide settings, applied at the edges only: by the command line when a
command starts and by an engine's worker when it starts, never by library code (a
program that uses mtpipe as a library keeps its own logging and allocator).

`settle` is what a process that translates calls once, before loading a backend.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

# Keep transformers' warnings and the hub's progress bars out of mtpipe's output.
# Environment variables, so that nothing is imported for them; a value the user set wins.
QUIET = {"TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def quiet_libraries() -> None:
    """Quiet transformers and the hub for the rest of the process (also when they were
    imported already, as in a program that calls the command's `main`)."""
    for name, value in QUIET.items():
        os.environ.setdefault(name, value)
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()


class _Steps(logging.StreamHandler):
    """The command's handler of the "mtpipe" logger (one per process)."""


def show_steps(stream: TextIO, quiet: bool = False) -> None:
    """Show the steps library code tells of (logger "mtpipe", INFO: a conversion that
    takes a while) on `stream` as "mtpipe: ..." lines; with `quiet`, warnings only."""
    log = logging.getLogger("mtpipe")
    for handler in [h for h in log.handlers if isinstance(h, _Steps)]:
        log.removeHandler(handler)
    handler = _Steps(stream)
    handler.setFormatter(logging.Formatter("mtpipe: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    log.propagate = False


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse instead of handing it back to
    the kernel; True where it applied (glibc), False elsewhere.

    CTranslate2's CPU workers allocate and free buffers of up to tens of MB at every
    decoding step. With glibc's defaults many of these are fresh mappings, or trimmed
    heap tops, whose pages fault in again each time: a tenth of the decoding time went
    to the kernel on the benchmark's 1,153 sentences. The three settings only work
    together (a fixed trim or pad alone turns off glibc's adaptive mmap threshold and
    is far slower). Costs about 60 MB of peak RSS.
    """
    import ctypes

    try:
        mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    except (OSError, TypeError):  # no process-wide symbol lookup (Windows)
        return False
    if mallopt is None:
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    # The mmap threshold goes first and all() stops at a refusal: trim and pad set
    # without it would be the slow case described above.
    return all(
        mallopt(option, value)
        for option, value in ((m_mmap_threshold, 32 << 20), (m_trim_threshold, 4 << 30), (m_top_pad, 256 << 20))
    )


def settle(backend: str | None, device: str | None) -> None:
    """What a process that will translate with `backend` on `device` sets once: quiet
    libraries, and glibc's allocator tuned for CTranslate2 on CPU."""
    quiet_libraries()
    if backend == "ctranslate2" and _ctranslate2_on_cpu(device):
        keep_freed_memory()


def _ctranslate2_on_cpu(device: str | None) -> bool:
    """Whether CTranslate2 runs on the CPU: `auto` means CUDA where it sees a GPU."""
    if device != "auto":
        return device != "cuda"
    try:
        import ctranslate2
    except ImportError:
        return True
    return ctranslate2.get_cuda_device_count() == 0
