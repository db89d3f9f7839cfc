"""Article formats: tags kept, bytes outside the translated text kept, and their cost.

1. The format test corpora (tests/test_formats_html.py and tests/test_formats_markdown.py,
   their tables of cases) go through read → segment → write with two stand-in
   translations (no model): "identity" (each sentence's English is its French, words
   linked to themselves) and "upper" (upper-cased, the same words). Reported per
   format: cases whose markup comes back complete with "upper" (HTML: the multiset of
   tags, comments and declarations, alt, title, placeholder and aria-label compared case-folded; Markdown: every
   marker character run the case lists as kept, and the same counts of `*`, `_`, `[`,
   `]`, `(`, `)`, `` ` ``, `<`, `>`), cases whose protected strings (code, scripts,
   URLs, front matter) come back byte-identical, and cases where "identity" rebuilds
   the source byte for byte, which shows that every byte outside the translated text
   is copied (the cases marked inexact, a tag inside a word or whitespace runs in a
   block, are counted apart). Bars: 100% each.
2. The seed article as plain text, wrapped as HTML (a <p> per line, a <script>, an
   <em> in each paragraph) and as Markdown (a heading, emphasis, a code fence), each
   run through `mtpipe run` with the fixture model and no memory: seconds per article
   (model loading excluded: the run's own `seconds`) and the ratio to plain text,
   and the format's own read + write time.
3. Real pages (tests/data/realpages: VitePress, Docusaurus, MkDocs, Hugo, Jekyll, MDN,
   Le Monde) with the "upper" stand-in: the non-prose constructs of each kind that
   come out byte for byte and as often (anchors, container lines, macros, template
   tags, front matter keys, code, link targets, URL attributes; bar 100%), the pages
   that come out whole (an output with text translated; bar 100%); then the corpus
   through `mtpipe run` with the fixture model against the same pages' text as plain
   text files: seconds per page and the ratio. The CommonMark spec's 655 examples:
   those that render to the same elements after translation (bar 99%), with
   "upper" and with an output full of metacharacters.

    python bench/formats.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from pipeline.formats import format_for  # noqa: E402
from pipeline.segment import segment  # noqa: E402
from pipeline.translate import Translation  # noqa: E402

SEED = ROOT / "seeds" / "000_46fe319679e0c617.txt"
TINY_MODEL = ROOT / "models" / "tiny-fr-en"
_MARKS = "*_[]()`<>"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / f"{name}.py")
    module = sys.modules.setdefault(name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


def _same(text: str) -> tuple[tuple[int, int], ...]:
    return tuple((i, i) for i in range(len(text.split())))


def _write(suffix: str, data: bytes, english) -> bytes:
    fmt = format_for(f"a{suffix}")
    doc = fmt.read(data, f"a{suffix}")
    segments = segment(doc)
    return fmt.write(doc, segments, [Translation(english(s.text), None, links=_same(s.text)) for s in segments]).data


def corpus() -> list[tuple[str, int, int, int, int, int]]:
    """Per format: cases, markup complete, protected kept, exact cases, exact rebuilt."""
    html = _module("test_formats_html")
    markdown = _module("test_formats_markdown")
    rows = []
    tags = kept = exact = rebuilt = 0
    for case in html.CASES:
        upper = _write(".html", case.data, str.upper).decode(case.encoding)
        tags += html._tags(upper) == html._tags(case.source)
        kept += all(upper.count(k) >= case.source.count(k) for k in case.keep)
        if case.exact:
            exact += 1
            rebuilt += _write(".html", case.data, lambda t: t) == case.data
    rows.append(("HTML", len(html.CASES), tags, kept, exact, rebuilt))
    tags = kept = exact = rebuilt = 0
    for case in markdown.CASES.values():
        data = case.source.encode("utf-8")
        upper = _write(".md", data, str.upper).decode("utf-8")
        marks = lambda text: Counter(c for c in text if c in _MARKS)  # noqa: E731
        tags += marks(upper) == marks(case.source)
        kept += all(upper.count(k) >= case.source.count(k) for k in case.kept)
        exact += 1
        rebuilt += _write(".md", data, lambda t: " ".join(t.split())) == data
    rows.append(("Markdown", len(markdown.CASES), tags, kept, exact, rebuilt))
    return rows


def wrapped(folder: Path) -> dict[str, Path]:
    """The seed as plain text, HTML and Markdown, each in a folder of its own."""
    lines = [line for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]
    emphasised = [re.sub(r"^(\S+)", r"<em>\1</em>", line) for line in lines]
    pages = {
        ".txt": "\n".join(lines) + "\n",
        ".html": "<!DOCTYPE html>\n<html lang=fr><head><meta charset=utf-8><script>var p = '<p>';</script></head><body>\n"
        + "".join(f"<p>{line}</p>\n" for line in emphasised)
        + "</body></html>\n",
        ".md": f"# {lines[0]}\n\n" + "\n\n".join(re.sub(r"^(\S+)", r"*\1*", line) for line in lines[1:]) + "\n\n```\ncode\n```\n",
    }
    out = {}
    for suffix, text in pages.items():
        (folder / suffix[1:]).mkdir()
        out[suffix] = folder / suffix[1:] / f"seed{suffix}"
        out[suffix].write_text(text, encoding="utf-8")
    return out


def run_seconds(path: Path, out: Path) -> float:
    from pipeline.cli import main

    code = main(["run", str(path.parent), "-o", str(out), "--model", str(TINY_MODEL), "--no-cache", "--quiet", "--force"])
    assert code == 0, path
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))["articles"][0]["seconds"]


def format_seconds(path: Path, repeats: int = 20) -> float:
    """read + segment + write with the identity stand-in, per article."""
    data, suffix = path.read_bytes(), path.suffix
    start = time.perf_counter()
    for _ in range(repeats):
        _write(suffix, data, lambda t: t)
    return (time.perf_counter() - start) / repeats


def real_pages() -> tuple[dict[str, tuple[int, int]], int, int]:
    """Per construct kind: (found, kept); pages whole; pages."""
    real = _module("test_realpages")
    kinds = {kind: [0, 0] for kind in real.CONSTRUCTS}
    whole = 0
    for page in real.PAGES:
        source = page.read_text(encoding="utf-8")
        doc, out = real.english(page)
        whole += bool(segment(doc)) and out != source
        got = real.constructs(out)
        for kind, found in real.constructs(source).items():
            kinds[kind][0] += sum(found.values())
            kinds[kind][1] += sum(min(n, got[kind][c]) for c, n in found.items())
    return {k: (a, b) for k, (a, b) in kinds.items()}, whole, len(real.PAGES)


def spec_examples() -> list[tuple[str, int, int]]:
    """The CommonMark spec's examples keeping their structure, per stand-in."""
    real = _module("test_realpages")
    fmt, rows = format_for("a.md"), []
    for name, english in (("upper", str.upper), ("metacharacters", real._nasty)):
        same = 0
        for example in real.SPEC:
            doc = fmt.read(example["markdown"].encode(), "a.md")
            segments = segment(doc)
            out = fmt.write(doc, segments, [Translation(english(s.text), None, links=_same(s.text)) for s in segments]).data.decode()
            same += real._markdown_structure(out) == real._markdown_structure(example["markdown"])
        rows.append((name, same, len(real.SPEC)))
    return rows


