"""The record of the local model folders that commands loaded or converted (the latest
_LOCAL_KEPT), in the user cache dir, for `mtpipe models list`. Hub models need none:
the Hugging Face cache lists them. Written only by a command that used a model, never
while resolving one (a dry run or a test leaves no trace)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .hub import LOCAL_PREFIX, ModelRef, folder_size
from .writers import json_text, write_text

# Local model folders that commands loaded, the latest _LOCAL_KEPT, for `mtpipe
# models list`: {absolute path: {"revision": ..., "used": ISO time}} in the user cache dir.
LOCAL_RECORD = "local-models.json"
_LOCAL_KEPT = 20


@dataclass(frozen=True)
class LocalModel:
    """A local model folder as a command last used it: its revision then, when, and its
    bytes now (None once the folder is gone)."""

    path: Path
    revision: str
    used: datetime
    size: int | None


def local_record() -> Path:
    """The file that lists the local model folders used (LOCAL_RECORD in the user cache dir)."""
    from platformdirs import user_cache_path

    return user_cache_path("mtpipe") / LOCAL_RECORD


def _read_local(path: Path) -> dict[str, dict]:
    """The entries of the local-folder record; none if it is missing or damaged."""
    try:
        entries = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(entries, dict):
        return {}
    return {k: v for k, v in entries.items() if isinstance(v, dict) and isinstance(v.get("revision"), str) and _when(v.get("used"))}


def _when(iso: object) -> datetime | None:
    """An ISO time as the record writes it (UTC); None for anything else."""
    try:
        return datetime.fromisoformat(iso) if isinstance(iso, str) else None
    except ValueError:
        return None


def remember_used(ref: ModelRef) -> None:
    """Record a local folder as used now, keeping the latest _LOCAL_KEPT, for `models
    list` (a hub model is in the hub's cache already: nothing to record). Called by the
    command that loaded it, never by resolve(): a dry run or a test leaves no trace. A
    cache dir that cannot be written loses the record, never the translation."""
    if not ref.revision.startswith(LOCAL_PREFIX):
        return

    path, key = local_record(), str(ref.path)
    entry = {"revision": ref.revision, "used": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    entries = {key: entry, **{k: v for k, v in _read_local(path).items() if k != key}}  # first among those of the same second
    latest = dict(sorted(entries.items(), key=lambda item: item[1]["used"], reverse=True)[:_LOCAL_KEPT])
    try:
        write_text(path, json_text(latest))
    except OSError:
        pass


def local_models() -> list[LocalModel]:
    """The local model folders commands used (the latest _LOCAL_KEPT), latest first."""
    entries = sorted(_read_local(local_record()).items(), key=lambda item: item[1]["used"], reverse=True)
    return [
        LocalModel(Path(path), entry["revision"], _when(entry["used"]), folder_size(Path(path)) if Path(path).is_dir() else None) for path, entry in entries
    ]
