"""End to end through the `mtpipe` command, on the fixture model."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SEED, TINY_MODEL
from helpers import ECHO, in_folder, terminal, tiny, write_tree

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"


def mtpipe(*args: str, env: dict | None = None, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


@pytest.mark.slow
def test_seed_article_end_to_end_then_skip_then_memory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = mtpipe("run", "seeds", "-o", str(out), *tiny(tmp_path))
    assert done.returncode == 0, done.stderr.decode()
    source = SEED.read_text(encoding="utf-8").split("\n")
    english = (out / "000_46fe319679e0c617.en.txt").read_text(encoding="utf-8").split("\n")
    assert len(english) == len(source)
    assert [i for i, line in enumerate(english) if not line.strip()] == [i for i, line in enumerate(source) if not line.strip()]
    records = [json.loads(line) for line in (out / "000_46fe319679e0c617.align.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len({r["id"] for r in records}) == len(records)
    for number, line in enumerate(source, start=1):
        joined = " ".join(r["src"] for r in records if r["line"] == number)
        assert joined.split() == line.split()
    assert [r["line"] for r in records] == sorted(r["line"] for r in records)
    assert all(r["mt"] and r["logprob"] <= 0 for r in records)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    [article] = summary["articles"]
    assert article["status"] == "ok" and article["sentences"] == len(records) and summary["model_loaded"]

    page = (out / "000_46fe319679e0c617.review.html").read_text(encoding="utf-8")
    assert page.count('<tr id="p') == len(records) and (out / "index.html").exists()
    (out / "000_46fe319679e0c617.review.html").unlink()
    rebuilt = mtpipe("report", str(out))
    assert rebuilt.returncode == 0 and rebuilt.stderr.decode() == f"1 review page written; open {out / 'index.html'}\n"
    assert (out / "000_46fe319679e0c617.review.html").read_text(encoding="utf-8").count('<tr id="p') == len(records)

    again = mtpipe("run", "seeds", "-o", str(out), *tiny(tmp_path))
    assert again.returncode == 0
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["articles"][0]["status"] == "skipped"

    for path in out.glob("000_*"):
        path.unlink()
    third = mtpipe("run", "seeds", "-o", str(out), *tiny(tmp_path))
    assert third.returncode == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["articles"][0]["from_memory"] == len(records) and not summary["model_loaded"]
    assert (out / "000_46fe319679e0c617.en.txt").read_text(encoding="utf-8").split("\n") == english


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "first_loads"), [([], "False False"), (["--backend", "transformers"], "True True")], ids=["fast-engine", "transformers"])
def test_an_unchanged_rerun_loads_neither_torch_nor_transformers_and_keeps_the_settings(tmp_path: Path, backend: list[str], first_loads: str) -> None:
    """Nor does a run on the fast engine (the default) once the model is converted: it
    tokenises with sentencepiece."""
    assert in_folder(tmp_path, "models", "convert", str(TINY_MODEL)).returncode == 0  # converting loads both
    args = ["run", str(ROOT / "seeds"), "-o", str(tmp_path / "out"), *tiny(tmp_path), "--quiet", *backend]
    first = in_folder(tmp_path, *args)
    assert first.returncode == 0 and first.stderr.decode().endswith(f"loaded: {first_loads}\n"), first.stderr
    settings = json.loads((tmp_path / "out" / "summary.json").read_text())["settings"]
    again = in_folder(tmp_path, *args)
    assert again.returncode == 0 and again.stderr.decode().endswith("loaded: False False\n"), again.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["totals"]["skipped"] == 1 and summary["settings"] == settings and settings["threads"] >= 1


@pytest.mark.slow
def test_bad_files_are_reported_and_the_rest_translated(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_text("Nous sommes en retard.\n\nIl est parti.\n", encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")  # nothing to translate: copied
    (folder / "photo.txt").write_bytes(PNG)
    (folder / "w1252.txt").write_bytes("Le garçon a été très étonné. Où est-il allé ?\r\n".encode("cp1252"))
    done = mtpipe("run", str(folder), "-o", str(tmp_path / "out"), *tiny(tmp_path))
    stderr = done.stderr.decode()
    assert done.returncode == 1 and "Traceback" not in stderr
    failures = [line for line in stderr.splitlines() if line.startswith("mtpipe: failed:")]
    assert len(failures) == 1 and "photo.txt" in failures[0]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert {a["input"]: a["status"] for a in summary["articles"]} == {
        "empty.txt": "ok", "good.txt": "ok", "photo.txt": "error", "w1252.txt": "ok"
    }
    records = [json.loads(x) for x in (tmp_path / "out" / "w1252.align.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["src"] for r in records] == ["Le garçon a été très étonné.", "Où est-il allé ?"]
    assert (tmp_path / "out" / "w1252.en.txt").read_bytes().endswith(b"\r\n")


@pytest.mark.slow
def test_missing_hub_model_offline_is_one_sentence(tmp_path: Path) -> None:
    done = mtpipe("run", "seeds", "-o", str(tmp_path / "out"), "--cache", str(tmp_path / "tm"),
                  env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    lines = done.stderr.decode().strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1
    assert "Helsinki-NLP/opus-mt-fr-en" in lines[0] and "--model DIR" in lines[0]


@pytest.mark.slow
def test_a_source_date_epoch_out_of_range_is_one_sentence_before_any_work(tmp_path: Path) -> None:
    done = mtpipe("run", "seeds", "-o", str(tmp_path / "out"), *tiny(tmp_path), env={"SOURCE_DATE_EPOCH": "99999999999999"})
    assert done.returncode == 2 and not (tmp_path / "out").exists()
    assert done.stderr.decode() == "mtpipe: error: SOURCE_DATE_EPOCH='99999999999999' is not a date mtpipe can write (whole seconds since 1970, before the year 10000); set it to e.g. $(date +%s) or unset it\n"


@pytest.mark.slow
def test_report_without_a_run_is_one_sentence(tmp_path: Path) -> None:
    done = mtpipe("report", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.decode() == f"mtpipe: error: {tmp_path} holds no summary.json; run mtpipe run -o {tmp_path} first\n"


@pytest.mark.slow
def test_translate_prints_same_layout(tmp_path: Path) -> None:
    done = mtpipe("translate", *tiny(tmp_path), stdin="Bonjour.\r\n\r\nMerci.".encode())
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().split("\r\n")
    assert len(lines) == 3 and lines[0] and lines[1] == "" and lines[2]


@pytest.mark.slow
@pytest.mark.parametrize("args", [["--help"], ["--version"], ["run", "--help"], ["report", "/nonexistent"]])
def test_help_does_not_import_torch(args: list[str]) -> None:
    code = f"import sys\nfrom pipeline.cli import main\ntry:\n    main({args!r})\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules, 'transformers' in sys.modules, 'ray' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "False False False"


@pytest.mark.slow
def test_the_local_engine_does_not_import_ray(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Le chat dort.\n", encoding="utf-8")
    args = ["run", str(tmp_path / "a.txt"), "-o", str(tmp_path / "out"), *tiny(tmp_path), "--quiet"]
    code = f"import sys\nfrom pipeline.cli import main\nassert main({args!r}) == 0\nprint('ray' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.stdout.strip().splitlines()[-1] == "False", done.stderr


@pytest.mark.slow
def test_unwritable_output_is_refused_before_work(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = mtpipe("run", "seeds", "-o", str(blocker / "out"), *tiny(tmp_path))
    assert done.returncode == 2 and "cannot write to the output folder" in done.stderr.decode()


@pytest.mark.slow
def test_progress_moves_after_every_batch_with_the_article_name(tmp_path: Path) -> None:
    """Under a terminal the bar is redrawn after each batch: 10 articles of 5 two-word
    sentences, 3 echo tokens each, under a 9-token budget: 17 batches of at most 3."""
    import fcntl
    import pty
    import struct
    import termios

    from pipeline.translate import length_batches

    (tmp_path / "in").mkdir()
    for a in range(10):
        (tmp_path / "in" / f"a{a}.txt").write_text("\n".join(f"Mot{a}x{s} fin." for s in range(5)) + "\n", encoding="utf-8")
    batches = len(length_batches([3] * 50, 9))
    parent, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))  # a new pty is 0 columns wide
    code = "import sys; sys.path.insert(0, 'tests'); import conftest; conftest.register_echo(); from pipeline.cli import main; sys.exit(main(sys.argv[1:]))"
    args = ["run", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--backend", "echo", "--model", str(TINY_MODEL), "--no-cache", "--batch-tokens", "9"]
    proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=child)
    os.close(child)
    screen = b""
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    assert proc.wait(timeout=60) == 0
    states = re.findall(r"(\d+)/50 \[[^\]]*\]?[^\r\n]*?(a\d\.txt)", screen.decode(errors="replace"))
    counts = [int(n) for n, _ in states]
    assert counts == sorted(counts) and counts[-1] == 50
    assert len(set(counts) - {0}) >= batches == 17


# The terminal examples of the README: what `mtpipe run` prints, exactly (timings as 0.0 s).
RUN_EXAMPLES = [
    (
        {"in/a.txt": "Le chat dort.\n", "in/code.md": "```\nx = 1\n```\n", "in/photo.txt": "\x89PNG\x00"},
        [],
        1,
        "2 translated (1 with nothing to translate, copied), 0 unchanged, 1 failed; 1 sentence (0 from memory) in 0.0 s; see out/summary.json\n"
        "mtpipe: failed: in/photo.txt: it contains NUL bytes, so it is binary, not a text article\n",
    ),
    (
        {"in/a.txt": "Le chat dort. Il pleut.\n", "in/b.txt": "Bonjour.\n", "in/notes.pdf": "%PDF", "ref/a.txt": "LE CHAT DORT. IL PLEUT.\n", "ref/b.txt": "HELLO.\n"},
        ["--ref", "ref"],
        0,
        "2 translated, 0 unchanged, 0 failed, 1 unsupported: .pdf; 3 sentences (0 from memory) in 0.0 s; see out/summary.json\n"
        "  chrF2    BLEU  article (worst first)\n"
        "    5.2     0.0  b.txt\n"
        "  100.0   100.0  a.txt\n"
        "   83.1    93.4  corpus of 2 articles\n",
    ),
    (
        {"in/a.txt": "Le chat dort.\n", "ref/other.txt": "THE CAT.\n"},
        ["--ref", "ref"],
        0,
        "1 translated, 0 unchanged, 0 failed; 1 sentence (0 from memory) in 0.0 s; see out/summary.json\n"
        "no article was scored: ref holds no readable reference for them (IN/a/b.txt is scored against ref/a/b.txt)\n",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("files, args, code, expected", RUN_EXAMPLES)
def test_run_prints_the_summary_then_failures_then_scores(tmp_path: Path, files: dict[str, str], args: list[str], code: int, expected: str) -> None:
    write_tree(tmp_path, files)
    done = in_folder(tmp_path, "run", "in", "-o", "out", *args, *ECHO)
    assert done.returncode == code and terminal(done) == expected


@pytest.mark.slow
def test_the_score_table_shows_the_ten_worst_articles(tmp_path: Path) -> None:
    words = ["Le", "chat", "dort", "ici", "ce", "soir", "sous", "la", "table", "bleue", "du", "salon"]
    write_tree(tmp_path, {f"in/a{k:02d}.txt": " ".join(words) + ".\n" for k in range(12)})
    write_tree(tmp_path, {f"ref/a{k:02d}.txt": " ".join(w.upper() if i < k else w for i, w in enumerate(words)) + ".\n" for k in range(12)})
    done = in_folder(tmp_path, "run", "in", "-o", "out", "--ref", "ref", *ECHO)
    lines = terminal(done).splitlines()
    assert done.returncode == 0 and lines[1] == "  chrF2    BLEU  article (the 10 worst of 12)"
    assert [line.split()[-1] for line in lines[2:12]] == [f"a{k:02d}.txt" for k in range(10)] and lines[12].endswith("  corpus of 12 articles")
    assert len(lines) == 13


@pytest.mark.slow
def test_translate_at_a_terminal_says_it_waits_for_text(tmp_path: Path) -> None:
    import pty

    parent, child = pty.openpty()
    code = f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]; import conftest; conftest.register_echo(); from pipeline.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, "translate", *ECHO], cwd=tmp_path, stdin=child, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(child)
    os.write(parent, b"Le chat dort.\n\x04")
    stdout, stderr = proc.communicate(timeout=120)
    os.close(parent)
    assert proc.returncode == 0 and stdout.decode() == "LE CHAT DORT.\n"
    assert stderr.decode() == "mtpipe: waiting for French text on standard input (end with Ctrl-D on an empty line)\n"


# `python -m pipeline.cli` as if ctranslate2 were not installed.
WITHOUT_CT2 = "import runpy, sys; sys.modules['ctranslate2'] = None; runpy.run_module('pipeline.cli', run_name='__main__', alter_sys=True)"


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, stdin",
    [
        (["models", "convert", "models/tiny-fr-en"], None),
        (["translate", "--backend", "ctranslate2", "--model", "models/tiny-fr-en", "--no-cache"], b"Le chat dort.\n"),
        (["run", "seeds", "-o", "{out}", "--backend", "ctranslate2", "--model", "models/tiny-fr-en", "--no-cache", "--quiet"], None),
    ],
    ids=["convert", "translate", "run"],
)
def test_without_ctranslate2_every_command_gives_the_one_install_hint(tmp_path: Path, args: list[str], stdin: bytes | None) -> None:
    from pipeline.translate import NEEDS_CT2

    command = [sys.executable, "-c", WITHOUT_CT2, *(a.format(out=tmp_path / "out") for a in args)]
    done = subprocess.run(command, cwd=ROOT, input=stdin, capture_output=True, env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)}, timeout=300)
    assert (done.returncode, done.stderr.decode()) == (2, f"mtpipe: error: {NEEDS_CT2}\n")
    assert "reinstall mtpipe" in NEEDS_CT2


@pytest.mark.slow
def test_the_main_command_runs_the_fast_engine_converting_once_else_says_why_not(tmp_path: Path) -> None:
    """No backend flag: CTranslate2, the model converted once with a line saying so;
    without CTranslate2, transformers, with one line saying why."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    run = ["run", "seeds", "--model", "models/tiny-fr-en", "--no-cache", "-o"]
    first, again = (subprocess.run([sys.executable, "-m", "pipeline.cli", *run, tmp_path / out], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300) for out in ("a", "b"))
    assert (first.returncode, again.returncode) == (0, 0), first.stderr
    [said] = [line for line in first.stderr.splitlines() if "fast engine" in line]
    assert re.fullmatch(r"mtpipe: preparing the fast engine for models/tiny-fr-en, once: ~\d+ s", said)
    assert "fast engine" not in again.stderr
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["backend"] == "ctranslate2"
    without = subprocess.run([sys.executable, "-c", WITHOUT_CT2, *run, str(tmp_path / "c")], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert without.returncode == 0, without.stderr
    assert [line for line in without.stderr.splitlines() if "warning" in line] == [
        "mtpipe: warning: translating with transformers, several times slower than the fast engine (CTranslate2): CTranslate2 is not installed here (pip install ctranslate2, or reinstall mtpipe)"
    ]
    assert json.loads((tmp_path / "c" / "summary.json").read_text())["backend"] == "transformers"


def test_models_list_loads_no_model_library(tmp_path: Path) -> None:
    code = "import sys\nfrom pipeline.cli import main\nassert main(['models', 'list']) == 0\nprint('torch' in sys.modules, 'transformers' in sys.modules, 'ctranslate2' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ, "XDG_CACHE_HOME": str(tmp_path), "HF_HOME": str(tmp_path / "hf")})
    assert done.stdout.strip().splitlines()[-1] == "False False False", done.stderr


@pytest.mark.slow
def test_models_list_shows_the_local_folders_commands_loaded_not_those_a_dry_run_named(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "HF_HOME": str(tmp_path / "hf")}
    copy = tmp_path / "copy"
    shutil.copytree(TINY_MODEL, copy)
    assert mtpipe("run", "seeds", "-o", str(tmp_path / "out"), "--model", str(copy), "--dry-run", env=env).returncode == 0
    assert str(copy) not in mtpipe("models", "list", env=env).stdout.decode()
    assert mtpipe("translate", "--model", str(TINY_MODEL), "--no-cache", env=env, stdin="Le chat dort.".encode()).returncode == 0
    listed = mtpipe("models", "list", env=env).stdout.decode()
    assert str(TINY_MODEL.resolve()) in listed and str(copy) not in listed


def test_the_readme_shows_the_terminal_examples_as_the_tests_check_them() -> None:
    """Each documented terminal example is the text a test checks, word for word."""
    from test_dry_run import DRY_RUN_EXAMPLE

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = "\n".join(line[4:] for line in readme.splitlines() if line.startswith("    "))
    for _, _, _, expected in RUN_EXAMPLES[:2]:
        assert expected in shown + "\n"
    assert DRY_RUN_EXAMPLE in shown + "\n"


def test_every_flag_of_the_help_is_in_the_readme() -> None:
    import argparse

    from pipeline.cli import build_parser

    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    def flags(parser: argparse.ArgumentParser) -> set[str]:
        found = {s for a in parser._actions for s in a.option_strings if s.startswith("--") and s != "--help"}
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    found |= flags(sub)
        return found

    missing = sorted(f for f in flags(build_parser()) if f not in readme)
    assert not missing, missing


def test_sigterm_turned_into_ctrl_c_by_a_library_still_exits_143(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """Ray catches the KeyboardInterrupt the SIGTERM handler raises and raises a plain one:
    the exit is still "terminated" (143), not "interrupted" (130); the next call starts
    afresh; and only the program itself (no argv) then ignores signals, so that a second
    one while exiting is no traceback, while a caller of main() keeps its handlers."""
    import signal

    from pipeline.cli import command as cli

    def terminated(args: object) -> int:
        try:
            cli._terminate(signal.SIGTERM, None)
        except KeyboardInterrupt:
            raise KeyboardInterrupt from None  # what Ray's ray.get does

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    handler = {"run": terminated}
    monkeypatch.setattr(parser, "parse_args", lambda argv: type("Args", (), {"handler": staticmethod(handler["run"])})())
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        assert cli.main([]) == cli.EXIT_TERMINATED and signal.getsignal(signal.SIGINT) == previous[0]
        handler["run"] = interrupted
        assert cli.main([]) == cli.EXIT_INTERRUPTED
        assert cli.main() == cli.EXIT_INTERRUPTED and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    assert capsys.readouterr().err == (
        "mtpipe: terminated; run the same command again to finish the rest\n" + "mtpipe: interrupted; run the same command again to finish the rest\n" * 2
    )


# Issue 29's first round of hostile inputs and newcomer traps, each once through the command.

CLOSED_STDIN = ["bash", "-c", 'exec "$@" <&-', "_"]


@pytest.mark.parametrize(
    "args, closed, code, message",
    [
        (["translate", "-", *ECHO], True, 2, "mtpipe: error: standard input is closed, so mtpipe cannot read French text from it"),
        (["run", "--files-from", "-", "-o", "out", *ECHO], True, 2, "mtpipe: error: standard input is closed, so mtpipe cannot read paths, one a line from it"),
        (["run", "--files-from", "/dev/zero", "-o", "out", *ECHO], False, 2, "mtpipe: error: /dev/zero holds more than 16 MB, the most mtpipe reads there"),
        (["evaluate", "--ref", "in/a.txt", "--hyp", "/dev/zero"], False, 2, "mtpipe: error: /dev/zero holds more than 200 MB, the most mtpipe reads there"),
        (["run", "in", "-o", "out", "--include", "*.pdf", *ECHO], False, 1, "mtpipe: nothing to translate: every path found was ignored or unsupported"),
        (["run", "in", "-o", "out", "--include", "*.pdf", "--dry-run", *ECHO], False, 1, "mtpipe: nothing to translate: every path found was ignored or unsupported"),
    ],
)
def test_closed_or_endless_inputs_and_empty_selections_are_one_sentence(tmp_path: Path, args: list[str], closed: bool, code: int, message: str) -> None:
    write_tree(tmp_path / "in", {"a.txt": "Un chat dort.\n", "sub/b.md": "Il pleut.\n"})
    done = in_folder(tmp_path, *args, prefix=CLOSED_STDIN if closed else ())
    stderr = done.stderr.decode()
    assert done.returncode == code and message in stderr and "Traceback" not in stderr, stderr


def test_a_pattern_without_a_slash_selects_at_any_depth(tmp_path: Path) -> None:
    write_tree(tmp_path / "in", {"a.txt": "Un chat dort.\n", "sub/b.md": "Il pleut.\n", "sub/deep/c.md": "Il neige.\n"})
    done = in_folder(tmp_path, "run", "in", "-o", "out", "--include", "*.md", "--dry-run", *ECHO)
    assert done.returncode == 0, done.stderr
    assert "translate   sub/b.md" in done.stdout.decode() and "translate   sub/deep/c.md" in done.stdout.decode()
    assert done.stdout.decode().splitlines()[-1].startswith("2 to translate")


def test_a_summary_nested_too_deep_is_one_sentence(tmp_path: Path) -> None:
    write_tree(tmp_path / "in", {"a.txt": "Un chat dort.\n"})
    assert in_folder(tmp_path, "run", "in", "-o", "out", *ECHO).returncode == 0
    (tmp_path / "out" / "summary.json").write_text('{"a":' * 100_000 + "1" + "}" * 100_000, encoding="utf-8")
    report = in_folder(tmp_path, "report", "out")
    assert report.returncode == 2 and "out/summary.json is not a summary mtpipe wrote (it nests too deep to be one mtpipe wrote)" in report.stderr.decode()
    again = in_folder(tmp_path, "run", "in", "-o", "out", *ECHO)  # an unreadable earlier summary: translated again
    assert again.returncode == 0 and "Traceback" not in again.stderr.decode()
    assert json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))["totals"]["ok"] == 1