def corpus_seconds(folder: Path, repeats: int) -> tuple[float, float, int]:
    """The real pages, and their text as plain text files, through `mtpipe run`:
    median seconds per page of each (the run's seconds over its pages, model loading
    included), and the pages."""
    real = _module("test_realpages")
    (folder / "pages").mkdir()
    (folder / "plain").mkdir()
    for page in real.PAGES:
        (folder / "pages" / page.name).write_bytes(page.read_bytes())
        doc = format_for(page.name).read(page.read_bytes(), page.name)
        (folder / "plain" / f"{page.stem}.txt").write_text(doc.text + "\n", encoding="utf-8")
    seconds = {"pages": [], "plain": []}
    for r in range(repeats):
        for kind in seconds:
            from pipeline.cli import main as cli

            out = folder / f"out-{kind}{r}"
            assert cli(["run", str(folder / kind), "-o", str(out), "--model", str(TINY_MODEL), "--no-cache", "--quiet", "--force"]) == 0
            summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
            seconds[kind].append(summary["seconds"] / len(summary["articles"]))  # articles overlap in the run's window
    return statistics.median(seconds["pages"]), statistics.median(seconds["plain"]), len(real.PAGES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    started = time.perf_counter()
    print("format      cases  markup complete  protected kept  exact rebuilds (of exact cases)")
    for name, cases, tags, kept, exact, rebuilt in corpus():
        print(f"{name:10} {cases:6}  {tags:6} ({tags / cases:6.1%})  {kept:5} ({kept / cases:6.1%})  {rebuilt:5} of {exact} ({rebuilt / max(1, exact):6.1%})")
    with tempfile.TemporaryDirectory() as tmp:
        pages = wrapped(Path(tmp))
        seconds = {suffix: [] for suffix in pages}
        for r in range(args.repeats):
            for suffix, path in pages.items():  # interleaved, so that drift hits all alike
                seconds[suffix].append(run_seconds(path, Path(tmp) / f"out{suffix}{r}"))
        base = statistics.median(seconds[".txt"])
        print(f"\nthe seed article, fixture model, median of {args.repeats} runs (model loading excluded)")
        print("format   translate s  vs text  read+write ms")
        for suffix, path in pages.items():
            median = statistics.median(seconds[suffix])
            print(f"{suffix:7} {median:11.3f}  {median / base:6.2f}x  {1000 * format_seconds(path):12.1f}")
        kinds, whole, pages = real_pages()
        print(f"\nreal pages: {whole} of {pages} whole ({whole / pages:.1%}); constructs kept byte for byte and as often")
        for kind, (found, kept) in kinds.items():
            print(f"  {kind:22} {kept:5} of {found:5} ({kept / max(1, found):6.1%})")
        found, kept = sum(f for f, _ in kinds.values()), sum(k for _, k in kinds.values())
        print(f"  {'all':22} {kept:5} of {found:5} ({kept / found:6.1%})")
        page_s, plain_s, pages = corpus_seconds(Path(tmp), args.repeats)
        print(f"real pages through mtpipe run, fixture model: {page_s:.3f} s per page, their text as plain text {plain_s:.3f} s ({page_s / plain_s:.2f}x)")
        for name, same, total in spec_examples():
            print(f"CommonMark spec, {name}: {same} of {total} examples keep their structure ({same / total:.2%})")
    print(f"\nelapsed {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
