"""Translation memory: sentence translations kept in SQLite across runs.

Keys are hashes of (model, revision, backend, decoding settings, source sentence),
computed by the translator; this module only stores and fetches. WAL mode and one
transaction per batch mean a killed run loses at most the batch in flight.

Every SQLite failure (a damaged or read-only file, a lock held too long by another
process) is raised as MemoryFault, whose message names the file, SQLite's reason and
what to do: the memory only saves work, so callers go on without it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

# Word links live in a table of their own, so that older mtpipe versions, which
# insert five values into `translations`, keep working on the same file. A link row
# counts only for the translation it was made for (`target`) and for the attention
# head it was read from (`alignment`).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS translations (
    key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    logprob REAL,
    pieces INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS word_links (
    key TEXT NOT NULL,
    alignment TEXT NOT NULL,
    target TEXT NOT NULL,
    links TEXT NOT NULL,
    PRIMARY KEY (key, alignment)
);
"""
_CHUNK = 500  # stays under SQLite's limit on bound parameters
DEFAULT_TIMEOUT = 30.0  # seconds to wait for another process's lock
# SQLite's primary result codes (the low byte of an extended code).
_BUSY, _LOCKED, _READONLY, _CORRUPT, _FULL, _NOTADB = 5, 6, 8, 11, 13, 26
_READONLY_DIRECTORY = _READONLY | (6 << 8)
# What each operation's failure means for the run.
_CONSEQUENCE = {
    "opened": "translations are neither recalled from it nor kept",
    "read": "this run translates without it",
    "written": "this run's translations are not kept",
}
_ELSEWHERE = "pass --cache PATH for another file, or --no-cache"
_DAMAGED = ("{where} is damaged ({reason})", "delete it (it only saves translating sentences again; the next run starts a new one)")
_HELD = ("{where} cannot be {action}: another process held it locked for over {timeout:g} s ({reason})", "let the other mtpipe finish first")
# How each SQLite result code (extended first, then primary) is told: what happened, the fix.
_FAULTS = {
    _CORRUPT: _DAMAGED,
    _NOTADB: _DAMAGED,
    _READONLY_DIRECTORY: ("{where} cannot be {action} ({reason}: its folder is read-only)", "make {folder} writable"),
    _READONLY: ("{where} cannot be {action} ({reason})", "make it writable"),
    _BUSY: _HELD,
    _LOCKED: _HELD,
    _FULL: ("{where} cannot be {action} ({reason})", "free space on its disk"),
}
_OTHER_FAULT = ("{where} cannot be {action} ({reason})", "check the file and its folder")


class MemoryFault(RuntimeError):
    """The translation memory cannot be opened, read or written; the message is one
    sentence naming the file, SQLite's reason, what it means for the run and the fix."""


def default_path() -> Path:
    """The memory's default location, under the user's cache directory."""
    from platformdirs import user_cache_path

    return user_cache_path("mtpipe") / "memory.sqlite3"


def _code(exc: sqlite3.Error) -> int | None:
    """SQLite's extended result code of an error (from its message before Python 3.11)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code
    text = str(exc).lower()
    for fragment, guess in (("readonly", _READONLY), ("locked", _BUSY), ("malformed", _CORRUPT), ("not a database", _NOTADB)):
        if fragment in text:
            return guess
    return None


class TranslationMemory:
    """A key → (translation, mean log-probability, pieces, word links) store in one
    SQLite file.

    `timeout`: seconds to wait for a lock held by another process before giving up.
    """

    def __init__(self, path: Path, timeout: float = DEFAULT_TIMEOUT):
        self.path = path
        self.timeout = timeout
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MemoryFault(
                f"the translation memory {path} cannot be opened (its folder cannot be created: {exc.strerror or exc}); "
                f"{_CONSEQUENCE['opened']}: {_ELSEWHERE}"
            ) from None
        try:
            self._db = sqlite3.connect(path, timeout=timeout)
        except sqlite3.Error as exc:
            raise self._fault("opened", exc) from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            with self._db:
                self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            self._db.close()
            raise self._fault("opened", exc) from None

    def _fault(self, action: str, exc: sqlite3.Error) -> MemoryFault:
        """One sentence for a SQLite error: the file, what failed, SQLite's reason, the fix."""
        code = _code(exc)
        what, fix = _FAULTS.get(code) or _FAULTS.get(code & 0xFF if code is not None else None, _OTHER_FAULT)
        values = {"where": f"the translation memory {self.path}", "action": action, "reason": str(exc).strip() or type(exc).__name__}
        values |= {"timeout": self.timeout, "folder": self.path.parent}
        return MemoryFault(f"{what.format(**values)}; {_CONSEQUENCE[action]}: {fix.format(**values)}, {_ELSEWHERE}")

    def get(self, keys: Iterable[str], alignment: str = "") -> dict[str, tuple[str, float | None, int, str | None]]:
        """Return the stored (target, logprob, pieces, links) of every key that is
        present; links (Pharaoh text) from the `alignment` head, None when there are
        none for this target."""
        keys = list(dict.fromkeys(keys))
        found = {}
        try:
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i : i + _CHUNK]
                rows = self._db.execute(
                    "SELECT t.key, t.target, t.logprob, t.pieces, w.links FROM translations t "
                    "LEFT JOIN word_links w ON w.key = t.key AND w.alignment = ? AND w.target = t.target "
                    f"WHERE t.key IN ({','.join('?' * len(chunk))})",
                    [alignment, *chunk],
                )
                found.update({key: (target, logprob, pieces, links) for key, target, logprob, pieces, links in rows})
        except sqlite3.Error as exc:
            raise self._fault("read", exc) from None
        return found

    def put(self, items: Mapping[str, tuple[str, str, float | None, int, str | None]], alignment: str = "") -> None:
        """Store key → (source, target, logprob, pieces, links) in one transaction
        (links: Pharaoh text from the `alignment` head, or None)."""
        try:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO translations VALUES (?, ?, ?, ?, ?)", [(key, *value[:4]) for key, value in items.items()]
                )
                self._put_links({key: (value[1], value[4]) for key, value in items.items() if value[4] is not None}, alignment)
        except sqlite3.Error as exc:
            raise self._fault("written", exc) from None

    def put_links(self, items: Mapping[str, tuple[str, str]], alignment: str = "") -> None:
        """Store key → (target, links) for translations already stored."""
        try:
            with self._db:
                self._put_links(items, alignment)
        except sqlite3.Error as exc:
            raise self._fault("written", exc) from None

    def _put_links(self, items: Mapping[str, tuple[str, str]], alignment: str) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO word_links VALUES (?, ?, ?, ?)", [(key, alignment, target, links) for key, (target, links) in items.items()]
        )

    def close(self) -> None:
        try:
            self._db.close()
        except sqlite3.Error as exc:
            raise self._fault("written", exc) from None
