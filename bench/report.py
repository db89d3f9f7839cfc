"""Review pages in headless Chromium: size and opening time of the seed's page and of
newstest2014 as one 3,003-line article with its reference (bars: < 2 s to open,
< 5 MB), and whether every TMX written parses, has one <tu> per unit and gives the
texts back exactly.

The seed is translated by the fixture model. newstest2014 is "translated" by the
published opus-mt-fr-en output (a lookup backend: the weights cannot be downloaded
here), so the page holds real MT, real scores and real flags; that output carries no
log-probabilities, so its confidence column reads 0. Both go through `pipeline.run.run`.

Opening time is from navigation to the first frame painted after the load event,
best and worst of --repeats; the baseline is the same page with its script removed,
so the ratio is what the interactivity costs.

    python bench/report.py [--repeats 5] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from itertools import groupby
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import run as batch  # noqa: E402
from pipeline.hub import ModelRef, resolve  # noqa: E402
from pipeline.ingest import parse  # noqa: E402
from pipeline.segment import segment  # noqa: E402
from pipeline.translate import BACKENDS, DecodeSettings, Hypothesis, Translator  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SEED = ROOT / "seeds" / "000_46fe319679e0c617.txt"


def published_lookup(testset: str) -> dict[str, str]:
    """French sentence → published English, splitting the English line the same way
    when the segmenter cuts a line in two (6 of 3,003 lines of newstest2014)."""
    fr = (DATA / "testsets" / "fra-eng" / f"{testset}.fra").read_text(encoding="utf-8").splitlines()
    mt = (DATA / "published" / "opus-mt-fr-en" / f"{testset}.fra-eng.output").read_text(encoding="utf-8").splitlines()
    table: dict[str, str] = {}
    for src, out in zip(fr, mt, strict=True):
        pieces = [s.text for s in segment(parse(src.encode(), "fr"))]
        english = [s.text for s in segment(parse(out.encode(), "en"))] if out.strip() else []
        if len(english) != len(pieces):
            english = [out] + [""] * (len(pieces) - 1)
        table.update(zip(pieces, english))
    return table


class PublishedBackend:
    """Answers with the published output of opus-mt-fr-en: no model, log-probability 0."""

    max_input_tokens = 100_000
    table: dict[str, str] = {}

    def __init__(self, model: ModelRef, settings: DecodeSettings):
        pass

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 1

    def generate(self, texts: Sequence[str], max_new_tokens: int) -> list[Hypothesis]:
        # As many output tokens as input tokens, so that no output looks too short to keep.
        return [Hypothesis(self.table[t], 0.0, self.count_tokens(t)) for t in texts]


def check_tmx(out: Path, rel: str) -> str:
    """Parse the article's TMX and TSV against its JSONL: one unit each, texts exact."""
    files = batch.output_paths(out, rel)
    records = [json.loads(line) for line in files.jsonl.read_text(encoding="utf-8").splitlines()]
    units = [list(g) for _, g in groupby(records, key=lambda r: r.get("unit", r["id"]))]
    tus = ET.parse(files.tmx).getroot().find("body").findall("tu")
    lang = "{http://www.w3.org/XML/1998/namespace}lang"
    segs = [{tuv.get(lang): tuv.find("seg").text or "" for tuv in tu.findall("tuv")} for tu in tus]
    expected = [{"fr": " ".join(r["src"] for r in u), "en": " ".join(r["mt"] for r in u)} for u in units]
    table = list(csv.reader(io.StringIO(files.tsv.read_text(encoding="utf-8"), newline=""), delimiter="\t"))[1:]
    ok = len(tus) == len(units) and segs == expected and [[row[1], row[2]] for row in table] == [[e["fr"], e["en"]] for e in expected]
    return f"{len(tus)} <tu> for {len(units)} units, texts {'exact' if ok else 'DIFFER'}" + ("" if ok else " (FAIL)")


def open_times(browser, path: Path, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        t0 = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load")
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)))")
        times.append(time.perf_counter() - t0)
        page.close()
    return times


def interaction_times(browser, path: Path) -> dict[str, float]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(path.as_uri(), wait_until="load")
    took = {}
    for name, action in [
        ("flagged only", lambda: page.check("#flagged-only")),
        ("sort by chrF", lambda: page.select_option("#sort", "chrf-asc")),
        ("search", lambda: page.fill("#search", "the")),
        ("back to document order", lambda: page.select_option("#sort", "doc")),
    ]:
        t0 = time.perf_counter()
        action()
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)))")
        took[name] = time.perf_counter() - t0
    page.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("in", "ref", "seed"):
            (root / name).mkdir()
        (root / "seed" / "seed.txt").write_bytes(SEED.read_bytes())
        (root / "in" / "newstest2014.txt").write_bytes((DATA / "testsets/fra-eng/newstest2014.fra").read_bytes())
        (root / "ref" / "newstest2014.txt").write_bytes((DATA / "testsets/fra-eng/newstest2014.eng").read_bytes())
        t0 = time.perf_counter()
        batch.run([root / "seed"], root / "out-seed", Translator(resolve(str(ROOT / "models" / "tiny-fr-en")), "transformers", DecodeSettings(), None))
        seed_s = time.perf_counter() - t0
        PublishedBackend.table = published_lookup("newstest2014")
        BACKENDS["published"] = PublishedBackend
        t0 = time.perf_counter()
        summary = batch.run([root / "in"], root / "out-news", Translator(ModelRef("Helsinki-NLP/opus-mt-fr-en (published output)", None, None), "published", DecodeSettings(), None), references=root / "ref").to_json()
        news_s = time.perf_counter() - t0
        news = summary["articles"][0]
        print(f"mtpipe run: seed {seed_s:.1f} s (fixture model); newstest2014 {news_s:.1f} s ({news['sentences']} sentences, paired by {news['pairing']}, chrF2 {news['scores']['chrf']:.2f}, BLEU {news['scores']['bleu']:.2f}, {news['flagged']} flagged)")

        pages = {"seed": (root / "out-seed" / "seed.review.html", "seed.txt", root / "out-seed"), "newstest2014": (root / "out-news" / "newstest2014.review.html", "newstest2014.txt", root / "out-news")}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"])
            for name, (page, rel, out) in pages.items():
                plain = page.with_name(page.stem + ".noscript.html")
                plain.write_text(re.sub(r"<script>.*?</script>", "", page.read_text(encoding="utf-8"), flags=re.S), encoding="utf-8")
                times, base = open_times(browser, page, args.repeats), open_times(browser, plain, args.repeats)
                rows = page.read_text(encoding="utf-8").count('class="unit')
                print(
                    f"{name}: {page.stat().st_size / 1e6:.2f} MB, {rows} rows; opens in {min(times):.3f}–{max(times):.3f} s "
                    f"(median {statistics.median(times):.3f}); without its script {statistics.median(base):.3f} s, ratio {statistics.median(times) / statistics.median(base):.2f}×"
                )
                print(f"  TMX {batch.output_paths(out, rel).tmx.stat().st_size / 1e6:.2f} MB: {check_tmx(out, rel)}")
            took = interaction_times(browser, pages["newstest2014"][0])
            print("newstest2014 page: " + ", ".join(f"{k} {v:.3f} s" for k, v in took.items()))
            browser.close()


if __name__ == "__main__":
    main()
