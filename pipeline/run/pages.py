"""The review pages, exports and index of a run, written from its records; and
`mtpipe report`, which writes them again from summary.json and the .align.jsonl files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from .. import report
from ..outdir import OutputConflict, OutputFolder, output_names, safe_relative
from ..writers import json_text
from .discover import shown
from .planning import adopt_legacy
from .summary import (
    INDEX,
    SUMMARY,
    Article,
    article_from_entry,
    read_records,
    run_date,
    run_totals,
    summary_meta,
)


def page_info(article: Article, meta: dict, date: str) -> report.PageInfo:
    """The page header of an article; `meta` holds the model, revision, backend and
    settings as summary.json does."""
    return report.PageInfo(
        name=article.input,
        model=meta["model"],
        revision=meta.get("revision"),
        backend=meta["backend"],
        settings=meta.get("settings") or {},
        date=date,
        pairing=article.pairing,
        reference=article.reference,
        scores=article.scores,
        hter=article.hter,
    )


def review_files(page: report.PageInfo, records: Sequence[dict], article: Article) -> list[bytes]:
    """The article's review page, TMX and TSV; the article's `flagged` and `flags`
    (rows flagged, rows by flag) are set from the same rows."""
    rows = report.rows(records)
    texts = [report.article_html(page, rows), report.tmx_text(page, rows), report.tsv_text(rows)]
    article.flagged, article.flags = sum(bool(row.flags) for row in rows), report.flag_counts(rows)
    return [t.encode("utf-8") for t in texts]


def write_all(folder: OutputFolder, files: Sequence[tuple[str, bytes]]) -> None:
    """Write an article's files; if one cannot be written, remove those this call wrote,
    so that an article has all its outputs from one run or none from it."""
    written: list[str] = []
    try:
        for rel, data in files:
            folder.write(rel, data)
            written.append(rel)
    except BaseException:
        for rel in written:
            folder.remove(rel)
        raise


def write_index(folder: OutputFolder, summary: dict, date: str) -> None:
    pages = {a["input"]: output_names(a["input"])[2] for a in summary["articles"] if a["status"] in ("ok", "skipped")}
    folder.write(INDEX, report.index_html(summary, pages, date).encode("utf-8"))


def rewrite_reports(out: Path) -> dict:
    """Write the review pages, exports and index of an earlier run again from its
    summary.json and .align.jsonl files (after an upgrade, or to fix a deleted page).

    An entry whose records cannot be read, or whose name would lead outside `out`,
    becomes an error entry; nothing is written outside `out`. Raises
    FileNotFoundError when `out` holds no summary.json, ValueError when it is not a
    summary mtpipe wrote."""
    if not (out / SUMMARY).is_file():
        raise FileNotFoundError(f"{shown(out)} holds no {SUMMARY}; run mtpipe run -o {shown(out)} first")
    with OutputFolder(out) as folder:
        adopt_legacy(folder)
        if not folder.owns(SUMMARY):
            raise OutputConflict(f"{shown(out / SUMMARY)} was not written by mtpipe; run mtpipe run -o {shown(out)} first")
        raw = json.loads(folder.path(SUMMARY).read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or not isinstance(raw.get("articles"), list):
            raise ValueError(f"{shown(out / SUMMARY)} is not a summary mtpipe wrote (it has no list of articles); run mtpipe run -o {shown(out)} again")
        meta = summary_meta(raw)
        articles = [a for a in map(article_from_entry, raw["articles"]) if a is not None]
        date = run_date()
        for article in articles:
            if article.status not in ("ok", "skipped"):
                continue
            try:
                safe_relative(article.input)
                names = output_names(article.input)
                records = read_records(out / names[1])
                review = review_files(page_info(article, meta, date), records, article)
                write_all(folder, list(zip(names[2:], review)))
            except OutputConflict as exc:
                article.status, article.error = "error", f"{article.input}: {exc}; not rewritten"
            except (OSError, ValueError) as exc:
                article.status, article.error = "error", f"{shown(out / names[1])}: the sentence records cannot be read ({exc}); run mtpipe run --force"
        summary = {**raw, **meta, "totals": run_totals(articles), "articles": [asdict(a) for a in articles]}
        folder.write(SUMMARY, json_text(summary).encode("utf-8"))
        write_index(folder, summary, date)
        return summary
