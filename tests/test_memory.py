from __future__ import annotations

import sqlite3
from pathlib import Path

from pipeline.memory import TranslationMemory


def test_memory_stores_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "tm.sqlite3"
    memory = TranslationMemory(path)
    memory.put({"k1": ("Bonjour.", "Hello.", -0.25, 1), "k2": ("Oui.", "Yes.", None, 2)})
    memory.close()
    again = TranslationMemory(path)
    assert again.get(["k2", "k1", "k3"]) == {"k1": ("Hello.", -0.25, 1), "k2": ("Yes.", None, 2)}
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_memory_handles_more_keys_than_sqlite_parameters(tmp_path: Path) -> None:
    memory = TranslationMemory(tmp_path / "tm.sqlite3")
    memory.put({f"k{i}": (f"s{i}", f"t{i}", -1.0, 1) for i in range(2000)})
    found = memory.get([f"k{i}" for i in range(2500)])
    assert len(found) == 2000 and found["k1999"] == ("t1999", -1.0, 1)
