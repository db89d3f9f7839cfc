"""Translation memory: sentence translations kept in SQLite across runs.

Keys are hashes of (model, revision, backend, decoding settings, source sentence),
computed by the translator; this module only stores and fetches. WAL mode and one
transaction per batch mean a killed run loses at most the batch in flight.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS translations (
    key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    logprob REAL,
    pieces INTEGER NOT NULL
)
"""
_CHUNK = 500  # stays under SQLite's limit on bound parameters


def default_path() -> Path:
    """The memory's default location, under the user's cache directory."""
    from platformdirs import user_cache_path

    return user_cache_path("mtpipe") / "memory.sqlite3"


class TranslationMemory:
    """A key → (translation, mean log-probability, pieces) store in one SQLite file."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._db:
            self._db.execute(_SCHEMA)

    def get(self, keys: Iterable[str]) -> dict[str, tuple[str, float | None, int]]:
        """Return the stored (target, logprob, pieces) of every key that is present."""
        keys = list(dict.fromkeys(keys))
        found = {}
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i : i + _CHUNK]
            rows = self._db.execute(
                f"SELECT key, target, logprob, pieces FROM translations WHERE key IN ({','.join('?' * len(chunk))})", chunk
            )
            found.update({key: (target, logprob, pieces) for key, target, logprob, pieces in rows})
        return found

    def put(self, items: Mapping[str, tuple[str, str, float | None, int]]) -> None:
        """Store key → (source, target, logprob, pieces) in one transaction."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO translations VALUES (?, ?, ?, ?, ?)",
                [(key, *value) for key, value in items.items()],
            )

    def close(self) -> None:
        self._db.close()
