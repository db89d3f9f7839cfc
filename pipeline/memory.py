"""Translation memory: sentence translations kept in SQLite across runs.

Keys are hashes of (model, revision, backend, decoding settings, source sentence),
computed by the translator; this module only stores and fetches. WAL mode and one
transaction per batch mean a killed run loses at most the batch in flight.

Human translations (post-edits, CAT-tool memories) live in a table of their own, keyed
by the source sentence alone (see human_key): they hold whatever the model and settings,
so a run serves them before asking the model.

Every SQLite failure (a damaged or read-only file, a lock held too long by another
process) is raised as MemoryFault, whose message names the file, SQLite's reason and
what to do: the memory only saves work, so callers go on without it.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from .errors import StoreError
from .glossary import Entry

# Word links live in a table of their own, so that older mtpipe versions, which
# insert five values into `translations`, keep working on the same file. A link row
# counts only for the translation it was made for (`target`) and for the attention
# head it was read from (`alignment`). Human translations and glossary entries too have
# tables of their own, which older versions never see.
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
CREATE TABLE IF NOT EXISTS human (
    source_key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    origin TEXT NOT NULL,
    added TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS glossary (
    source TEXT PRIMARY KEY,
    targets TEXT NOT NULL,
    note TEXT NOT NULL,
    origin TEXT NOT NULL,
    added TEXT NOT NULL
);
"""
# The English variants of a glossary entry, as its row holds them.
_VARIANTS = "|"
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
# The memory commands (import, export, stats) need the file: what a failure means there.
_NOT_IMPORTED = "none of these human translations is kept"
_NOT_LISTED = "its translations cannot be listed"
_NOT_COUNTED = "its entries cannot be counted"
_COMMAND_ELSEWHERE = "or pass --cache PATH for another file"
_DAMAGED = ("{where} is damaged ({reason})", "move it aside (the next run starts a new one; human translations can be imported again from their files)")
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


class MemoryFault(StoreError):
    """The translation memory cannot be opened, read or written; the message is one
    sentence naming the file, SQLite's reason, what it means for the run and the fix."""


@dataclass(frozen=True)
class HumanEntry:
    """A human translation held in the memory: the source as imported, its translation,
    where it came from (file and place in it) and when it was added (UTC, ISO 8601)."""

    source: str
    target: str
    origin: str
    added: str


