"""Choosing what runs: --include, --exclude, --files-from, and --dry-run, which lists
what a run would do with every path and why, writing nothing and loading no model."""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path, PurePosixPath

import pytest
from conftest import TINY_MODEL
from helpers import (
    ECHO,
    build_adversarial,
    in_folder,
    permissions_apply,
    snapshot,
    terminal,
    write_tree,
)

from pipeline.memory import HumanEntry, TranslationMemory
from pipeline.run import Selection, discover, glob_match
from pipeline.run.discover import _match_parts

# The fixture model with its real backend: a run would load it, a dry run must not.
REAL_MODEL = ["--model", str(TINY_MODEL), "--no-cache"]
NOT_LOADED = "loaded: False False\n"

GLOBS = [
    ("a.md", "*.md", True),
    ("sub/a.md", "*.md", False),
    ("sub/a.md", "**/*.md", True),
    ("a.md", "**/*.md", True),
    ("A.MD", "*.md", False),
    ("a/b/c.txt", "a/**", True),
    ("a", "a/**", False),
    ("a/b/c.txt", "a/*", False),
    ("a/b/c.txt", "a/*/*", True),
    ("a/c.txt", "a/**/c.txt", True),
    ("a/b/d/c.txt", "a/**/c.txt", True),
    ("a/b/d/c.txt", "**", True),
    ("ab.txt", "a?.txt", True),
    ("a/b.txt", "a?b.txt", False),
    ("b1.txt", "b[0-9].txt", True),
    ("bx.txt", "b[!x].txt", False),
    ("by.txt", "b[!x].txt", True),
    ("drafts/x.txt", "./drafts//*.txt/", True),
    (".notes.txt", "*.txt", True),
]


# A pattern without a `/` matches a file's name at any depth (.gitignore, rsync); with one, the whole path.
BARE = {("sub/a.md", "*.md"): True}


@pytest.mark.parametrize("path, pattern, expected", GLOBS + [("sub/deeper/a.md", "*.md", True), ("sub/a.md", "a.md", True), ("sub/a.md", "sub", False), ("a.md", "/*.md", False)])
def test_glob_match(path: str, pattern: str, expected: bool) -> None:
    assert glob_match(path, pattern) is BARE.get((path, pattern), expected)


@pytest.mark.parametrize("pattern", ["**/" * 40 + "*.md", "a/" + "**/b/" * 30 + "**/c.txt", "*/" * 50 + "**"])
def test_patterns_full_of_double_stars_take_no_backtracking(pattern: str) -> None:
    path = "/".join(["a", *["b"] * 45, "c.txt"])
    t0 = time.perf_counter()
    for _ in range(20):
        glob_match(path, pattern)
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize("path, pattern, expected", GLOBS)
def test_the_matcher_for_pythons_before_3_13_reads_patterns_as_full_match(path: str, pattern: str, expected: bool) -> None:
    assert _match_parts(PurePosixPath(path).parts, PurePosixPath(pattern).parts) is expected
    if sys.version_info >= (3, 13):
        assert PurePosixPath(path).full_match(pattern) is expected


TREE = {"a.txt": "A.", "b.md": "B.", "notes.pdf": "%PDF", "drafts/c.txt": "C.", "drafts/old/d.txt": "D.", "sub/e.md": "E."}
READ, UNSUPPORTED = "read", "unsupported"


@pytest.mark.parametrize(
    "include, exclude, expected",
    [
        ((), (), {"a.txt": READ, "b.md": READ, "notes.pdf": UNSUPPORTED, "drafts/c.txt": READ, "drafts/old/d.txt": READ, "sub/e.md": READ}),
        ((), ("drafts/**",), {"a.txt": READ, "b.md": READ, "drafts/": "excluded by --exclude 'drafts/**'", "notes.pdf": UNSUPPORTED, "sub/e.md": READ}),
        ((), ("drafts/*/**",), {"a.txt": READ, "b.md": READ, "drafts/c.txt": READ, "drafts/old/": "excluded by --exclude 'drafts/*/**'", "notes.pdf": UNSUPPORTED, "sub/e.md": READ}),
        ((), ("*.txt",), {"a.txt": "excluded by --exclude '*.txt'", "b.md": READ, "notes.pdf": UNSUPPORTED, "drafts/c.txt": "excluded by --exclude '*.txt'", "drafts/old/d.txt": "excluded by --exclude '*.txt'", "sub/e.md": READ}),
        (("*.md",), (), {"a.txt": "matched by no --include ('*.md')", "b.md": READ, "notes.pdf": "matched by no --include ('*.md')", "drafts/c.txt": "matched by no --include ('*.md')", "drafts/old/d.txt": "matched by no --include ('*.md')", "sub/e.md": READ}),
        (
            ("**/*.md",),
            (),
            {
                "a.txt": "matched by no --include ('**/*.md')",
                "b.md": READ,
                "notes.pdf": "matched by no --include ('**/*.md')",
                "drafts/c.txt": "matched by no --include ('**/*.md')",
                "drafts/old/d.txt": "matched by no --include ('**/*.md')",
                "sub/e.md": READ,
            },
        ),
        (
            ("*.md", "a.txt"),
            ("sub/**", "**/d.txt"),
            {
                "a.txt": READ,
                "b.md": READ,
                "notes.pdf": "matched by no --include ('*.md', a.txt)",
                "drafts/c.txt": "matched by no --include ('*.md', a.txt)",
                "drafts/old/d.txt": "excluded by --exclude '**/d.txt'",
                "sub/": "excluded by --exclude 'sub/**'",
            },
        ),
        (("*.txt",), ("a.txt",), {"a.txt": "excluded by --exclude a.txt", "b.md": "matched by no --include ('*.txt')", "notes.pdf": "matched by no --include ('*.txt')", "drafts/c.txt": READ, "drafts/old/d.txt": READ, "sub/e.md": "matched by no --include ('*.txt')"}),
    ],
)
def test_include_and_exclude_leave_files_out_naming_the_pattern(tmp_path: Path, include: tuple, exclude: tuple, expected: dict[str, str]) -> None:
    write_tree(tmp_path / "in", TREE)
    found = discover([tmp_path / "in"], tmp_path / "out", select=Selection(include, exclude))
    fates = {f.rel: f.status or READ if f.status != "ignored" else f.reason.split(": ", 1)[1].removesuffix("; not read") for f in found}
    assert fates == expected


