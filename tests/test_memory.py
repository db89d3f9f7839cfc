from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT
from helpers import permissions_apply

from pipeline.corrections import Pair
from pipeline.hub import ModelRef
from pipeline.memory import (
    HumanChanges,
    HumanEntry,
    MemoryFault,
    TranslationMemory,
    human_key,
)
from pipeline.translate import DecodeSettings, Translator


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
        "move it aside (the next run starts a new one; human translations can be imported again from their files), pass --cache PATH for another file, or --no-cache"
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
    assert message.endswith("; translations are neither recalled from it nor kept: move it aside (the next run starts a new one; human translations can be imported again from their files), pass --cache PATH for another file, or --no-cache")
    assert "\n" not in message


def test_folder_that_cannot_be_created_is_a_memory_fault(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(MemoryFault, match=r"the translation memory .*/file/tm.sqlite3 cannot be opened \(its folder cannot be created: "):
        TranslationMemory(tmp_path / "file" / "tm.sqlite3")


@pytest.mark.slow
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
import conftest
conftest.register_echo()
from pipeline.corrections import Pair
from pipeline.hub import ModelRef
from pipeline.memory import HumanChanges, HumanEntry, MemoryFault, TranslationMemory, human_key
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


# --- human translations ---------------------------------------------------------------

ADDED = "2024-05-01T12:00:00Z"


@pytest.mark.parametrize(
    ("source", "key"),
    [
        ("Le chat dort.", "Le chat dort."),
        ("  Le  chat\tdort.\n", "Le chat dort."),
        ("Quoi\u00a0?\u202f!", "Quoi ? !"),  # French typography's no-break spaces are spaces
        ("Ve\u0301lo", "V\u00e9lo"),  # decomposed é → composed (NFC)
        ("\ufb01n", "\ufb01n"),  # NFC, not NFKC: the ligature stays
        (" \n ", ""),
    ],
)
def test_human_key_is_nfc_with_whitespace_collapsed(source: str, key: str) -> None:
    assert human_key(source) == key


# Each step adds its pairs to the same memory and says what changed, as keys.
HUMAN_STEPS = [
    ([("Un chat.", "A cat."), ("Il pleut.", "It rains.")], HumanChanges(("Un chat.", "Il pleut."), (), ())),
    ([("Un  chat.", "A cat."), ("Il pleut.", "It is raining.")], HumanChanges((), ("Il pleut.",), ("Un chat.",))),
    ([("Oui.", "Yes."), ("Oui.", "Yes!"), ("Il pleut.", "It is raining.")], HumanChanges(("Oui.",), (), ("Il pleut.",))),  # the last of a repeated key wins
    ([], HumanChanges((), (), ())),
]


def test_human_entries_are_added_replaced_or_left_unchanged(tmp_path: Path) -> None:
    memory = TranslationMemory(tmp_path / "tm.sqlite3")
    for number, (pairs, changes) in enumerate(HUMAN_STEPS):
        assert memory.add_human([Pair(s, t, f"f{number}.tmx line 1") for s, t in pairs], added=f"2024-05-0{number + 1}T00:00:00Z") == changes
    # An unchanged entry keeps its origin and date; a replaced one takes the new ones.
    assert list(memory.human_entries()) == [
        HumanEntry("Un chat.", "A cat.", "f0.tmx line 1", "2024-05-01T00:00:00Z"),
        HumanEntry("Il pleut.", "It is raining.", "f1.tmx line 1", "2024-05-02T00:00:00Z"),
        HumanEntry("Oui.", "Yes!", "f2.tmx line 1", "2024-05-03T00:00:00Z"),
    ]
    assert memory.counts() == {"machine": 0, "human": 3, "glossary": 0}


def test_human_date_defaults_to_now_in_utc(tmp_path: Path) -> None:
    memory = TranslationMemory(tmp_path / "tm.sqlite3")
    memory.add_human([Pair("Oui.", "Yes.", "a.json unit 1 (s1)")])
    (entry,) = memory.human_entries()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry.added) and entry.added[:4] >= "2024"


@pytest.mark.parametrize(
    ("stored", "asked", "found"),
    [
        ("Le chat dort.", "Le chat dort.", True),
        ("Le chat dort.", "  Le\u00a0chat   dort.\n", True),
        ("Le  chat\tdort.", "Le chat dort.", True),
        ("Il a e\u0301te\u0301 la\u0300.", "Il a \u00e9t\u00e9 l\u00e0.", True),
        ("Le chat dort.", "le chat dort.", False),  # case counts
        ("Le chat dort.", "Le chat dort", False),  # punctuation counts
    ],
)
def test_human_lookup_normalises_the_source(tmp_path: Path, stored: str, asked: str, found: bool) -> None:
    memory = TranslationMemory(tmp_path / "tm.sqlite3")
    memory.add_human([Pair(stored, "The cat sleeps.", "a.tmx line 3")], added=ADDED)
    expected = {asked: HumanEntry(stored, "The cat sleeps.", "a.tmx line 3", ADDED)} if found else {}
    assert memory.get_human([asked, "Absent."]) == expected


def test_human_lookup_handles_more_sources_than_sqlite_parameters(tmp_path: Path) -> None:
    memory = TranslationMemory(tmp_path / "tm.sqlite3")
    changes = memory.add_human([Pair(f"Phrase {i}.", f"Sentence {i}.", "a.tmx") for i in range(1200)])
    assert len(changes.added) == 1200
    found = memory.get_human(f"Phrase  {i}." for i in range(1500))
    assert len(found) == 1200 and found["Phrase  1199."].target == "Sentence 1199."