class HumanPair(Protocol):
    """What add_human stores: corrections.Pair and HumanEntry both are one."""

    @property
    def source(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def origin(self) -> str: ...


@dataclass(frozen=True)
class HumanChanges:
    """What an add_human did, as human keys: new entries, entries whose target changed,
    and entries that already held that target (left as they were, origin and date too)."""

    added: tuple[str, ...]
    replaced: tuple[str, ...]
    unchanged: tuple[str, ...]


def human_key(source: str) -> str:
    """The key of a human translation: its source in Unicode NFC, every run of
    whitespace (NBSP and the narrow NBSP of French typography too) one space, stripped;
    so that the same sentence typed or exported differently finds the same entry."""
    return " ".join(unicodedata.normalize("NFC", source).split())


def utc_stamp() -> str:
    """Now in UTC as the memory dates entries: ISO 8601 to the second, 2024-05-01T12:00:00Z."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    SQLite file, beside the human translations keyed by their source (human_key).

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

    def _fault(self, action: str, exc: sqlite3.Error, command: str | None = None) -> MemoryFault:
        """One sentence for a SQLite error: the file, what failed, SQLite's reason, what it
        means (for a run, or the `command` consequence for a memory command), the fix."""
        code = _code(exc)
        what, fix = _FAULTS.get(code) or _FAULTS.get(code & 0xFF if code is not None else None, _OTHER_FAULT)
        values = {"where": f"the translation memory {self.path}", "action": action, "reason": str(exc).strip() or type(exc).__name__}
        values |= {"timeout": self.timeout, "folder": self.path.parent}
        consequence, elsewhere = (command, _COMMAND_ELSEWHERE) if command else (_CONSEQUENCE[action], _ELSEWHERE)
        return MemoryFault(f"{what.format(**values)}; {consequence}: {fix.format(**values)}, {elsewhere}")

    def get(self, keys: Iterable[str], alignment: str = "") -> dict[str, tuple[str, float | None, int, str | None]]:
        """Return the stored (target, logprob, pieces, links) of every key that is
        present; links (Pharaoh text) from the `alignment` head, None when there are
        none for this target."""
        query = (
            "SELECT t.key, t.target, t.logprob, t.pieces, w.links FROM translations t "
            "LEFT JOIN word_links w ON w.key = t.key AND w.alignment = ? AND w.target = t.target WHERE t.key IN ({keys})"
        )
        try:
            return {key: (target, logprob, pieces, links) for key, target, logprob, pieces, links in self._in_chunks(query, keys, [alignment])}
        except sqlite3.Error as exc:
            raise self._fault("read", exc) from None

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

    def get_human(self, sources: Iterable[str]) -> dict[str, HumanEntry]:
        """Return the human translation of every source that has one, keyed by the
        source as given (looked up by its human_key)."""
        sources = list(dict.fromkeys(sources))
        keys = {source: human_key(source) for source in sources}
        try:
            found = self._human_rows(keys.values())
        except sqlite3.Error as exc:
            raise self._fault("read", exc) from None
        return {source: found[key] for source, key in keys.items() if key in found}

    def add_human(self, pairs: Iterable[HumanPair], added: str | None = None) -> HumanChanges:
        """Store each pair as the human translation of its source (by human_key), all in
        one transaction: a failure keeps none of them. When a key repeats among the
        pairs, the last one wins. `added`: the date recorded, by default now (UTC)."""
        rows = {human_key(pair.source): (pair.source, pair.target, pair.origin) for pair in pairs}
        return self._store(
            rows,
            lambda keys: {key: entry.target for key, entry in self._human_rows(keys).items()},
            "INSERT INTO human VALUES (?, ?, ?, ?, ?) ON CONFLICT (source_key) DO UPDATE SET "
            "source = excluded.source, target = excluded.target, origin = excluded.origin, added = excluded.added",
            compared=1,
            added=added,
        )

    def _store(self, rows: Mapping[str, tuple], held: Callable[[Iterable[str]], dict[str, str]], insert: str, compared: int, added: str | None) -> HumanChanges:
        """Insert or update rows (key → values; the date is appended) in one transaction:
        a failure keeps none. A row whose value at `compared` is what `held` says the
        memory holds for its key is left as it was (its origin and date too)."""
        added = added or utc_stamp()
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")  # what is held cannot change before the write
                before = held(rows)
                fresh = {key: row for key, row in rows.items() if before.get(key) != row[compared]}
                self._db.executemany(insert, [(key, *row, added) for key, row in fresh.items()])
        except sqlite3.Error as exc:
            raise self._fault("written", exc, _NOT_IMPORTED) from None
        return HumanChanges(
            added=tuple(key for key in fresh if key not in before),
            replaced=tuple(key for key in fresh if key in before),
            unchanged=tuple(key for key in rows if key not in fresh),
        )

    def human_entries(self) -> Iterator[HumanEntry]:
        """Every human translation, in the order first added (for an export)."""
        try:
            yield from (HumanEntry(*row) for row in self._all("SELECT source, target, origin, added FROM human ORDER BY rowid"))
        except sqlite3.Error as exc:
            raise self._fault("read", exc, _NOT_LISTED) from None

    def machine_entries(self) -> Iterator[tuple[str, str]]:
        """Every machine translation (source, target), for an export; one per model and
        settings that translated a sentence."""
        try:
            yield from self._all("SELECT source, target FROM translations ORDER BY rowid")
        except sqlite3.Error as exc:
            raise self._fault("read", exc, _NOT_LISTED) from None

    def add_glossary(self, entries: Iterable[Entry], origin: str, added: str | None = None) -> HumanChanges:
        """Store glossary entries (by their French term; the last of a repeated term
        wins) in one transaction, for every run to check or force: what was added,
        replaced (other English) and left unchanged, as French terms."""
        rows = {entry.source: (_VARIANTS.join(entry.targets), entry.note, origin) for entry in entries}
        return self._store(
            rows,
            lambda keys: dict(self._in_chunks("SELECT source, targets FROM glossary WHERE source IN ({keys})", keys)),
            "INSERT INTO glossary VALUES (?, ?, ?, ?, ?) ON CONFLICT (source) DO UPDATE SET "
            "targets = excluded.targets, note = excluded.note, origin = excluded.origin, added = excluded.added",
            compared=0,
            added=added,
        )

    def glossary_entries(self) -> list[Entry]:
        """The glossary entries imported, in the order first added."""
        try:
            return [Entry(source, tuple(targets.split(_VARIANTS)), note) for source, targets, note in self._all("SELECT source, targets, note FROM glossary ORDER BY rowid")]
        except sqlite3.Error as exc:
            raise self._fault("read", exc) from None

    def counts(self) -> dict[str, int]:
        """How many entries the memory holds by kind: machine translations, human ones,
        glossary entries."""
        try:
            kinds = (("machine", "translations"), ("human", "human"), ("glossary", "glossary"))
            return {kind: self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for kind, table in kinds}
        except sqlite3.Error as exc:
            raise self._fault("read", exc, _NOT_COUNTED) from None

    def _human_rows(self, keys: Iterable[str]) -> dict[str, HumanEntry]:
        query = "SELECT source_key, source, target, origin, added FROM human WHERE source_key IN ({keys})"
        return {key: HumanEntry(*entry) for key, *entry in self._in_chunks(query, keys)}

    def _in_chunks(self, query: str, keys: Iterable[str], parameters: Sequence[object] = ()) -> Iterator[tuple]:
        """The rows of `query` for the distinct keys, asked _CHUNK keys at a time (its
        `{keys}` the placeholders of a chunk, after its other `parameters`), so that no
        statement binds more parameters than SQLite allows."""
        keys = list(dict.fromkeys(keys))
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i : i + _CHUNK]
            yield from self._db.execute(query.format(keys=",".join("?" * len(chunk))), [*parameters, *chunk])

    def _all(self, query: str) -> Iterator[tuple]:
        """The rows of `query`, fetched _CHUNK at a time (an export may hold millions)."""
        cursor = self._db.execute(query)
        while rows := cursor.fetchmany(_CHUNK):
            yield from rows

    def close(self) -> None:
        try:
            self._db.close()
        except sqlite3.Error as exc:
            raise self._fault("written", exc) from None