@pytest.mark.slow
@pytest.mark.parametrize("pattern", ["/abs/*.txt", "", ".", "./"])
def test_a_pattern_that_can_match_nothing_is_one_sentence(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(ValueError, match="can match no file: patterns match paths relative to each INPUT"):
        Selection(exclude=[pattern])
    done = in_folder(tmp_path, "run", ".", "-o", "out", "--include", pattern, "--dry-run", *ECHO)
    expected = f"mtpipe: error: --include {shlex.quote(pattern)} can match no file: patterns match paths relative to each INPUT, e.g. --include 'drafts/**'\n"
    assert done.returncode == 2 and terminal(done) == expected


LIST = "# articles to translate\nin/a.txt\n\nin/sub\r\n"


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, stdin, code, expected",
    [
        (["--files-from", "list.txt"], None, 0, "translate   a.txt (1 sentence)\ntranslate   e.md (1 sentence)\n"),
        (["--files-from", "-"], LIST, 0, "translate   a.txt (1 sentence)\ntranslate   e.md (1 sentence)\n"),
        (["in/b.md", "--files-from", "list.txt"], None, 0, "translate   b.md (1 sentence)\ntranslate   a.txt (1 sentence)\ntranslate   e.md (1 sentence)\n"),
        (["--files-from", "empty.txt"], None, 2, "mtpipe: error: --files-from empty.txt lists no paths; list some, or give INPUT files or folders\n"),
        (["--files-from", "-"], "in/a.txt\nin/gone.txt\n", 2, "mtpipe: error: input not found: in/gone.txt\n"),
        (["--files-from", "nowhere.txt"], None, 2, "mtpipe: error: cannot read --files-from nowhere.txt: No such file or directory\n"),
        ([], None, 2, "mtpipe: error: nothing to translate: give INPUT files or folders, or --files-from FILE\n"),
    ],
)
def test_files_from_lists_inputs(tmp_path: Path, args: list[str], stdin: str | None, code: int, expected: str) -> None:
    write_tree(tmp_path, {"in/a.txt": "A.", "in/b.md": "B.", "in/sub/e.md": "E.", "list.txt": LIST, "empty.txt": "# nothing yet\n\n"})
    done = in_folder(tmp_path, "run", *args, "-o", "out", "--dry-run", *ECHO, stdin=stdin.encode() if stdin is not None else None)
    listed = done.stdout.decode().splitlines(keepends=True)[:-1] if code == 0 else []
    assert done.returncode == code and ("".join(listed) if code == 0 else terminal(done)) == expected


# What the README shows `mtpipe run in -o out --exclude 'drafts/**' --dry-run` print.
DRY_RUN_EXAMPLE = (
    "unchanged   a.txt\n"
    "unchanged   b.md\n"
    "translate   c.txt (2 sentences)\n"
    "ignored     drafts/: excluded by --exclude 'drafts/**'; not read\n"
    "unsupported notes.pdf: a .pdf file; mtpipe reads .docx, .htm, .html, .markdown, .md and .txt articles\n"
    "error       photo.txt: it contains NUL bytes, so it is binary, not a text article\n"
    "1 to translate (2 sentences), 2 unchanged, 1 would fail, 1 unsupported: .pdf, 1 ignored; dry run, nothing written\n"
)


