from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import grows_linearly
from hypothesis import given
from hypothesis import strategies as st

from pipeline.outdir import (
    MANIFEST,
    OutputBusy,
    OutputConflict,
    OutputFolder,
    safe_relative,
)


@pytest.mark.parametrize(
    "rel, safe",
    [
        ("a.txt", True),
        ("sub/deep/a.en.txt", True),
        ("été à Noël.html", True),
        ("../victim/x.html", False),
        ("sub/../../x", False),
        ("/etc/passwd", False),
        ("sub//a", False),
        ("./a", False),
        ("", False),
        ("a\0b", False),
    ],
)
def test_safe_relative(rel: str, safe: bool) -> None:
    if safe:
        assert safe_relative(rel).as_posix() == rel
    else:
        with pytest.raises(OutputConflict, match="not a path inside the output folder"):
            safe_relative(rel)


@given(st.lists(st.sampled_from(["a", "..", ".", "", "b c", "é"]), min_size=1, max_size=5))
def test_a_safe_path_never_leaves_the_folder(parts: list[str]) -> None:
    rel = "/".join(parts)
    try:
        path = safe_relative(rel)
    except OutputConflict:
        return
    resolved = os.path.normpath(os.path.join("/root-folder", path))
    assert resolved.startswith("/root-folder/")


def test_writes_new_files_and_its_own_but_never_a_foreign_one(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_bytes(b"user's")
    with OutputFolder(tmp_path) as folder:
        folder.write("new.txt", b"one")
        folder.write("new.txt", b"two")  # its own: replaced
        with pytest.raises(OutputConflict, match="mine.txt already exists and mtpipe did not write it"):
            folder.write("mine.txt", b"mtpipe's")
        folder.remove("mine.txt")  # not owned: kept
    assert (tmp_path / "new.txt").read_bytes() == b"two" and (tmp_path / "mine.txt").read_bytes() == b"user's"
    with OutputFolder(tmp_path) as again:  # ownership outlives the run
        assert again.owns("new.txt") and not again.owns("mine.txt")
        again.write("new.txt", b"three")
    assert (tmp_path / "new.txt").read_bytes() == b"three"


def test_never_writes_through_a_link_or_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to(outside)
    with OutputFolder(out) as folder:
        with pytest.raises(OutputConflict, match="is not a folder"):
            folder.write("sub/a.txt", b"x")
        with pytest.raises(OutputConflict, match="not a path inside"):
            folder.write("../outside/b.txt", b"x")
    assert list(outside.iterdir()) == []


def test_manifest_lists_a_file_before_it_exists_and_survives_a_cut_line(tmp_path: Path) -> None:
    with OutputFolder(tmp_path) as folder:
        folder.write("a.txt", b"a")
    with open(tmp_path / MANIFEST, "a", encoding="utf-8") as fh:
        fh.write('"half')  # a write cut short by a full disk
    with OutputFolder(tmp_path) as folder:
        folder.write("b.txt", b"b")
    with OutputFolder(tmp_path) as folder:
        assert folder.owns("a.txt") and folder.owns("b.txt")


def test_a_tampered_manifest_owns_nothing_outside_the_folder(tmp_path: Path) -> None:
    """Lines naming paths outside the folder (an input beside it, an absolute path) are
    not mtpipe's: the run translates that input rather than take it for an output."""
    out = tmp_path / "out"
    out.mkdir()
    lines = ["../in/a.txt", "/etc/passwd", "sub/../../x", "a.en.txt"]
    (out / MANIFEST).write_text("# mtpipe manifest 1\n" + "".join(f'"{line}"\n' for line in lines), encoding="utf-8")
    with OutputFolder(out) as folder:
        assert [rel for rel in lines if folder.owns(rel)] == ["a.en.txt"]
        assert folder.owned_paths() == {out / "a.en.txt"}


def test_only_mtpipe_temporaries_are_cleaned(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".draft.tmp").write_bytes(b"user")
    (tmp_path / ".build.tmp").mkdir()
    (tmp_path / ".mtpipe-0123abcd.tmp").write_bytes(b"left by a killed run")
    (tmp_path / "sub" / ".mtpipe-deadbeef.tmp").mkdir()  # a folder: not one of ours
    with OutputFolder(tmp_path) as folder:
        assert folder.remove_stale_temporaries() == 1
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        ".build.tmp", "sub", "sub/.draft.tmp", "sub/.mtpipe-deadbeef.tmp"
    ]


def test_outputs_follow_the_umask(tmp_path: Path) -> None:
    code = (
        "import os, sys; from pathlib import Path; from pipeline.outdir import OutputFolder\n"
        "os.umask(int(sys.argv[2], 8))\n"
        "with OutputFolder(Path(sys.argv[1])) as f: f.write('d/a.txt', b'x')"
    )
    for umask, mode in (("022", 0o644), ("077", 0o600), ("002", 0o664)):
        out = tmp_path / umask
        subprocess.run([sys.executable, "-c", code, str(out), umask], check=True, cwd=Path(__file__).parents[1])
        assert stat.S_IMODE((out / "d" / "a.txt").stat().st_mode) == mode


def test_the_lock_is_exclusive_and_leaves_no_file(tmp_path: Path) -> None:
    with OutputFolder(tmp_path):
        with pytest.raises(OutputBusy, match="another mtpipe run is writing to"):
            with OutputFolder(tmp_path):
                pass
    with OutputFolder(tmp_path):
        pass
    assert list(tmp_path.iterdir()) == []


