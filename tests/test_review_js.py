"""The review page's script, pipeline/templates/*.js: inlined verbatim into the pages,
its pure parts (review_core.js) unit-tested by node's test runner (tests/js), and all
of it linted by ESLint.

Node, and ESLint (`npm ci` at the root installs it from package-lock.json), are not
Python packages: without them those tests skip, unless MTPIPE_CI=1 (set by CI) makes
that a failure, as test_browser.py does for a missing Chromium.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from conftest import ROOT

from pipeline.report import PageInfo, Row, article_html

TEMPLATES = ROOT / "pipeline" / "templates"
NODE = shutil.which("node")
ESLINT = ROOT / "node_modules" / ".bin" / "eslint"


def needs(missing: str | None) -> None:
    """Skips for what this machine lacks; under CI (MTPIPE_CI=1) it must not lack it."""
    if missing is None:
        return
    if os.environ.get("MTPIPE_CI") == "1":
        pytest.fail(f"the review page's script checks are required but {missing}")
    pytest.skip(missing)


def test_page_inlines_the_script_and_the_schema_verbatim() -> None:
    """Jinja passes the files through untouched (no escaping, no trimmed lines, no tags
    read in them), into the page's one <script>, which holds nothing else."""
    page = article_html(PageInfo("a.txt", model="m"), [Row(("s1",), 1, "Le chat dort.", "The cat sleeps.")])
    scripts = re.findall(r"<script>\n(.*?)</script>", page, re.S)
    assert len(scripts) == 1 and page.count("<script") == 1
    schema, core, review = ((TEMPLATES / name).read_text(encoding="utf-8") for name in ("corrections.schema.json", "review_core.js", "review.js"))
    assert scripts[0] == f"const CORRECTIONS_SCHEMA = {schema.removesuffix(chr(10))};\n{core}{review}"
    assert "</script" not in (schema + core + review).lower() and "<!--" not in schema + core + review  # would end the script early


@pytest.mark.slow
def test_node_unit_tests_pass() -> None:
    needs(None if NODE else "node is not installed")
    done = subprocess.run([NODE, "--test", "tests/js/"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_eslint_finds_nothing() -> None:
    needs(None if NODE else "node is not installed")
    needs(None if ESLINT.exists() else f"ESLint is not installed ({ESLINT} is missing: run `npm ci`)")
    done = subprocess.run(["npx", "--no-install", "eslint", "pipeline/templates/*.js", "tests/js/", "eslint.config.js"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