@pytest.mark.slow
def test_dry_run_example_lists_every_fate_and_writes_nothing(tmp_path: Path) -> None:
    """The README's example: an earlier run, then a new article."""
    write_tree(tmp_path, {"in/a.txt": "Le chat dort.\n", "in/b.md": "# Titre\n", "in/photo.txt": "\x89PNG\x00", "in/notes.pdf": "%PDF", "in/drafts/x.txt": "Brouillon.\n"})
    assert in_folder(tmp_path, "run", "in", "-o", "out", "--exclude", "drafts/**", *ECHO).returncode == 1
    (tmp_path / "in" / "c.txt").write_text("Il pleut. Il neige.\n", encoding="utf-8")
    before = snapshot(tmp_path)
    done = in_folder(tmp_path, "run", "in", "-o", "out", "--exclude", "drafts/**", "--dry-run", *ECHO)
    assert done.returncode == 1 and terminal(done) == "" and snapshot(tmp_path) == before
    assert done.stdout.decode() == DRY_RUN_EXAMPLE


@pytest.mark.slow
def test_dry_run_sees_what_makes_an_article_be_written_again(tmp_path: Path) -> None:
    write_tree(tmp_path, {"in/a.txt": "Le chat dort.\n", "in/b.txt": "Il pleut.\n", "in/c.txt": "Bonjour.\n", "ref/c.txt": "HELLO.\n"})
    echo = ["--backend", "echo", "--model", str(TINY_MODEL), "--cache", "tm.sqlite3"]
    assert in_folder(tmp_path, "run", "in", "-o", "out", "--ref", "ref", *echo).returncode == 0
    (tmp_path / "in" / "b.txt").write_text("Il neige.\n", encoding="utf-8")
    (tmp_path / "ref" / "c.txt").write_text("HI.\n", encoding="utf-8")
    memory = TranslationMemory(tmp_path / "tm.sqlite3")
    memory.add_human([HumanEntry("Le chat dort.", "The cat sleeps.", "test", "2025-01-01T00:00:00Z")])
    memory.close()
    dry = in_folder(tmp_path, "run", "in", "-o", "out", "--ref", "ref", "--dry-run", *echo).stdout.decode().splitlines()[:-1]
    assert dry == ["translate   a.txt (1 sentence)", "translate   b.txt (1 sentence)", "translate   c.txt (1 sentence)"]
    assert in_folder(tmp_path, "run", "in", "-o", "out", "--ref", "ref", *echo).returncode == 0
    dry = in_folder(tmp_path, "run", "in", "-o", "out", "--ref", "ref", "--dry-run", *echo).stdout.decode().splitlines()[:-1]
    assert dry == ["unchanged   a.txt", "unchanged   b.txt", "unchanged   c.txt"]
    forced = in_folder(tmp_path, "run", "in", "-o", "out", "--ref", "ref", "--dry-run", "--force", *echo).stdout.decode().splitlines()[:-1]
    assert forced == ["translate   a.txt (1 sentence)", "translate   b.txt (1 sentence)", "translate   c.txt (1 sentence)"]


@pytest.mark.slow
def test_dry_run_creates_no_output_folder_no_memory_and_loads_no_model(tmp_path: Path) -> None:
    write_tree(tmp_path, {"in/a.txt": "Le chat dort.\n"})
    done = in_folder(tmp_path, "run", "in", "-o", "new/out", "--model", str(TINY_MODEL), "--cache", "cache/tm.sqlite3", "--dry-run")
    assert done.returncode == 0 and terminal(done) == "" and done.stderr.decode().endswith(NOT_LOADED)
    assert sorted(os.listdir(tmp_path)) == ["in"]


@pytest.mark.slow
def test_dry_run_on_the_adversarial_folder_lists_every_path_with_its_fate(tmp_path: Path) -> None:
    expected = build_adversarial(tmp_path)
    before = {folder: snapshot(tmp_path / folder) for folder in ("in", "ref", "out")}
    names = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if not p.is_relative_to(tmp_path / "in"))
    try:
        done = in_folder(tmp_path, "run", "in", "in", "-o", "out", "--ref", "ref", *REAL_MODEL, "--dry-run", prefix=permissions_apply())
    finally:
        for folder in ("locked", "listonly"):
            (tmp_path / "in" / folder).chmod(0o755)
    assert done.returncode == 1 and done.stderr.decode() == NOT_LOADED
    *lines, total = done.stdout.decode().splitlines()
    fates = {}
    for line in lines:
        fate, rest = line[:12].strip(), line[12:]
        fates[rest.rsplit(" (", 1)[0] if fate == "translate" else rest.split(": ", 1)[0]] = fate
    assert fates == {rel: {"ok": "translate"}.get(status, status) for rel, status in expected.items()}
    counts = [sum(s == status for s in expected.values()) for status in ("ok", "error", "unsupported", "ignored")]
    assert total.startswith(f"{counts[0]} to translate (") and total.endswith(
        f"0 unchanged, {counts[1]} would fail, {counts[2]} unsupported: .pdf, {counts[3]} ignored; dry run, nothing written"
    )
    assert {folder: snapshot(tmp_path / folder) for folder in ("in", "ref", "out")} == before
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if not p.is_relative_to(tmp_path / "in")) == names
