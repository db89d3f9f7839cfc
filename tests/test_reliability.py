"""Hostile input, interruptions and concurrency, driven through `mtpipe run` as a user
would, on the fixture model.

The contract for every input: either the article is fully translated (every source
sentence in the JSONL, in order, and the English has the same lines) or it is an
`error` entry with a one-line reason; the batch completes; no traceback.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import ROOT, SHARED, TINY_MODEL, PageParts, shared_file
from helpers import fixed_date_env, permissions_apply

from pipeline.ingest import parse
from pipeline.prose import is_prose
from pipeline.protect import Protector
from pipeline.run import output_paths
from pipeline.segment import segment

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa"
KNOWN = [
    "Réponds honnêtement.",
    "Bonne conversation.",
    "Elle l'incinéra, contrairement à ses dernières volontés.",
    "À quand remonte votre dernière crise d'asthme ?",
    "Voudrais-tu bien arrêter de m'appeler comme ça ?",
]
# Template fragments left open ({{ x }} would be protected text, never in a sentence): the pages must not run them.
MARKUP = "<script>alert(1)</script> Il a écrit <img src=x onerror=alert(2)> puis </td> et {{ x } {% if « \"guillemets\" » 'apostrophes' & esperluette."


def cli(*args: str, prefix: Sequence[str] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT, capture_output=True, timeout=600, env=fixed_date_env())


# What each hostile file holds, and whether it must be translated ("ok") or refused ("error").
CORPUS: dict[str, tuple[bytes, str]] = {
    "enc/utf8.txt": ("Le garçon était à l'école.\n".encode(), "ok"),
    "enc/utf8-bom.txt": (b"\xef\xbb\xbf" + "Où est-il allé ?\n".encode(), "ok"),
    "enc/utf16.txt": ("Il fait très beau aujourd'hui.\n".encode("utf-16"), "ok"),
    "enc/latin1.txt": ("Le garçon était à l'école près de la forêt.\n".encode("latin-1"), "ok"),
    "enc/cp1252.txt": ("L’œuvre coûte 5 € : « très cher ».\n".encode("cp1252"), "ok"),
    "enc/mixed-endings.txt": ("Un chat.\r\nDeux chats.\nTrois chats.\r\n".encode(), "ok"),
    "enc/nul.txt": (b"Bonjour\x00le monde.\n", "error"),
    "enc/broken-utf8.txt": ("Le café est très bon.\n".encode() * 10 + b"Un octet \xff perdu.\n", "ok"),
    "enc/image.txt": (PNG, "error"),
    "enc/empty.txt": (b"", "ok"),  # nothing to translate: copied
    "enc/blank.txt": (b"  \n\t\n\r\n", "ok"),
    "shape/huge-line.txt": ((" ".join(KNOWN) + " ").encode() * (5_000_000 // len(" ".join(KNOWN)) + 1), "ok"),
    "shape/one-word-lines.txt": ("\n".join(("chat", "chien", "maison", "Paris", "oui")[i % 5] for i in range(20_000)).encode(), "ok"),
    "shape/no-punctuation.txt": (" ".join(["le garçon mange une pomme rouge dans la grande maison"] * 300).encode(), "ok"),
    "shape/odd-lines.txt": (
        "12345\n3,14159\nhttps://example.org/a?b=c&d=e\nécrivez à jean.dupont@example.fr\n😀🎉\n"
        "The cat is on the mat. Le chat est sur le tapis.\nمرحبا بالعالم\nשלום עולם\n".encode(),
        "ok",
    ),
    "markup/injection.txt": (MARKUP.encode(), "ok"),
    "fs/nom avec espaces.txt": ("Bonne conversation.\n".encode(), "ok"),
    "fs/été à Noël.md": ("# Réponds honnêtement.\n".encode(), "ok"),
    "fs/emoji 😀.txt": ("Bonne conversation.\n".encode(), "ok"),
    "fs/a/b/c/profond.txt": ("Réponds honnêtement.\n".encode(), "ok"),
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("hostile")
    src = root / "in"
    for rel, (data, _) in CORPUS.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    (root / "outside.txt").write_text("Secret.", encoding="utf-8")
    (src / "fs" / "outside-link.txt").symlink_to(root / "outside.txt")
    (src / "fs" / "loop").symlink_to(src / "fs")
    out = src / "translated"  # the output folder inside the input must not be re-read
    # Greedy: this is about robustness, and beam search would only make it slower.
    done = cli("run", str(src), "-o", str(out), "--model", str(TINY_MODEL), "--cache", str(root / "tm.sqlite3"), "--beam", "1")
    return src, out, done


@pytest.mark.slow
def test_batch_completes_without_traceback(hostile) -> None:
    _, _, done = hostile
    assert done.returncode == 1  # some inputs are refused
    assert b"Traceback" not in done.stderr and b"Traceback" not in done.stdout


@pytest.mark.slow
def test_every_input_is_translated_or_refused_with_a_reason(hostile) -> None:
    _, out, _ = hostile
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    status = {a["input"]: a for a in summary["articles"]}
    expected = {rel: outcome for rel, (_, outcome) in CORPUS.items()}
    expected |= {"fs/outside-link.txt": "error", "fs/loop": "error", "translated/": "ignored"}
    assert {rel: a["status"] for rel, a in status.items()} == expected
    for a in status.values():
        if a["status"] == "error":
            assert a["error"] and "\n" not in a["error"] and a["input"] in a["error"]
    assert "symbolic link" in status["fs/loop"]["error"] and "symbolic link" in status["fs/outside-link.txt"]["error"]
    assert not any(rel.startswith("translated/") for rel in status if rel != "translated/")


# A Markdown block marker opening a line (read here as plain text): "## ", "- ", "> ", "1. ".
_MARKDOWN_MARKER = re.compile(r"^\s*(?:#{1,6}\s+|>\s*|[-*+]\s+|\d{1,9}[.)]\s+)+")


@pytest.mark.slow
@pytest.mark.parametrize("rel", [rel for rel, (_, outcome) in CORPUS.items() if outcome == "ok"])
def test_no_sentence_is_lost(hostile, rel: str) -> None:
    src, out, _ = hostile
    doc = parse((src / rel).read_bytes(), rel)
    files = output_paths(out, rel)
    records = [json.loads(line) for line in files.jsonl.read_text(encoding="utf-8").splitlines()]
    by_line: dict[int, list[str]] = {}
    for r in records:
        by_line.setdefault(r["line"], []).append(r["src"])
    english = files.text.read_bytes().decode("utf-8")
    for line in doc.lines:
        sentences = by_line.get(line.number, [])
        text = _MARKDOWN_MARKER.sub("", line.text, count=1) if rel.endswith(".md") else line.text  # "# " is copied, not translated
        if not is_prose(text):  # numbers, URLs, emoji: copied as they are
            assert not sentences and text in english, f"line {line.number}"
            continue
        spans = Protector().spans(text)  # URLs, e-mail addresses: kept out of the sentences, copied
        assert all(text[a:b] in english for a, b in spans)
        unprotected = "".join(text[b:a] for (_, b), (a, _) in zip([(0, 0), *spans], [*spans, (len(text), 0)]))
        assert "".join("".join(sentences).split()) == "".join(unprotected.split()), f"line {line.number}"
    assert all(r["mt"].strip() for r in records)
    assert english.count("\n") == doc.text.count("\n") and (english != "" or doc.text == "")


@pytest.mark.slow
def test_encodings_and_line_endings_survive(hostile) -> None:
    _, out, _ = hostile
    records = [json.loads(x) for x in (out / "enc" / "cp1252.align.jsonl").read_text(encoding="utf-8").splitlines()]
    assert records[0]["src"] == "L’œuvre coûte 5 € : « très cher »."
    assert (out / "enc" / "mixed-endings.en.txt").read_bytes().count(b"\r\n") == 2
    assert (out / "enc" / "mixed-endings.en.txt").read_bytes().count(b"\n") == 3
    broken = [json.loads(x)["src"] for x in (out / "enc" / "broken-utf8.align.jsonl").read_text(encoding="utf-8").splitlines()]
    assert broken[-1] == "Un octet \ufffd perdu."


@pytest.mark.slow
def test_markup_stays_text_in_jsonl(hostile) -> None:
    _, out, _ = hostile
    records = [json.loads(x) for x in (out / "markup" / "injection.align.jsonl").read_text(encoding="utf-8").splitlines()]
    assert " ".join(r["src"] for r in records) == MARKUP


@pytest.mark.slow
def test_markup_stays_text_in_page_tmx_and_tsv(hostile) -> None:
    _, out, _ = hostile
    files = output_paths(out, "markup/injection.txt")
    page = PageParts(files.html.read_text(encoding="utf-8"))
    assert page.tags.count("script") == 1 and "img" not in page.tags  # only the page's own script
    assert MARKUP in " ".join(t for t in page.text if t.strip())
    segs = [seg.text for seg in ET.parse(files.tmx).getroot().iter("seg")]
    assert " ".join(segs[::2]) == MARKUP
    table = list(csv.reader(io.StringIO(files.tsv.read_text(encoding="utf-8"), newline=""), delimiter="\t"))
    assert " ".join(row[1] for row in table[1:]) == MARKUP


@pytest.mark.slow
@pytest.mark.parametrize("rel", [rel for rel, (_, outcome) in CORPUS.items() if outcome == "ok"])
def test_every_export_parses_with_one_unit_per_sentence(hostile, rel: str) -> None:
    _, out, _ = hostile
    files = output_paths(out, rel)
    records = [json.loads(line) for line in files.jsonl.read_text(encoding="utf-8").splitlines()]
    tus = ET.parse(files.tmx).getroot().find("body").findall("tu")
    assert [tu.get("tuid") for tu in tus] == [r["id"] for r in records]
    table = list(csv.reader(io.StringIO(files.tsv.read_text(encoding="utf-8"), newline=""), delimiter="\t"))
    assert [row[1] for row in table[1:]] == [r["src"] for r in records]


# --- interruption, concurrency, model folders ----------------------------------------


def make_batch(folder: Path, n: int = 50) -> None:
    """n articles of four short sentences each, all different (none is served twice)."""
    lines = shared_file(SHARED / "data/testsets/fra-eng/tatoeba-test-v2021-08-07.fra").read_text(encoding="utf-8").splitlines()
    french = list(dict.fromkeys(x for x in lines if 3 <= len(x.split()) <= 8))
    folder.mkdir(parents=True)
    for i in range(n):
        first, *rest = french[i * 4 : i * 4 + 4]
        (folder / f"article-{i:02d}.txt").write_text(f"{first}\n\n" + " ".join(rest) + "\n", encoding="utf-8")


def outputs(out: Path) -> dict[str, bytes]:
    """Every article's files (not the run's summary.json and index.html, which say what each run did)."""
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name not in ("summary.json", "index.html") and not p.name.startswith(".")}


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    """The batch and its uninterrupted run's outputs, on the reference backend, whose
    output for a sentence does not depend on the batch it shares (CTranslate2's int8
    log-probabilities can differ in the fourth decimal with it: docs/ctranslate2.md)."""
    root = tmp_path_factory.mktemp("batch")
    make_batch(root / "in")
    done = cli("run", str(root / "in"), "-o", str(root / "whole"), "--model", str(TINY_MODEL), "--cache", str(root / "tm.sqlite3"), "--beam", "1", "--backend", "transformers")
    assert done.returncode == 0, done.stderr.decode()
    return root / "in", outputs(root / "whole")


def start(src: Path, out: Path, cache: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "run", str(src), "-o", str(out), "--model", str(TINY_MODEL), "--cache", str(cache), "--beam", "1", "--backend", "transformers"],
        cwd=ROOT,
        env=fixed_date_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for_articles(out: Path, count: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(out.glob("*.en.txt"))) >= count:
            return
        time.sleep(0.05)
    pytest.fail("the run did not get far enough to be interrupted")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_run_resumes_to_identical_outputs(batch, tmp_path: Path, sig: signal.Signals) -> None:
    src, whole = batch
    out = tmp_path / "out"
    proc = start(src, out, tmp_path / "tm.sqlite3")
    wait_for_articles(out, 3, proc)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == (130 if sig == signal.SIGINT else -signal.SIGKILL)
    assert b"Traceback" not in stderr
    partial = outputs(out)
    assert 0 < len(partial) < len(whole)
    assert all(whole[name] == data for name, data in partial.items())  # what exists is complete
    # Ctrl-C records what finished; SIGKILL leaves the last periodic summary.json, none
    # when the run was killed before its first (SUMMARY_SECONDS after the start).
    if sig == signal.SIGINT or (out / "summary.json").exists():
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        assert {a["status"] for a in summary["articles"]} <= {"ok", "pending"}
    if sig == signal.SIGINT:  # the folder opens on what finished, the rest listed as pending
        index = (out / "index.html").read_text(encoding="utf-8")
        finished = [a["input"] for a in summary["articles"] if a["status"] == "ok"]
        assert finished and all(f'<a href="{a.rsplit(".", 1)[0]}.review.html">{a}</a>' in index for a in finished)
        assert index.count(">pending</td>") == len(summary["articles"]) - len(finished)
    again = cli("run", str(src), "-o", str(out), "--model", str(TINY_MODEL), "--cache", str(tmp_path / "tm.sqlite3"), "--beam", "1", "--backend", "transformers")
    assert again.returncode == 0, again.stderr.decode()
    assert outputs(out) == whole
    assert not list(out.glob(".*.tmp"))


@pytest.mark.slow
def test_second_run_on_the_same_output_stops_clearly(batch, tmp_path: Path) -> None:
    src, _ = batch
    out = tmp_path / "out"
    first = start(src, out, tmp_path / "tm1.sqlite3")
    wait_for_articles(out, 1, first)
    first.send_signal(signal.SIGSTOP)  # paused while it holds the folder: it could otherwise finish before the second starts
    try:
        second = cli("run", str(src), "-o", str(out), "--model", str(TINY_MODEL), "--cache", str(tmp_path / "tm2.sqlite3"), "--beam", "1", "--backend", "transformers")
    finally:
        first.send_signal(signal.SIGCONT)
    first.communicate(timeout=300)
    assert second.returncode == 2
    assert second.stderr.decode().strip() == f"mtpipe: error: another mtpipe run is writing to {out}; wait for it to finish or choose another -o"
    assert first.returncode == 0


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.slow
@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda m: (m / "config.json").unlink(), "{m}/config.json"),
        (lambda m: (m / "config.json").write_text("{", encoding="utf-8"), "{m}/config.json is not valid JSON"),
        (lambda m: (m / "model.safetensors").write_bytes(b"\x00" * 64), "{m}/model.safetensors is not a safetensors file"),
        (lambda m: truncate(m / "model.safetensors"), "{m}/model.safetensors is truncated"),
        (lambda m: (m / "source.spm").write_bytes(b"garbage"), "{m}/source.spm is not a SentencePiece model"),
        (lambda m: (m / "target.spm").unlink(), "{m}/target.spm is missing"),
        (lambda m: (m / "vocab.json").write_text("[1, 2", encoding="utf-8"), "{m}/vocab.json is not valid JSON"),
    ],
)
def test_damaged_model_folder_is_one_sentence_naming_the_file(tmp_path: Path, damage, message: str, capsys: pytest.CaptureFixture) -> None:
    from pipeline.cli import (
        main,  # in this process: the command's own code, without starting Python again
    )

    model = tmp_path / "model"
    shutil.copytree(TINY_MODEL, model)
    damage(model)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("Bonne conversation.", encoding="utf-8")
    code = main(["run", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", str(model), "--no-cache", "--quiet"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message.format(m=model) in lines[0], lines


@pytest.mark.slow
def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    locked = tmp_path / "in" / "locked.txt"
    locked.write_text("Secret.", encoding="utf-8")
    locked.chmod(0)
    (tmp_path / "in" / "ok.txt").write_text("Bonne conversation.", encoding="utf-8")
    done = cli("run", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", str(TINY_MODEL), "--no-cache", prefix=permissions_apply())
    assert done.returncode == 1 and b"Traceback" not in done.stderr
    assert done.stderr.decode().splitlines()[1] == f"mtpipe: failed: {locked}: permission denied; make it readable"
    assert (tmp_path / "out" / "ok.en.txt").exists()


@pytest.mark.slow
def test_read_only_output_folder_is_refused_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("Bonne conversation.", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        done = cli("run", str(tmp_path / "in"), "-o", str(out), "--model", "no/such-model", "--no-cache", prefix=permissions_apply())
    finally:
        out.chmod(0o755)
    assert done.returncode == 2  # refused before the (missing) model is even looked up
    assert done.stderr.decode() == f"mtpipe: error: cannot write to the output folder {out} (Permission denied); choose another -o\n"
    assert list(out.iterdir()) == []


def memory_sources(path: Path) -> set[str]:
    """The sentences a translation memory holds, while another process may be writing it
    (none while it cannot be read)."""
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return {source for (source,) in db.execute("SELECT source FROM translations")}
    except sqlite3.Error:
        return set()


@pytest.mark.slow
def test_ctrl_c_inside_an_article_keeps_every_finished_batch(tmp_path: Path) -> None:
    """One 300-sentence article, many batches: Ctrl-C once some batches are done; the
    memory keeps them, and the re-run translates only the rest."""
    lines = shared_file(SHARED / "data/testsets/fra-eng/tatoeba-test-v2021-08-07.fra").read_text(encoding="utf-8").splitlines()
    french = list(dict.fromkeys(x for x in lines if 3 <= len(x.split()) <= 8))[:300]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "long.txt").write_text("\n".join(french) + "\n", encoding="utf-8")
    memory = tmp_path / "tm.sqlite3"
    args = ["run", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", str(TINY_MODEL), "--cache", str(memory), "--batch-tokens", "96"]
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT, env=fixed_date_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(memory_sources(memory)) < 20 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and b"Traceback" not in stderr
    sentences = [s.text for s in segment(parse((tmp_path / "in" / "long.txt").read_bytes(), "long.txt"))]
    kept = memory_sources(memory)
    assert 20 <= len(kept) < len(set(sentences)) and kept <= set(sentences)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert [a["status"] for a in summary["articles"]] == ["pending"]
    again = cli(*args)
    assert again.returncode == 0, again.stderr.decode()
    [article] = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))["articles"]
    assert article["status"] == "ok" and article["sentences"] == len(sentences)
    assert article["from_memory"] == sum(s in kept for s in sentences)  # only the rest was translated
    assert memory_sources(memory) == set(sentences)
