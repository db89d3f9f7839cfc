"""Sentence alignment: exact links on real news text, the scorer, output formats,
properties that hold for any input, and `mtpipe align` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SHARED, TINY_MODEL, shared_file
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.align import (
    LINK_TYPES,
    Link,
    Scores,
    align,
    link_records,
    pair_reference,
    score,
    vecalign_text,
)
from pipeline.align.sentences import _MAX_HALF, _corridor
from pipeline.ingest import parse
from pipeline.segment import segment

TESTSETS = SHARED / "data" / "testsets" / "fra-eng"
PUBLISHED = SHARED / "data" / "published" / "opus-mt-fr-en"


def lines(path: Path, count: int = 30) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[:count]


@pytest.fixture(scope="module")
def newstest() -> tuple[list[str], list[str], list[str]]:
    """newstest2013's first 30 lines (the development set of bench/align.py): French,
    English and the published MT, read from ../shared when a test needs them."""
    return lines(shared_file(TESTSETS / "newstest2013.fra")), lines(shared_file(TESTSETS / "newstest2013.eng")), lines(shared_file(PUBLISHED / "newstest2013.fra-eng.output"))
UNRELATED = "I am not sure that anyone in the comments section has read the article to the end."


def pairs(links: list[Link]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    return [(link.src, link.tgt) for link in links]


def edited(edit: str, newstest: tuple[list[str], list[str], list[str]]) -> tuple[list[str], list[str], list[str], tuple]:
    """The 30-line document with one translator's edit at sentence 12, and the link it makes."""
    french, english, machine = newstest
    src, mt, tgt = list(french), list(machine), list(english)
    if edit == "2:1":  # the translator merged two sentences
        tgt[12:14] = [f"{tgt[12]} {tgt[13]}"]
        return src, mt, tgt, ((12, 13), (12,))
    if edit == "1:2":  # the translator split one
        src[12:14], mt[12:14] = [f"{src[12]} {src[13]}"], [f"{mt[12]} {mt[13]}"]
        return src, mt, tgt, ((12,), (12, 13))
    if edit == "1:0":  # dropped one
        del tgt[12]
        return src, mt, tgt, ((12,), ())
    if edit == "0:1":  # added one
        tgt.insert(12, UNRELATED)
        return src, mt, tgt, ((), (12,))
    raise AssertionError(edit)


@pytest.mark.parametrize("with_mt", [True, False], ids=["mt", "no-mt"])
@pytest.mark.parametrize("edit", ["2:1", "1:2", "1:0", "0:1"])
def test_a_translators_edit_is_found_and_the_rest_stays_one_to_one(edit: str, with_mt: bool, newstest) -> None:
    src, mt, tgt, link = edited(edit, newstest)
    found = pairs(align(src, tgt, mt if with_mt else None))
    assert link in found
    assert sum(len(s) == len(t) == 1 for s, t in found) == len(found) - 1


@pytest.mark.parametrize(
    "source, target, expected",
    [
        ([], [], []),
        (["Bonjour."], [], [((0,), ())]),
        ([], ["Hello.", "Bye."], [((), (0,)), ((), (1,))]),
        (["Un.", "Deux."], [], [((0,), ()), ((1,), ())]),
    ],
)
def test_an_empty_side_gives_null_links(source: list[str], target: list[str], expected: list) -> None:
    assert pairs(align(source, target)) == expected
    assert pairs(align(source, target, list(source))) == expected


def test_mt_must_have_one_line_per_source_sentence() -> None:
    with pytest.raises(ValueError, match="mt has 1 sentences but source has 2"):
        align(["Un.", "Deux."], ["One.", "Two."], ["One."])


