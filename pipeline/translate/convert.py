"""The CTranslate2 conversion cache: each model converted once per compute type into
the user cache dir, checked file by file before use, listed and removed by name."""

from __future__ import annotations

import json
import logging
import re
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..hub import ModelError, ModelRef, file_sha256, folder_size
from ..messages import first_line
from .types import COMPUTE_TYPES

# The one install hint for ctranslate2, wherever it is missing (as cluster.NEEDS_RAY for Ray).
NEEDS_CT2 = "the ctranslate2 backend needs the ctranslate2 package, which mtpipe installs: reinstall mtpipe, or pip install 'ctranslate2>=4.5'"

# Steps worth telling the user about (a conversion) go to this logger; the command shows them.
LOG = logging.getLogger("mtpipe")

# Where a conversion that keeps `<pad>` as the decoder start token puts it: right after
# `</s>` and `<unk>`, which every shortlist of a vocabulary map holds too.
START_ID = 2

# How long a conversion takes: a fixed part (imports, the tokenizer) and the checkpoint's
# bytes at this rate (`mtpipe models convert` of a model of opus-mt-fr-en's size, 285 MB:
# 6.9 s on 2 cores).
CONVERT_SECONDS = 3.0
CONVERT_BYTES_PER_SECOND = 75e6


def ct2_cache_root() -> Path:
    """The folder of mtpipe's CTranslate2 conversions, in the user cache dir."""
    from platformdirs import user_cache_path

    return user_cache_path("mtpipe") / "ct2"


def ct2_cache_dir(model: ModelRef, compute_type: str, shortlist: bool = False) -> Path:
    """Where the CTranslate2 conversion of `model` in `compute_type` is cached: one
    folder per model id, revision and compute type under ct2_cache_root(), and another
    for the conversion that holds the model's shortlist."""
    name = re.sub(r"[^\w.-]+", "_", model.name.strip("/"))[-80:]
    return ct2_cache_root() / f"{name}--{model.revision}--{compute_type}{SHORTLISTED if shortlist else ''}"


def _marian_converter(path: Path) -> Any:
    """A CTranslate2 converter of the Marian checkpoint at `path`, with the Marian
    loader amended for checkpoints trained with transformers. It subclasses the
    converter's extension point (`_load`, which returns the model spec) instead of
    swapping the loader in CTranslate2's own registry, which other code may use at
    the same time.

    CTranslate2 drops the `<pad>` token and starts the decoder from a zero embedding,
    which is exact for converted OPUS-MT checkpoints (their pad embedding is zero) but
    not for a model trained with transformers (the fixture model), whose decoder starts
    from the trained pad embedding. For those, keep `<pad>` as the decoder start token
    and forbid generating it with a large negative output bias, as transformers'
    bad_words_ids does. The kept `<pad>` moves from the vocabulary's end to
    START_ID, its rows swapped with that token's in every matrix the vocabulary
    indexes: a vocabulary map's shortlists then all hold the start token at one
    position, which CTranslate2 (4.8) requires (docs/ctranslate2.md, use_vmap).
    """
    from ctranslate2.converters import transformers as ct2t

    class MarianLoader(ct2t.MarianMTLoader):
        keep_pad = False

        def get_model_spec(self, model):
            self.pad = model.config.pad_token_id
            self.keep_pad = bool(model.get_decoder().embed_tokens.weight[self.pad].abs().max() > 0)
            if not self.keep_pad:
                return super().get_model_spec(model)
            model.config.normalize_before = False
            model.config.normalize_embedding = False
            _swap_tokens(model, self.pad, START_ID)
            spec = ct2t.BartLoader.get_model_spec(self, model)
            bias = model.final_logits_bias.detach().squeeze().clone().float()
            bias[START_ID] = -30000.0  # never generate <pad>; representable in float16 too
            spec.decoder.projection.bias = bias
            return spec

        def set_config(self, config, model, tokenizer):
            super().set_config(config, model, tokenizer)
            if self.keep_pad:
                config.decoder_start_token = tokenizer.pad_token

        def set_decoder(self, spec, decoder):
            if self.keep_pad:
                ct2t.BartLoader.set_decoder(self, spec, decoder)
            else:
                super().set_decoder(spec, decoder)

        def get_vocabulary(self, model, tokenizer):
            if not self.keep_pad:
                return super().get_vocabulary(model, tokenizer)
            tokens = ct2t.BartLoader.get_vocabulary(self, model, tokenizer)
            tokens[self.pad], tokens[START_ID] = tokens[START_ID], tokens[self.pad]
            return tokens

    class MarianConverter(ct2t.TransformersConverter):
        def _load(self):
            import torch
            import transformers

            config = transformers.AutoConfig.from_pretrained(self._model_name_or_path)
            if not isinstance(config, transformers.MarianConfig):
                raise ValueError(f"its config is a {type(config).__name__}, not a MarianConfig: mtpipe converts Marian checkpoints only")
            with torch.no_grad():
                model = self.load_model(transformers.MarianMTModel, self._model_name_or_path, config=config, low_cpu_mem_usage=True)
                tokenizer = self.load_tokenizer(transformers.AutoTokenizer, self._model_name_or_path)
                return MarianLoader()(model, tokenizer)

    return MarianConverter(str(path))


