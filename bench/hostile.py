"""Hostile inputs of the security round and of reliability round 2, each as a user
would meet it: one `mtpipe` command in a fresh process, timed, with its peak RSS (the
process and what it waited for) and its exit code checked against the documented one.

Bar: no traceback, the documented exit code, within 60 s and 1 GB of peak RSS; no
file of the user's changed (every file the case wrote before the command, outside
the output folders, hashed before and after); and, for a run, every input file
accounted for in summary.json. The big `evaluate` cases write their files first
(1M lines of FLORES French/English, ~150 MB each, and one 5 MB line). The Ray cases
run only where the ray extra is installed (each starts, and stops, its own cluster).

    python bench/hostile.py [--only NAME ...] [--lines 1000000]

Prints a Markdown table and exits 1 when a case misses the bar.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import http.server
import importlib.util
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "models" / "tiny-fr-en"
FLORES = ROOT.parent / "shared" / "data"
LIMIT_S, LIMIT_MB = 60.0, 1024.0


@dataclass
class Case:
    name: str
    code: int  # the documented exit code
    prepare: Callable[[Path], list[str]]  # writes what the case needs; mtpipe's arguments
    signals: tuple[float, ...] = ()  # SIGINTs, seconds after the start
    env: tuple[tuple[str, str], ...] = ()  # environment variables set for the command
    stdin_closed: bool = False  # started with standard input closed (`<&-`)
    needs_ray: bool = False  # run only where the ray extra is installed


def _corrections(units: str) -> str:
    return '{"mtpipe": "corrections", "version": 1, "article": "b.txt", "model": "m", "revision": "r", "units": [' + units + "]}"


UNIT = '{"ids": ["s1"], "src": "Le chat dort.", "mt": "The cat sleeps.", "edit": %s}'


def _import(bad: str) -> Callable[[Path], list[str]]:
    """`memory import BAD GOOD`: BAD (or its unit) is refused in one line, GOOD still
    imported. A unit refused is listed and the exit code stays 0; a file refused whole is 1."""

    def prepare(tmp: Path) -> list[str]:
        (tmp / "bad.corrections.json").write_text(bad, encoding="utf-8")
        (tmp / "good.corrections.json").write_text(_corrections(UNIT % '"The cat is asleep."'), encoding="utf-8")
        return ["memory", "import", str(tmp / "bad.corrections.json"), str(tmp / "good.corrections.json"), "--cache", str(tmp / "m.sqlite3")]

    return prepare


def _fifo(tmp: Path) -> list[str]:
    os.mkfifo(tmp / "fifo.tmx")
    return ["memory", "import", str(tmp / "fifo.tmx"), "--cache", str(tmp / "m.sqlite3")]


def _lines(name: str) -> list[str]:
    path = FLORES / name
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else ["Le chat dort sur le tapis rouge."] * 100


def _evaluate_big(lines: int) -> Callable[[Path], list[str]]:
    def prepare(tmp: Path) -> list[str]:
        hyp, ref = _lines("flores200.devtest.fr-en.opus-mt.en"), _lines("flores200.devtest.en")
        with open(tmp / "hyp.txt", "w", encoding="utf-8") as h, open(tmp / "ref.txt", "w", encoding="utf-8") as r:
            for i in range(lines):
                h.write(hyp[i % len(hyp)] + "\n")
                r.write(ref[i % len(ref)] + "\n")
        return ["evaluate", "--hyp", str(tmp / "hyp.txt"), "--ref", str(tmp / "ref.txt")]

    return prepare


def _evaluate_long_line(tmp: Path) -> list[str]:
    (tmp / "hyp.txt").write_text("the cat " * 655_360 + "\n", encoding="utf-8")
    (tmp / "ref.txt").write_text("the dog " * 655_360 + "\n", encoding="utf-8")
    return ["evaluate", "--hyp", str(tmp / "hyp.txt"), "--ref", str(tmp / "ref.txt")]


def _html(label: str) -> Callable[[Path], list[str]]:
    def prepare(tmp: Path) -> list[str]:
        (tmp / "in").mkdir()
        page = f'<html><head><meta charset="{label}"></head><body><p>Le chat dort.</p>\n<p>Il pleut.</p></body></html>'
        (tmp / "in" / "a.html").write_text(page, encoding="utf-8")
        return ["run", str(tmp / "in"), "-o", str(tmp / "out"), "--model", str(TINY), "--no-cache", "--quiet"]

    return prepare


def _ref_unit_list(tmp: Path) -> list[str]:
    (tmp / "in").mkdir()
    (tmp / "ref").mkdir()
    (tmp / "in" / "a.txt").write_text("Le chat dort.\n", encoding="utf-8")
    (tmp / "ref" / "a.txt").write_text("The cat sleeps.\n", encoding="utf-8")
    args = ["run", str(tmp / "in"), "-o", str(tmp / "out"), "--model", str(TINY), "--no-cache", "--quiet"]
    subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT, check=True, capture_output=True)
    records = tmp / "out" / "a.align.jsonl"
    records.write_text("".join(json.dumps(json.loads(line) | {"unit": [1]}) + "\n" for line in records.read_text().splitlines()), encoding="utf-8")
    return [*args, "--ref", str(tmp / "ref")]


def _seed_run(tmp: Path) -> list[str]:
    """The seed and newstest2014's 3,003 French lines: a run long enough to be interrupted."""
    (tmp / "in").mkdir()
    for seed in (ROOT / "seeds").glob("*.txt"):
        (tmp / "in" / seed.name).write_bytes(seed.read_bytes())
    news = FLORES / "testsets" / "fra-eng" / "newstest2014.fra"
    (tmp / "in" / "news.txt").write_text(news.read_text(encoding="utf-8") if news.exists() else GOOD * 3000, encoding="utf-8")
    return ["run", str(tmp / "in"), "-o", str(tmp / "out"), "--model", str(TINY), "--cache", str(tmp / "m.sqlite3"), "--quiet"]