def test_scores_are_similarities_and_null_links_score_zero(newstest) -> None:
    src, mt, tgt, _ = edited("1:0", newstest)
    links = align(src, tgt, mt)
    assert all(0.0 <= link.score <= 1.0 for link in links)
    assert [link.score for link in links if not link.tgt] == [0.0]
    linked = sorted(link.score for link in links if link.src and link.tgt)
    assert linked[len(linked) // 2] > 0.5


def L(src: tuple[int, ...], tgt: tuple[int, ...]) -> Link:
    return Link(src, tgt, 0.0)


GOLD = [L((0,), (0,)), L((1, 2), (1,)), L((3,), ()), L((), (2,)), L((4,), (3,))]


@pytest.mark.parametrize(
    "predicted, expected",
    [
        # precision strict, recall strict, precision lax, recall lax (recall ignores null links)
        (GOLD, (1.0, 1.0, 1.0, 1.0)),
        # 1:2 predicted as 1:1 + 1:0: the 1:1 overlaps the gold 2:1 (lax), the extra null does not.
        ([L((0,), (0,)), L((1,), (1,)), L((2,), ()), L((3,), ()), L((), (2,)), L((4,), (3,))], (4 / 6, 2 / 3, 5 / 6, 1.0)),
        # everything shifted by one target: nothing right, nothing overlapping
        ([L((0,), (1,)), L((1, 2), (2,)), L((3,), (3,)), L((4,), ()), L((), (0,))], (0.0, 0.0, 0.0, 0.0)),
        ([], (0.0, 0.0, 0.0, 0.0)),
    ],
)
def test_score_counts_links_as_vecalign_does(predicted: list[Link], expected: tuple[float, ...]) -> None:
    result = score([GOLD], [predicted])
    assert (result.precision_strict, result.recall_strict, result.precision_lax, result.recall_lax) == pytest.approx(expected)
    f1 = 2 * expected[0] * expected[1] / (expected[0] + expected[1]) if expected[0] + expected[1] else 0.0
    assert result.f1_strict == pytest.approx(f1)


def test_score_sums_counts_over_documents() -> None:
    assert score([GOLD, GOLD[:1]], [GOLD, [L((0,), (1,))]]) == Scores(5 / 6, 3 / 4, pytest.approx(2 * (5 / 6) * 0.75 / (5 / 6 + 0.75)), 5 / 6, 3 / 4, pytest.approx(2 * (5 / 6) * 0.75 / (5 / 6 + 0.75)))
    with pytest.raises(ValueError, match="2 gold documents but 1 predicted"):
        score([GOLD, GOLD], [GOLD])


def test_vecalign_format_and_jsonl_records() -> None:
    links = [Link((0, 1), (0,), 0.5), Link((2,), (), 0.0), Link((), (1,), 0.0)]
    assert vecalign_text(links) == "[0, 1]:[0]\n[2]:[]\n[]:[1]\n"
    records = link_records(links, ["a", "b", "c"], ["A", "B"], ["x", "y", "z"])
    assert records[0] == {"src": [0, 1], "tgt": [0], "src_text": "a b", "tgt_text": "A", "mt": "x y", "score": 0.5}
    assert records[2] == {"src": [], "tgt": [1], "src_text": "", "tgt_text": "B", "mt": "", "score": 0.0}
    assert "mt" not in link_records(links, ["a", "b", "c"], ["A", "B"], None)[0]


# --- properties ----------------------------------------------------------------

sentences = st.lists(st.text(max_size=40), max_size=12)
words = st.lists(st.sampled_from(["Paris", "le", "chat", "1999", "dort", "the", "cat", "«", "?", "élu", ""]), max_size=8).map(" ".join)
documents = st.one_of(sentences, st.lists(words, max_size=12))


def assert_well_formed(links: list[Link], n: int, m: int) -> None:
    assert [i for link in links for i in link.src] == list(range(n))
    assert [j for link in links for j in link.tgt] == list(range(m))
    assert all((len(link.src), len(link.tgt)) in LINK_TYPES for link in links)


@pytest.mark.slow
@settings(deadline=None, max_examples=150)
@given(source=documents, target=documents, use_mt=st.booleans())
def test_links_are_monotonic_and_cover_every_sentence_once(source: list[str], target: list[str], use_mt: bool) -> None:
    mt = [s[::-1] for s in source] if use_mt else None
    assert_well_formed(align(source, target, mt), len(source), len(target))


@pytest.mark.slow
@settings(deadline=None, max_examples=150)
@given(document=documents, use_mt=st.booleans())
def test_a_document_aligned_with_itself_is_all_one_to_one(document: list[str], use_mt: bool) -> None:
    links = align(document, document, document if use_mt else None)
    assert pairs(links) == [((i,), (i,)) for i in range(len(document))]


def test_long_documents_stay_well_formed(newstest) -> None:
    """Enough sentences for the corridor to be narrower than the document."""
    french, english, machine = newstest
    source, mt, target = french * 10, machine * 10, english[::2] * 10
    for translation in (mt, None):
        assert_well_formed(align(source, target, translation), len(source), len(target))


@pytest.mark.parametrize(
    "anchors, n, m",
    [
        ([], 100_000, 100_000),  # nothing anchors the documents: the widest corridor
        ([], 1_000, 50_000),  # a steep line
        ([(k, 10_000 + k) for k in range(0, 20_000, 50)], 20_000, 30_000),  # a jump between anchors
    ],
    ids=["no-anchors", "steep", "jump"],
)
def test_the_corridor_grows_linearly_whatever_the_anchors(anchors: list[tuple[int, int]], n: int, m: int) -> None:
    lo, hi = _corridor(anchors, n, m)
    assert lo[0] == 0 and hi[-1] == m and (lo <= hi).all()
    assert (lo[1:] <= hi[:-1]).all()  # consecutive rows connect
    assert (hi - lo + 1).sum() <= (n + 1) * (2 * _MAX_HALF + 3) + 2 * m


# --- mtpipe align ------------------------------------------------------------------


def mtpipe_align(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", "align", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=600)


def write(path: Path, lines_: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines_), encoding="utf-8")
    return path


@pytest.mark.slow
def test_cli_sentences_with_mt_in_both_formats(tmp_path: Path, newstest) -> None:
    src, mt, tgt, link = edited("2:1", newstest)
    files = [write(tmp_path / name, text) for name, text in (("src.fr", src), ("tgt.en", tgt), ("mt.en", mt))]
    done = mtpipe_align(files[0], files[1], "--mt", files[2], "--sentences")
    assert done.returncode == 0, done.stderr
    assert done.stdout == vecalign_text(align(src, tgt, mt))
    assert "[12, 13]:[12]\n" in done.stdout

    out = tmp_path / "links.jsonl"
    done = mtpipe_align(files[0], files[1], "--mt", files[2], "--sentences", "--format", "jsonl", "-o", out)
    assert done.returncode == 0 and done.stdout == ""
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert records == link_records(align(src, tgt, mt), src, tgt, mt)


@pytest.mark.slow
def test_cli_articles_are_segmented_and_aligned_without_mt(tmp_path: Path) -> None:
    source = write(tmp_path / "fr.txt", ["Le président Macron est à Berlin. Il y restera 2 jours.", "", "La réunion commence à 10 heures."])
    target = write(tmp_path / "en.txt", ["President Macron is in Berlin, where he will stay for 2 days.", "The meeting starts at 10 am."])
    done = mtpipe_align(source, target, "--no-mt")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[0, 1]:[0]\n[2]:[1]\n"


@pytest.mark.slow
def test_cli_empty_file_gives_null_links(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    target = write(tmp_path / "en.txt", ["One.", "Two."])
    done = mtpipe_align(tmp_path / "empty.txt", target, "--sentences", "--no-mt")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]:[0]\n[]:[1]\n"


@pytest.mark.slow
@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.txt", "No such file or directory"),
        (lambda d: (d / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00") and d / "photo.txt", "NUL bytes"),
        (lambda d: d, "Is a directory"),
    ],
    ids=["missing", "binary", "folder"],
)
def test_cli_unreadable_input_is_one_sentence_and_exit_2(tmp_path: Path, make, message: str) -> None:
    target = write(tmp_path / "en.txt", ["One."])
    done = mtpipe_align(make(tmp_path), target, "--no-mt")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("mtpipe: error: cannot align ") and message in done.stderr


@pytest.mark.slow
def test_cli_mt_with_the_wrong_number_of_lines_is_refused(tmp_path: Path) -> None:
    source, target, mt = write(tmp_path / "fr", ["Un.", "Deux."]), write(tmp_path / "en", ["One.", "Two."]), write(tmp_path / "mt", ["One."])
    done = mtpipe_align(source, target, "--mt", mt, "--sentences")
    assert done.returncode == 2
    assert "has 1 lines but" in done.stderr and "has 2 sentences" in done.stderr


@pytest.mark.slow
def test_cli_repeated_lines_align_one_to_one_in_little_memory(tmp_path: Path) -> None:
    """Identical lines share no rare word, so no anchor narrows the search: it must
    still stay linear (it took 12 GB when the corridor grew with the documents)."""
    n = 20_000
    source, target = write(tmp_path / "fr.txt", ["Le chat dort."] * n), write(tmp_path / "en.txt", ["The cat sleeps."] * n)
    out = tmp_path / "links.txt"
    # A process of its own runs mtpipe, so that the peak resident memory of its children is mtpipe's.
    peak = "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    command = [sys.executable, "-c", peak, sys.executable, "-m", "pipeline.cli", "align", "--sentences", "--no-mt", str(source), str(target), "-o", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) * (1 if sys.platform == "darwin" else 1024) < 2 * 2**30  # ru_maxrss: bytes on macOS, KiB on Linux
    assert out.read_text(encoding="utf-8") == "".join(f"[{i}]:[{i}]\n" for i in range(n))


@pytest.mark.slow
def test_cli_translates_the_source_when_no_mt_is_given(tmp_path: Path) -> None:
    source = write(tmp_path / "fr.txt", ["Le chat dort. Il pleut.", "Je suis content."])
    target = write(tmp_path / "en.txt", ["The cat is sleeping.", "It is raining.", "I am happy."])
    done = mtpipe_align(source, target, "--model", TINY_MODEL, "--cache", tmp_path / "tm.sqlite3", "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [i for r in records for i in r["src"]] == [0, 1, 2] and [j for r in records for j in r["tgt"]] == [0, 1, 2]
    assert all(r["mt"] for r in records if r["src"])


@pytest.fixture(scope="module")
def markdown_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Markdown article, its human translation, and the fixture model's run over it."""
    folder = tmp_path_factory.mktemp("run")
    (folder / "fr.md").write_text("# Le chat\n\nLe chat dort sur le tapis. Il pleut à Paris.\n\nJe suis **très** content.\n", encoding="utf-8")
    (folder / "en.md").write_text("# The cat\n\nThe cat sleeps on the mat. It is raining in Paris.\n\nI am *very* happy.\n", encoding="utf-8")
    command = [sys.executable, "-m", "pipeline.cli", "run", folder / "fr.md", "-o", folder / "out", "--model", TINY_MODEL, "--cache", folder / "tm.sqlite3", "--quiet"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fr.align.jsonl", "mt.txt"], ids=["by-suffix", "by-content"])
def test_cli_mt_can_be_a_runs_align_jsonl(markdown_run: Path, tmp_path: Path, name: str) -> None:
    """The run's translations are used as they are, the article read as the run read it
    (Markdown, so no `#` or `**` in the sentences)."""
    from pipeline.formats import format_for

    mt_file = tmp_path / name
    mt_file.write_bytes((markdown_run / "out" / "fr.align.jsonl").read_bytes())
    run = [json.loads(line) for line in mt_file.read_text(encoding="utf-8").splitlines()]
    source, mt = [r["src"] for r in run], [r["mt"] for r in run]
    target = [s.text for s in segment(format_for("en.md").read((markdown_run / "en.md").read_bytes(), "en.md"))]
    assert source[0] == "Le chat" and len(target) == 4
    done = mtpipe_align(markdown_run / "fr.md", markdown_run / "en.md", "--mt", mt_file, "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == link_records(align(source, target, mt), source, target, mt)


RECORDS = [{"id": "p1.s1", "line": 1, "src": "Un.", "mt": "One."}, {"id": "p2.s1", "line": 2, "src": "Deux.", "mt": "Two."}]


@pytest.mark.slow
@pytest.mark.parametrize(
    "records, message",
    [
        (RECORDS[:1], "{mt} has 1 sentence but {src} has 2 (the first is the same): give the .align.jsonl that mtpipe run wrote for {src}"),
        ([RECORDS[0], {**RECORDS[1], "src": "Deux !"}], 'sentence 2 of {mt} is "Deux !" but sentence 2 of {src} is "Deux.": give the .align.jsonl that mtpipe run wrote for {src}'),
        ([*RECORDS, {"id": "p3.s1", "line": 3, "src": "Trois.", "mt": "Three."}], "{mt} has 3 sentences but {src} has 2 (the first 2 are the same)"),
        (link_records([Link((0,), (0,), 1.0)], ["Un."], ["One."], ["One."]), "{mt} is not a run's .align.jsonl (line 1 is not a sentence record (it has no id))"),
        ([RECORDS[0], "not json"], "{mt} is not a run's .align.jsonl (line 2 is not a sentence record (it is not JSON))"),
    ],
    ids=["fewer", "other-sentence", "more", "align-output", "not-json"],
)
def test_cli_a_runs_records_that_do_not_fit_the_source_are_refused(tmp_path: Path, records: list, message: str) -> None:
    source, target = write(tmp_path / "fr.txt", ["Un.", "Deux."]), write(tmp_path / "en.txt", ["One.", "Two."])
    mt = write(tmp_path / "fr.align.jsonl", [r if isinstance(r, str) else json.dumps(r) for r in records])
    done = mtpipe_align(source, target, "--mt", mt, "--sentences")
    assert (done.returncode, done.stdout) == (2, "")
    [line] = done.stderr.splitlines()
    assert line.startswith("mtpipe: error: cannot align: ") and message.format(mt=mt, src=source) in line


@pytest.mark.slow
def test_cli_a_runs_records_against_the_article_read_line_by_line_say_so(markdown_run: Path) -> None:
    source, mt = markdown_run / "fr.md", markdown_run / "out" / "fr.align.jsonl"
    done = mtpipe_align(source, markdown_run / "en.md", "--mt", mt, "--sentences")
    assert done.returncode == 2
    assert done.stderr == (
        f'mtpipe: error: cannot align: sentence 1 of {mt} is "Le chat" but sentence 1 of {source} is "# Le chat": '
        f"give the .align.jsonl that mtpipe run wrote for {source}, or leave out --sentences so that {source} is segmented as runs segment it\n"
    )


# --- pairing an article with its reference ------------------------------------------




@pytest.mark.parametrize(
    "source, reference, units, pairing",
    [
        ("Un. Deux.\n\nTrois.\n", "One. Two.\n\nThree.\n\n\n", [((0, 1), "One. Two."), ((2,), "Three.")], "lines"),
        (
            "Le chat dort.\nIl pleut beaucoup.\nFin.",
            "The cat sleeps. It rains a lot.\nThe end.",
            [((0,), "The cat sleeps."), ((1,), "It rains a lot."), ((2,), "The end.")],
            "aligned",
        ),
        (
            "Le chat dort.\n\nFin.",
            "A preface nobody translated.\nThe cat sleeps.\nThe end.",
            [((0,), "A preface nobody translated. The cat sleeps."), ((1,), "The end.")],
            "aligned",
        ),
    ],
)
def test_pair_reference(source: str, reference: str, units: list, pairing: str) -> None:
    doc = parse(source.encode(), "a.txt")
    segs = segment(doc)
    mt = {"Le chat dort.": "The cat sleeps.", "Il pleut beaucoup.": "It rains a lot.", "Fin.": "The end."}
    found, how = pair_reference(doc, segs, [mt.get(s.text, s.text) for s in segs], parse(reference.encode(), "b.txt"))
    assert how == pairing
    assert [(u.source, u.reference) for u in found] == units
