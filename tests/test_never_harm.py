"""mtpipe never harms the user's files, accounts for every input path and survives a
broken environment: the adversarial cases of real folders, through `mtpipe run` and
`mtpipe report` as a user runs them.

Most runs use the echo backend (tests/conftest.py) so that only the file handling is
under test; permission cases run under `permissions_apply()`, so that they bind for
root too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import ROOT, TINY_MODEL, EchoBackend
from helpers import (
    SEPARATORS,
    build_adversarial,
    fixed_date_env,
    permissions_apply,
    snapshot,
)

from pipeline.hub import ModelRef
from pipeline.outdir import MANIFEST
from pipeline.run import output_paths, run
from pipeline.run.drive import _SummaryWriter
from pipeline.translate import DecodeSettings, Translator

ECHO = ["--backend", "echo", "--model", str(TINY_MODEL), "--no-cache"]


def echo_cli(*args: str, prefix: Sequence[str] = (), timeout: float = 120) -> subprocess.CompletedProcess:
    """`mtpipe ARGS` with the echo backend registered (no model is loaded)."""
    code = "import sys; sys.path.insert(0, 'tests'); import conftest; conftest.register_echo(); from pipeline.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([*prefix, sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, timeout=timeout, env=fixed_date_env())


def summary_of(out: Path) -> dict:
    return json.loads((out / "summary.json").read_bytes().decode("utf-8"))


@pytest.fixture(scope="module")
def adversarial(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("adversarial")
    expected = build_adversarial(root)
    src, out = root / "in", root / "out"
    before_in, before_out = snapshot(src), snapshot(out)
    args = ("run", str(src), str(src), "-o", str(out), "--ref", str(root / "ref"), *ECHO)
    first = echo_cli(*args, prefix=permissions_apply())
    second = echo_cli(*args, prefix=permissions_apply())
    yield root, expected, before_in, before_out, first, second
    for folder in ("locked", "listonly"):
        (src / folder).chmod(0o755)


@pytest.mark.slow
def test_adversarial_folder_completes_with_every_path_accounted_for(adversarial) -> None:
    root, expected, *_, first, second = adversarial
    for done in (first, second):
        stderr = done.stderr.decode()
        assert done.returncode == 1 and "Traceback" not in stderr, stderr
        summary_line, *failures, header, sep, corpus = stderr.splitlines()
        assert " translated, " in summary_line and all(line.startswith("mtpipe: failed: ") for line in failures), stderr
        assert [header, sep, corpus] == ["  chrF2    BLEU  article (worst first)", "  100.0   100.0  sep.txt", "  100.0   100.0  corpus of 1 article"]
    summary = summary_of(root / "out")
    assert {a["input"]: a["status"] for a in summary["articles"]} == {
        rel: ("skipped" if status == "ok" else status) for rel, status in expected.items()
    }
    assert summary["totals"]["articles"] == len(expected)
    for article in summary["articles"]:
        if article["status"] != "skipped":
            assert article["error"] and "\n" not in article["error"]


@pytest.mark.parametrize(
    "rel, reason",
    [
        ("m" * 244 + ".txt", "would be 256 bytes, over the 255 the file system allows"),
        ("foreign.txt", "foreign.en.txt already exists and mtpipe did not write it"),
        ("b\\xe9.txt", "its name is not valid UTF-8"),
        ("locked/", "its contents cannot be listed (Permission denied)"),
        ("listonly/b.txt", "it cannot be examined (Permission denied)"),
        ("fifo.txt", "it is a named pipe (FIFO), not a regular file"),
        ("zero.txt", "it is a character device, not a regular file"),
        ("link.txt", "symbolic link"),
        ("notes.pdf", "a .pdf file; mtpipe reads .docx, .htm, .html, .markdown, .md and .txt articles"),
        (".hidden.txt", "hidden"),
    ],
)
def test_each_refusal_says_why(adversarial, rel: str, reason: str) -> None:
    root, expected, *_ = adversarial
    if rel not in expected:
        pytest.skip("a character device can only be made by root")
    [article] = [a for a in summary_of(root / "out")["articles"] if a["input"] == rel]
    assert reason in article["error"]


@pytest.mark.slow
def test_a_dry_run_after_the_runs_says_what_they_did_and_why(adversarial) -> None:
    root, *_ = adversarial
    before = snapshot(root / "out")
    done = echo_cli("run", str(root / "in"), str(root / "in"), "-o", str(root / "out"), "--ref", str(root / "ref"), *ECHO, "--dry-run", prefix=permissions_apply())
    assert done.returncode == 1 and snapshot(root / "out") == before
    fates = {"skipped": "unchanged"}
    said = [
        f"{fates.get(a['status'], a['status']):<12}{a['input']}" + (f": {a['error'].removeprefix(str(root / 'in' / a['input']) + ': ')}" if a["error"] else "")
        for a in summary_of(root / "out")["articles"]
    ]
    assert done.stdout.decode().splitlines()[:-1] == said


def test_user_files_are_byte_identical(adversarial) -> None:
    root, _, before_in, before_out, *_ = adversarial
    assert snapshot(root / "in") == before_in
    after = snapshot(root / "out")
    assert {k: after.get(k) for k in before_out if k != ".mtpipe-0123abcd.tmp"} == {k: v for k, v in before_out.items() if k != ".mtpipe-0123abcd.tmp"}
    assert ".mtpipe-0123abcd.tmp" not in after  # mtpipe's own leftover is cleaned
    assert not any(name.startswith("m" * 244) for name in after)  # no orphan of the refused long name
    assert not list((root / "out").rglob(".mtpipe.lock"))


def test_index_article_and_folder_index_do_not_collide(adversarial) -> None:
    out = adversarial[0] / "out"
    page = output_paths(out, "index.txt").html
    assert page.name == "index.review.html" and "BIENVENUE SUR LE SITE." in page.read_text(encoding="utf-8")
    assert 'href="index.review.html"' in (out / "index.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_line_separators_inside_sentences_survive_records_scores_and_report(adversarial) -> None:
    root = adversarial[0]
    out = root / "out"
    records = [json.loads(x) for x in output_paths(out, "sep.txt").jsonl.read_text(encoding="utf-8").split("\n")[:-1]]
    assert "".join(r["src"] for r in records).replace(" ", "") == SEPARATORS.replace(" ", "")
    [sep] = [a for a in summary_of(out)["articles"] if a["input"] == "sep.txt"]
    assert sep["scores"]["chrf"] == 100.0
    [good] = [a for a in summary_of(out)["articles"] if a["input"] == "good.txt"]
    assert "named pipe" in good["reference_error"]
    rebuilt = echo_cli("report", str(out), prefix=permissions_apply())
    assert b"Traceback" not in rebuilt.stderr
    assert {a["input"]: a["status"] for a in summary_of(out)["articles"]}["sep.txt"] == "skipped"


@pytest.mark.slow
def test_output_folder_equal_to_input_is_refused_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "article.txt").write_text("Le chat dort.", encoding="utf-8")
    (tmp_path / "in" / "article.html").write_text("<p>the user's page</p>", encoding="utf-8")
    before = snapshot(tmp_path / "in")
    done = echo_cli("run", str(tmp_path / "in"), "-o", str(tmp_path / "in"), *ECHO)
    assert done.returncode == 2
    assert done.stderr.decode() == f"mtpipe: error: the output folder {tmp_path / 'in'} is also an input folder; choose an output folder outside it (e.g. -o {tmp_path / 'in'}-en)\n"
    assert snapshot(tmp_path / "in") == before and sorted(p.name for p in (tmp_path / "in").iterdir()) == ["article.html", "article.txt"]


@pytest.mark.slow
def test_an_input_inside_the_output_never_reads_mtpipes_own_outputs(tmp_path: Path) -> None:
    out = tmp_path / "work"
    (out / "fr" / "fr").mkdir(parents=True)
    (out / "fr" / "fr" / "a.txt").write_text("Le chat dort.", encoding="utf-8")
    for _ in range(2):
        done = echo_cli("run", str(out / "fr"), "-o", str(out), *ECHO)
        assert done.returncode == 0, done.stderr.decode()
    statuses = {a["input"]: a["status"] for a in summary_of(out)["articles"]}
    assert statuses["fr/a.txt"] == "skipped" and statuses["a.en.txt"] == statuses["a.review.html"] == "ignored"
    assert not list(out.rglob("*.en.en.txt"))


@pytest.mark.slow
def test_report_never_writes_outside_the_output_folder(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("Le chat dort.", encoding="utf-8")
    out, victim = tmp_path / "out", tmp_path / "victim"
    assert echo_cli("run", str(tmp_path / "in"), "-o", str(out), *ECHO).returncode == 0
    victim.mkdir()
    shutil.copy(out / "a.align.jsonl", victim / "x.align.jsonl")
    shutil.copy(out / "a.align.jsonl", victim / "y.align.jsonl")
    (victim / "x.review.html").write_text("the victim's page", encoding="utf-8")
    summary = summary_of(out)
    summary["articles"] += [{"input": "../victim/x.txt", "status": "ok"}, {"input": str(victim / "y.txt"), "status": "ok"}]
    (out / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    before = snapshot(victim)
    done = echo_cli("report", str(out))
    assert done.returncode == 1 and b"Traceback" not in done.stderr
    assert snapshot(victim) == before and sorted(p.name for p in victim.iterdir()) == ["x.align.jsonl", "x.review.html", "y.align.jsonl"]
    errors = {a["input"]: a["error"] for a in summary_of(out)["articles"] if a["status"] == "error"}
    assert set(errors) == {"../victim/x.txt", str(victim / "y.txt")} and all("not a path inside the output folder" in e for e in errors.values())


@pytest.mark.slow
@pytest.mark.parametrize(
    "edit, status",
    [
        (lambda s, out: (out / "a.align.jsonl").write_text('[1, 2]\n"text"\n', encoding="utf-8"), "error"),
        (lambda s, out: [s.pop(k) for k in ("model", "totals")] and None, "ok"),
        (lambda s, out: s.update(settings="beam 4"), "ok"),
        (lambda s, out: [a.pop("sentences") for a in s["articles"]] and None, "ok"),
        (lambda s, out: s.update(articles="none"), None),
    ],
)
def test_report_on_hand_edited_outputs_is_one_sentence_or_an_error_entry(tmp_path: Path, edit, status: str | None) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("Le chat dort. Il pleut.", encoding="utf-8")
    out = tmp_path / "out"
    assert echo_cli("run", str(tmp_path / "in"), "-o", str(out), *ECHO).returncode == 0
    summary = summary_of(out)
    edit(summary, out)
    (out / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    done = echo_cli("report", str(out))
    stderr = done.stderr.decode()
    assert "Traceback" not in stderr
    if status is None:
        assert done.returncode == 2 and stderr.count("\n") == 1 and "is not a summary mtpipe wrote" in stderr
    else:
        assert done.returncode == (1 if status == "error" else 0), stderr
        assert [a["status"] for a in summary_of(out)["articles"]] == [status]


@pytest.mark.slow
def test_a_hand_edited_previous_summary_does_not_fail_the_next_run(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("Le chat dort.", encoding="utf-8")
    out = tmp_path / "out"
    assert echo_cli("run", str(tmp_path / "in"), "-o", str(out), *ECHO).returncode == 0
    summary = summary_of(out)
    summary["articles"][0]["sentences"] = "many"
    (out / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    done = echo_cli("run", str(tmp_path / "in"), "-o", str(out), *ECHO)
    assert done.returncode == 0, done.stderr.decode()
    assert summary_of(out)["articles"][0]["status"] == "ok"  # translated again, not trusted


@pytest.mark.slow
def test_an_output_folder_from_before_the_manifest_is_taken_over(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("Le chat dort.", encoding="utf-8")
    out = tmp_path / "out"
    assert echo_cli("run", str(tmp_path / "in"), "-o", str(out), *ECHO).returncode == 0
    (out / MANIFEST).unlink()  # as an mtpipe of before the manifest left it, with its page named a.html
    output_paths(out, "a.txt").html.rename(out / "a.html")
    done = echo_cli("run", str(tmp_path / "in"), "-o", str(out), *ECHO)
    assert done.returncode == 0, done.stderr.decode()
    assert summary_of(out)["articles"][0]["status"] == "ok"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["dangling link", "file"])
def test_an_unusable_output_path_is_one_sentence(tmp_path: Path, kind: str) -> None:
    out = tmp_path / "out"
    if kind == "file":
        out.write_text("x", encoding="utf-8")
    else:
        out.symlink_to(tmp_path / "nowhere")
    done = echo_cli("run", "seeds", "-o", str(out), *ECHO)
    expected = "is a symbolic link to" if kind == "dangling link" else "is a file, not a folder"
    assert done.returncode == 2 and done.stderr.decode().count("\n") == 1 and expected in done.stderr.decode()
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.slow
def test_a_run_that_fails_before_any_work_leaves_no_output_folder(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "seeds", "-o", str(tmp_path / "new" / "out"), "--no-cache"],
        cwd=ROOT, capture_output=True, timeout=120, env={**fixed_date_env(), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")},
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr.decode()
    assert not (tmp_path / "new").exists()


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="mounting a small tmpfs needs root")
def test_a_full_disk_is_one_sentence_per_article_and_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for i in range(30):
        (tmp_path / "in" / f"a{i:02d}.txt").write_text("Le chat dort dans la maison. " * 60, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(out)], capture_output=True).returncode != 0:
        pytest.skip("tmpfs cannot be mounted here")
    try:
        done = echo_cli("run", str(tmp_path / "in"), "-o", str(out), *ECHO)
        stderr = done.stderr.decode()
        assert done.returncode in (1, 2) and "Traceback" not in stderr
        assert all(line.startswith("mtpipe: ") or "translated" in line for line in stderr.splitlines())
        assert "No space left on device" in stderr
        if (out / "summary.json").exists():
            summary = summary_of(out)
            for article in summary["articles"]:
                complete = all(p.exists() for p in output_paths(out, article["input"]))
                assert (article["status"] == "ok") == complete, article
    finally:
        subprocess.run(["umount", str(out)], check=True)


@pytest.mark.slow
def test_summary_is_rewritten_a_bounded_number_of_times_not_after_every_article(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "in").mkdir()
    for i in range(300):
        (tmp_path / "in" / f"a{i:03d}.txt").write_text(f"Phrase numéro {i}.", encoding="utf-8")
    writes = []
    original = _SummaryWriter.write
    monkeypatch.setattr(_SummaryWriter, "write", lambda self: writes.append(time.monotonic()) or original(self))
    t0 = time.monotonic()
    summary = run([tmp_path / "in"], tmp_path / "out", Translator(ModelRef("echo", tmp_path, "r"), "echo", DecodeSettings(), None)).to_json()
    elapsed = time.monotonic() - t0
    assert summary["totals"]["ok"] == 300 and EchoBackend.loads
    assert len(writes) <= 1 + min(20, elapsed / 2.0)  # at most every 2 s and every 5% of the articles, then the end


@pytest.mark.slow
def test_sigterm_stops_like_ctrl_c(tmp_path: Path) -> None:
    from test_reliability import make_batch, outputs, start, wait_for_articles

    make_batch(tmp_path / "in", 30)
    out = tmp_path / "out"
    proc = start(tmp_path / "in", out, tmp_path / "tm.sqlite3")
    wait_for_articles(out, 2, proc)
    proc.terminate()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143 and stderr.decode().strip().splitlines()[-1] == "mtpipe: terminated; run the same command again to finish the rest"
    assert {a["status"] for a in summary_of(out)["articles"]} <= {"ok", "pending"}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", str(tmp_path / "in"), "-o", str(out), "--model", str(TINY_MODEL), "--cache", str(tmp_path / "tm.sqlite3"), "--beam", "1"],
        cwd=ROOT, capture_output=True, timeout=600, env=fixed_date_env(),
    )
    assert done.returncode == 0 and len(outputs(out)) == 30 * 5


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["garbage", "damaged pages"])
def test_a_broken_translation_memory_is_a_warning_and_the_run_goes_on(tmp_path: Path, damage: str) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("Le chat dort. Il pleut.", encoding="utf-8")
    memory = tmp_path / "tm.sqlite3"
    echo = ["--backend", "echo", "--model", str(TINY_MODEL), "--cache", str(memory)]
    if damage == "garbage":
        memory.write_bytes(os.urandom(8192))
    else:
        assert echo_cli("run", str(tmp_path / "in"), "-o", str(tmp_path / "first"), *echo).returncode == 0
        data = bytearray(memory.read_bytes())
        data[4096:] = os.urandom(len(data) - 4096)  # every page after the schema
        memory.write_bytes(bytes(data))
    done = echo_cli("run", str(tmp_path / "in"), "-o", str(tmp_path / "out"), *echo)
    stderr = done.stderr.decode()
    assert done.returncode == 0 and "Traceback" not in stderr, stderr
    [warning] = [line for line in stderr.splitlines() if line.startswith("mtpipe: warning:")]
    assert str(memory) in warning and "--cache PATH" in warning and "--no-cache" in warning
    assert summary_of(tmp_path / "out")["warnings"] == [warning.removeprefix("mtpipe: warning: ")]
    assert (tmp_path / "out" / "a.en.txt").read_text(encoding="utf-8") == "LE CHAT DORT. IL PLEUT."


@pytest.mark.slow
def test_an_unreadable_input_folder_is_an_error_not_zero_translated(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_text("Le chat dort.", encoding="utf-8")
    src.chmod(0)
    try:
        done = echo_cli("run", str(src), "-o", str(tmp_path / "out"), *ECHO, prefix=permissions_apply())
    finally:
        src.chmod(0o755)
    assert done.returncode == 1 and "Traceback" not in done.stderr.decode()
    assert done.stderr.decode().splitlines()[1] == f"mtpipe: failed: {src}: its contents cannot be listed (Permission denied); make it readable (chmod u+rx)"
    assert [(a["input"], a["status"]) for a in summary_of(tmp_path / "out")["articles"]] == [("./", "error")]


@pytest.mark.slow
def test_translate_with_a_broken_memory_warns_and_prints_the_english(tmp_path: Path) -> None:
    memory = tmp_path / "tm.sqlite3"
    memory.write_bytes(os.urandom(8192))
    done = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, 'tests'); import conftest; conftest.register_echo(); from pipeline.cli import main; sys.exit(main(sys.argv[1:]))",
         "translate", "--backend", "echo", "--model", str(TINY_MODEL), "--cache", str(memory)],
        cwd=ROOT, input="Le chat dort.\n".encode(), capture_output=True, timeout=60, env=fixed_date_env(),
    )
    assert done.returncode == 0 and done.stdout.decode() == "LE CHAT DORT.\n"
    [line] = done.stderr.decode().splitlines()
    assert line.startswith(f"mtpipe: warning: the translation memory {memory} is damaged")