def test_memory_of_the_old_schema_gains_the_human_table_and_stays_usable_by_old_versions(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)  # an mtpipe from before word links and human translations
    old.execute("CREATE TABLE translations (key TEXT PRIMARY KEY, source TEXT NOT NULL, target TEXT NOT NULL, logprob REAL, pieces INTEGER NOT NULL)")
    old.execute("INSERT INTO translations VALUES ('k1', 'Oui.', 'Yes.', -0.5, 1)")
    old.commit()
    memory = TranslationMemory(path)
    assert memory.counts() == {"machine": 1, "human": 0, "glossary": 0}
    memory.add_human([Pair("Non.", "No.", "a.tmx line 2")])
    assert memory.get(["k1"]) == {"k1": ("Yes.", -0.5, 1, None)} and memory.get_human(["Non."])["Non."].target == "No."
    memory.close()
    old.execute("INSERT INTO translations VALUES ('k2', 'Non.', 'No.', -0.5, 1)")  # what an old version writes
    old.commit()
    assert [row[0] for row in old.execute("SELECT key FROM translations ORDER BY key")] == ["k1", "k2"]
    old.close()
    assert TranslationMemory(path).counts() == {"machine": 2, "human": 1, "glossary": 0}


def test_failure_amid_an_import_keeps_none_of_it(tmp_path: Path) -> None:
    path = tmp_path / "tm.sqlite3"
    memory = TranslationMemory(path)
    memory.add_human([Pair("Un.", "One.", "a.tmx line 1")], added=ADDED)
    # The third row's insert fails, after two rows have been written.
    memory._db.execute("CREATE TRIGGER boom BEFORE INSERT ON human WHEN NEW.source = 'Trois.' BEGIN SELECT RAISE(ABORT, 'boom'); END")
    pairs = [Pair("Un.", "One!", "b.tmx line 1"), Pair("Deux.", "Two.", "b.tmx line 2"), Pair("Trois.", "Three.", "b.tmx line 3"), Pair("Quatre.", "Four.", "b.tmx line 4")]
    with pytest.raises(MemoryFault) as fault:
        memory.add_human(pairs)
    assert str(fault.value) == (
        f"the translation memory {path} cannot be written (boom); none of these human translations is kept: "
        "check the file and its folder, or pass --cache PATH for another file"
    )
    assert list(TranslationMemory(path).human_entries()) == [HumanEntry("Un.", "One.", "a.tmx line 1", ADDED)]


def test_import_into_a_locked_memory_is_a_memory_fault(tmp_path: Path) -> None:
    path = filled(tmp_path / "tm.sqlite3", 10)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        memory = TranslationMemory(path, timeout=0.1)
        with pytest.raises(MemoryFault) as fault:
            memory.add_human([Pair("Oui.", "Yes.", "a.tmx line 1")])
        assert memory.counts() == {"machine": 10, "human": 0, "glossary": 0}  # readers go on
    finally:
        other.close()
    assert str(fault.value) == (
        f"the translation memory {path} cannot be written: another process held it locked for over 0.1 s (database is locked); "
        "none of these human translations is kept: let the other mtpipe finish first, or pass --cache PATH for another file"
    )


@pytest.mark.parametrize(
    ("method", "message"),
    [
        (lambda memory: memory.counts(), "its entries cannot be counted"),
        (lambda memory: list(memory.human_entries()), "its translations cannot be listed"),
        (lambda memory: memory.get_human(["Oui."]), "this run translates without it"),
    ],
)
def test_human_reads_of_a_damaged_memory_are_memory_faults(tmp_path: Path, method, message: str) -> None:
    path = tmp_path / "tm.sqlite3"
    memory = TranslationMemory(path)
    memory.add_human([Pair(f"Phrase {i} " * 20, f"Sentence {i} " * 20, "a.tmx") for i in range(3000)])
    memory.put({f"k{i}": (f"s{i} " * 30, f"t{i} " * 30, None, 1, None) for i in range(3000)})
    memory.close()
    overwrite(path, 4096, path.stat().st_size)
    with pytest.raises(MemoryFault) as fault:
        method(TranslationMemory(path))
    assert str(fault.value).startswith(f"the translation memory {path} is damaged (database disk image is malformed); {message}: move it aside")


def test_glossary_entries_are_stored_replaced_and_listed_in_order(tmp_path: Path) -> None:
    from pipeline.glossary import Entry

    memory = TranslationMemory(tmp_path / "m.sqlite3")
    first = memory.add_glossary([Entry("conseil municipal", ("city council", "town council"), "local body"), Entry("maire", ("mayor",))], origin="a.tsv")
    assert (first.added, first.replaced, first.unchanged) == (("conseil municipal", "maire"), (), ())
    again = memory.add_glossary([Entry("maire", ("mayor",)), Entry("conseil municipal", ("municipal council",))], origin="b.tsv")
    assert (again.added, again.replaced, again.unchanged) == ((), ("conseil municipal",), ("maire",))
    assert memory.glossary_entries() == [Entry("conseil municipal", ("municipal council",)), Entry("maire", ("mayor",))]
    assert memory.counts() == {"machine": 0, "human": 0, "glossary": 2}
    memory.close()
