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
from urllib.parse import unquote, urlparse

import pytest
from conftest import ROOT, SEED, SHARED, TINY_MODEL, shared_file

from pipeline import report
from pipeline.corrections import read_corrections
from pipeline.records import RunSummary, read_records, record_from_json
from pipeline.wordalign import to_pharaoh

CHROMIUM = os.environ.get("MTPIPE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Template fragments left open ({{ x }} would be protected text, never in a sentence).
MARKUP = "<script>alert(1)</script> Il a écrit <img src=x onerror=alert(2)> puis </td> et {{ x } {% if « \"guillemets\" » & fin."
ARTIFACTS = ROOT / "artifacts"

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:
    sync_playwright = None
missing = "playwright is not installed" if sync_playwright is None else None if Path(CHROMIUM).exists() else f"no Chromium at {CHROMIUM}"
if missing and os.environ.get("MTPIPE_CI") == "1":
    raise RuntimeError(f"browser tests required but {missing}")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(missing is not None, reason=missing or "")]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


class Opened:
    """A page with everything that would alarm a reviewer recorded: dialogs, console
    errors, uncaught exceptions."""

    def __init__(self, browser: Browser, path: Path, init_script: str | None = None) -> None:
        self.page: Page = browser.new_page(viewport={"width": 1400, "height": 900})
        if init_script:
            self.page.add_init_script(init_script)
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

    def _open(path: Path, init_script: str | None = None) -> Opened:
        opened.append(Opened(browser, path, init_script))
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
    fr = shared_file(SHARED / "data/testsets/fra-eng/newstest2014.fra").read_text(encoding="utf-8").splitlines()[:24]
    en = shared_file(SHARED / "data/testsets/fra-eng/newstest2014.eng").read_text(encoding="utf-8").splitlines()[:24]
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
    path.write_text(report.article_html(report.PageInfo("hand.txt"), report.rows([record_from_json(r) for r in records])), encoding="utf-8")
    return path


def linked_seed_row(pages: Path) -> report.Row:
    """The seed row with the most word links."""
    records = read_records((pages / "seed.align.jsonl").read_text(encoding="utf-8"))
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
    row = report.rows([record_from_json(r) for r in records[0]])[0]
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


EDITED = [
    {"id": "p1.s1", "line": 1, "src": "Le chat dort.", "mt": "The cat sleeps.", "words": "0-0 1-1 2-2"},
    {"id": "p1.s2", "line": 1, "src": "Il pleut.", "mt": "It rains."},
    {"id": "p2.s1", "line": 2, "src": "Bonjour\r\ntout le monde.", "mt": "Hello everyone."},  # HTML reads CR LF as LF
    {"id": "p3.s1", "line": 3, "src": "Un.", "mt": "One.", "unit": "p3.s1"},
    {"id": "p3.s2", "line": 3, "src": "Deux.", "mt": "Two.", "unit": "p3.s1"},
]
PWN = "<script>window.pwned=1</script>"
# Each row's English as shown, and its edit badge ("" when not edited).
SHOWN = "rows => rows.map(r => [r.id, r.cells[2].innerText, (r.querySelector('.edited-badge') || {}).innerText || ''])"


def edit_page(directory: Path) -> Path:
    path = directory / "edit.review.html"
    page = report.PageInfo("dossier/edit.txt", "Helsinki-NLP/opus-mt-fr-en", "abc123")
    path.write_text(report.article_html(page, report.rows([record_from_json(r) for r in EDITED])), encoding="utf-8")
    return path


