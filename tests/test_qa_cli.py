"""The quality checks and the glossary end to end, through `mtpipe run` and `mtpipe report`
(with the echo backend: its English is the French in capitals, so the checks have work)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from helpers import ECHO, in_folder, write_tree

pytestmark = pytest.mark.slow  # each runs mtpipe in a subprocess

ARTICLE = "Les conseils municipaux ont voté en 2011.\n\nLe maire est parti.\n"


def _tsv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")), delimiter="\t"))


def test_a_run_flags_terms_and_checks_in_every_output(tmp_path: Path) -> None:
    write_tree(tmp_path, {"in/a.txt": ARTICLE, "terms.tsv": "conseil municipal\tcity council|town council\n"})
    done = in_folder(tmp_path, "run", "in", "-o", "out", "--glossary", "terms.tsv", *ECHO)
    assert done.returncode == 0, done.stderr
    (article,) = json.loads((tmp_path / "out/summary.json").read_text(encoding="utf-8"))["articles"]
    assert article["flags"] == {"untranslated": 2, "term": 1} and article["flagged"] == 2
    rows = _tsv(tmp_path / "out/a.tsv")
    assert rows[0]["flags"] == "untranslated term"
    assert "term: conseils municipaux should be city council or town council" in rows[0]["qa"]
    assert "<note>term: conseils municipaux should be city council or town council</note>" in (tmp_path / "out/a.tmx").read_text(encoding="utf-8")
    page = (tmp_path / "out/a.review.html").read_text(encoding="utf-8")
    assert 'data-flags="untranslated term"' in page and 'data-terms="4-23:4-23"' in page  # the English found through the word links
    assert 'data-check="term" title="conseils municipaux should be city council or town council"' in page
    assert '<option value="term" title=' in page  # the page filters by check


def test_qa_selects_the_checks_and_report_checks_again(tmp_path: Path) -> None:
    write_tree(tmp_path, {"in/a.txt": ARTICLE, "terms.tsv": "conseil municipal\tcity council\n"})
    done = in_folder(tmp_path, "run", "in", "-o", "out", "--qa", "numbers,repeated", *ECHO)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out/summary.json").read_text(encoding="utf-8"))
    assert summary["articles"][0]["flagged"] == 0  # the echo keeps its numbers and repeats nothing
    again = in_folder(tmp_path, "report", "out", "--qa", "term", "--glossary", "terms.tsv")
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "out/summary.json").read_text(encoding="utf-8"))["articles"][0]["flags"] == {"term": 1}
    assert [r["flags"] for r in _tsv(tmp_path / "out/a.tsv")] == ["term", ""]


def test_the_same_french_translated_two_ways_is_flagged_in_both_articles(tmp_path: Path) -> None:
    write_tree(tmp_path, {"in/a.txt": "Merci.\n", "in/b.txt": "Merci.\n"})
    assert in_folder(tmp_path, "run", "in", "-o", "out", *ECHO).returncode == 0
    edited = tmp_path / "out/b.align.jsonl"
    edited.write_text(edited.read_text(encoding="utf-8").replace('"mt": "MERCI."', '"mt": "Thanks."'), encoding="utf-8")
    assert in_folder(tmp_path, "report", "out", "--qa", "consistency").returncode == 0
    for name, other in (("a", "Thanks."), ("b", "MERCI.")):
        (row,) = _tsv(tmp_path / f"out/{name}.tsv")
        assert row["flags"] == "consistency" and f"the same French is also translated “{other}”" in row["qa"]


def test_a_bad_glossary_or_check_is_one_line(tmp_path: Path) -> None:
    write_tree(tmp_path, {"in/a.txt": ARTICLE, "bad.tsv": "conseil municipal\n"})
    for args, said in (
        (["--glossary", "missing.tsv"], "missing.tsv: the glossary cannot be read"),
        (["--glossary", "bad.tsv"], "bad.tsv, line 1: it has no English term"),
        (["--qa", "spelling"], "--qa: no check named spelling"),
    ):
        done = in_folder(tmp_path, "run", "in", "-o", "out", *args, *ECHO)
        err = done.stderr.decode()
        assert done.returncode == 2 and said in err and "Traceback" not in err, err
        assert not (tmp_path / "out").exists()


def test_enforce_forces_the_term_and_keeps_the_first_output(tmp_path: Path) -> None:
    write_tree(tmp_path, {"in/a.txt": ARTICLE, "terms.tsv": "conseil municipal\tcity council\n"})
    done = in_folder(tmp_path, "run", "in", "-o", "out", "--glossary", "terms.tsv", "--glossary-mode", "enforce", *ECHO)
    assert done.returncode == 0, done.stderr
    first, second = [json.loads(line) for line in (tmp_path / "out/a.align.jsonl").read_text(encoding="utf-8").splitlines()]
    assert first["mt"] == "LES city council ONT VOTÉ EN 2011." and first["free"] == "LES CONSEILS MUNICIPAUX ONT VOTÉ EN 2011."
    assert "free" not in second and second["mt"] == "LE MAIRE EST PARTI."
    assert (tmp_path / "out/a.en.txt").read_text(encoding="utf-8").startswith("LES city council ONT VOTÉ EN 2011.")
    assert "term" not in json.loads((tmp_path / "out/summary.json").read_text(encoding="utf-8"))["articles"][0]["flags"]
    assert "<summary>before terms</summary>LES CONSEILS MUNICIPAUX ONT VOTÉ EN 2011.</details>" in (tmp_path / "out/a.review.html").read_text(encoding="utf-8")
    # a changed glossary translates the article again: its English changes
    (tmp_path / "terms.tsv").write_text("conseil municipal\ttown council\n", encoding="utf-8")
    assert in_folder(tmp_path, "run", "in", "-o", "out", "--glossary", "terms.tsv", "--glossary-mode", "enforce", *ECHO).returncode == 0
    assert (tmp_path / "out/a.en.txt").read_text(encoding="utf-8").startswith("LES town council ONT")


def test_enforce_without_a_glossary_is_one_line(tmp_path: Path) -> None:
    write_tree(tmp_path, {"in/a.txt": ARTICLE})
    done = in_folder(tmp_path, "run", "in", "-o", "out", "--glossary-mode", "enforce", *ECHO)
    assert done.returncode == 2 and "--glossary-mode enforce needs a glossary: add --glossary FILE" in done.stderr.decode()


def test_a_glossary_imported_into_the_memory_serves_every_run(tmp_path: Path) -> None:
    write_tree(tmp_path, {"in/a.txt": ARTICLE, "terms.tbx": TBX, "more.tsv": "conseil municipal\ttown council\n"})
    cache = ["--cache", str(tmp_path / "tm.sqlite3")]
    done = in_folder(tmp_path, "memory", "import", "--glossary", "terms.tbx", *cache)
    assert done.returncode == 0 and "terms.tbx: glossary entries 2 added, 0 replaced, 0 unchanged" in done.stderr.decode()
    assert "2 glossary entries" in in_folder(tmp_path, "memory", "stats", *cache).stdout.decode()
    echo = [a for a in ECHO if a != "--no-cache"]
    assert in_folder(tmp_path, "run", "in", "-o", "out", *echo, *cache).returncode == 0
    rows = _tsv(tmp_path / "out/a.tsv")
    assert "term: conseils municipaux should be city council" in rows[0]["qa"] and "term: maire should be mayor" in rows[1]["qa"]
    # a --glossary file's entry wins over the memory's
    assert in_folder(tmp_path, "run", "in", "-o", "out2", "--glossary", "more.tsv", *echo, *cache).returncode == 0
    assert "should be town council" in _tsv(tmp_path / "out2/a.tsv")[0]["qa"]
    bad = in_folder(tmp_path, "memory", "import", "--glossary", "in/a.txt", *cache)
    assert bad.returncode == 1 and "nothing of it was imported" in bad.stderr.decode()


TBX = """<?xml version="1.0" encoding="UTF-8"?>
<tbx type="TBX-Basic" style="dca" xml:lang="en" xmlns="urn:iso:std:iso:30042:ed-2"><text><body>
<conceptEntry id="c1"><langSec xml:lang="fr"><termSec><term>conseil municipal</term></termSec></langSec><langSec xml:lang="en"><termSec><term>city council</term></termSec></langSec></conceptEntry>
<conceptEntry id="c2"><langSec xml:lang="fr"><termSec><term>maire</term></termSec></langSec><langSec xml:lang="en"><termSec><term>mayor</term></termSec></langSec></conceptEntry>
</body></text></tbx>
"""