def _epoch(tmp: Path) -> list[str]:
    return ["run", str(ROOT / "seeds"), "-o", str(tmp / "out"), "--model", str(TINY), "--no-cache", "--quiet"]


GOOD = "Le chat dort sur le tapis rouge.\n"  # beside each hostile article: the run must still translate it


def _run_on(files: dict[str, Callable[[], bytes]], *extra: str) -> Callable[[Path], list[str]]:
    """`mtpipe run in -o out` over a.txt and these files (name -> its bytes, made when the case runs)."""

    def prepare(tmp: Path) -> list[str]:
        (tmp / "in").mkdir()
        (tmp / "in" / "a.txt").write_text(GOOD, encoding="utf-8")
        for name, make in files.items():
            (tmp / "in" / name).write_bytes(make())
        return ["run", str(tmp / "in"), "-o", str(tmp / "out"), "--model", str(TINY), "--no-cache", "--quiet", *extra]

    return prepare


def _word(paragraphs: list[str]) -> bytes:
    import io

    import docx

    document = docx.Document()
    template = document.add_paragraph("x")._p
    end = template.getnext()  # the section properties, last in the body
    template.getparent().remove(template)
    for text in paragraphs:  # python-docx's add_paragraph (and lxml's len) take time in the paragraphs before
        p = copy.deepcopy(template)
        p.xpath("./w:r/w:t")[0].text = text
        end.addprevious(p)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _zip_bomb(inflated: int) -> bytes:
    """A Word file with a picture of `inflated` zero bytes (a few MB on disk)."""
    import io

    out = io.BytesIO(_word(["Le chat dort."]))
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as z, z.open("word/media/image1.png", "w", force_zip64=True) as member:
        chunk = bytes(1 << 24)
        for _ in range(inflated // len(chunk)):
            member.write(chunk)
    return out.getvalue()


def _huge_tmx(units: int) -> Callable[[Path], list[str]]:
    def prepare(tmp: Path) -> list[str]:
        with open(tmp / "big.tmx", "w", encoding="utf-8") as fh:
            fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<tmx version="1.4"><header srclang="fr" datatype="plaintext" segtype="sentence" adminlang="en" o-tmf="x" creationtool="x" creationtoolversion="1"/><body>\n')
            for i in range(units):
                fh.write(f'<tu><tuv xml:lang="fr"><seg>Le chat numéro {i} dort.</seg></tuv><tuv xml:lang="en"><seg>Cat number {i} sleeps.</seg></tuv></tu>\n')
            fh.write("</body></tmx>\n")
        return ["memory", "import", str(tmp / "big.tmx"), "--cache", str(tmp / "m.sqlite3")]

    return prepare


def _tmx(body: str) -> Callable[[Path], list[str]]:
    def prepare(tmp: Path) -> list[str]:
        (tmp / "bad.tmx").write_text(body, encoding="utf-8")
        return ["memory", "import", str(tmp / "bad.tmx"), "--cache", str(tmp / "m.sqlite3")]

    return prepare


LAUGHS = '<?xml version="1.0"?><!DOCTYPE tmx [<!ENTITY a "aaaaaaaaaa">' + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)) + ']><tmx version="1.4"><body><tu><tuv xml:lang="fr"><seg>&j;</seg></tuv></tu></body></tmx>'