def test_post_editing_keeps_edits_over_a_reload_and_exports_them(tmp_path: Path, open_page) -> None:
    page = open_page(edit_page(tmp_path))
    p, body = page.page, page.page.locator("body")
    focused = lambda: p.evaluate("document.activeElement.id")  # noqa: E731
    # e on the focused row, typing, Enter
    body.press("j")
    body.press("e")
    p.keyboard.press("Backspace")
    p.keyboard.type("!")
    p.keyboard.press("Enter")
    assert focused() == "p1.s1"
    # double-click, typing, Save
    p.dblclick('tr[id="p2.s1"] td[lang=en]')
    p.keyboard.type(" here")
    p.click('tr[id="p2.s1"] button[data-act=save]')
    # markup typed as an edit is text
    body.press("k")
    assert focused() == "p1.s2"
    body.press("e")
    p.keyboard.press("Control+a")
    p.keyboard.type(PWN)
    p.keyboard.press("Enter")
    # Esc leaves a row as it was (here: as edited before)
    body.press("j")
    body.press("e")
    p.keyboard.type(" more")
    p.keyboard.press("Escape")
    assert focused() == "p2.s1"
    # a row of several sentences cannot be edited: its edit could never be used
    body.press("j")
    body.press("e")
    assert p.locator('tr[id="p3.s1"] textarea').count() == 0 and p.locator('tr[id="p3.s1"] button[data-act=edit]').is_disabled()
    assert focused() == "p3.s1"
    body.press("j")  # j and k still move from there
    assert focused() == "p3.s1"  # the last row
    expected = [
        ["p1.s1", "The cat sleeps!", "edited · 1 char changed"],
        ["p1.s2", PWN, "edited · 27 chars changed"],  # 22 characters more, 5 of "It rains." replaced
        ["p2.s1", "Hello everyone. here", "edited · 5 chars changed"],
        ["p3.s1", "One. Two.", ""],
    ]
    assert p.eval_on_selector_all("tr.unit", SHOWN) == expected
    # the edited row's French words still light up, its English is no longer spans
    p.locator('tr[id="p1.s1"] td[lang=fr]').hover()
    p.locator('tr[id="p1.s1"] span.w').nth(1).hover()
    assert p.locator('tr[id="p1.s1"]').evaluate(LIT) == [[1], []]
    p.reload()
    assert p.eval_on_selector_all("tr.unit", SHOWN) == expected
    assert p.evaluate("[typeof window.pwned, document.scripts.length]") == ["undefined", 1]
    p.click('tr[id="p1.s2"] button[data-act=revert]')
    expected[1][1:] = ["It rains.", ""]
    p.reload()
    assert p.eval_on_selector_all("tr.unit", SHOWN) == expected
    with p.expect_download() as download:
        body.press("x")
    assert download.value.suggested_filename == "edit.corrections.json"
    data = Path(download.value.path()).read_bytes()
    assert json.loads(data) == {
        "mtpipe": "corrections",
        "version": 1,
        "article": "dossier/edit.txt",
        "model": "Helsinki-NLP/opus-mt-fr-en",
        "revision": "abc123",
        "units": [
            {"ids": ["p1.s1"], "src": "Le chat dort.", "mt": "The cat sleeps.", "edit": "The cat sleeps!"},
            {"ids": ["p2.s1"], "src": "Bonjour\r\ntout le monde.", "mt": "Hello everyone.", "edit": "Hello everyone. here"},
        ],
    }
    reading = read_corrections(data, download.value.suggested_filename)
    assert [(pair.source, pair.target) for pair in reading.pairs] == [("Le chat dort.", "The cat sleeps!"), ("Bonjour\r\ntout le monde.", "Hello everyone. here")]
    assert reading.refusals == ()
    assert page.alarms == []


# A browser that keeps nothing: file:// pages in some browsers, private windows.
NO_STORAGE = "Object.defineProperty(window, 'localStorage', { get() { throw new DOMException('denied', 'SecurityError'); } });"


def test_post_editing_without_storage_keeps_edits_until_a_reload(tmp_path: Path, open_page) -> None:
    page = open_page(edit_page(tmp_path), NO_STORAGE)
    p, body = page.page, page.page.locator("body")
    body.press("x")
    assert p.inner_text("#edits") == "No edited rows to export: edit a row first"
    assert not p.is_visible("#edit-notice")
    body.press("j")
    body.press("e")
    p.keyboard.type(" Really.")
    p.keyboard.press("Enter")
    assert p.is_visible("#edit-notice") and p.inner_text("#edits") == "1 edited row"
    assert p.inner_text('tr[id="p1.s1"] td[lang=en]') == "The cat sleeps. Really."
    with p.expect_download() as download:
        p.click("#export")
    assert json.loads(Path(download.value.path()).read_bytes())["units"][0]["edit"] == "The cat sleeps. Really."
    p.reload()
    assert p.inner_text('tr[id="p1.s1"] td[lang=en]') == "The cat sleeps."
    assert page.alarms == []


