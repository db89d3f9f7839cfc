"""Hostile inputs of the security round, each as a user would meet it: one `mtpipe`
command in a fresh process, timed, with its peak RSS (the process and what it
waited for) and its exit code checked against the documented one.

Bar (the security issue): no traceback, the documented exit code, one line on
stderr, within 60 s and 1 GB of peak RSS. The big `evaluate` cases write their
files first (1M lines of FLORES French/English, ~150 MB each, and one 5 MB line).

    python bench/hostile.py [--only NAME ...] [--lines 1000000]

Prints a Markdown table and exits 1 when a case misses the bar.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
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
    return ["run", str(ROOT / "seeds"), "-o", str(tmp / "out"), "--model", str(TINY), "--cache", str(tmp / "m.sqlite3"), "--quiet"]


def _epoch(tmp: Path) -> list[str]:
    return ["run", str(ROOT / "seeds"), "-o", str(tmp / "out"), "--model", str(TINY), "--no-cache", "--quiet"]


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
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="cases whose name holds one of these words")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines of the big evaluate pair")
    args = parser.parse_args()
    cases = [c if "1M-line" not in c.name else Case(f"evaluate: {args.lines:,}-line pair", 2 if args.lines > 100_000 else 0, _evaluate_big(args.lines)) for c in CASES]
    cases = [c for c in cases if not args.only or any(w in c.name for w in args.only)]
    print("| case | exit (documented) | s | peak MB | stderr lines | traceback | bar |\n|---|---|---:|---:|---:|---|---|")
    missed = 0
    for case in cases:
        with tempfile.TemporaryDirectory() as tmp:
            result = _run_measured(case, Path(tmp))
        lines = result["stderr"].strip().splitlines()
        traceback = "Traceback" in result["stderr"]
        ok = not traceback and result["code"] == case.code and result["seconds"] < LIMIT_S and result["mb"] < LIMIT_MB
        missed += not ok
        print(f"| {case.name} | {result['code']} ({case.code}) | {result['seconds']:.1f} | {result['mb']:.0f} | {len(lines)} | {'yes' if traceback else 'no'} | {'met' if ok else 'MISSED'} |")
        if not ok:
            print("    " + "\n    ".join(lines[-5:]), file=sys.stderr)
    return 1 if missed else 0


def _run_measured(case: Case, tmp: Path) -> dict:
    """The case's command: its exit code, seconds, stderr and peak RSS in MB (wait4's
    figure: the process and the children it waited for)."""
    args = case.prepare(tmp)
    env = {**os.environ, "PYTHONPATH": str(ROOT), **dict(case.env)}
    with open(tmp / "stderr", "w+b") as err:
        t0 = time.perf_counter()
        # A group of its own: Ctrl-C reaches it as a terminal's would, and a timeout ends its workers too.
        process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
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
    return {"code": process.returncode, "seconds": time.perf_counter() - t0, "stderr": stderr, "mb": usage.ru_maxrss / 1024}


if __name__ == "__main__":
    sys.exit(main())
