from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import EchoBackend
from sacrebleu.metrics import CHRF

from pipeline.hub import ModelRef
from pipeline.ingest import IngestError
from pipeline.memory import TranslationMemory
from pipeline.outdir import OutputFolder
from pipeline.run import OutputBusy, discover, output_paths, read_found, run, run_date
from pipeline.translate import DecodeSettings, Translator

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"


def make_corpus(root: Path) -> None:
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "good.txt").write_text("Le chat dort. Il pleut.\n\nFin de l'article.\n", encoding="utf-8")
    (root / "bom.txt").write_bytes(b"\xef\xbb\xbf\xff\xfe\xfd")  # a UTF-8 byte-order mark, then no UTF-8
    (root / "image.txt").write_bytes(PNG)
    (root / "w1252.txt").write_bytes("L’été à Noël coûte 5 €.\r\n".encode("cp1252"))
    (root / "sub" / "deep" / "note.md").write_text("# Titre\n\nTexte.", encoding="utf-8")
    (root / "sub" / "ignored.pdf").write_bytes(b"%PDF")


def translator(tmp_path: Path, memory: bool = True) -> Translator:
    tm = TranslationMemory(tmp_path / "tm.sqlite3") if memory else None
    return Translator(ModelRef("echo", tmp_path, "r1"), "echo", DecodeSettings(), tm)


def statuses(summary: dict) -> dict[str, str]:
    return {a["input"]: a["status"] for a in summary["articles"]}