def test_human_rows_show_their_origin_and_the_machine_output_on_demand(tmp_path: Path, open_page) -> None:
    records = [
        {"id": "p1.s1", "line": 1, "src": "Le Monde diplomatique.", "mt": "Le Monde diplomatique.", "human": True, "machine": "The diplomatic World.", "hter": 66.667},
        {"id": "p2.s1", "line": 2, "src": "Le Monde diplomatique.", "mt": "Le Monde diplomatique."},
    ]
    page = open_page(hand_page(tmp_path, records))
    p = page.page
    human = p.locator('tr[id="p1.s1"]')
    assert human.evaluate("r => getComputedStyle(r).display") == "table-row"
    assert human.locator(".human-badge").is_visible() and human.locator(".flag").count() == 0
    assert p.locator('tr[id="p2.s1"] .flag').all_inner_texts() == ["untranslated"]
    machine = human.locator("details")
    assert machine.inner_text() == "HTER 66.7"  # what is folded is not shown
    machine.locator("summary").focus()
    p.keyboard.press("Enter")
    assert machine.inner_text() == "HTER 66.7\nThe diplomatic World."
    assert page.alarms == []


def test_edits_made_in_the_seed_page_come_back_from_the_next_run(tmp_path: Path, open_page) -> None:
    """The post-editing loop: edit two rows of the seed's page, reload, export; import the
    export into the memory; a plain re-run serves the edits and rewrites only that article."""
    src, out, cache = tmp_path / "in", tmp_path / "out", tmp_path / "tm.sqlite3"
    src.mkdir()
    shutil.copy(SEED, src / "seed.txt")
    (src / "other.txt").write_text("Le temps est beau aujourd'hui.\n", encoding="utf-8")

    def mtpipe(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT, capture_output=True, timeout=600)
        assert done.returncode == 0, done.stderr.decode()
        return done.stderr.decode()

    run = ["run", str(src), "-o", str(out), "--model", str(TINY_MODEL), "--cache", str(cache), "--quiet"]
    mtpipe(*run)
    before = [json.loads(line) for line in (out / "seed.align.jsonl").read_text(encoding="utf-8").splitlines()]
    other = {p.name: p.read_bytes() for p in out.glob("other.*")}
    page = open_page(out / "seed.review.html")
    p, body = page.page, page.page.locator("body")
    body.press("j")
    body.press("e")
    p.keyboard.press("Control+a")
    p.keyboard.type("Russian troops shot at each other.")
    p.keyboard.press("Enter")
    p.dblclick(f'tr[id="{before[2]["id"]}"] td[lang=en]')
    p.keyboard.press("Control+a")
    p.keyboard.type("Lieutenant Ilya Yun said that soldiers he commanded fired and blew themselves up")
    p.click(f'tr[id="{before[2]["id"]}"] button[data-act=save]')
    p.reload()
    badges = p.eval_on_selector_all("tr.unit", SHOWN)
    assert [row[0] for row in badges if row[2]] == [before[0]["id"], before[2]["id"]]  # kept over the reload
    with p.expect_download() as download:
        p.click("text=Export corrections")
    corrections = tmp_path / download.value.suggested_filename
    download.value.save_as(corrections)
    assert corrections.name == "seed.corrections.json"

    assert f"{corrections}: 2 added" in mtpipe("memory", "import", str(corrections), "--cache", str(cache))
    mtpipe(*run)
    after = [json.loads(line) for line in (out / "seed.align.jsonl").read_text(encoding="utf-8").splitlines()]
    edits = {before[0]["id"]: "Russian troops shot at each other.", before[2]["id"]: "Lieutenant Ilya Yun said that soldiers he commanded fired and blew themselves up"}
    assert [r["src"] for r in after] == [r["src"] for r in before]
    assert {r["id"]: r["mt"] for r in after if r.get("human")} == edits
    assert all(r["mt"] == b["mt"] for r, b in zip(after, before) if r["id"] not in edits)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert {a["input"]: a["status"] for a in summary["articles"]} == {"seed.txt": "ok", "other.txt": "skipped"}
    assert {p.name: p.read_bytes() for p in out.glob("other.*")} == other
    p.reload()  # the new page shows them as human, with their effort
    assert sorted(p.eval_on_selector_all("tr.unit.human", "rows => rows.map(r => r.id)")) == sorted(edits)
    assert p.locator("tr.unit.human .human-badge").count() == 2 and p.locator("tr.unit.human details.machine").count() == 2


def linked_path(page: Opened, selector: str) -> list[Path]:
    """The files the links of `selector` point to."""
    return [Path(unquote(urlparse(href).path)) for href in page.page.eval_on_selector_all(selector, "links => links.map(a => a.href)")]