def test_an_undefined_html_charset_is_read_as_the_bytes_say(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.html").write_bytes('<html><head><meta charset="undefined"></head><body><p>Le café est chaud.</p></body></html>'.encode())
    done = in_folder(tmp_path, "run", "in", "-o", "out", *ECHO)
    assert done.returncode == 0, done.stderr
    assert "LE CAFÉ EST CHAUD." in (tmp_path / "out" / "a.en.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "inputs, label",
    [([], ""), (["a.txt"], "a.txt"), (["a.txt", "b.txt"], "a.txt and 1 other article"), (["a.txt", "b.txt", "c/d.md"], "a.txt and 2 other articles")],
)
def test_the_bar_names_the_articles_being_translated(inputs: list[str], label: str) -> None:
    from pipeline.run.drive import in_progress

    assert in_progress(inputs) == label


def test_the_bar_shows_a_time_left_only_once_it_means_something() -> None:
    import io

    from pipeline.cli.common import ETA_SHARE, progress_bar

    screen = io.StringIO()
    bar = progress_bar(True)(total=1000, file=screen)
    bar.update(int(ETA_SHARE * 1000) - 1)
    bar.refresh()
    early = screen.getvalue().split("\r")[-1]
    bar.update(1)
    bar.refresh()
    later = screen.getvalue().split("\r")[-1]
    bar.close()
    assert "time left after 10%" in early and "<" not in early  # no h:mm:ss left after a first batch
    assert "<" in later and "time left after" not in later


def _word_file(path: Path, text: str) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    document.save(str(path))


BIG = "Le chat dort. " * 110_000  # 1.54 MB


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, write, line",
    [
        ("big.txt", lambda p: p.write_text(BIG, encoding="utf-8"), "big.txt: it is 1.5 MB, more than the 1 MB mtpipe translates as one article; split it"),
        ("big.docx", lambda p: _word_file(p, BIG), "big.docx: its text is 1.5 MB, more than the 1 MB mtpipe translates as one article; split it"),
    ],
)
def test_an_article_over_the_size_limit_is_refused_and_the_others_translated(tmp_path: Path, name: str, write, line: str) -> None:
    write_tree(tmp_path / "in", {"a.txt": "Un chat dort.\n"})
    write(tmp_path / "in" / name)
    assert (tmp_path / "in" / name).stat().st_size < 1_000_000 or name.endswith(".txt")
    for dry in ([], ["--dry-run"]):
        done = in_folder(tmp_path, "run", "in", "-o", "out", "--max-article-mb", "1", *dry, *ECHO)
        stderr, stdout = done.stderr.decode(), done.stdout.decode()
        assert done.returncode == 1 and "Traceback" not in stderr, stderr
        assert line in (stdout if dry else stderr) and "raise the limit with --max-article-mb" in (stdout if dry else stderr)
    assert (tmp_path / "out" / "a.en.txt").read_text(encoding="utf-8") == "UN CHAT DORT.\n"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert {a["input"]: a["status"] for a in summary["articles"]} == {"a.txt": "ok", name: "error"}
    raised = in_folder(tmp_path, "run", "in", "-o", "out2", "--max-article-mb", "2", "--dry-run", *ECHO)
    assert raised.returncode == 0 and f"translate   {name} (110000 sentences)" in raised.stdout.decode()


