"""The review pages, exports and index of a run, written from its records; and
`mtpipe report`, which writes them again from summary.json and the .align.jsonl files."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from pathlib import Path
from typing import NamedTuple

from .. import qa, report
from ..outdir import OutputConflict, OutputFolder, output_names, safe_relative
from ..records import Article, RunMeta, RunSummary, SentenceRecord, load_json
from ..writers import json_text
from .discover import shown
from .planning import adopt_legacy
from .summary import INDEX, SUMMARY, read_records, run_date


def page_info(article: Article, meta: RunMeta, date: str) -> report.PageInfo:
    """The page header of an article, with the model, revision, backend and settings of its run."""
    return report.PageInfo(
        name=article.input,
        model=meta.model,
        revision=meta.revision,
        backend=meta.backend,
        settings=meta.settings,
        date=date,
        pairing=article.pairing,
        reference=article.reference,
        scores=article.scores,
        hter=article.hter,
    )


class Review(NamedTuple):
    """An article's review page, TMX and TSV, and what they flag: rows flagged, rows by flag."""

    files: list[bytes]
    flagged: int
    flags: dict[str, int]


def review_files(page: report.PageInfo, records: Sequence[SentenceRecord], context: qa.Context = qa.Context()) -> Review:
    """The article's review page, TMX and TSV, and their flag counts (from the same rows),
    checked as `context` says."""
    rows = report.rows(records, context)
    texts = [report.article_html(page, rows), report.tmx_text(page, rows), report.tsv_text(rows)]
    return Review([t.encode("utf-8") for t in texts], sum(bool(row.flags) for row in rows), report.flag_counts(rows))


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


def write_index(folder: OutputFolder, summary: RunSummary, date: str) -> None:
    pages = {a.input: output_names(a.input)[2] for a in summary.articles if a.done}
    folder.write(INDEX, report.index_html(summary, pages, date).encode("utf-8"))


def rewrite_reports(out: Path, context: qa.Context = qa.Context()) -> RunSummary:
    """Write the review pages, exports and index of an earlier run again from its
    summary.json and .align.jsonl files (after an upgrade, or to fix a deleted page),
    checked as `context` says (its consistency index learns every article first).

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
        try:
            summary = RunSummary.from_json(load_json(folder.read(SUMMARY)))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{shown(out / SUMMARY)} is not a summary mtpipe wrote ({exc}); run mtpipe run -o {shown(out)} again") from None
        date = run_date()
        done = [a for a in summary.articles if a.done]
        checked_on_disk(folder, done, context)
        for article in done:
            rewrite_article(folder, article, summary.meta, date, context)
        folder.write(SUMMARY, json_text(summary.to_json()).encode("utf-8"))
        write_index(folder, summary, date)
        return summary


def rewrite_article(folder: OutputFolder, article: Article, meta: RunMeta, date: str, context: qa.Context) -> None:
    """Write an article's review page and exports again from its records, counting its
    flags anew; an article whose records cannot be read or written becomes an error entry."""
    out = folder.root
    try:
        safe_relative(article.input)
        names = output_names(article.input)
        records = read_records(folder, names[1])
        review = review_files(page_info(article, meta, date), records, context)
        write_all(folder, list(zip(names[2:], review.files)))
        article.flagged, article.flags = review.flagged, review.flags
    except OutputConflict as exc:
        article.status, article.error = "error", f"{article.input}: {exc}; not rewritten"
    except (OSError, ValueError) as exc:
        article.status, article.error = "error", f"{shown(out / output_names(article.input)[1])}: the sentence records cannot be read ({exc}); run mtpipe run --force"


class Checked(NamedTuple):
    """An article as the run-wide consistency check knows it: its units' sentence keys,
    and how many of its page's rows the check flagged when the page was written."""

    article: Article
    units: list[list[tuple[bytes, bytes]]]
    flagged: int


def checked(article: Article, records: Sequence[SentenceRecord], context: qa.Context) -> list[Checked]:
    """An article's records given to the run's consistency index (none when the run
    does not check consistency)."""
    index = context.run_wide
    if index is None:
        return []
    units = [index.add((r.src, r.mt) for r in unit) for _, unit in groupby(records, key=lambda r: r.unit or r.id)]
    return [Checked(article, units, (article.flags or {}).get("consistency", 0))]


def checked_on_disk(folder: OutputFolder, articles: Sequence[Article], context: qa.Context) -> list[Checked]:
    """Articles' records read back from `folder` and given to the run's consistency
    index. An article whose records cannot be read is left out of the check (its own
    page, when written again, says what is wrong)."""
    if context.run_wide is None:
        return []
    found = []
    for article in articles:
        try:
            found += checked(article, read_records(folder, output_names(article.input)[1]), context)
        except (OSError, ValueError, OutputConflict):
            continue
    return found


def recheck(folder: OutputFolder, known: Sequence[Checked], meta: RunMeta, date: str, context: qa.Context) -> None:
    """Write again the pages of the articles whose rows the run's consistency check now
    flags otherwise than their pages do (a later article translated one of their
    sentences another way), so that every page flags what the whole folder holds."""
    for item in known:
        if item.article.done and context.run_wide.count(item.units) != item.flagged:
            rewrite_article(folder, item.article, meta, date, context)