def test_review_page_links_the_index_and_the_articles_files(pages: Path, open_page) -> None:
    page = open_page(pages / "seed.review.html")
    files = ["seed.en.txt", "seed.tmx", "seed.tsv", "seed.align.jsonl"]
    assert page.page.eval_on_selector_all("nav.files a[data-kind]", "links => links.map(a => a.innerText)") == files
    assert linked_path(page, "nav.files a") == [pages / name for name in ["index.html", *files]]
    page.page.click("nav.files >> text=All articles")
    assert page.page.inner_text("h1") == "Translated articles"
    assert page.alarms == []


def test_links_of_an_article_with_an_odd_name_in_a_folder_are_escaped(tmp_path: Path, open_page) -> None:
    folder = tmp_path / "dir a"
    folder.mkdir()
    name = "é #1?:x"
    (folder / f"{name}.review.html").write_text(report.article_html(report.PageInfo(f"dir a/{name}.md"), report.rows([record_from_json(r) for r in EDITED])), encoding="utf-8")
    targets = [tmp_path / "index.html", *(folder / f"{name}{end}" for end in (".en.md", ".tmx", ".tsv", ".align.jsonl"))]
    page = open_page(folder / f"{name}.review.html")
    assert linked_path(page, "nav.files a") == targets


# The English and French paragraphs of the prose view, as shown ("" when not shown).
PROSE = "() => Array.from(document.querySelectorAll('#prose .pair'), d => Array.from(d.children, p => (p.checkVisibility() ? p.innerText : '')))"


def test_read_the_english_shows_the_article_as_prose_with_edits(tmp_path: Path, open_page) -> None:
    page = open_page(edit_page(tmp_path))
    p, body = page.page, page.page.locator("body")
    p.dblclick('tr[id="p2.s1"] td[lang=en]')
    p.keyboard.type(" here")
    p.keyboard.press("Enter")
    body.press("r")
    assert not p.is_visible("#units") and p.get_attribute("#read", "aria-pressed") == "true"
    assert p.evaluate(PROSE) == [
        ["The cat sleeps. It rains.", "Le chat dort. Il pleut."],  # one paragraph per source line
        ["Hello everyone. here", "Bonjour\ntout le monde."],  # as edited; a line break kept
        ["One. Two.", "Un. Deux."],
    ]
    en, fr = p.locator("#prose .pair").first.locator("p").all()
    assert fr.bounding_box()["x"] > en.bounding_box()["x"] + en.bounding_box()["width"]  # side by side
    assert fr.bounding_box()["y"] == en.bounding_box()["y"]
    p.set_viewport_size({"width": 800, "height": 900})
    assert p.evaluate(PROSE)[0] == ["The cat sleeps. It rains.", ""]  # a narrow screen: the English alone
    p.click("#read")
    assert p.is_visible("#units") and not p.is_visible("#prose") and p.get_attribute("#read", "aria-pressed") == "false"
    body.press("j")
    assert p.evaluate("document.activeElement.id") == "p1.s1"  # the table works as before
    assert page.alarms == []


def test_confidence_is_a_word_with_the_figures_on_hover_and_sorts_by_number(tmp_path: Path, open_page) -> None:
    logprobs = [-0.7, -2.3, None, -0.1]
    records = [{"id": f"p{i}.s1", "line": i, "src": "Il pleut.", "mt": "It rains.", "logprob": lp, "human": lp is None} for i, lp in enumerate(logprobs, 1)]
    page = open_page(hand_page(tmp_path, records))
    p = page.page
    cells = "rows => rows.map(r => [r.id, r.querySelector('td.conf').innerText, r.querySelector('td.conf').title])"
    human = "a human translation: the model's confidence does not apply"
    shown = [["p1.s1", "medium", report.confidence_title(-0.7)], ["p2.s1", "low", report.confidence_title(-2.3)], ["p3.s1", "human", human], ["p4.s1", "high", report.confidence_title(-0.1)]]
    assert p.eval_on_selector_all("tr.unit", cells) == shown
    assert "50%" in report.confidence_title(-0.7) and "10%" in report.confidence_title(-2.3)
    p.select_option("#sort", "conf-desc")
    assert [c[1] for c in p.eval_on_selector_all("tr.unit", cells)] == ["high", "medium", "low", "human"]
    assert page.alarms == []


# The text of each search highlight, and whether it still lies in the page.
HIT_TEXTS = """() => Array.from(CSS.highlights.get('search') || [], r => {
  const range = document.createRange();
  range.setStart(r.startContainer, r.startOffset);
  range.setEnd(r.endContainer, r.endOffset);
  return [range.toString(), r.startContainer.isConnected && r.endContainer.isConnected];
})"""


