"""Real pages from the wild: documentation sites' Markdown dialects, legacy HTML with
front matter, the CommonMark spec's examples, a DOCX library's test files.

The pages are excerpts of public repositories (tests/data/realpages/SOURCES.md says
which, under which licence); the spec's examples come from commonmark-spec
(tests/data/commonmark/README.md), the Word files from python-docx's test suite
(tests/data/docx-suite/README.md). No model: the English is the French upper-cased
word for word, or any string at all (Hypothesis) for the structure's laws.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import docx
import pytest
from conftest import ROOT
from helpers import ECHO, in_folder
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.formats import format_for
from pipeline.formats.markdown.syntax import md_parser as _parser
from pipeline.ingest import Document
from pipeline.segment import segment
from pipeline.translate import Translation

DATA = ROOT / "tests" / "data"
PAGES = sorted(p for p in (DATA / "realpages").iterdir() if p.suffix in (".md", ".html") and p.name != "SOURCES.md")
SPEC = json.loads((DATA / "commonmark" / "examples.json").read_text(encoding="utf-8"))

# What must come out byte for byte and as often as in the source, by kind.
CONSTRUCTS = {
    "heading anchor": r"\{ ?#[\w-]+[^}\n]*\}",
    "container line": r"(?m)^[ \t]*:{3,}[ \t]*[\w-]*",
    "admonition": r"(?m)^[ \t]*(?:!!!|\?\?\?\+?)[ \t]*[\w-]+",
    "content tab": r"(?m)^[ \t]*===\+?[ \t]",
    "template tag or macro": r"\{\{.*?\}\}|\{%.*?%\}|\{\*.*?\*\}",
    "emoji shortcode": r"(?<![\w:]):(?=[a-z0-9_+-]*[a-z])[a-z0-9_+-]+:(?![\w:])",
    "code span": r"`[^`\n]+`",
    "code block": r"(?ms)^[ \t]*(```|~~~).*?^[ \t]*\1|<pre\b.*?</pre>",
    "link target": r"\]\([^)\s]+|^\[[^\]\n]+\]:[ \t]*\S+",
    "url attribute": r"""\b(?:href|src|srcset|action|poster|cite)\s*=\s*(?:"[^"]*"|'[^']*')""",
    "footnote": r"\[\^[^\]\s]+\]",
    "math": r"\$\$[\s\S]*?\$\$|(?<![\\$])\$[^\s$][^$\n]*?\$",
    "component or script": r"<[A-Z][\w.-]*[^>]*>|</[A-Z][\w.-]*>|(?s:<script\b.*?</script>)",
    "front matter key": None,  # counted by _front_matter_keys
}


def _front_matter_keys(text: str) -> Counter[str]:
    """The keys of the front matter (YAML or TOML) opening a page."""
    m = re.match(r"(---|\+\+\+)\r?\n(.*?)\r?\n\1\r?\n", text, re.S)
    return Counter(re.findall(r"(?m)^[ \t-]*([\w-]+)[ \t]*[:=]", m.group(2))) if m else Counter()


def constructs(text: str) -> dict[str, Counter[str]]:
    """Every construct of each kind in a page, with how often it occurs."""
    return {kind: _front_matter_keys(text) if rx is None else Counter(re.findall(rx, text)) for kind, rx in CONSTRUCTS.items()}


def _same_words(text: str) -> tuple[tuple[int, int], ...]:
    return tuple((i, i) for i in range(len(text.split())))


