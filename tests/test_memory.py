from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT  # conftest registers the "echo" backend
from pipeline.hub import ModelRef
from pipeline.memory import MemoryFault, TranslationMemory
from pipeline.translate import DecodeSettings, Translator
from test_reliability import permissions_apply


def test_memory_stores_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "tm.sqlite3"
    memory = TranslationMemory(path)
    memory.put({"k1": ("Bonjour.", "Hello.", -0.25, 1, "0-0"), "k2": ("Oui.", "Yes.", None, 2, None)}, "h")
    memory.close()
    again = TranslationMemory(path)
    assert again.get(["k2", "k1", "k3"], "h") == {"k1": ("Hello.", -0.25, 1, "0-0"), "k2": ("Yes.", None, 2, None)}
    assert again.get(["k1"], "another head") == {"k1": ("Hello.", -0.25, 1, None)}
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_memory_handles_more_keys_than_sqlite_parameters(tmp_path: Path) -> None:
    memory = TranslationMemory(tmp_path / "tm.sqlite3")
    memory.put({f"k{i}": (f"s{i}", f"t{i}", -1.0, 1, None) for i in range(2000)})
    found = memory.get([f"k{i}" for i in range(2500)])
    assert len(found) == 2000 and found["k1999"] == ("t1999", -1.0, 1, None)


# --- faults: damaged, read-only and locked files -------------------------------------

SENTENCES = ["Un chat dort.", "Il pleut.", "Un chat dort."]
ECHOED = ["UN CHAT DORT.", "IL PLEUT.", "UN CHAT DORT."]


def filled(path: Path, n: int = 3000) -> Path:
    """A real memory of n entries spread over many pages, closed (its WAL checkpointed
    into the file)."""
    memory = TranslationMemory(path)
    memory.put({f"k{i:05d}": (f"phrase source {i} " * 3, f"target sentence {i} " * 3, -1.0, 1, None) for i in range(n)})
    memory.close()
    assert not Path(f"{path}-wal").exists()
    return path