def test_search_highlights_the_matches_without_changing_the_cells(tmp_path: Path, open_page) -> None:
    page = open_page(edit_page(tmp_path))
    p = page.page
    cells = 'tr[id="p1.s1"] td[lang]'
    before = p.eval_on_selector_all(cells, "cells => cells.map(c => c.innerHTML)")
    p.fill("#search", "CAT")
    assert page.visible_ids() == ["p1.s1"] and p.evaluate(HIT_TEXTS) == [["cat", True]]
    assert p.eval_on_selector_all(cells, "cells => cells.map(c => c.innerHTML)") == before  # no <mark>, nothing added
    p.hover('tr[id="p1.s1"] td[lang=en]')  # its words become spans: painted again over them
    assert p.locator('tr[id="p1.s1"] span.w').count() > 0 and p.evaluate(HIT_TEXTS) == [["cat", True]]
    p.select_option("#sort", "conf-asc")
    assert p.evaluate(HIT_TEXTS) == [["cat", True]]
    p.dblclick('tr[id="p1.s1"] td[lang=en]')
    p.keyboard.type(" A cat.")
    p.keyboard.press("Enter")
    assert p.evaluate(HIT_TEXTS) == [["cat", True], ["cat", True]]
    p.fill("#search", ".")  # a literal dot: one hit per dot of the visible French and English
    dots = sum(r["src"].count(".") + r["mt"].count(".") for r in EDITED) + " A cat.".count(".")
    assert [t for t, _ in p.evaluate(HIT_TEXTS)] == ["."] * dots
    p.fill("#search", "")
    assert p.evaluate(HIT_TEXTS) == []
    assert page.alarms == []


def test_index_charts_the_score_spread(pages: Path, open_page) -> None:
    page = open_page(pages / "index.html")
    summary = json.loads((pages / "summary.json").read_text(encoding="utf-8"))
    scores = [a["scores"]["chrf"] for a in summary["articles"] if a.get("scores")]
    assert len(scores) == 2
    chart = page.page.locator("svg#score-chart")
    assert chart.is_visible() and chart.get_attribute("role") == "img"
    assert chart.locator("title").first.text_content() == "Articles by chrF2 score"
    counts = chart.locator("g.bar > text:last-child").all_text_contents()
    assert [int(c) for c in counts] == [b.count for b in report.score_bars(scores)] and sum(map(int, counts)) == 2
    widths = [r.bounding_box()["width"] for r in chart.locator("rect").all()]
    assert max(widths) > 0 and all(w == 0 for w, c in zip(widths, counts) if c == "0")
    assert page.alarms == []


def test_a_run_counts_its_flags_for_the_index_chart(pages: Path, open_page) -> None:
    summary = json.loads((pages / "summary.json").read_text(encoding="utf-8"))
    totals: dict[str, int] = {}
    for article in summary["articles"]:
        rows = report.rows(read_records((pages / article["input"]).with_suffix(".align.jsonl").read_text(encoding="utf-8")))
        assert article["flags"] == report.flag_counts(rows) and article["flagged"] == sum(bool(r.flags) for r in rows)
        for flag, n in article["flags"].items():
            totals[flag] = totals.get(flag, 0) + n
    chart = open_page(pages / "index.html").page.locator("svg#flag-chart")
    assert totals and chart.is_visible()
    shown = dict(zip(chart.locator("g.bar > text:first-of-type").all_text_contents(), map(int, chart.locator("g.bar > text:last-child").all_text_contents())))
    assert shown == totals