def _swap_tokens(model: Any, a: int, b: int) -> None:
    """Swap tokens `a` and `b` of a Marian model in place: their rows in the (possibly
    tied) embeddings and output projection, and their output biases."""
    import torch

    order = torch.arange(model.config.vocab_size)
    order[[a, b]] = order[[b, a]]
    weights = (model.get_encoder().embed_tokens.weight, model.get_decoder().embed_tokens.weight, model.lm_head.weight)
    with torch.no_grad():
        for weight in {w.data_ptr(): w for w in weights}.values():
            weight.copy_(weight[order])
        model.final_logits_bias.copy_(model.final_logits_bias[:, order])


# Written last into a finished conversion: the size and SHA-256 of each of its files.
CT2_MARKER = "mtpipe.json"

# The end of the name of a conversion with a shortlist, and the name CTranslate2 gives
# the shortlist inside it.
SHORTLISTED, VMAP = "--shortlist", "vmap.txt"


def _ct2_files(folder: Path) -> dict[str, Path]:
    """Every file of a converted model by its relative name, the marker left out."""
    return {str(p.relative_to(folder)): p for p in sorted(folder.rglob("*")) if p.is_file() and p != folder / CT2_MARKER}


def _ct2_manifest(folder: Path) -> dict[str, dict]:
    """Size and SHA-256 of every file of a converted model, the marker left out."""
    return {name: {"size": p.stat().st_size, "sha256": file_sha256(p)} for name, p in _ct2_files(folder).items()}


