"""Translate: sentences → English, through a translation memory and a model backend.

The backend interface is small (count tokens, generate a batch) so that engines can
be swapped by name; everything around it — splitting sentences that do not fit the
model, length-sorted batching under a token budget, retrying output that hit the
length cap, the memory — is shared and testable without a model.

Rooms: `types` (what the stages share), `orchestrate` (split, batch, retry),
`translator` (the memory in front of a backend, executors), `marian` (what both
backends share), `backends/` (transformers, ctranslate2), `convert` (the CTranslate2
conversion cache). Importing the package registers both backends; neither loads
torch, transformers or ctranslate2 until a model is loaded.
"""

from .backends.ctranslate2 import (
    MAX_CT2_WORKERS,
    CTranslate2Backend,
    ct2_threads,
)
from .backends.transformers import TransformersBackend
from .convert import (
    CT2_MARKER,
    NEEDS_CT2,
    Conversion,
    convert_ct2,
    ct2_cache_dir,
    ct2_cache_root,
    ct2_conversions,
    ct2_intact,
    remove_conversions,
)
from .marian import token_counter
from .orchestrate import length_batches, translate_stream, translate_texts
from .translator import (
    EXECUTORS,
    MEMORY_FORMAT,
    WINDOW_SENTENCES,
    Translator,
    human_digest,
)
from .types import (
    BACKENDS,
    COMPUTE_TYPES,
    DEFAULT_COMPUTE_TYPE,
    MAX_BATCH_SIZE,
    MIN_OUTPUT_RATIO,
    OUTPUT_RATIO,
    OUTPUT_SLACK,
    Backend,
    DecodeSettings,
    Hypothesis,
    Translation,
    register,
    usable_cores,
)

__all__ = [
    "BACKENDS", "COMPUTE_TYPES", "CT2_MARKER", "DEFAULT_COMPUTE_TYPE", "EXECUTORS", "MAX_BATCH_SIZE", "MAX_CT2_WORKERS", "MEMORY_FORMAT",
    "MIN_OUTPUT_RATIO", "NEEDS_CT2", "OUTPUT_RATIO", "OUTPUT_SLACK", "WINDOW_SENTENCES", "Backend", "CTranslate2Backend", "Conversion",
    "DecodeSettings", "Hypothesis", "Translation", "TransformersBackend", "Translator", "convert_ct2", "ct2_cache_dir", "ct2_cache_root",
    "ct2_conversions", "ct2_intact", "ct2_threads", "human_digest", "length_batches", "register", "remove_conversions",
    "token_counter", "translate_stream", "translate_texts", "usable_cores",
]