def english(path: Path, data: bytes | None = None) -> tuple[Document, str]:
    """The page read, and written back with each sentence upper-cased, word for word."""
    fmt = format_for(path.name)
    doc = fmt.read(path.read_bytes() if data is None else data, path.name)
    segments = segment(doc)
    written = fmt.write(doc, segments, [Translation(s.text.upper(), -0.1, links=_same_words(s.text)) for s in segments])
    return doc, written.data.decode("utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_construct_survives_byte_for_byte(page: Path) -> None:
    """Anchors, container lines, macros, template tags, front matter keys, code, link
    targets and URL attributes come out as they went in, as often; the page has text
    translated."""
    source = page.read_text(encoding="utf-8")
    doc, out = english(page)
    assert segment(doc) and out != source
    for kind, found in constructs(source).items():
        assert constructs(out)[kind] == found, kind


def test_the_corpus_has_every_kind_of_construct() -> None:
    """The test above checks each kind on real pages, not on none."""
    total = Counter()
    for page in PAGES:
        total.update({kind: sum(c.values()) for kind, c in constructs(page.read_text(encoding="utf-8")).items()})
    assert [kind for kind in CONSTRUCTS if not total[kind]] == []


@pytest.mark.parametrize(
    "page, translated",
    [
        ("vitepress-style-guide-details.md", "::: warning NOTE"),
        ("docusaurus-admonitions.md", "description: GESTION DES AVERTISSEMENTS"),
        ("mkdocs-gpl-math-tabs.md", '=== "RENDU"'),
        ("mkdocs-gpl-math-tabs.md", '!!! abstract "OBJECTIF"'),
        ("mdn-legacy-array-slice.html", "title: Array.prototype.slice()"),  # a code name: not prose, kept
        ("legacy-news-lemonde.html", '<meta name="description" content="LARGEMENT APPROUVÉ'),
        ("legacy-news-lemonde.html", '<meta property="og:title" content="LE PROJET DE LOI'),
        ("legacy-news-lemonde.html", '<html lang="en">'),
    ],
)
def test_what_readers_see_is_translated(page: str, translated: str) -> None:
    assert translated in english(DATA / "realpages" / page)[1]


class _Structure(HTMLParser):
    """A rendered page's elements in order, text aside (and alt and title values, which
    are text people read)."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, tuple((k, v) for k, v in attrs if k not in ("alt", "title", "content"))))

    def handle_endtag(self, tag: str) -> None:
        self.tags.append(("/" + tag,))


def _markdown_structure(text: str) -> list[tuple]:
    return _Structure(_parser().render(text)).tags


def _nasty(text: str) -> str:
    """Model output full of Markdown and HTML metacharacters."""
    return "*" + text.upper().replace(" ", " _[` ") + " <b> & | # 1."


@pytest.mark.slow
@pytest.mark.parametrize("make_english", [str.upper, _nasty], ids=["upper", "metacharacters"])
def test_commonmark_spec_examples_keep_their_structure(make_english) -> None:
    """Each of the spec's 655 examples, as an article: it has an output, and at least
    99% render to the same elements after translation (measured: 100%)."""
    fmt, same = format_for("a.md"), 0
    for example in SPEC:
        doc = fmt.read(example["markdown"].encode(), "a.md")
        segments = segment(doc)
        out = fmt.write(doc, segments, [Translation(make_english(s.text), -0.1, links=_same_words(s.text)) for s in segments]).data.decode()
        same += _markdown_structure(out) == _markdown_structure(example["markdown"])
    assert len(SPEC) == 655 and same / len(SPEC) >= 0.99, same


_MARKDOWN_PAGES = [
    "# Le *titre* {#titre}\n\nUn [lien](https://a.fr \"Le titre\") et `du code`, puis ![une image](i.png).\n",
    "- Un élément\n- Un **autre**\n\n> Une citation\n> sur deux lignes\n\n1. Premier\n2. Second\n",
    "| Nom | Valeur |\n|---|---|\n| Le chat | 2011 |\n| La *souris* | `x` |\n",
    '::: tip Le titre\nUn conseil.\n:::\n\n!!! note "Attention"\n    Le corps.\n\nUne note[^1] et $x^2$.\n\n[^1]: La note.\n',
    "Une ligne coupée\nen deux  \net une pause.\n\nVoir {{ page.title }} :warning: et <span>ici</span>.\n",
]
_META = list("*_[]()`<>&|#-+.!:{}$~\\\"' \n") + ["1.", "http://", "&amp;", "<b>", "</a>", "---", "```"]


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_MARKDOWN_PAGES), st.lists(st.one_of(st.sampled_from(_META), st.text(max_size=4)), max_size=12).map("".join))
def test_no_model_output_changes_a_markdown_page_structure(page: str, output: str) -> None:
    """A law: whatever the model says, the English renders to the source's elements."""
    fmt = format_for("a.md")
    doc = fmt.read(page.encode(), "a.md")
    segments = segment(doc)
    out = fmt.write(doc, segments, [Translation(output, -0.1) for _ in segments]).data.decode()
    assert _markdown_structure(out) == _markdown_structure(page)


_HTML_PAGES = [
    '<p>Le <b>chat</b> <a href="/x" title="Le titre">dort</a> ici.</p><ul><li>Un</li><li><i>Deux</i></li></ul>',
    '<nav><a href="/">Accueil</a> · <a href="/monde">Monde</a> · <a href="/politique">Politique</a></nav><p>Voir <code>x</code>.</p>',
    '<table><tr><td>Le chat</td><td>2011</td></tr></table><img alt="Une image" src="i.png"><p>Fin{{ x }}.</p>',
]


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_HTML_PAGES), st.lists(st.one_of(st.sampled_from(_META), st.text(max_size=4)), max_size=12).map("".join))
def test_no_model_output_changes_an_html_page_structure(page: str, output: str) -> None:
    """A law: whatever the model says, the English has the source's elements, siblings
    staying siblings, in order."""
    fmt = format_for("a.html")
    doc = fmt.read(page.encode(), "a.html")
    segments = segment(doc)
    out = fmt.write(doc, segments, [Translation(output, -0.1) for _ in segments]).data.decode()
    assert _Structure(out).tags == _Structure(page).tags


WORD_FILES = sorted([*(DATA / "docx-suite").glob("*.docx"), *(DATA / "docx-empty").glob("*.docx")])


def _run_folder(tmp_path: Path, files: list[Path]) -> tuple[int, dict]:
    """The files, copied into a folder, through `mtpipe run` (echo backend): the exit
    code and the run's summary."""
    folder = tmp_path / "in"
    folder.mkdir()
    for path in files:
        (folder / path.name).write_bytes(path.read_bytes())
    done = in_folder(tmp_path, "run", "in", "-o", "out", *ECHO)
    return done.returncode, json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_a_folder_of_word_files_comes_out_whole(tmp_path: Path) -> None:
    """Every Word file of python-docx's own test suite, and files without text, only a
    table of numbers, only a picture: each ok, and its English opens."""
    code, summary = _run_folder(tmp_path, WORD_FILES)
    assert code == 0 and {a["input"]: a["status"] for a in summary["articles"]} == {p.name: "ok" for p in WORD_FILES}
    for path in WORD_FILES:
        docx.Document(str(tmp_path / "out" / path.name.replace(".docx", ".en.docx")))
    assert len(WORD_FILES) == 47 and sum(a["note"] is not None for a in summary["articles"]) >= 3


@pytest.mark.slow
def test_a_folder_of_real_pages_through_the_command(tmp_path: Path) -> None:
    """Every page of the corpus has an English page, ok, through `mtpipe run`."""
    code, summary = _run_folder(tmp_path, PAGES)
    assert code == 0 and [a["status"] for a in summary["articles"]] == ["ok"] * len(PAGES)
    for page in PAGES:
        out = (tmp_path / "out" / page.name.replace(page.suffix, ".en" + page.suffix)).read_text(encoding="utf-8")
        assert constructs(out) == constructs(page.read_text(encoding="utf-8"))
