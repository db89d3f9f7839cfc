"""Article formats through a run: a mixed folder as a user has one, with the fixture
model (real word links), and the registry that decides what is read."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from conftest import SEED, TINY_MODEL

from pipeline.cli import main
from pipeline.formats import FORMATS, format_for

SEED_LINES = [line for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()][:6]
SCRIPT = '<script>if (a < b) { document.write("<p>Bonjour</p>"); }</script>'
HTML = (
    "<!DOCTYPE html>\r\n<html lang=fr><head><meta charset=utf-8><title>Un article</title>" + SCRIPT + "</head>\r\n<body>\r\n"
    + "".join(f'<p>{line.replace("la ", "la <em>", 1).replace(" ", "</em> ", 1) if "la " in line else line}</p>\r\n' for line in SEED_LINES)
    + '<p>Voir <a href="https://exemple.fr/a?b=1&amp;c=2">le site</a> et <code>print(x)</code>.</p>\r\n</body></html>\r\n'
)
MARKDOWN = "---\ntitle: Essai\n---\n# " + SEED_LINES[0] + "\n\n" + "\n".join(SEED_LINES[1:4]) + "\n\n```python\nprint('Problèmes de sommeil.')\n```\n\n- [Le site](https://exemple.fr) est **très** utile.\n"
TAG = re.compile(r"<[^>]*>")


def write_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading(SEED_LINES[0], level=1)
    paragraph = document.add_paragraph("Le chat ")
    paragraph.add_run("noir").bold = True
    paragraph.add_run(" dort sur la table.")
    for line in SEED_LINES[1:3]:
        document.add_paragraph(line)
    document.sections[0].header.paragraphs[0].text = "Journal du matin"
    document.save(str(path))


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int, str]:
    root = tmp_path_factory.mktemp("mixed")
    src, out = root / "in", root / "out"
    src.mkdir()
    (src / "a.txt").write_text("\n".join(SEED_LINES) + "\n", encoding="utf-8")
    (src / "b.md").write_text(MARKDOWN, encoding="utf-8")
    (src / "c.html").write_bytes(HTML.encode("utf-8"))
    write_docx(src / "d.docx")
    (src / "e.pdf").write_bytes(b"%PDF-1.4\n")
    (src / "f.rtf").write_text("{\\rtf1 Bonjour}", encoding="ascii")
    (src / "g").write_text("Bonjour.", encoding="utf-8")
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["run", str(src), "-o", str(out), "--model", str(TINY_MODEL), "--no-cache", "--quiet"])
    return src, out, code, err.getvalue()


@pytest.mark.slow
def test_mixed_folder_translates_each_supported_file_and_lists_the_others(mixed) -> None:
    src, out, code, err = mixed
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    status = {a["input"]: a["status"] for a in summary["articles"]}
    assert status == {"a.txt": "ok", "b.md": "ok", "c.html": "ok", "d.docx": "ok", "e.pdf": "unsupported", "f.rtf": "unsupported", "g": "unsupported"}
    assert code == 0, err
    assert "3 unsupported: .pdf, .rtf, no suffix" in err.splitlines()[-1]
    for name in ("a.en.txt", "b.en.md", "c.en.html", "d.en.docx"):
        assert (out / name).is_file(), name
    for name in ("a", "b", "c", "d"):
        records = [json.loads(line) for line in (out / f"{name}.align.jsonl").read_text(encoding="utf-8").splitlines()]
        assert records and all("<" not in r["src"] and r["mt"] and "words" in r for r in records), name


@pytest.mark.slow
@pytest.mark.parametrize("name", ["b.md", "c.html"])
def test_records_say_where_each_sentence_sits_in_the_source(mixed, name: str) -> None:
    src, out, _, _ = mixed
    text = (src / name).read_bytes().decode("utf-8")
    records = [json.loads(line) for line in (out / f"{Path(name).stem}.align.jsonl").read_text(encoding="utf-8").splitlines()]
    for r in records:
        start, end = r["source"]
        words = r["src"].split()
        span = re.sub(r"\s*<code>.*?</code>", "", text[start:end])  # code stays out of the sentence, with the space before it
        assert span.startswith(words[0]) and span.endswith(words[-1]), r
        pattern = r"[\s\S]*?".join(re.escape(word) for word in words)  # its words, in order, markup between
        assert re.fullmatch(pattern, span), r
        if name.endswith(".html"):
            assert re.sub(r"\s+", " ", TAG.sub("", span)) == r["src"], r
    for name in ("a", "d"):  # plain text and Word have no character source
        assert all("source" not in json.loads(line) for line in (out / f"{name}.align.jsonl").read_text(encoding="utf-8").splitlines())


@pytest.mark.slow
def test_html_keeps_every_tag_script_and_url(mixed) -> None:
    src, out, _, _ = mixed
    english = (out / "c.en.html").read_bytes().decode("utf-8")
    tags = lambda text: Counter(t for t in TAG.findall(text.replace(SCRIPT, "")) if not t.startswith("<html"))  # noqa: E731
    assert tags(english) == tags(HTML)
    assert SCRIPT in english and english.startswith("<!DOCTYPE html>\r\n<html lang=en>")
    assert '<a href="https://exemple.fr/a?b=1&amp;c=2">' in english and "<code>print(x)</code>" in english
    for line in SEED_LINES:  # every paragraph's text changed
        assert f"<p>{line}</p>" not in english


@pytest.mark.slow
def test_markdown_keeps_code_front_matter_and_link_destinations(mixed) -> None:
    src, out, _, _ = mixed
    english = (out / "b.en.md").read_bytes().decode("utf-8")
    front, rest = english.split("\n---\n# ", 1)
    assert front.startswith("---\ntitle: ") and "Essai" not in front  # the title is read by people: translated
    assert "```python\nprint('Problèmes de sommeil.')\n```" in english
    assert "](https://exemple.fr)" in english and english.count("**") == 2
    assert SEED_LINES[0] not in english


@pytest.mark.slow
def test_docx_opens_and_keeps_paragraphs_styles_and_header(mixed) -> None:
    import docx

    src, out, _, _ = mixed
    before, after = docx.Document(str(src / "d.docx")), docx.Document(str(out / "d.en.docx"))
    assert len(after.paragraphs) == len(before.paragraphs)
    assert [p.style.name for p in after.paragraphs] == [p.style.name for p in before.paragraphs]
    assert [p.text for p in after.paragraphs] != [p.text for p in before.paragraphs]
    assert any(r.bold for p in after.paragraphs for r in p.runs)  # the bold run came back
    assert after.sections[0].header.paragraphs[0].text != "Journal du matin"


def test_a_file_of_another_type_named_on_the_command_line_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4\n")
    code = main(["run", str(tmp_path / "notes.pdf"), "-o", str(tmp_path / "out"), "--model", str(TINY_MODEL), "--no-cache", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    known = ", ".join(sorted(FORMATS)[:-1]) + " and " + sorted(FORMATS)[-1]
    assert f"notes.pdf: a .pdf file; mtpipe reads {known} articles" in err


@pytest.mark.parametrize(
    ("name", "data", "text"),
    [
        ("a.txt", b"Titre\nParagraphe.\n", "Titre\nParagraphe.\n"),
        ("a.html", b"<h1>Titre</h1><p>Paragraphe.</p>", "Titre\n\nParagraphe."),
        ("a.md", b"# Titre\nParagraphe.\n", "Titre\n\nParagraphe."),
    ],
)
def test_document_text_keeps_blocks_apart(name: str, data: bytes, text: str) -> None:
    """A document's text: plain text as it was, blocks of markup a blank line apart."""
    assert format_for(name).read(data, name).text == text


@pytest.mark.parametrize(
    ("name", "kind"),
    [("a.txt", "text"), ("A.TXT", "text"), ("b.md", "markdown"), ("b.markdown", "markdown"), ("c.html", "html"), ("c.HTM", "html"), ("d.docx", "docx"), ("e.pdf", None), ("f", None), (".md", None)],
)
def test_format_for(name: str, kind: str | None) -> None:
    fmt = format_for(name)
    assert (fmt.name if fmt else None) == kind
