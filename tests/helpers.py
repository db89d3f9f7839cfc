"""Helpers the test modules share: running the command in a folder, the adversarial
folder, a Hugging Face cache entry, the fixture check pairs, whether file permissions
bind here."""

from __future__ import annotations

import csv
import gc
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from conftest import ROOT, TINY_MODEL


def tiny(tmp_path: Path) -> list[str]:
    return ["--model", str(TINY_MODEL), "--cache", str(tmp_path / "tm.sqlite3")]


ECHO = ["--backend", "echo", "--model", str(TINY_MODEL), "--no-cache"]


def in_folder(cwd: Path, *args: str, stdin: bytes | None = None, prefix: Sequence[str] = ()) -> subprocess.CompletedProcess:
    """`mtpipe ARGS` run from `cwd` (so that paths print as a user types them), with the
    echo backend of conftest registered; stderr ends with whether torch or
    transformers was imported (`loaded: False False`)."""
    code = (
        f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]; import conftest; conftest.register_echo(); from pipeline.cli import main; code = main(sys.argv[1:]); "
        "print('loaded:', 'torch' in sys.modules, 'transformers' in sys.modules, file=sys.stderr); sys.exit(code)"
    )
    return subprocess.run([*prefix, sys.executable, "-c", code, *args], cwd=cwd, input=stdin, capture_output=True, timeout=300, env={**os.environ, "SOURCE_DATE_EPOCH": "1764000000"})


def terminal(done: subprocess.CompletedProcess) -> str:
    """What a command printed on stderr, its timing as 0.0 s and without the loaded: line."""
    return re.sub(r" in \d+\.\d s;", " in 0.0 s;", done.stderr.decode().removesuffix(done.stderr.decode().splitlines()[-1] + "\n"))


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


def cache_repo(cache: Path, repo: str, config: dict, revisions: int = 1, kind: str = "models") -> None:
    """A repository as huggingface_hub caches it: config.json as a blob, linked from
    each revision's snapshot, main pointing at the last."""
    folder = cache / f"{kind}--{repo.replace('/', '--')}"
    data = json.dumps(config).encode()
    blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True)
    blob.write_bytes(data)
    for n in range(revisions):
        commit = hashlib.sha1(f"{repo}{n}".encode()).hexdigest()
        snapshot = folder / "snapshots" / commit
        snapshot.mkdir(parents=True)
        (snapshot / "config.json").symlink_to(os.path.relpath(blob, snapshot))
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)


MARIAN = {"model_type": "marian"}


def fixture_pairs() -> list[tuple[str, str]]:
    with (TINY_MODEL / "fixture_check.tsv").open(encoding="utf-8", newline="") as fh:
        return [(row["fr"], row["en"]) for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)]


LATIN1_NAME = b"b\xe9.txt"


SEPARATORS = "Première\u2028ligne du paragraphe. Deuxième\u2029phrase ici\u0085et fin."


