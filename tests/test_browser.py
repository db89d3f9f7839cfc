"""The review pages as a person sees them: opened over file:// in headless Chromium.

Needs Playwright and a Chromium (Debian's `chromium` package; .ci/run installs both).
Without them these tests skip, unless MTPIPE_CI=1 (set by CI) makes
that a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path

import pytest

from conftest import ROOT, SEED, SHARED, TINY_MODEL
from pipeline import report
from pipeline.wordalign import to_pharaoh

CHROMIUM = os.environ.get("MTPIPE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
MARKUP = "<script>alert(1)</script> Il a écrit <img src=x onerror=alert(2)> puis </td> et {{ x }} {% if %} « \"guillemets\" » & fin."
ARTIFACTS = ROOT / "artifacts"

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:
    sync_playwright = None
missing = "playwright is not installed" if sync_playwright is None else None if Path(CHROMIUM).exists() else f"no Chromium at {CHROMIUM}"
if missing and os.environ.get("MTPIPE_CI") == "1":
    raise RuntimeError(f"browser tests required but {missing}")
pytestmark = pytest.mark.skipif(missing is not None, reason=missing or "")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


class Opened:
    """A page with everything that would alarm a reviewer recorded: dialogs, console
    errors, uncaught exceptions."""

    def __init__(self, browser: Browser, path: Path) -> None:
        self.page: Page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.alarms: list[str] = []
        self.page.on("dialog", lambda d: (self.alarms.append(f"dialog: {d.message}"), d.dismiss()))
        self.page.on("console", lambda m: m.type == "error" and self.alarms.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.alarms.append(f"error: {e}"))
        self.page.goto(path.as_uri())

    def visible_ids(self) -> list[str]:
        return self.page.eval_on_selector_all("tr.unit", "rows => rows.filter(r => r.offsetParent !== null).map(r => r.id)")


@pytest.fixture
def open_page(browser: Browser) -> Iterator:
    opened: list[Opened] = []

    def _open(path: Path) -> Opened:
        opened.append(Opened(browser, path))
        return opened[-1]

    yield _open
    for o in opened:
        o.page.close()


def mtpipe_run(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", *args, "--model", str(TINY_MODEL), "--no-cache", "--quiet"], cwd=ROOT, capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run over: the seed, a newstest2014 extract with its reference line by line,
    the same with the reference in other paragraphs (aligned n:m), and markup."""
    root = tmp_path_factory.mktemp("pages")
    fr = (SHARED / "data/testsets/fra-eng/newstest2014.fra").read_text(encoding="utf-8").splitlines()[:24]
    en = (SHARED / "data/testsets/fra-eng/newstest2014.eng").read_text(encoding="utf-8").splitlines()[:24]
    (root / "in").mkdir()
    (root / "ref").mkdir()
    shutil.copy(SEED, root / "in" / "seed.txt")
    (root / "in" / "news.txt").write_text("\n".join(fr) + "\n", encoding="utf-8")
    (root / "ref" / "news.txt").write_text("\n".join(en) + "\n", encoding="utf-8")
    (root / "in" / "news-aligned.txt").write_text("\n".join(fr) + "\n", encoding="utf-8")
    (root / "ref" / "news-aligned.txt").write_text("\n\n".join(" ".join(en[i : i + 6]) for i in range(0, 24, 6)) + "\n", encoding="utf-8")
    (root / "in" / "markup.txt").write_text(f"Titre\n\n{MARKUP}\n", encoding="utf-8")
    mtpipe_run(str(root / "in"), "-o", str(root / "out"), "--ref", str(root / "ref"), "--beam", "1")
    return root / "out"


def units(out: Path, name: str) -> list[list[dict]]:
    records = [json.loads(line) for line in (out / f"{name}.align.jsonl").read_text(encoding="utf-8").splitlines()]
    return [list(g) for _, g in groupby(records, key=lambda r: r.get("unit", r["id"]))]


@pytest.mark.parametrize("name", ["seed", "news", "news-aligned"])
def test_one_visible_row_per_aligned_unit(pages: Path, open_page, name: str) -> None:
    page = open_page(pages / f"{name}.review.html")
    expected = units(pages, name)
    assert page.visible_ids() == [u[0]["id"] for u in expected]
    shown = page.page.eval_on_selector_all("tr.unit td[lang=fr]", "cells => cells.map(c => c.innerText)")
    assert shown == [" ".join(r["src"] for r in u) for u in expected]
    assert page.alarms == []


