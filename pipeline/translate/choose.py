"""`--backend auto`, the default: the fast engine (CTranslate2) when it can run the
model with the settings asked for, else the reference engine (transformers), saying why.

The choice is made before anything is loaded, from what is installed, what the
settings need and the model's tokenizer config, so that a run that translates nothing loads nothing to make it. A
CTranslate2 backend that then fails to load or convert the model falls back too (see
Translator.backend).
"""

from __future__ import annotations

import importlib.util

from ..hub import ModelRef
from .spm import unsupported
from .types import DecodeSettings

AUTO = "auto"
FAST, REFERENCE = "ctranslate2", "transformers"


def choose_backend(settings: DecodeSettings, model: ModelRef | None = None) -> tuple[str, str | None]:
    """The backend `auto` stands for under these settings (and for the model, when
    given), and why it is not the fast one when it is not."""
    if settings.other_alignment:
        return REFERENCE, "word links from another attention head (--align-layer, --align-head) need it"
    if settings.needs_fast:  # only CTranslate2 does it: its own error if it is missing
        return FAST, None
    if importlib.util.find_spec("ctranslate2") is None:
        return REFERENCE, "CTranslate2 is not installed here (pip install ctranslate2, or reinstall mtpipe)"
    if model is not None and model.path is not None and (problem := unsupported(model.path)):
        return REFERENCE, f"model {model.name}: {problem}"
    return FAST, None


def fallback_warning(why: str) -> str:
    """The one line a run shows when `auto` translates with the reference engine."""
    return f"translating with transformers, several times slower than the fast engine (CTranslate2): {why}"