def ct2_intact(folder: Path) -> bool:
    """Whether a cached conversion is complete and unchanged: its marker is there and
    it has exactly the files the marker lists, each of the size and hash recorded
    (sizes first; hashing the int8 opus-mt model.bin, 75 MB, takes 0.05 s from the page
    cache, 0.2 s from disk)."""
    try:
        recorded = json.loads((folder / CT2_MARKER).read_text(encoding="utf-8"))["files"]
        files = _ct2_files(folder)
        if not recorded or set(files) != set(recorded) or any(p.stat().st_size != recorded[k]["size"] for k, p in files.items()):
            return False
        return all(file_sha256(p) == recorded[k]["sha256"] for k, p in files.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _remove(path: Path) -> None:
    """Delete a file, link or folder tree, if there is one."""
    import shutil

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _remove_stale(target: Path) -> None:
    """Remove the temporary folders that killed conversions of `target` left beside it
    (called under its lock, which a conversion under way would hold)."""
    import glob

    for stale in target.parent.glob(f".{glob.escape(target.name)}.*"):
        _remove(stale)


def _lock_conversions(target: Path) -> Any:
    """Open NAME.lock beside the target and wait for an exclusive lock on it, so that
    processes convert one target one at a time; the lock goes when the returned file
    is closed (a no-op context without fcntl)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return nullcontext()
    fh = open(target.parent / f"{target.name}.lock", "a")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX)
    except OSError:
        fh.close()
        raise
    return fh


def convert_ct2(model: ModelRef, compute_type: str = "int8", force: bool = False, shortlist: Path | None = None) -> Path:
    """Convert a Marian checkpoint for CTranslate2 (weights quantised to `compute_type`)
    into the cache, unless an intact conversion is there already; return its folder.
    With a `shortlist` (a vmap.txt file), the conversion holds it (under another name),
    and is converted again when the shortlist has changed.

    A cached conversion is used only if its marker (CT2_MARKER, written last) is there
    and every file matches it; anything else at that path (a truncated or replaced
    model.bin, a folder without one, a plain file) is removed and converted again.
    Conversions of one target are serialised by a lock file beside it; under that
    lock, temporary folders left by killed conversions of the target are removed. The
    conversion is written into a temporary folder and renamed into place, so that an
    interrupted one never leaves a half-written model.
    """
    if compute_type not in COMPUTE_TYPES:
        raise ModelError(f"unknown --compute-type {compute_type!r}: choose one of {', '.join(COMPUTE_TYPES)}")
    target = ct2_cache_dir(model, compute_type, shortlist is not None)

    def ready() -> bool:
        return not force and ct2_intact(target) and (shortlist is None or file_sha256(target / VMAP) == file_sha256(shortlist))

    if ready():
        return target
    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        raise ModelError(NEEDS_CT2) from None
    try:
        if target.parent.exists() and not target.parent.is_dir():
            target.parent.unlink()  # the ct2 cache folder is mtpipe's own
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = _lock_conversions(target)
    except OSError as exc:
        raise ModelError(
            f"the CTranslate2 cache {target.parent} cannot be written ({exc.strerror or exc}): make it writable, or set XDG_CACHE_HOME to another folder"
        ) from None
    with lock:
        if ready():  # converted by another process meanwhile
            return target
        _remove_stale(target)
        LOG.info("preparing the fast engine for %s, once: ~%d s", model.name, conversion_seconds(model))
        _convert(model, compute_type, target, shortlist)
    return target


def conversion_seconds(model: ModelRef) -> int:
    """About how long converting the model takes: CONVERT_SECONDS plus its checkpoint's
    bytes at CONVERT_BYTES_PER_SECOND."""
    size = sum(p.stat().st_size for p in model.path.glob("*") if p.suffix in (".bin", ".safetensors") and p.is_file())
    return max(1, round(CONVERT_SECONDS + size / CONVERT_BYTES_PER_SECOND))


@dataclass(frozen=True)
class Conversion:
    """A CTranslate2 conversion in the cache: its folder's name, the model, revision and
    compute type it was converted from and to (from its marker, else from the folder's
    name), its bytes on disk, and whether it is intact (else it is converted again on
    its next use); `shortlist`, whether it holds the model's shortlist."""

    name: str
    model: str
    revision: str
    compute_type: str
    size: int
    intact: bool
    shortlist: bool = False


def ct2_conversions() -> list[Conversion]:
    """The conversions in the cache, by name; lock files and the temporary folders of
    conversions under way are not conversions."""
    root = ct2_cache_root()
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")) if root.is_dir() else []
    conversions = []
    for folder in folders:
        shortlisted = folder.name.endswith(SHORTLISTED)
        model, revision, compute_type = (folder.name.removesuffix(SHORTLISTED).rsplit("--", 2) + ["?", "?"])[:3]
        try:
            marker = json.loads((folder / CT2_MARKER).read_text(encoding="utf-8"))
            model, revision, compute_type = str(marker["model"]), str(marker["revision"]), str(marker["compute_type"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        conversions.append(Conversion(folder.name, model, revision, compute_type, folder_size(folder), ct2_intact(folder), shortlisted))
    return conversions


def remove_conversions(name: str) -> list[Conversion]:
    """Delete the cached conversion called `name`, or every conversion of the model
    called `name`, and return what was deleted; ModelError, listing the conversions
    there are, when none matches.

    Only folders of ct2_cache_root() are touched (with the temporary folders of killed
    conversions), each under its conversion lock, whose file stays so that a
    conversion waiting on it is still serialised.
    """
    conversions = ct2_conversions()
    chosen = [c for c in conversions if name in (c.name, c.model)]
    if not chosen:
        there = f"the conversions are {', '.join(c.name for c in conversions)}" if conversions else "there are none"
        raise ModelError(f"no CTranslate2 conversion or converted model is called {name} in {ct2_cache_root()}: {there}")
    for conversion in chosen:
        target = ct2_cache_root() / conversion.name
        try:
            with _lock_conversions(target):
                _remove(target)
                _remove_stale(target)
        except OSError as exc:
            raise ModelError(f"the conversion {target} cannot be removed ({exc.strerror or exc}): make {target.parent} writable, then run the same command again") from None
    return chosen


def _convert(model: ModelRef, compute_type: str, target: Path, shortlist: Path | None) -> None:
    """Convert into a temporary folder beside the target (with the shortlist, if any),
    write the marker, and rename it into the place of whatever was at the target."""
    import shutil
    import tempfile

    import ctranslate2

    tmp = None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        vmap = None if shortlist is None else str(shortlist)
        _marian_converter(model.path).convert(str(tmp / "model"), vmap=vmap, quantization=compute_type, force=True)
        marker = {
            "model": model.name,
            "revision": model.revision,
            "compute_type": compute_type,
            "ctranslate2": ctranslate2.__version__,
            "files": _ct2_manifest(tmp / "model"),
        }
        (tmp / "model" / CT2_MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
        _remove(target)  # a broken conversion, or (force) the one to replace
        (tmp / "model").rename(target)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"model {model.name} could not be converted for CTranslate2: {first_line(exc)}") from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