def test_aligned_reference_spans_several_sentences(pages: Path) -> None:
    assert any(len(u) > 1 for u in units(pages, "news-aligned"))  # else the n:m case above proves nothing


def test_flagged_only_hides_exactly_the_unflagged_rows(pages: Path, open_page) -> None:
    page = open_page(pages / "seed.review.html")
    flags = dict(page.page.eval_on_selector_all("tr.unit", "rows => rows.map(r => [r.id, r.lastElementChild.innerText.trim()])"))
    flagged = [i for i, f in flags.items() if f]
    assert 0 < len(flagged) < len(flags)
    page.page.check("#flagged-only")
    assert page.visible_ids() == flagged
    assert page.page.inner_text("#count") == f"{len(flagged)} of {len(flags)} rows"
    page.page.locator("body").press("f")
    assert page.visible_ids() == list(flags)
    page.page.locator("body").press("f")
    assert page.visible_ids() == flagged


@pytest.mark.parametrize("order, reverse", [("chrf-asc", False), ("chrf-desc", True)])
def test_sorting_by_score_orders_the_rows(pages: Path, open_page, order: str, reverse: bool) -> None:
    page = open_page(pages / "news.review.html")
    page.page.select_option("#sort", order)
    shown = page.page.eval_on_selector_all("tr.unit", "rows => rows.filter(r => r.offsetParent !== null).map(r => r.cells[4].innerText.trim())")
    scores = [float(s) for s in shown if s != "–"]
    assert len(set(scores)) > 3 and scores == sorted(scores, reverse=reverse)
    assert all(s == "–" for s in shown[len(scores) :])  # unscored rows last
    page.page.select_option("#sort", "doc")
    assert page.visible_ids() == [u[0]["id"] for u in units(pages, "news")]


def test_sorting_by_confidence(pages: Path, open_page) -> None:
    page = open_page(pages / "seed.review.html")
    page.page.select_option("#sort", "conf-asc")
    shown = page.page.eval_on_selector_all("tr.unit", "rows => rows.map(r => parseFloat(r.dataset.conf))")
    assert shown == sorted(shown) and len(set(shown)) > 3


def test_j_and_k_move_the_focus_over_visible_rows(pages: Path, open_page) -> None:
    page = open_page(pages / "seed.review.html")
    ids = page.visible_ids()
    body = page.page.locator("body")
    focused = lambda: page.page.evaluate("document.activeElement.id")  # noqa: E731
    body.press("j")
    assert focused() == ids[0]
    body.press("j")
    body.press("j")
    assert focused() == ids[2]
    body.press("k")
    assert focused() == ids[1]
    page.page.check("#flagged-only")
    flagged = page.visible_ids()
    page.page.locator("body").press("j")
    assert focused() in flagged


def test_search_keeps_rows_that_contain_the_text(pages: Path, open_page) -> None:
    page = open_page(pages / "seed.review.html")
    page.page.fill("#search", "ukrain")
    kept = page.visible_ids()
    assert 0 < len(kept) < len(units(pages, "seed"))
    texts = page.page.eval_on_selector_all("tr.unit", "rows => rows.filter(r => r.offsetParent !== null).map(r => r.innerText.toLowerCase())")
    assert all("ukrain" in t for t in texts)


def test_row_anchor_targets_its_row(pages: Path, open_page) -> None:
    target = units(pages, "seed")[3][0]["id"]
    page = open_page(pages / "seed.review.html")
    page.page.goto((pages / "seed.review.html").as_uri() + f"#{target}")
    assert page.page.evaluate("document.querySelector(':target').id") == target
    assert page.page.get_attribute(f'tr[id="{target}"] a', "href") == f"#{target}"


def test_injection_article_runs_no_script(pages: Path, open_page) -> None:
    page = open_page(pages / "markup.review.html")
    page.page.wait_for_load_state("load")
    page.page.locator("body").press("j")
    assert page.alarms == []
    assert MARKUP in page.page.inner_text("#units")
    assert page.page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.page.evaluate("document.scripts.length") == 1


# The indices of the highlighted words of a row's French and English cells.
LIT = "row => [1, 2].map(c => Array.from(row.cells[c].children).flatMap((w, i) => w.classList.contains('linked') ? [i] : []))"
# Every row's French and English cells: text as the DOM holds it, text as shown, words as spans.
CELLS = "rows => rows.map(r => [1, 2].map(c => [r.cells[c].textContent, r.cells[c].innerText, Array.from(r.cells[c].querySelectorAll('span.w'), w => w.textContent)]))"