def snapshot(root: Path) -> dict[str, str]:
    """Every regular file under root (links not followed) and its hash."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as fh:
                    found[os.path.relpath(path, root)] = hashlib.sha256(fh.read()).hexdigest()
    return found


def build_adversarial(root: Path) -> dict[str, str]:
    """An input folder, its references and an output folder holding the user's own
    files, mixing every hostile case; return the status each input path must get."""
    src, ref, out = root / "in", root / "ref", root / "out"
    for folder in (src / "sub" / "deep", ref, out / "sub", out / ".build.tmp"):
        folder.mkdir(parents=True)
    texts = {
        "good.txt": "Le chat dort. Il pleut.\n",
        "index.txt": "Bienvenue sur le site.\n",
        "sep.txt": SEPARATORS + "\n",
        "foreign.txt": "Une phrase.\n",
        "sub/deep/article.md": "# Titre\n\nTexte de l'article.\n",
        "n" * 243 + ".txt": "Nom long.\n",  # 247 bytes: every output name fits in 255
        "m" * 244 + ".txt": "Nom trop long.\n",  # 248: "….align.jsonl" would be 256
        ".hidden.txt": "Caché.\n",
        "notes.pdf": "%PDF-1.4\n",
    }
    for rel, text in texts.items():
        (src / rel).write_text(text, encoding="utf-8")
    with open(os.path.join(os.fsencode(src), LATIN1_NAME), "wb") as fh:
        fh.write("Nom en Latin-1.\n".encode())
    (src / "locked").mkdir()
    (src / "locked" / "a.txt").write_text("Secret.\n", encoding="utf-8")
    (src / "locked").chmod(0)
    (src / "listonly").mkdir()
    (src / "listonly" / "b.txt").write_text("Liste seulement.\n", encoding="utf-8")
    (src / "listonly").chmod(0o444)
    os.mkfifo(src / "fifo.txt")
    (root / "outside.txt").write_text("Dehors.", encoding="utf-8")
    (src / "link.txt").symlink_to(root / "outside.txt")
    expected = {
        "good.txt": "ok", "index.txt": "ok", "sep.txt": "ok", "sub/deep/article.md": "ok", "n" * 243 + ".txt": "ok",
        "m" * 244 + ".txt": "error", "foreign.txt": "error", "b\\xe9.txt": "error", "locked/": "error",
        "listonly/b.txt": "error", "fifo.txt": "error", "link.txt": "error", "notes.pdf": "unsupported", ".hidden.txt": "ignored",
    }
    if os.geteuid() == 0:
        os.mknod(src / "zero.txt", stat.S_IFCHR | 0o666, os.makedev(1, 5))  # /dev/zero: reading it never ends
        expected["zero.txt"] = "error"
    os.mkfifo(ref / "good.txt")  # a reference that would block a reader forever
    (ref / "sep.txt").write_text(SEPARATORS.upper() + "\n", encoding="utf-8")
    # The user's own files in the output folder.
    (out / "sub" / ".draft.tmp").write_text("brouillon", encoding="utf-8")
    (out / ".build.tmp" / "keep").write_text("build", encoding="utf-8")
    (out / "foreign.en.txt").write_text("my own translation", encoding="utf-8")
    (out / ".mtpipe-0123abcd.tmp").write_bytes(b"left by a killed run")
    return expected


def fixed_date_env() -> dict[str, str]:
    """The environment for a command whose outputs are compared bytewise: pages carry
    the date they were written, fixed here as reproducible builds fix it. Built when
    called, so that it holds the session's own caches (conftest), not the user's."""
    return {**os.environ, "SOURCE_DATE_EPOCH": "1764000000"}


NO_OVERRIDE = ["--bounding-set", "-dac_override,-dac_read_search", "--inh-caps", "-dac_override,-dac_read_search"]


def permissions_apply() -> list[str]:
    """A command prefix under which file permissions bind: none for a normal user; for
    root (who reads and writes whatever the mode), setpriv without the two capabilities
    that bypass them."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None or subprocess.run([setpriv, *NO_OVERRIDE, "true"], capture_output=True).returncode != 0:
        pytest.skip("running as root without setpriv: file permissions cannot bind")
    return [setpriv, *NO_OVERRIDE]


def grows_linearly(work: Callable[[int], object], n: int, times: int = 4) -> bool:
    """Whether work(times·n) takes under twice `times` as long as work(n) (best of
    two and of three): linear work takes `times` as long, quadratic work `times`² as long.
    A ratio in one process, so the machine's speed does not matter; the garbage
    collector is off while timing, as its passes grow with what other tests left."""

    def best(size: int, tries: int) -> float:
        runs = []
        for _ in range(tries):
            started = time.perf_counter()
            work(size)
            runs.append(time.perf_counter() - started)
        return min(runs)

    gc.disable()
    try:
        return best(times * n, 2) < 2 * times * max(best(n, 3), 1e-3)
    finally:
        gc.enable()