@pytest.mark.parametrize(
    "name, data",
    [("empty.txt", b""), ("blank.txt", b" \n\n"), ("code.md", b"```\nx = 1\n```\n"), ("table.md", b"| 2011 | 41 |\n|---|---|\n| 2022-09 | v2 |\n"), ("vue.html", b"<template><div/></template>")],
)
def test_nothing_to_translate_is_copied_and_ok(tmp_path: Path, name: str, data: bytes) -> None:
    """An article without prose is not an error: it is copied, ok with 0 sentences and a
    note, and its review page says so; the model is not loaded for it."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / name).write_bytes(data)
    summary = run([tmp_path / "in"], tmp_path / "out", translator(tmp_path)).to_json()
    [article] = summary["articles"]
    assert (article["status"], article["sentences"]) == ("ok", 0) and "nothing to translate" in article["note"]
    files = output_paths(tmp_path / "out", name)
    assert files.text.read_bytes() == data and not summary["model_loaded"]
    assert "Nothing to translate" in files.html.read_text(encoding="utf-8")


def test_batch_translates_good_files_and_reports_bad_ones(tmp_path: Path) -> None:
    make_corpus(tmp_path / "in")
    out = tmp_path / "out"
    summary = run([tmp_path / "in"], out, translator(tmp_path)).to_json()
    assert statuses(summary) == {
        "bom.txt": "error",
        "good.txt": "ok",
        "image.txt": "error",
        "sub/deep/note.md": "ok",
        "sub/ignored.pdf": "unsupported",
        "w1252.txt": "ok",
    }
    assert "a .pdf file" in summary["articles"][4]["error"]
    errors = {a["input"]: a["error"] for a in summary["articles"] if a["error"]}
    assert "not valid utf-8-sig" in errors["bom.txt"] and "binary" in errors["image.txt"]
    assert all("\n" not in e for e in errors.values())
    assert (out / "good.en.txt").read_text(encoding="utf-8") == "LE CHAT DORT. IL PLEUT.\n\nFIN DE L'ARTICLE.\n"
    assert (out / "w1252.en.txt").read_bytes().decode("utf-8") == "L’ÉTÉ À NOËL COÛTE 5 €.\r\n"
    assert (out / "sub" / "deep" / "note.en.md").read_text(encoding="utf-8") == "# TITRE\n\nTEXTE."
    records = [json.loads(line) for line in (out / "good.align.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["src"], r["mt"]) for r in records] == [
        ("p1.s1", "Le chat dort.", "LE CHAT DORT."),
        ("p1.s2", "Il pleut.", "IL PLEUT."),
        ("p3.s1", "Fin de l'article.", "FIN DE L'ARTICLE."),
    ]
    on_disk = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert on_disk["totals"] == {
        "articles": 6, "ok": 3, "skipped": 0, "error": 2, "unsupported": 1, "ignored": 0, "pending": 0, "sentences": 6, "from_memory": 0
    }


def test_rerun_skips_unchanged_and_memory_serves_deleted_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_corpus(tmp_path / "in")
    out = tmp_path / "out"
    run([tmp_path / "in"], out, translator(tmp_path))
    again = run([tmp_path / "in"], out, translator(tmp_path)).to_json()
    assert statuses(again)["good.txt"] == "skipped" and again["totals"]["skipped"] == 3
    (tmp_path / "in" / "good.txt").write_text("Le chat dort. Il neige.\n", encoding="utf-8")
    for path in output_paths(out, "w1252.txt"):
        path.unlink()
    monkeypatch.setattr(EchoBackend, "loads", 0)
    third = translator(tmp_path)
    summary = run([tmp_path / "in"], out, third).to_json()
    by_name = {a["input"]: a for a in summary["articles"]}
    assert by_name["good.txt"]["status"] == "ok" and by_name["good.txt"]["from_memory"] == 1
    assert by_name["w1252.txt"]["status"] == "ok" and by_name["w1252.txt"]["from_memory"] == 1
    assert by_name["sub/deep/note.md"]["status"] == "skipped"
    assert EchoBackend.loads == 1  # only "Il neige." needed the engine
    forced = run([tmp_path / "in"], out, translator(tmp_path), force=True).to_json()
    assert forced["totals"]["skipped"] == 0 and forced["totals"]["ok"] == 3


def test_output_inside_input_is_not_ingested(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    out = tmp_path / "translated"
    run([tmp_path], out, translator(tmp_path))
    found = {f.rel: f.status for f in discover([tmp_path], out)}
    assert found["translated/"] == "ignored" and found["good.txt"] is None
    assert not any(n.startswith("translated/") and n != "translated/" for n in found)


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_symbolic_links_are_reported_not_followed(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "outside.txt").write_text("Secret.", encoding="utf-8")
    (tmp_path / "in" / "a.txt").write_text("Texte.", encoding="utf-8")
    (tmp_path / "in" / "link.txt").symlink_to(tmp_path / "outside.txt")
    (tmp_path / "in" / "loop").symlink_to(tmp_path / "in")
    summary = run([tmp_path / "in"], tmp_path / "out", translator(tmp_path)).to_json()
    assert statuses(summary) == {"a.txt": "ok", "link.txt": "error", "loop": "error"}
    assert all("symbolic link" in a["error"] for a in summary["articles"] if a["status"] == "error")


@pytest.mark.parametrize("field, value", [("unit", [1]), ("ref", {"x": 1}), ("chrf", "high"), ("bleu", True)])
def test_a_hand_edited_scored_record_leaves_the_article_out_of_the_corpus_score(tmp_path: Path, field: str, value: object) -> None:
    """An unchanged article's records are read back for the corpus scores: one edited by
    hand is named, not a traceback after all the work."""
    for folder, text in (("in", "Le chat dort.\n"), ("ref", "LE CHAT DORT.\n")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    run([tmp_path / "in"], out, translator(tmp_path), references=tmp_path / "ref")
    path = out / "a.align.jsonl"
    path.write_text(json.dumps(json.loads(path.read_text(encoding="utf-8")) | {field: value}) + "\n", encoding="utf-8")
    again = run([tmp_path / "in"], out, translator(tmp_path), references=tmp_path / "ref").to_json()
    [article] = again["articles"]
    assert article["status"] == "skipped" and f"line 1 is not a sentence record (its {field} is not what mtpipe writes there)" in article["reference_error"]
    assert "scores" not in again  # no article could be scored


def test_summary_is_dated_by_source_date_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reproducible runs: the summary's date is SOURCE_DATE_EPOCH's, as the pages' are."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("Le chat dort.\n", encoding="utf-8")
    assert run([tmp_path / "in"], tmp_path / "out", translator(tmp_path, memory=False)).to_json()["date"] == "1970-01-01T00:00:00+00:00"
    run([tmp_path / "in"], tmp_path / "again", translator(tmp_path, memory=False))
    # durations are left out (0), so two runs write the same summary
    assert (tmp_path / "out" / "summary.json").read_bytes() == (tmp_path / "again" / "summary.json").read_bytes()


@pytest.mark.parametrize("epoch", ["99999999999999", "-5", "soon"])
def test_an_unusable_source_date_epoch_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, epoch: str) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    with pytest.raises(ValueError, match="is not a date mtpipe can write"):
        run_date()


def test_references_are_paired_and_scored(tmp_path: Path) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "ref" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "sub" / "a.txt").write_text("Le chat dort. Il pleut.\n\nFin.\n", encoding="utf-8")
    (tmp_path / "in" / "b.txt").write_text("Sans référence.", encoding="utf-8")
    (tmp_path / "ref" / "sub" / "a.txt").write_text("LE CHAT DORT. IL PLEUT.\n\nTHE END.\n", encoding="utf-8")
    out = tmp_path / "out"
    summary = run([tmp_path / "in"], out, translator(tmp_path), references=tmp_path / "ref").to_json()
    by_name = {a["input"]: a for a in summary["articles"]}
    assert by_name["b.txt"]["scores"] is None and by_name["b.txt"]["reference"] is None
    scored = by_name["sub/a.txt"]
    assert scored["pairing"] == "lines" and 0 < scored["scores"]["chrf"] < 100
    records = [json.loads(x) for x in (out / "sub" / "a.align.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["unit"], r["ref"], r["chrf"]) for r in records] == [
        ("p1.s1", "LE CHAT DORT. IL PLEUT.", 100.0),
        ("p1.s1", "LE CHAT DORT. IL PLEUT.", 100.0),
        ("p3.s1", "THE END.", round(CHRF().sentence_score("FIN.", ["THE END."]).score, 4)),
    ]
    assert records[0]["bleu"] == 100.0
    assert summary["scores"]["chrf"]["score"] == scored["scores"]["chrf"] and "nrefs:1" in summary["scores"]["bleu"]["signature"]
    (tmp_path / "ref" / "sub" / "a.txt").write_text("LE CHAT DORT. IL PLEUT.\n\nFIN.\n", encoding="utf-8")
    again = run([tmp_path / "in"], out, translator(tmp_path), references=tmp_path / "ref").to_json()
    assert statuses(again) == {"b.txt": "skipped", "sub/a.txt": "ok"}
    assert again["scores"]["chrf"]["score"] == 100.0


def test_a_second_run_on_the_same_output_stops(tmp_path: Path) -> None:
    make_corpus(tmp_path / "in")
    out = tmp_path / "out"
    with OutputFolder(out):
        with pytest.raises(OutputBusy, match="another mtpipe run is writing to"):
            run([tmp_path / "in"], out, translator(tmp_path))
    assert run([tmp_path / "in"], out, translator(tmp_path)).to_json()["totals"]["ok"] == 3


def test_every_article_gets_page_and_exports_and_the_run_an_index(tmp_path: Path) -> None:
    make_corpus(tmp_path / "in")
    out = tmp_path / "out"
    run([tmp_path / "in"], out, translator(tmp_path))
    for rel in ("good.txt", "w1252.txt", "sub/deep/note.md"):
        files = output_paths(out, rel)
        assert files.html.read_text(encoding="utf-8").count('<tr id="p') == len(files.jsonl.read_text(encoding="utf-8").splitlines())
        assert files.tmx.read_text(encoding="utf-8").count("<tu ") == len(files.jsonl.read_text(encoding="utf-8").splitlines())
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="sub/deep/note.review.html"' in index and "bom.txt" in index and not (out / "bom.review.html").exists()


def test_inputs_that_would_write_the_same_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.md").write_text("Un.", encoding="utf-8")
    (tmp_path / "in" / "a.txt").write_text("Deux.", encoding="utf-8")
    summary = run([tmp_path / "in"], tmp_path / "out", translator(tmp_path)).to_json()
    assert statuses(summary) == {"a.md": "ok", "a.txt": "error"}
    assert "a.md writes the same output files" in summary["articles"][1]["error"]


def test_rewrite_reports_rebuilds_pages_from_records(tmp_path: Path) -> None:
    from pipeline.run import rewrite_reports

    make_corpus(tmp_path / "in")
    out = tmp_path / "out"
    run([tmp_path / "in"], out, translator(tmp_path))
    files = output_paths(out, "good.txt")
    before = {p: p.read_bytes() for p in (files.html, files.tmx, files.tsv)}
    for path in before:
        path.unlink()
    os.environ["SOURCE_DATE_EPOCH"] = "0"
    try:
        summary = rewrite_reports(out).to_json()
    finally:
        del os.environ["SOURCE_DATE_EPOCH"]
    assert files.tsv.read_bytes() == before[files.tsv]
    assert b"1970-01-01T00:00:00+00:00" in files.html.read_bytes()
    assert {a["input"]: a["flagged"] for a in summary["articles"] if a["status"] == "ok"} == {"good.txt": 2, "w1252.txt": 1, "sub/deep/note.md": 0}  # echo "translates" into the source
    with pytest.raises(FileNotFoundError, match="holds no summary.json"):
        rewrite_reports(tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere").exists()


def test_articles_are_held_a_window_at_a_time_and_one_gone_meanwhile_is_an_error(tmp_path: Path, monkeypatch) -> None:
    import pipeline.run.planning as batch
    import pipeline.translate.translator as translate

    monkeypatch.setattr(translate, "WINDOW_SENTENCES", 4)
    (tmp_path / "in").mkdir()
    for i in range(12):
        (tmp_path / "in" / f"a{i:02d}.txt").write_text(f"Phrase {i} un. Phrase {i} deux.", encoding="utf-8")
    live, most = set(), [0]
    load, release = batch.Pending.load, batch.Pending.release

    def counting_load(self):
        if self.article.input == "a01.txt":
            (tmp_path / "in" / "a09.txt").unlink()  # gone after the scan counted it
        live.add(id(self))
        most[0] = max(most[0], len(live))
        return load(self)

    def counting_release(self):
        live.discard(id(self))
        release(self)

    monkeypatch.setattr(batch.Pending, "load", counting_load)
    monkeypatch.setattr(batch.Pending, "release", counting_release)
    summary = run([tmp_path / "in"], tmp_path / "out", translator(tmp_path, memory=False)).to_json()
    status = {a["input"]: a for a in summary["articles"]}
    assert status["a09.txt"]["status"] == "error" and "it does not exist" in status["a09.txt"]["error"]
    assert all(a["status"] == "ok" for name, a in status.items() if name != "a09.txt")
    assert most[0] <= 3 and not live  # a window of 4 sentences: two articles, and the one that filled it


def _scanned(root: Path, rel: str):
    return next(f for f in discover([root], root.parent / "out") if f.rel == rel)


def test_a_folder_swapped_for_a_link_after_the_scan_is_not_followed(tmp_path: Path) -> None:
    """The scan saw in/zz/z.txt; zz is then a link to a secret folder: nothing is read."""
    (tmp_path / "in" / "zz").mkdir(parents=True)
    (tmp_path / "in" / "zz" / "z.txt").write_text("Le chat.", encoding="utf-8")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "z.txt").write_text("Secret.", encoding="utf-8")
    found = _scanned(tmp_path / "in", "zz/z.txt")
    (tmp_path / "in" / "zz").rename(tmp_path / "in" / "zz.real")
    (tmp_path / "in" / "zz").symlink_to(tmp_path / "secret")
    with pytest.raises(IngestError, match="replaced by a symbolic link"):
        read_found(found)


def test_a_file_replaced_after_the_scan_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("Le chat.", encoding="utf-8")
    found = _scanned(tmp_path / "in", "a.txt")
    (tmp_path / "other.txt").write_text("Secret.", encoding="utf-8")
    (tmp_path / "other.txt").replace(tmp_path / "in" / "a.txt")
    with pytest.raises(IngestError, match="replaced by another file"):
        read_found(found)


def test_input_swapped_for_links_thousands_of_times_never_reads_outside(tmp_path: Path) -> None:
    """A thread swaps a folder on the article's path for a link to a secret folder and
    back every few milliseconds while the article is read 2,000 times: every read gives
    the article or a refusal, never the secret."""
    import threading

    (tmp_path / "in" / "zz").mkdir(parents=True)
    (tmp_path / "in" / "zz" / "z.txt").write_text("Le chat.", encoding="utf-8")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "z.txt").write_text("Secret.", encoding="utf-8")
    found = _scanned(tmp_path / "in", "zz/z.txt")
    stop = threading.Event()

    def swap() -> None:
        real, link = tmp_path / "in" / "zz.real", tmp_path / "in" / "zz.link"
        link.symlink_to(tmp_path / "secret")
        while not stop.is_set():
            (tmp_path / "in" / "zz").rename(real)
            link.rename(tmp_path / "in" / "zz")
            time.sleep(0.001)
            (tmp_path / "in" / "zz").rename(link)
            real.rename(tmp_path / "in" / "zz")
            time.sleep(0.001)

    swapper = threading.Thread(target=swap)
    swapper.start()
    outcomes = Counter()
    try:
        for _ in range(2000):
            try:
                outcomes[read_found(found)] += 1
            except IngestError as exc:
                outcomes[str(exc).split(" ")[0]] += 1
    finally:
        stop.set()
        swapper.join()
    assert b"Secret." not in outcomes and outcomes[b"Le chat."] > 0


def test_a_reference_is_read_through_the_reference_folder_never_a_link(tmp_path: Path) -> None:
    """REF/sub/a.txt reached through a folder that is a link (to anywhere) is not read:
    the article is unscored, saying why."""
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "sub" / "a.txt").write_text("Le chat dort.\n", encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "a.txt").write_text("SECRET.\n", encoding="utf-8")
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "sub").symlink_to(tmp_path / "elsewhere")
    summary = run([tmp_path / "in"], tmp_path / "out", translator(tmp_path), references=tmp_path / "ref").to_json()
    [article] = summary["articles"]
    assert article["status"] == "ok" and article["scores"] is None and "symbolic link" in article["reference_error"]
    assert "SECRET" not in (tmp_path / "out" / "sub" / "a.align.jsonl").read_text(encoding="utf-8")


def test_a_lost_engine_stops_the_run_instead_of_failing_each_article(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """EngineError (every Ray actor dead) ends the run at once: no article is blamed and
    the engine is not called again article by article."""
    import pipeline.translate.translator as translator_module
    from pipeline.errors import EngineError

    calls = []

    class Lost(translator_module.Local):
        def generate(self, texts, max_new_tokens):
            calls.append(len(texts))
            raise EngineError("every Ray actor has died (2 lost)")

    monkeypatch.setitem(translator_module.EXECUTORS, "lost", Lost)
    (tmp_path / "in").mkdir()
    for i in range(3):
        (tmp_path / "in" / f"a{i}.txt").write_text(f"Phrase {i}. Fin.", encoding="utf-8")
    lost = Translator(ModelRef("echo", tmp_path, "r1"), "echo", DecodeSettings(), None, executor="lost")
    with pytest.raises(EngineError, match="every Ray actor has died"):
        run([tmp_path / "in"], tmp_path / "out", lost)
    assert len(calls) == 1


def test_a_hand_edited_summary_that_is_no_object_is_read_as_none(tmp_path: Path) -> None:
    """A run with nothing to translate takes the earlier summary's settings; a summary
    turned into a JSON list by hand is no summary, not a traceback."""
    (tmp_path / "in").mkdir()
    out = tmp_path / "out"
    run([tmp_path / "in"], out, translator(tmp_path, memory=False))
    (out / "summary.json").write_text("[]", encoding="utf-8")
    summary = run([tmp_path / "in"], out, translator(tmp_path, memory=False)).to_json()
    assert summary["totals"]["articles"] == 0 and summary["backend"] == "echo"


@pytest.mark.parametrize(
    "text, limit, message",
    [
        ("x" * 10, 10, None),
        ("x" * 11, 10, "it is 0.0 MB, more than the 1e-05 MB mtpipe translates as one article"),
        ("é" * 6, 10, "it is 0.0 MB"),  # 6 characters, but 12 bytes: refused as a file, before it is read
    ],
)
def test_articles_larger_than_the_limit_are_refused_before_they_are_read(tmp_path: Path, text: str, limit: int, message: str | None) -> None:
    from pipeline.formats.base import ReadOptions
    from pipeline.run.discover import parse

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text(text, encoding="utf-8")
    found = next(f for f in discover([tmp_path / "in"], tmp_path / "out") if f.rel == "a.txt")
    options = ReadOptions(max_bytes=limit)
    if message is None:
        assert parse("a.txt", read_found(found, options), options).lines[0].text == text
        return
    with pytest.raises(IngestError, match="more than the") as refused:
        parse("a.txt", read_found(found, options), options)
    assert message in str(refused.value) and "split it into smaller articles, or raise the limit with --max-article-mb" in str(refused.value)