def expected_lit(links: tuple[tuple[int, int], ...], side: int, index: int) -> list[list[int]]:
    """What hovering word `index` of the French (side 0) or the English (1) lights up."""
    other = sorted({pair[1 - side] for pair in links if pair[side] == index})
    return [[index], other] if side == 0 else [other, [index]]


def hand_page(directory: Path, records: list[dict]) -> Path:
    path = directory / "hand.review.html"
    path.write_text(report.article_html(report.PageInfo("hand.txt"), report.rows(records)), encoding="utf-8")
    return path


def linked_seed_row(pages: Path) -> report.Row:
    """The seed row with the most word links."""
    records = [json.loads(line) for line in (pages / "seed.align.jsonl").read_text(encoding="utf-8").splitlines()]
    return max(report.rows(records), key=lambda r: len(r.links or ()))


def test_hovering_a_word_highlights_its_linked_words(pages: Path, open_page) -> None:
    row = linked_seed_row(pages)
    assert row.links and len({t for _, t in row.links}) > 1
    page = open_page(pages / "seed.review.html")
    tr = page.page.locator(f'tr[id="{row.id}"]')
    assert tr.get_attribute("data-words") == to_pharaoh(row.links)
    tr.locator("td").first.hover()
    spread = False
    for side, text in enumerate((row.source, row.mt)):
        words = tr.locator(f"td:nth-child({side + 2}) > span.w")
        assert words.count() == len(text.split())
        for i in range(words.count()):
            words.nth(i).hover()
            lit = tr.evaluate(LIT)
            assert lit == expected_lit(row.links, side, i), (side, i)
            spread |= len(lit[1 - side]) > 1
    assert spread  # some word lit several words of the other language
    page.page.hover("h1")
    assert page.page.evaluate("document.querySelectorAll('.linked').length") == 0
    assert page.alarms == []


def test_tabbing_to_a_word_highlights_its_linked_words(pages: Path, open_page) -> None:
    records = units(pages, "seed")
    row = report.rows(records[0])[0]
    assert row.links
    page = open_page(pages / "seed.review.html")
    body = page.page.locator("body")
    body.press("j")
    active = "() => { const w = document.activeElement; return w.classList.contains('w') ? [w.parentNode.cellIndex - 1, Array.prototype.indexOf.call(w.parentNode.children, w)] : null; }"
    body.press("Tab")
    if page.page.evaluate(active) is None:  # the row's anchor comes first
        body.press("Tab")
    words = [(0, i) for i in range(len(row.source.split()))] + [(1, i) for i in range(len(row.mt.split()))]
    for side, i in words:
        assert page.page.evaluate(active) == [side, i]
        assert page.page.locator(f'tr[id="{row.id}"]').evaluate(LIT) == expected_lit(row.links, side, i)
        page.page.keyboard.press("Tab")
    # j still moves on to the next row, and the highlight goes with the focus
    page.page.keyboard.press("Shift+Tab")
    page.page.keyboard.press("j")
    assert page.page.evaluate("document.activeElement.id") == records[1][0]["id"]
    assert page.page.evaluate("document.querySelectorAll('.linked').length") == 0


def test_words_become_spans_only_when_their_row_is_used(pages: Path, open_page) -> None:
    page = open_page(pages / "seed.review.html")
    assert page.page.evaluate("document.querySelectorAll('span.w').length") == 0
    before = page.page.eval_on_selector_all("tr.unit", CELLS)
    page.page.eval_on_selector_all("tr.unit", "rows => rows.forEach(r => r.focus())")
    after = page.page.eval_on_selector_all("tr.unit", CELLS)
    expected = [(" ".join(r["src"] for r in u), " ".join(r["mt"] for r in u)) for u in units(pages, "seed")]
    assert [[c[:2] for c in row] for row in after] == [[c[:2] for c in row] for row in before]
    assert [[c[2] for c in row] for row in after] == [[src.split(), mt.split()] for src, mt in expected]
    assert page.alarms == []