def _tampered_manifest(tmp: Path) -> list[str]:
    args = _run_on({})(tmp)
    (tmp / "victim.txt").write_text("the user's\n", encoding="utf-8")
    (tmp / "out").mkdir()
    lines = ["../in/a.txt", "../victim.txt", "/etc/passwd", "a.en.txt"]
    (tmp / "out" / ".mtpipe-manifest").write_text("# mtpipe manifest 1\n" + "".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return args


def _linked_manifest(tmp: Path) -> list[str]:
    args = _run_on({})(tmp)
    (tmp / "victim.txt").write_text("the user's\n", encoding="utf-8")
    (tmp / "out").mkdir()
    (tmp / "out" / ".mtpipe-manifest").symlink_to(tmp / "victim.txt")
    return args


def _deep_summary(command: str) -> Callable[[Path], list[str]]:
    """mtpipe's summary.json of a run, then overwritten with JSON nested 100,000 deep."""

    def prepare(tmp: Path) -> list[str]:
        args = _run_on({})(tmp)
        subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT, check=True, capture_output=True)
        (tmp / "out" / "summary.json").write_text('{"a":' * 100_000 + "1" + "}" * 100_000, encoding="utf-8")
        return args if command == "run" else ["report", str(tmp / "out")]

    return prepare


