"""Find a Marian checkpoint on disk: a local folder, or a hub id through the hub cache.

Both end as a local folder plus a revision string, so that loading is one code path
and the translation memory can key on the exact weights without loading them.

For `mtpipe models list`: the Marian checkpoints of the hub cache, and the local
folders resolve() was given, which it records (the latest 20) in the user cache dir.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelError

DEFAULT_MODEL = "Helsinki-NLP/opus-mt-fr-en"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_CONFIG_FILES = ["config.json", "generation_config.json", "*.spm", "vocab.json", "tokenizer_config.json", "special_tokens_map.json"]
_WEIGHTS_SAFE = "model.safetensors"
_WEIGHTS_PICKLE = "pytorch_model.bin"
LOCAL_PREFIX = "local-"  # of a local folder's revision, its fingerprint


@dataclass(frozen=True)
class ModelRef:
    """Where a checkpoint lives: the name the user gave, its folder, and its revision."""

    name: str
    path: Path
    revision: str


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's whole content, read in chunks (hex digest)."""
    with path.open("rb") as fh:
        if hasattr(hashlib, "file_digest"):  # Python 3.11+
            return hashlib.file_digest(fh, "sha256").hexdigest()
        digest = hashlib.sha256()
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
        return digest.hexdigest()


def _fingerprint(folder: Path) -> str:
    """Hash a local checkpoint: the name and whole content of every file, so that a
    model changed in place (even one byte in the middle of its weights) gets another
    revision and the translation memory does not serve its old translations.
    (300 MB of weights: 0.2 s from the page cache, 0.4 s from disk, on one core.)"""
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        digest.update(file.name.encode() + b"\0" + bytes.fromhex(file_sha256(file)))
    return LOCAL_PREFIX + digest.hexdigest()[:16]


def _download(repo_id: str, patterns: list[str], download: bool) -> Path:
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=not download))


def resolve(name: str, download: bool = True) -> ModelRef:
    """Return the local folder and revision of a model given as a folder or a hub id.

    Hub models come from the Hugging Face cache (honouring HF_HOME, HF_HUB_OFFLINE),
    downloading only the tokenizer, config and one weights file, safetensors first;
    with `download` false (a dry run), from the cache alone.
    """
    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise ModelError(f"model folder {folder} is not a checkpoint: {folder / 'config.json'} is missing; point --model at a folder saved with save_pretrained()")
        return ModelRef(name, folder.resolve(), _fingerprint(folder))
    if not _HUB_ID.match(name) or name.startswith((".", "/", "~")):
        raise ModelError(f"model folder {name} does not exist (no such folder in {Path.cwd()}): check the --model path")
    # `models/tiny-fr-en` run from another folder reads as a hub id too: say both.
    here = f"there is no folder {name} in {Path.cwd()}, and " if "/" in name else ""
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    try:
        path = _download(name, [*_CONFIG_FILES, _WEIGHTS_SAFE], download)
        if not (path / _WEIGHTS_SAFE).exists():
            path = _download(name, [*_CONFIG_FILES, _WEIGHTS_PICKLE], download)
    except RepositoryNotFoundError:
        raise ModelError(f"model {name}: {here}it does not exist on the Hugging Face hub (or is private): check the name or the path, or pass --model DIR with a local copy") from None
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError):
        raise ModelError(
            f"model {name}: {here}it is not in the Hugging Face cache and cannot be downloaded (offline?): check the path if it is a folder; "
            f"for a hub model, run `mtpipe run` once on a connected machine (or `hf download {name}`) to fill the cache, or pass --model DIR with a local copy"
        ) from None
    return ModelRef(name, path, path.name)


def folder_size(folder: Path) -> int:
    """Bytes in the files of a folder tree (links not followed)."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


@dataclass(frozen=True)
class HubModel:
    """A Marian checkpoint in the Hugging Face cache: its hub id, each cached revision
    (short commit hash, with the refs such as main that point at it), bytes on disk."""

    name: str
    revisions: tuple[str, ...]
    size: int


def hub_cache() -> Path:
    """The Hugging Face hub cache (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _is_marian(snapshot: Path) -> bool:
    try:
        return json.loads((snapshot / "config.json").read_bytes()).get("model_type") == "marian"
    except (OSError, ValueError, AttributeError):
        return False


def hub_models() -> list[HubModel]:
    """The Marian checkpoints in the Hugging Face cache, by id: what `--model ID` finds
    offline. Other models and datasets there are none of mtpipe's business."""
    from huggingface_hub import CacheNotFound, scan_cache_dir

    try:
        repos = scan_cache_dir(hub_cache()).repos
    except CacheNotFound:
        return []
    models = []
    for repo in sorted(repos, key=lambda r: r.repo_id):
        revisions = sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True)
        if repo.repo_type == "model" and any(_is_marian(r.snapshot_path) for r in revisions):
            shown = tuple(r.commit_hash[:8] + (f" ({', '.join(sorted(r.refs))})" if r.refs else "") for r in revisions)
            models.append(HubModel(repo.repo_id, shown, repo.size_on_disk))
    return models


def _json_problem(path: Path) -> str | None:
    try:
        json.loads(path.read_bytes())
    except ValueError:
        return "not valid JSON"
    return None


def _safetensors_problem(path: Path) -> str | None:
    """Check the safetensors header and that the file holds every byte it announces."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        length = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
        if not 0 < length <= size - 8:
            return "not a safetensors file"
        try:
            header = json.loads(fh.read(length))
            end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
        except (ValueError, KeyError, TypeError, IndexError):
            return "not a safetensors file (its header is damaged)"
    return None if 8 + length + end <= size else f"truncated ({size} bytes of {8 + length + end})"


def _spm_problem(path: Path) -> str | None:
    import sentencepiece

    try:
        sentencepiece.SentencePieceProcessor(model_file=str(path))
    except (RuntimeError, OSError):
        return "not a SentencePiece model"
    return None


def folder_problem(folder: Path) -> str | None:
    """Say which file of a Marian checkpoint folder is missing or damaged, if one is:
    the part of a load error that tells the user what to replace."""
    checks = [("config.json", _json_problem), ("vocab.json", _json_problem), ("source.spm", _spm_problem), ("target.spm", _spm_problem)]
    checks += [(name, _json_problem) for name in ("generation_config.json", "tokenizer_config.json") if (folder / name).exists()]
    for name, check in checks:
        if not (folder / name).is_file():
            return f"{folder / name} is missing"
        if problem := check(folder / name):
            return f"{folder / name} is {problem}"
    if (folder / _WEIGHTS_SAFE).is_file():
        problem = _safetensors_problem(folder / _WEIGHTS_SAFE)
        return f"{folder / _WEIGHTS_SAFE} is {problem}" if problem else None
    if not (folder / _WEIGHTS_PICKLE).is_file():
        return f"{folder} has no weights ({_WEIGHTS_SAFE} or {_WEIGHTS_PICKLE})"
    return None