@pytest.mark.slow
@pytest.mark.parametrize("size, code", [("1", 2), ("0", 2), ("2", 0)])
def test_translate_bounds_its_input_by_the_article_limit(tmp_path: Path, size: str, code: int) -> None:
    (tmp_path / "big.txt").write_text(BIG, encoding="utf-8")
    done = in_folder(tmp_path, "translate", "big.txt", "--max-article-mb", size, *ECHO)
    stderr = done.stderr.decode()
    assert done.returncode == code and "Traceback" not in stderr, stderr
    if size == "1":
        assert "mtpipe: error: big.txt holds more than 1 MB, the most mtpipe reads there: split it, or raise the limit with --max-article-mb" in stderr
    if size == "0":
        assert "mtpipe: error: --max-article-mb must be a number of megabytes above 0" in stderr


def test_a_summary_swapped_for_a_link_to_an_endless_file_is_one_sentence(tmp_path: Path) -> None:
    write_tree(tmp_path / "in", {"a.txt": "Un chat dort.\n"})
    assert in_folder(tmp_path, "run", "in", "-o", "out", *ECHO).returncode == 0
    (tmp_path / "out" / "summary.json").unlink()
    (tmp_path / "out" / "summary.json").symlink_to("/dev/zero")
    report = in_folder(tmp_path, "report", "out")
    assert report.returncode == 2 and report.stderr.decode().startswith("mtpipe: error: out holds no summary.json; run mtpipe run -o out first\n"), report.stderr
    again = in_folder(tmp_path, "run", "in", "-o", "out", *ECHO)  # read as no earlier summary: translated again, the link replaced
    assert again.returncode == 0 and "Traceback" not in again.stderr.decode()
    assert not (tmp_path / "out" / "summary.json").is_symlink()