def overwrite(path: Path, start: int, length: int) -> None:
    with path.open("r+b") as fh:
        fh.seek(start)
        fh.write(b"\xde\xad\xbe\xef" * (length // 4))


def translator(memory: TranslationMemory | None, tmp_path: Path) -> Translator:
    return Translator(ModelRef("echo-model", tmp_path, "rev1"), "echo", DecodeSettings(), memory)


def test_damaged_pages_are_a_memory_fault_and_the_translator_goes_on(tmp_path: Path) -> None:
    path = filled(tmp_path / "tm.sqlite3")
    overwrite(path, 4096, path.stat().st_size)  # all but the first page, which holds the schema: it still opens
    memory = TranslationMemory(path)
    with pytest.raises(MemoryFault) as fault:
        memory.get([f"k{i:05d}" for i in range(3000)])
    assert str(fault.value) == (
        f"the translation memory {path} is damaged (database disk image is malformed); this run translates without it: "
        "delete it (it only saves translating sentences again; the next run starts a new one), pass --cache PATH for another file, or --no-cache"
    )
    tr = translator(memory, tmp_path)
    assert [t.text for t in tr.translate(SENTENCES)] == ECHOED
    assert not any(t.from_memory for t in tr.translate(SENTENCES))
    assert tr.memory is None and len(tr.warnings) == 1 and "is damaged (database disk image is malformed)" in tr.warnings[0]


@pytest.mark.parametrize("garbage_from", [100, 0])
def test_garbage_after_the_header_or_instead_of_it_is_refused_on_opening(tmp_path: Path, garbage_from: int) -> None:
    path = filled(tmp_path / "tm.sqlite3")
    overwrite(path, garbage_from, path.stat().st_size)
    with pytest.raises(MemoryFault) as fault:
        TranslationMemory(path)
    message = str(fault.value)
    assert message.startswith(f"the translation memory {path} is damaged (")
    assert message.endswith("; translations are neither recalled from it nor kept: delete it (it only saves translating sentences again; the next run starts a new one), pass --cache PATH for another file, or --no-cache")
    assert "\n" not in message


def test_folder_that_cannot_be_created_is_a_memory_fault(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(MemoryFault, match=r"the translation memory .*/file/tm.sqlite3 cannot be opened \(its folder cannot be created: "):
        TranslationMemory(tmp_path / "file" / "tm.sqlite3")


def test_lock_held_by_another_process_times_out_into_a_warning(tmp_path: Path) -> None:
    path = filled(tmp_path / "tm.sqlite3", 10)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # in WAL mode: readers go on, writers wait
    try:
        memory = TranslationMemory(path, timeout=0.2)
        with pytest.raises(MemoryFault) as fault:
            memory.put({"k": ("Oui.", "Yes.", None, 1, None)})
        assert str(fault.value) == (
            f"the translation memory {path} cannot be written: another process held it locked for over 0.2 s (database is locked); "
            "this run's translations are not kept: let the other mtpipe finish first, pass --cache PATH for another file, or --no-cache"
        )
        tr = translator(memory, tmp_path)
        start = time.monotonic()
        assert [t.text for t in tr.translate(SENTENCES)] == ECHOED  # translated, then not kept
        assert [t.text for t in tr.translate(SENTENCES)] == ECHOED  # no second wait for the lock
        assert time.monotonic() - start < 2
        assert tr.memory is None and tr.warnings == [str(fault.value)]
    finally:
        other.close()
    assert TranslationMemory(path).get(["k00001", "k"]) == {"k00001": ("target sentence 1 " * 3, -1.0, 1, None)}


def test_memory_locked_exclusively_cannot_be_opened(tmp_path: Path) -> None:
    path = filled(tmp_path / "tm.sqlite3", 10)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("SELECT count(*) FROM translations").fetchall()  # takes and keeps the lock
    try:
        with pytest.raises(MemoryFault, match=r"cannot be opened: another process held it locked for over 0.1 s \(database is locked\); "):
            TranslationMemory(path, timeout=0.1)
    finally:
        other.close()


# Runs as a user whom file permissions bind (root is not: see permissions_apply): a
# Translator over the memory given, translating SENTENCES twice; prints what came back.
READ_ONLY_RUN = """
import json, sys
from pathlib import Path
sys.path.insert(0, "tests")
from conftest import EchoBackend  # registers the "echo" backend
from pipeline.hub import ModelRef
from pipeline.memory import MemoryFault, TranslationMemory
from pipeline.translate import DecodeSettings, Translator
try:
    memory = TranslationMemory(Path(sys.argv[1]))
except MemoryFault as fault:
    print(json.dumps({"open": str(fault)}))
    sys.exit()
tr = Translator(ModelRef("echo-model", Path("."), "rev1"), "echo", DecodeSettings(), memory)
runs = [[(t.text, t.from_memory) for t in tr.translate(json.loads(sys.argv[2]))] for _ in range(2)]
print(json.dumps({"runs": runs, "warnings": tr.warnings, "dropped": tr.memory is None}))
"""


def run_restricted(path: Path) -> dict:
    done = subprocess.run(
        [*permissions_apply(), sys.executable, "-c", READ_ONLY_RUN, str(path), json.dumps(SENTENCES)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return json.loads(done.stdout)


def test_read_only_memory_is_read_and_its_fault_is_one_warning(tmp_path: Path) -> None:
    path = tmp_path / "tm.sqlite3"
    tr = translator(TranslationMemory(path), tmp_path)
    tr.translate(SENTENCES[:1])  # one sentence known
    tr.memory.close()
    path.chmod(0o444)
    result = run_restricted(path)
    # Read, then dropped at the first write: the second call translates everything.
    assert result["runs"] == [[["UN CHAT DORT.", True], ["IL PLEUT.", False], ["UN CHAT DORT.", True]], [[text, False] for text in ECHOED]]
    assert result["dropped"] and result["warnings"] == [
        f"the translation memory {path} cannot be written (attempt to write a readonly database); this run's translations are not kept: "
        "make it writable, pass --cache PATH for another file, or --no-cache"
    ]


def test_memory_in_a_read_only_folder_cannot_be_opened(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    path = filled(folder / "tm.sqlite3", 10)
    folder.chmod(0o555)  # SQLite cannot create the WAL beside it
    try:
        result = run_restricted(path)
    finally:
        folder.chmod(0o755)
    assert result == {
        "open": f"the translation memory {path} cannot be opened (attempt to write a readonly database: its folder is read-only); "
        f"translations are neither recalled from it nor kept: make {folder} writable, pass --cache PATH for another file, or --no-cache"
    }