def test_index_charts_flags_and_leaves_articles_not_reached_blank(tmp_path: Path, open_page) -> None:
    articles = [
        {"input": "a.txt", "status": "ok", "sentences": 4, "flagged": 3, "flags": {"length": 1, "repeated": 3}},
        {"input": "b.txt", "status": "skipped", "sentences": 2, "flagged": 1, "flags": {"length": 1}},
        {"input": "c.txt", "status": "pending", "sentences": 0, "flagged": None},
        {"input": "d.txt", "status": "error", "sentences": 0, "flagged": None, "error": "d.txt: it contains NUL bytes"},
    ]
    summary = RunSummary.from_json({"model": "m", "backend": "transformers", "settings": {}, "articles": articles})
    (tmp_path / "index.html").write_text(report.index_html(summary, {}, ""), encoding="utf-8")
    page = open_page(tmp_path / "index.html")
    chart = page.page.locator("svg#flag-chart")
    assert chart.is_visible() and chart.locator("g.bar > text:first-of-type").all_text_contents() == ["repeated", "length"]
    widths = [r.bounding_box()["width"] for r in chart.locator("rect").all()]
    assert widths[0] > widths[1] > 0 and abs(widths[0] / widths[1] - 3 / 2) < 0.01  # repeated 3 rows, length 2
    assert page.page.locator("svg#score-chart").count() == 0
    counts = "rows => rows.map(r => [r.cells[0].innerText, r.cells[2].innerText, r.cells[3].innerText])"
    assert page.page.eval_on_selector_all("#articles tbody tr", counts) == [["a.txt", "4", "3"], ["b.txt", "2", "1"], ["c.txt", "", ""], ["d.txt", "", ""]]
    page.page.click("#articles thead th:nth-child(3) button")
    assert [r[0] for r in page.page.eval_on_selector_all("#articles tbody tr", counts)] == ["b.txt", "a.txt", "c.txt", "d.txt"]  # blanks last
    assert page.alarms == []


def test_a_long_article_name_wraps_in_its_column_of_the_index(tmp_path: Path, open_page) -> None:
    """A long path wraps inside the Article column instead of running under the status."""
    from helpers import ECHO, in_folder, write_tree

    long = "un-dossier-au-nom-interminable/" * 3 + "un-article-au-nom-tres-long-qui-ne-tient-pas-dans-sa-colonne.txt"
    write_tree(tmp_path / "in", {long: "Le chat dort.\n", "b.txt": "Il pleut.\n"})
    assert in_folder(tmp_path, "run", "in", "-o", "out", *ECHO).returncode == 0
    page = open_page(tmp_path / "out" / "index.html")
    for width in (1280, 700, 420):
        page.page.set_viewport_size({"width": width, "height": 800})
        boxes = page.page.eval_on_selector_all(
            "#articles tbody tr",
            "rows => rows.map(r => [r.cells[0].getBoundingClientRect().right, r.cells[1].getBoundingClientRect().left, r.cells[0].scrollWidth - r.cells[0].clientWidth])",
        )
        assert all(right <= left + 0.5 and overflow <= 0 for right, left, overflow in boxes), (width, boxes)
    assert page.alarms == []


def test_checks_show_their_reason_filter_by_check_and_terms_are_highlighted(tmp_path: Path, open_page) -> None:
    from pipeline import qa
    from pipeline.glossary import Entry, Glossary
    from pipeline.records import SentenceRecord

    records = [
        SentenceRecord("p1.s1", 1, "Le conseil municipal a voté en 2011.", "The municipal board voted in 2012.", logprob=-0.3, words="0-0 1-2 2-1 3-3 4-3 5-4 6-5"),
        SentenceRecord("p2.s1", 2, "Le conseil municipal se réunit.", "The city council meets.", logprob=-0.3, words="0-0 1-2 2-1 3-3 4-3"),
        SentenceRecord("p3.s1", 3, "Le chat dort ?", "The cat sleeps?", logprob=-0.3),
    ]
    context = qa.Context(glossary=Glossary([Entry("conseil municipal", ("city council",))]))
    (tmp_path / "a.review.html").write_text(report.article_html(report.PageInfo("a.txt"), report.rows(records, context)), encoding="utf-8")
    page = open_page(tmp_path / "a.review.html")
    flag = page.page.locator("#p1\\.s1 span.flag[data-check=numbers]")
    assert flag.is_visible() and flag.get_attribute("title") == "2011 of the French is not in the English; the English adds 2012"
    page.page.select_option("#check", "numbers")
    assert page.visible_ids() == ["p1.s1"]
    page.page.select_option("#check", "term")
    assert page.visible_ids() == ["p1.s1"]  # p2 renders its term
    page.page.select_option("#check", "")
    assert page.visible_ids() == ["p1.s1", "p2.s1", "p3.s1"]
    painted = "() => Array.from(CSS.highlights.get('term'), r => { const x = document.createRange(); x.setStart(r.startContainer, r.startOffset); x.setEnd(r.endContainer, r.endOffset); return x.toString(); })"
    terms = sorted(["conseil municipal", "municipal board", "conseil municipal", "city council"])  # p1's English through its word links
    assert sorted(page.page.evaluate(painted)) == terms
    page.page.hover("#p2\\.s1 td[lang=fr]")  # the row's words become spans: its terms are painted again
    assert sorted(page.page.evaluate(painted)) == terms
    assert page.alarms == []