def _exchange():
    """renameat2(RENAME_EXCHANGE): swap two paths atomically, as the attack does; None
    where the C library lacks it."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "renameat2"):
        return None
    return lambda a, b: libc.renameat2(-100, os.fsencode(a), -100, os.fsencode(b), 2) == 0  # AT_FDCWD, RENAME_EXCHANGE


def test_a_folder_swapped_for_a_link_while_writing_never_leads_outside(tmp_path: Path) -> None:
    """A thread swaps OUT/zz with a link to a folder outside, atomically and back, every
    half millisecond while mtpipe writes OUT/zz/a.txt 2,000 times: each write lands in
    OUT or is refused; nothing, not even a temporary file, is written outside (writing
    by path, 2,000 writes left hundreds of files there)."""
    import threading
    import time

    exchange = _exchange()
    if exchange is None:
        pytest.skip("renameat2 is not available")
    out, outside = tmp_path / "out", tmp_path / "outside"
    outside.mkdir()
    stop = threading.Event()
    outcomes = {"written": 0, "refused": 0, "swaps": 0}
    with OutputFolder(out) as folder:
        folder.write("zz/a.txt", b"first")
        (out / "zz.link").symlink_to(outside)

        def swap() -> None:
            while not stop.is_set():
                outcomes["swaps"] += exchange(out / "zz", out / "zz.link")
                time.sleep(0.0005)

        swapper = threading.Thread(target=swap)
        swapper.start()
        k, deadline = 0, time.monotonic() + 60
        try:
            while (k < 2000 or outcomes["swaps"] < 200) and time.monotonic() < deadline:  # a loaded machine swaps slower
                try:
                    folder.write("zz/a.txt", b"run %d" % k)
                    outcomes["written"] += 1
                except OutputConflict:
                    outcomes["refused"] += 1
                k += 1
        finally:
            stop.set()
            swapper.join()
    assert list(outside.iterdir()) == [] and outcomes["written"] > 0 and outcomes["refused"] > 0 and outcomes["swaps"] >= 200


@pytest.mark.parametrize("kind", ["link", "folder", "fifo"])
def test_a_manifest_that_is_not_a_file_is_refused_and_the_lock_released(tmp_path: Path, kind: str) -> None:
    """A link, a folder or a FIFO named .mtpipe-manifest: one sentence, never a hang, and
    the folder is not left locked."""
    out = tmp_path / "out"
    out.mkdir()
    if kind == "link":
        (out / MANIFEST).symlink_to(tmp_path / "elsewhere")
    elif kind == "folder":
        (out / MANIFEST).mkdir()
    else:
        os.mkfifo(out / MANIFEST)
    for _ in range(2):  # the second would say OutputBusy were the lock kept
        with pytest.raises(OutputConflict, match="is not mtpipe's manifest"):
            with OutputFolder(out):
                pass


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda root: (root / "summary.json").symlink_to("/dev/zero"), "Too many levels of symbolic links"),
        (lambda root: os.mkfifo(root / "summary.json"), "not a regular file"),
        (lambda root: (root / "summary.json").mkdir(), "Is a directory|not a regular file"),
        (lambda root: ((root / "elsewhere").mkdir(), (root / "sub").symlink_to(root / "elsewhere")), "Too many levels|Not a directory"),
    ],
)
def test_what_mtpipe_reads_back_is_never_a_link_a_fifo_or_endless(tmp_path: Path, make, error: str) -> None:
    """A tampered output folder cannot make a run read elsewhere, hang on a FIFO, or
    read /dev/zero until memory runs out: each is an OSError at once."""
    out = tmp_path / "out"
    with OutputFolder(out) as folder:
        folder.write("summary.json", b"{}")
        folder.write("sub/a.align.jsonl", b"")
    (out / "summary.json").unlink()
    (out / "sub" / "a.align.jsonl").unlink()
    (out / "sub").rmdir()
    make(out)
    with OutputFolder(out) as folder:
        with pytest.raises(OSError, match=error):
            folder.read("sub/a.align.jsonl" if (out / "sub").exists() else "summary.json")


def test_what_mtpipe_wrote_reads_back(tmp_path: Path) -> None:
    with OutputFolder(tmp_path) as folder:
        folder.write("sub/a.align.jsonl", "été\n".encode())
        assert folder.read("sub/a.align.jsonl") == "été\n"
    assert OutputFolder(tmp_path).read("sub/a.align.jsonl") == "été\n"  # not held (a dry run)


def test_a_huge_manifest_is_read_in_linear_time(tmp_path: Path) -> None:
    """An output folder of many runs: its manifest is read, and its paths left out of
    the inputs, in time linear in its lines (a huge one once took 109 s to start)."""
    from pipeline.run import discover

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("Le chat dort.\n", encoding="utf-8")

    def start(n: int) -> None:
        out = tmp_path / f"out{n}"
        if not out.exists():
            out.mkdir()
            lines = "".join(f'"d{i % 100}/a{i}.en.txt"\n' for i in range(n))
            (out / MANIFEST).write_text("# mtpipe manifest 1\n" + lines, encoding="utf-8")
        with OutputFolder(out) as folder:
            assert [f.rel for f in discover([tmp_path / "in"], out, folder.owned_paths())] == ["a.txt"]

    assert grows_linearly(start, 5_000)