def _shell(*script: str) -> Callable[[Path], list[str]]:
    """A case whose arguments the bench's own files make: `script` formatted with tmp."""

    def prepare(tmp: Path) -> list[str]:
        (tmp / "in").mkdir()
        (tmp / "in" / "a.txt").write_text(GOOD, encoding="utf-8")
        return [arg.format(tmp=tmp, model=TINY) for arg in script]

    return prepare


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _http_server() -> int:
    """A plain HTTP server on a free port, for the life of the bench (not Ray)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def _ray(*extra: str) -> Callable[[Path], list[str]]:
    def prepare(tmp: Path) -> list[str]:
        extra_args = [arg.format(closed=_closed_port(), http=_http_server()) for arg in extra]
        return [*_run_on({})(tmp), "--engine", "ray", *extra_args]

    return prepare


def _nested_html(n: int, kind: str) -> Callable[[], bytes]:
    pages = {
        "div": lambda: "<div>" * n + "<p>Le chat dort.</p>" + "</div>" * n,
        "b": lambda: "<p>" + "<b>" * n + "Le chat dort." + "</b>" * n + "</p>",
        "span": lambda: "<p>" + "<span>" * n + "Le chat dort.</p>",
        "attribute": lambda: '<p title="' + "x" * 9_900_000 + '">Le chat dort.</p>',  # under the 10 MB an article may be
    }
    return lambda: pages[kind]().encode()


ROUND_2 = [
    Case("HTML: 100,000 nested <div>s", 0, _run_on({"deep.html": _nested_html(100_000, "div")})),
    Case("HTML: 100,000 nested inline <b>s", 0, _run_on({"deep.html": _nested_html(100_000, "b")})),
    Case("HTML: 100,000 unclosed <span>s", 0, _run_on({"deep.html": _nested_html(100_000, "span")})),
    Case("HTML: a 9.9 MB attribute value", 0, _run_on({"long.html": _nested_html(0, "attribute")})),
    Case("Markdown: quotes nested 100,000 deep (refused)", 1, _run_on({"deep.md": lambda: (">" * 100_000 + " Le chat dort.\n").encode()})),
    Case("Markdown: emphasis nested 50,000 deep", 0, _run_on({"deep.md": lambda: ("*" * 50_000 + "Le chat dort." + "*" * 50_000 + "\n").encode()})),
    Case("DOCX: a 12 MB text node (refused)", 1, _run_on({"big.docx": lambda: _word(["Le chat dort. " * 860_000])})),
    Case("DOCX: an image inflating to 3 GB (refused)", 1, _run_on({"bomb.docx": lambda: _zip_bomb(3_000_000_000)})),
    Case("DOCX: --dry-run over 200,000 paragraphs", 0, _run_on({"many.docx": lambda: _word([f"Le chat numéro {i} dort." for i in range(200_000)])}, "--dry-run")),
    Case("text: a 20 MB article (refused: --max-article-mb)", 1, _run_on({"big.txt": lambda: GOOD.encode() * 620_000})),
    Case("text: a 200 MB article (refused: --max-article-mb)", 1, _run_on({"big.txt": lambda: GOOD.encode() * 6_200_000})),
    Case("memory import /dev/zero (refused)", 1, _shell("memory", "import", "/dev/zero", "--cache", "{tmp}/m.sqlite3")),
    Case("memory import: TMX nested 100,000 deep (refused)", 1, _tmx('<?xml version="1.0"?><tmx version="1.4"><body>' + "<tu>" * 100_000 + "</body></tmx>")),
    Case("memory import: billion laughs TMX (refused)", 1, _tmx(LAUGHS)),
    Case("memory import: 100,000-unit TMX", 0, _huge_tmx(100_000)),
    Case("memory import: Ctrl-C while importing 300,000 units", 130, _huge_tmx(300_000), signals=(3.0,)),
    Case("manifest: lines naming paths outside the folder", 0, _tampered_manifest),
    Case("manifest: a link to a user's file (refused)", 2, _linked_manifest),
    Case("summary.json nested 100,000 deep: run", 0, _deep_summary("run")),
    Case("summary.json nested 100,000 deep: report", 2, _deep_summary("report")),
    Case("--include with 30 '**/' segments", 1, _shell("run", "{tmp}/in", "-o", "{tmp}/out", "--model", "{model}", "--include", "**/" * 30 + "x*.md")),
    Case("--files-from /dev/zero", 2, _shell("run", "--files-from", "/dev/zero", "-o", "{tmp}/out", "--model", "{model}")),
    Case("evaluate --hyp /dev/zero", 2, _shell("evaluate", "--ref", "{tmp}/in/a.txt", "--hyp", "/dev/zero")),
    Case("translate - with standard input closed", 2, _shell("translate", "-", "--model", "{model}"), stdin_closed=True),
    Case("--model models/tiny-fr-en from the wrong folder", 2, _shell("translate", "{tmp}/in/a.txt", "--model", "models/tiny-fr-en")),
    Case("Ray: --actors 1000 on 2 CPUs", 2, _ray("--actors", "1000"), needs_ray=True),
    Case("Ray: --cpus-per-actor 64 on 2 CPUs", 2, _ray("--cpus-per-actor", "64"), needs_ray=True),
    Case("Ray: --address of a closed port", 2, _ray("--address", "127.0.0.1:{closed}"), needs_ray=True),
    Case("Ray: --address of a plain HTTP server", 2, _ray("--address", "127.0.0.1:{http}"), needs_ray=True),
]


CASES = [
    Case("corrections: lone surrogate in edit", 0, _import(_corrections(UNIT % '"The cat\\ud800."'))),
    Case("corrections: lone surrogate in src", 0, _import(_corrections(UNIT.replace("Le chat", "\\udfffLe chat") % '"The cat."'))),
    Case("corrections: NUL in edit", 0, _import(_corrections(UNIT % '"The\\u0000cat."'))),
    Case("corrections: nested 100,000 deep", 1, _import("[" * 100_000 + "]" * 100_000)),
    Case("corrections: 5,000-digit number", 1, _import(_corrections(UNIT % ("1" * 5000)))),
    Case("corrections: <script> edit (escaped, imported)", 0, _import(_corrections(UNIT % '"</script><script>alert(1)"'))),
    Case("memory import of a FIFO", 1, _fifo),
    Case("run --ref, unchanged article with unit [1]", 0, _ref_unit_list),
    Case("evaluate: 1M-line pair (refused: --max-lines)", 2, _evaluate_big(1_000_000)),
    Case("evaluate: one 5 MB line", 2, _evaluate_long_line),
    Case("HTML meta charset unicode_escape", 0, _html("unicode_escape")),
    Case("HTML meta charset cp037", 0, _html("cp037")),
    Case("HTML meta charset undefined", 0, _html("undefined")),
    Case("SOURCE_DATE_EPOCH=99999999999999", 2, _epoch, env=(("SOURCE_DATE_EPOCH", "99999999999999"),)),
    *(Case(f"Ctrl-C twice {gap} ms apart, trial {t}", 130, _seed_run, signals=(1.5, 1.5 + gap / 1000)) for gap in (20, 35, 50) for t in (1, 2)),
    *ROUND_2,
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="cases whose name holds one of these words")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines of the big evaluate pair")
    args = parser.parse_args()
    cases = [c if "1M-line" not in c.name else Case(f"evaluate: {args.lines:,}-line pair", 2 if args.lines > 100_000 else 0, _evaluate_big(args.lines)) for c in CASES]
    cases = [c for c in cases if not args.only or any(w in c.name for w in args.only)]
    if importlib.util.find_spec("ray") is None:
        print(f"(the ray extra is not installed: {sum(c.needs_ray for c in cases)} Ray cases left out)")
        cases = [c for c in cases if not c.needs_ray]
    print("| case | exit (documented) | s | peak MB | stderr lines | traceback | user files changed | inputs unaccounted | bar |\n|---|---|---:|---:|---:|---|---:|---:|---|")
    missed = 0
    for case in cases:
        with tempfile.TemporaryDirectory() as tmp:
            result = _run_measured(case, Path(tmp))
        lines = result["stderr"].strip().splitlines()
        traceback = "Traceback" in result["stderr"]
        ok = not traceback and result["code"] == case.code and result["seconds"] < LIMIT_S and result["mb"] < LIMIT_MB and not result["changed"] and not result["unaccounted"]
        missed += not ok
        print(
            f"| {case.name} | {result['code']} ({case.code}) | {result['seconds']:.1f} | {result['mb']:.0f} | {len(lines)} | {'yes' if traceback else 'no'} "
            f"| {len(result['changed'])} | {len(result['unaccounted'])} | {'met' if ok else 'MISSED'} |"
        )
        if not ok:
            print("    " + "\n    ".join([*lines[-5:], *result["changed"], *result["unaccounted"]]), file=sys.stderr)
    return 1 if missed else 0


def _users_files(tmp: Path) -> dict[str, str]:
    """Every file of the user's under tmp (not the output folders nor the memory mtpipe
    writes) by path: its SHA-256, or where a link points."""
    files = {}
    for path in sorted(tmp.rglob("*")):
        rel = path.relative_to(tmp).as_posix()
        if rel.startswith("out") or rel.startswith("m.sqlite3") or rel == "stderr" or path.is_dir() and not path.is_symlink():
            continue
        files[rel] = f"-> {os.readlink(path)}" if path.is_symlink() else _digest(path) if path.is_file() else "special"
    return files


def _digest(path: Path) -> str:
    """The file's SHA-256, read in chunks: the bench's own peak memory would count in
    the next command's (see _prepared)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _unaccounted(args: list[str], tmp: Path) -> list[str]:
    """For a run that wrote its summary: the input files it does not list."""
    summary = tmp / "out" / "summary.json"
    if args[0] != "run" or "--dry-run" in args or not summary.is_file() or not (tmp / "in").is_dir():
        return []
    try:
        listed = {a["input"] for a in json.loads(summary.read_text(encoding="utf-8"))["articles"]}
    except (ValueError, RecursionError, KeyError, TypeError):
        return ["summary.json is not a summary"]
    return [f"not in summary.json: {p.relative_to(tmp / 'in')}" for p in (tmp / "in").rglob("*") if p.is_file() and p.relative_to(tmp / "in").as_posix() not in listed]