def test_odd_whitespace_and_markup_stay_as_they_were(tmp_path: Path, open_page) -> None:
    source = " \u00a0Le\tchat\u2009<b>noir</b>\u200bx\x1cdort\u0085\u3000sur  le\r\ncanapé.\u202f» "
    mt = "The <script>alert(1)</script> cat\u00a0sleeps <img src=x onerror=alert(2)>."
    page = open_page(hand_page(tmp_path, [{"id": "p1.s1", "line": 1, "src": source, "mt": mt, "words": "0-0 1-1 7-4"}]))
    before = page.page.eval_on_selector_all("tr.unit", CELLS)
    page.page.hover("tr.unit td")
    after = page.page.eval_on_selector_all("tr.unit", CELLS)
    assert [[c[:2] for c in row] for row in after] == [[c[:2] for c in row] for row in before]
    assert after[0][0][2] == source.split() and after[0][1][2] == mt.split()
    page.page.locator("tr.unit td:nth-child(2) > span.w").nth(7).hover()
    assert page.page.locator("tr.unit").evaluate(LIT) == [[7], [4]]
    assert page.page.evaluate("[document.scripts.length, document.images.length]") == [1, 0]
    assert page.page.inner_text("tr.unit td") == source.replace("\r\n", "\n")  # as HTML reads a CR LF
    assert page.alarms == []


def test_uncovered_rows_show_the_flag_and_stay_flagged_only(tmp_path: Path, open_page) -> None:
    records = [
        {"id": "p1.s1", "line": 1, "src": "Le chat noir dort.", "mt": "The cat sleeps.", "words": "0-0 1-1 3-2"},
        {"id": "p2.s1", "line": 2, "src": "Il pleut.", "mt": "It rains.", "words": "0-0 1-1"},
        {"id": "p3.s1", "line": 3, "src": "Le chat noir dort.", "mt": "The cat sleeps."},
    ]
    page = open_page(hand_page(tmp_path, records))
    chip = page.page.locator('tr[id="p1.s1"] .flag')
    assert chip.inner_text() == "uncovered" and chip.is_visible()
    assert page.page.locator('tr[id="p2.s1"] .flag, tr[id="p3.s1"] .flag').count() == 0
    page.page.check("#flagged-only")
    assert page.visible_ids() == ["p1.s1"]
    # the word left out is underlined, and lights up nothing in the English
    page.page.hover('tr[id="p1.s1"] td')
    noir = page.page.locator('tr[id="p1.s1"] span.w').nth(2)
    assert noir.inner_text() == "noir" and page.page.locator("span.unlinked").all_inner_texts() == ["noir"]
    noir.hover()
    assert page.page.locator('tr[id="p1.s1"]').evaluate(LIT) == [[2], []]
    assert page.alarms == []


def test_index_links_every_article_and_sorts(pages: Path, open_page) -> None:
    page = open_page(pages / "index.html")
    names = page.page.eval_on_selector_all("#articles tbody th a", "links => links.map(a => a.innerText)")
    assert sorted(names) == ["markup.txt", "news-aligned.txt", "news.txt", "seed.txt"]
    page.page.click("#articles thead th:nth-child(3) button")
    counts = page.page.eval_on_selector_all("#articles tbody tr", "rows => rows.map(r => parseInt(r.cells[2].innerText))")
    assert counts == sorted(counts) and len(set(counts)) > 1
    page.page.click("text=news.txt")
    assert page.page.inner_text("h1") == "news.txt"
    assert page.alarms == []


def test_seed_page_screenshot(pages: Path, open_page) -> None:
    """Saved for a person to look at (artifacts/ is the CI artifact folder)."""
    page = open_page(pages / "seed.review.html")
    ARTIFACTS.mkdir(exist_ok=True)
    page.page.screenshot(path=str(ARTIFACTS / "seed-page.png"))
    page.page.emulate_media(media="print")
    page.page.screenshot(path=str(ARTIFACTS / "seed-page-print.png"), full_page=False)
    # What the screenshots show: on screen the toolbar, the column titles and the first
    # rows with their French and English, inside the window; in print, no toolbar.
    page.page.emulate_media(media="screen")
    height = page.page.viewport_size["height"]
    for selector in (".toolbar", "#units thead th:nth-child(2)", "#units tr.unit td[lang=fr]", "#units tr.unit td[lang=en]"):
        box = page.page.locator(selector).first.bounding_box()
        assert box and box["width"] > 0 and 0 <= box["y"] < height, selector
    first = page.page.locator("#units tr.unit").first
    assert first.locator("td[lang=fr]").inner_text().strip() and first.locator("td[lang=en]").inner_text().strip()
    page.page.emulate_media(media="print")
    assert not page.page.locator(".toolbar").is_visible() and page.page.locator("#units tr.unit").first.is_visible()
