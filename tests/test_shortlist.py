"""Vocabulary shortlists: built from a model's own translations, written as CTranslate2's
vmap.txt, stored per model revision, and used by --shortlist (fixture model, slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED, TINY_MODEL, EchoBackend, shared_file
from hypothesis import given
from hypothesis import strategies as st

from pipeline.hub import ModelError, ModelRef, resolve
from pipeline.translate import BACKENDS, DecodeSettings, Translator, ct2_cache_dir
from pipeline.translate.choose import choose_backend
from pipeline.translate.shortlist import (
    PieceLinks,
    Shortlist,
    build_shortlist,
    learn_shortlist,
    save_shortlist,
    shortlist_for,
    shortlist_path,
    shortlists,
)


def read_vmap(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """A vmap.txt read as CTranslate2 reads it (src/vocabulary_map.cc): the key before
    the tab, the pieces after it split on spaces; a line without a tab has the empty key."""
    rules: dict[str, list[str]] = {}
    for line in text.split("\n")[:-1]:
        key, _, values = line.partition("\t") if "\t" in line else ("", "", line)
        rules[key] = values.split(" ") if values else []
    return rules.pop(""), rules


def links(source: str, target: str, to: list[int]) -> PieceLinks:
    return PieceLinks(source.split(), target.split(), to)


@pytest.mark.parametrize(
    "examples, frequent, per_piece, always, by_piece",
    [
        # the start token first, then the pieces produced most, ties by piece
        ([links("a b", "x y y z", [0, 1, 1, 0])], 2, 5, ("<pad>", "y", "x"), {"a": ("x", "z"), "b": ("y",)}),
        # a start token the model produces is not listed twice
        ([links("a", "<pad> y", [0, 0])], 5, 5, ("<pad>", "y"), {"a": ("<pad>", "y")}),
        # per piece: the K most often linked, counted over sentences
        ([links("a", "x y", [0, 0]), links("a", "y z", [0, 0]), links("a", "y", [0])], 9, 1, ("<pad>", "y", "x", "z"), {"a": ("y",)}),
        # pieces a vmap line cannot hold (spaces, tabs) are left out, keys and values
        ([links("a", "x", [0]), PieceLinks(["b\tc", "d"], ["p q", "r"], [0, 1])], 9, 9, ("<pad>", "r", "x"), {"a": ("x",), "d": ("r",)}),
        # nothing produced: only the start token
        ([], 9, 9, ("<pad>",), {}),
    ],
)
def test_build_shortlist(examples: list[PieceLinks], frequent: int, per_piece: int, always: tuple, by_piece: dict) -> None:
    shortlist = build_shortlist(examples, "<pad>", frequent, per_piece)
    assert (shortlist.always, shortlist.by_piece, shortlist.sentences) == (always, by_piece, len(examples))


pieces = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=6)


@given(st.lists(st.tuples(st.lists(pieces, min_size=1, max_size=5), st.lists(pieces, max_size=5)), max_size=8), st.integers(1, 4), st.integers(1, 4))
def test_the_vmap_reads_back_as_the_shortlist(sentences: list, frequent: int, per_piece: int) -> None:
    examples = [PieceLinks(s, t, [k % len(s) for k in range(len(t))]) for s, t in sentences]
    shortlist = build_shortlist(examples, "<pad>", frequent, per_piece)
    text = shortlist.vmap()
    assert "\n\n" not in text and text.endswith("\n") and text.startswith("\t")
    always, rules = read_vmap(text)
    assert always == list(shortlist.always) and always[0] == "<pad>"
    assert rules == {k: list(v) for k, v in shortlist.by_piece.items() if v}


def test_learn_shortlist_translates_every_sentence_once_in_batches_of_similar_lengths() -> None:
    seen: list[list[str]] = []

    def piece_links(texts):
        seen.append(list(texts))
        return [PieceLinks(t.split(), t.upper().split(), list(range(len(t.split())))) for t in texts]

    sentences = [" ".join("w" * k for _ in range(k % 7 + 1)) for k in range(1, 40)]
    done: list[int] = []
    shortlist = learn_shortlist(piece_links, sentences, "<pad>", 100, 3, batch=8, progress=done.append)
    assert sorted(sum(seen, [])) == sorted(sentences) and all(len(b) <= 8 for b in seen)
    assert [len(t) for t in sum(seen, [])] == sorted(len(t) for t in sentences)
    assert sum(done) == len(sentences) and shortlist.sentences == len(sentences)
    assert shortlist.by_piece["ww"] == ("WW",)


def test_a_model_without_a_shortlist_is_told_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"has no shortlist yet: build one with `mtpipe models shortlist --model m CORPUS.txt`"):
        shortlist_for(ModelRef("m", tmp_path, "r"))


def test_saved_shortlists_are_listed_per_model_revision(tmp_path: Path) -> None:
    one, two = ModelRef("org/m", tmp_path, "r1"), ModelRef("org/m", tmp_path, "r2")
    shortlist = Shortlist(("<pad>", "x"), {"a": ("x",)}, 3)
    for model in (one, two):
        assert save_shortlist(model, shortlist, {"corpus": ["c.txt"]}) == shortlist_path(model) == shortlist_for(model)
    assert shortlist_path(one).read_text(encoding="utf-8") == shortlist.vmap()
    assert shortlist_for(ModelRef("../elsewhere/m", tmp_path, "r1")) == shortlist_path(one)  # the same weights, named otherwise
    assert [(s.model, s.revision, s.sentences) for s in shortlists()] == [("org/m", "r1", 3), ("org/m", "r2", 3)]
    shortlist_path(two).with_suffix(".json").write_text("{", encoding="utf-8")
    assert [(s.revision, s.sentences) for s in shortlists()][1] == ("?", 0)
    assert not [p for p in shortlist_path(one).parent.iterdir() if p.name.startswith(".")]


def test_only_ctranslate2_decodes_with_a_shortlist(tmp_path: Path) -> None:
    assert choose_backend(DecodeSettings(shortlist=True)) == ("ctranslate2", None)
    assert DecodeSettings(shortlist=True).needs_fast and not DecodeSettings().needs_fast
    with pytest.raises(ModelError, match="--shortlist needs --backend ctranslate2"):
        BACKENDS["transformers"](ModelRef("m", tmp_path, "r"), DecodeSettings(shortlist=True))


def test_the_memory_keeps_shortlisted_translations_apart(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(BACKENDS, "echo", EchoBackend)
    model = ModelRef("m", tmp_path, "r")
    with pytest.raises(ModelError, match="no shortlist yet"):
        Translator(model, "echo", DecodeSettings(shortlist=True), None)
    save_shortlist(model, Shortlist(("<pad>",), {}, 0), {})
    keys = {Translator(model, "echo", DecodeSettings(shortlist=s), None).key for s in (False, True)}
    save_shortlist(model, Shortlist(("<pad>", "x"), {}, 1), {})  # rebuilt: its translations are others
    keys.add(Translator(model, "echo", DecodeSettings(shortlist=True), None).key)
    assert len(keys) == 3


# With the fixture model: slow.

def mtpipe(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def fixture_shortlist() -> Path:
    """Where the fixture model's shortlist is (other tests store other models' beside it)."""
    return shortlist_path(resolve(str(TINY_MODEL)))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "news.fra"
    lines = shared_file(SHARED / "data" / "testsets" / "fra-eng" / "newstest2013.fra").read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:300]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def built(corpus: Path) -> subprocess.CompletedProcess:
    return mtpipe("models", "shortlist", "--model", str(TINY_MODEL), str(corpus), "--quiet", "--max-sentences", "250")


@pytest.mark.slow
def test_shortlist_then_run_with_it_through_the_command(built: subprocess.CompletedProcess, tmp_path: Path) -> None:
    assert built.returncode == 0, built.stderr
    assert "learnt from 250 sentences; use it with --shortlist" in built.stderr
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("Le conseil municipal a voté le budget.\n\nIl pleut sur la ville.\n", encoding="utf-8")
    plain = mtpipe("run", str(tmp_path / "in"), "-o", str(tmp_path / "plain"), "--model", str(TINY_MODEL), "--quiet")
    short = mtpipe("run", str(tmp_path / "in"), "-o", str(tmp_path / "short"), "--model", str(TINY_MODEL), "--quiet", "--shortlist")
    assert plain.returncode == short.returncode == 0, short.stderr
    assert "(0 from memory)" in short.stdout + short.stderr  # not the full vocabulary's translations
    summary = json.loads((tmp_path / "short" / "summary.json").read_text(encoding="utf-8"))
    vmap = fixture_shortlist()
    assert summary["backend"] == "ctranslate2" and len(summary["settings"]["shortlist"]) == 16
    records = (tmp_path / "short" / "a.align.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(r)["src"] for r in records] == ["Le conseil municipal a voté le budget.", "Il pleut sur la ville."]
    listed = mtpipe("models", "list").stdout
    assert "--int8--shortlist" in listed and f"{TINY_MODEL}" in listed and "250" in listed
    converted = ct2_cache_dir(resolve(str(TINY_MODEL)), "int8", shortlist=True)
    assert (converted / "vmap.txt").read_bytes() == vmap.read_bytes()


@pytest.mark.slow
def test_the_decoder_start_token_sits_where_every_shortlist_holds_it(built: subprocess.CompletedProcess) -> None:
    from pipeline.translate import convert_ct2
    from pipeline.translate.convert import START_ID

    folder = convert_ct2(resolve(str(TINY_MODEL)), "int8")
    vocabulary = json.loads((folder / "shared_vocabulary.json").read_text(encoding="utf-8"))
    assert vocabulary[:START_ID + 1] == ["</s>", "<unk>", "<pad>"]
    assert json.loads((folder / "config.json").read_text(encoding="utf-8"))["decoder_start_token"] == "<pad>"


@pytest.mark.slow
def test_what_a_batch_gets_does_not_depend_on_the_batches_before(built: subprocess.CompletedProcess, corpus: Path) -> None:
    """CTranslate2 (4.8) keeps an id→position map from one shortlist to the next; a start
    token whose position moves made the second batch fail or come out wrong."""
    from pipeline.translate import CTranslate2Backend

    model = resolve(str(TINY_MODEL))
    sentences = corpus.read_text(encoding="utf-8").splitlines()
    plain = CTranslate2Backend(model, DecodeSettings())
    save_shortlist(model, learn_shortlist(plain.piece_links, sentences, "<pad>", frequent=50, per_piece=5), {})  # small: batches get shortlists of other sizes
    first, second = ["Le chat est sur la table de la cuisine.", "Bonjour."], ["Les élections municipales auront lieu en mars prochain, a annoncé le maire."]

    def backend() -> CTranslate2Backend:
        return CTranslate2Backend(model, DecodeSettings(shortlist=True, cores=1))  # one worker: one decoder sees every batch

    alone = {tuple(batch): [h.text for h in backend().generate(batch, 64)] for batch in (first, second)}
    for order in ((first, second), (second, first)):
        one = backend()
        assert [[h.text for h in one.generate(batch, 64)] for batch in order] == [alone[tuple(b)] for b in order]


@pytest.mark.slow
def test_a_rebuilt_shortlist_is_converted_in_again(built: subprocess.CompletedProcess, corpus: Path) -> None:
    rebuilt = mtpipe("models", "shortlist", "--model", str(TINY_MODEL), str(corpus), "--quiet", "--frequent", "50", "--per-piece", "5")
    assert rebuilt.returncode == 0, rebuilt.stderr
    vmap = fixture_shortlist()
    converted = ct2_cache_dir(resolve(str(TINY_MODEL)), "int8", shortlist=True)
    always = vmap.read_text(encoding="utf-8").split("\n")[0].split()
    assert (converted / "vmap.txt").read_bytes() == vmap.read_bytes() and len(always) == 51


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (["models", "shortlist", "--model", str(TINY_MODEL), "."], "corpus . cannot be used: it is a folder, not a regular file"),
        (["models", "shortlist", "--model", str(TINY_MODEL), "missing.txt"], "corpus missing.txt cannot be used: it does not exist"),
        (["models", "shortlist", "--model", str(TINY_MODEL), "empty.txt"], "corpus empty.txt cannot be used: the file is empty"),
        (["models", "shortlist", "--model", str(TINY_MODEL), "blank.txt"], "corpus blank.txt cannot be used: it contains only whitespace"),
        (["models", "shortlist", "--model", str(TINY_MODEL), "blank.txt", "--per-piece", "0"], "--per-piece must be at least 1"),
        (["translate", "--model", str(TINY_MODEL), "--shortlist", "--backend", "transformers", "a.txt"], "--shortlist needs --backend ctranslate2"),
    ],
)
def test_what_cannot_be_done_is_one_sentence(built: subprocess.CompletedProcess, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_text("\n \n", encoding="utf-8")
    (tmp_path / "a.txt").write_text("Bonjour.\n", encoding="utf-8")
    done = mtpipe(*args, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_shortlist_asked_for_a_model_without_one(tmp_path: Path) -> None:
    """Any other cache: no shortlist there."""
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "translate", "--model", str(TINY_MODEL), "--shortlist", "-"],
        input="Bonjour.\n", capture_output=True, text=True, env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)}, timeout=120,
    )
    assert done.returncode == 2 and f"model {TINY_MODEL} has no shortlist yet: build one with `mtpipe models shortlist" in done.stderr