def _prepared(case: Case, tmp: Path) -> list[str]:
    """case.prepare(tmp), in a forked process: the bench's memory for the big files it
    writes would otherwise count in the command's peak RSS (Linux carries a process's
    high-water mark over fork and exec). The Ray cases prepare here: their HTTP server
    must outlive the preparation."""
    if case.needs_ray:
        return case.prepare(tmp)
    context = multiprocessing.get_context("fork")
    answer = context.SimpleQueue()
    child = context.Process(target=lambda: answer.put(case.prepare(tmp)))
    child.start()
    child.join()
    if child.exitcode:
        raise RuntimeError(f"preparing {case.name!r} failed ({child.exitcode})")
    return answer.get()


def _run_measured(case: Case, tmp: Path) -> dict:
    """The case's command: its exit code, seconds, stderr and peak RSS in MB (wait4's
    figure: the process and the children it waited for)."""
    args = _prepared(case, tmp)
    before = _users_files(tmp)
    env = {**os.environ, "PYTHONPATH": str(ROOT), **dict(case.env)}
    prefix = ["bash", "-c", 'exec "$@" <&-', "_"] if case.stdin_closed else []
    with open(tmp / "stderr", "w+b") as err:
        t0 = time.perf_counter()
        # A group of its own: Ctrl-C reaches it as a terminal's would, and a timeout ends its workers too.
        process = subprocess.Popen([*prefix, sys.executable, "-m", "pipeline.cli", *args], cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        pending = list(case.signals)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            elapsed = time.perf_counter() - t0
            if pending and elapsed >= pending[0]:
                pending.pop(0)
                os.killpg(process.pid, signal.SIGINT)
            if elapsed > LIMIT_S * 2:
                os.killpg(process.pid, signal.SIGKILL)
            time.sleep(0.005)
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    seconds = time.perf_counter() - t0
    after = _users_files(tmp)
    changed = [f"changed: {rel}" for rel in sorted(set(before) | set(after)) if before.get(rel) != after.get(rel)]
    return {"code": process.returncode, "seconds": seconds, "stderr": stderr, "mb": usage.ru_maxrss / 1024, "changed": changed, "unaccounted": _unaccounted(args, tmp)}


if __name__ == "__main__":
    sys.exit(main())
