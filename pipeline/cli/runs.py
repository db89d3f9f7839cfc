"""`mtpipe run` (and its dry run) and `mtpipe report`: folders of articles in, a
mirrored folder of translations, review pages and exports out."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .common import (
    EXIT_ARTICLE_FAILED,
    EXIT_OK,
    Fatal,
    done_with,
    options_for,
    progress_bar,
    read_at_most,
    read_stdin,
    review_for,
    translator_for,
    unreadable,
    warn,
)

if TYPE_CHECKING:
    from ..formats.base import ReadOptions
    from ..records import Article, RunSummary
    from ..run import Selection


def _output_folder(out: Path) -> list[Path]:
    """Check that `out` can be the output folder, creating it (and missing parents) and
    trying a write there; return the folders created, outermost first, so that a run
    that fails before any work can remove them again."""
    if out.is_symlink() and not out.exists():
        raise Fatal(f"the output folder {out} is a symbolic link to {os.readlink(out)}, which does not exist; create it or choose another -o")
    if out.exists() and not out.is_dir():
        raise Fatal(f"the output folder {out} is a file, not a folder; choose another -o")
    missing = [p for p in (out, *out.parents) if not p.exists()][::-1]
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".mtpipe-{os.getpid() & 0xFFFFFFFF:08x}.tmp"
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as exc:
        _remove_empty(missing)
        raise Fatal(f"cannot write to the output folder {out} ({exc.strerror or exc}); choose another -o") from None
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders (innermost first) that are still empty."""
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            return


def cmd_run(args: argparse.Namespace) -> int:
    from ..messages import counted
    from ..run import (
        SUMMARY,
        OutputBusy,
        OutputConflict,
        OutputIsInput,
        Selection,
        run,
        run_date,
    )

    inputs = _run_inputs(args)
    try:
        select = Selection(args.include, args.exclude)
    except ValueError as exc:
        raise Fatal(str(exc)) from None
    options = options_for(args, inputs)
    review = review_for(args, options)
    if args.dry_run:
        return _dry_run(args, inputs, select, options, review.glossary)
    try:
        run_date()
    except ValueError as exc:
        raise Fatal(str(exc)) from None
    created = _output_folder(args.output)
    translator, started = None, time.perf_counter()
    try:
        translator = translator_for(args, glossary=review.glossary if args.glossary_mode == "enforce" else None)
        bar = progress_bar(not args.quiet and sys.stderr.isatty())
        summary = run(inputs, args.output, translator, force=args.force, progress=bar, references=args.ref, select=select, options=options, review=review)
    except (OutputBusy, OutputIsInput, OutputConflict) as exc:
        raise Fatal(str(exc)) from None
    except OSError as exc:
        raise Fatal(f"cannot write {exc.filename or args.output} ({exc.strerror or exc}); free some space or fix the folder, then run the same command again") from None
    finally:
        if translator:
            done_with(translator)
        _remove_empty(created)
    totals = summary.totals
    warn(summary.warnings)
    print(
        f"{totals['ok']} translated{_copied(summary.articles)}, {totals['skipped']} unchanged, {totals['error']} failed{_others(summary.articles)}; "
        f"{counted(totals['sentences'], 'sentence')} ({totals['from_memory']} from memory) in {time.perf_counter() - started:.1f} s; "
        f"see {args.output / SUMMARY}",
        file=sys.stderr,
    )
    code = report_failures(summary)
    if args.ref:
        _print_scores(summary, args.ref)
    return _nothing_chosen([a.status for a in summary.articles]) or code


def _nothing_chosen(statuses: list[str]) -> int | None:
    """EXIT_ARTICLE_FAILED, saying why, when paths were found but every one was left out
    (ignored by --include/--exclude or not an article): a selection that matches nothing
    is a mistake to show, not a successful run."""
    if "ignored" in statuses and not any(s in statuses for s in ("ok", "skipped", "error", "pending")):
        print("mtpipe: nothing to translate: every path found was ignored or unsupported (summary.json, or --dry-run, says why each); check --include and --exclude", file=sys.stderr)
        return EXIT_ARTICLE_FAILED
    return None


def _run_inputs(args: argparse.Namespace) -> list[Path]:
    """The INPUT paths of `run`: those given, then those --files-from lists. Each (and
    --ref) must exist."""
    inputs = [*args.inputs, *(_listed_paths(args.files_from) if args.files_from else [])]
    if not inputs:
        raise Fatal(
            f"--files-from {args.files_from} lists no paths; list some, or give INPUT files or folders"
            if args.files_from
            else "nothing to translate: give INPUT files or folders, or --files-from FILE"
        )
    missing = [str(p) for p in [*inputs, *([args.ref] if args.ref else [])] if not p.exists() and not p.is_symlink()]
    if missing:
        raise Fatal(f"input not found: {', '.join(missing)}")
    return inputs


# The most a --files-from list may hold: 100,000 paths of 160 bytes.
FILES_FROM_BYTES = 16_000_000


def _listed_paths(name: str) -> list[Path]:
    """The paths a --files-from file (or - for standard input) lists, one a line, blank
    lines and lines starting with # skipped; names are taken byte for byte, as the file
    system has them."""
    try:
        data = read_stdin("paths, one a line,", FILES_FROM_BYTES) if name == "-" else read_at_most(Path(name), FILES_FROM_BYTES)
    except OSError as exc:
        raise unreadable("read --files-from", name, exc) from None
    lines = [os.fsdecode(line.removesuffix(b"\r")) for line in data.split(b"\n")]
    return [Path(line) for line in lines if line.strip() and not line.startswith("#")]


# What a dry run calls the statuses of the paths it lists.
_FATES = {"pending": "translate", "skipped": "unchanged"}


def _dry_run(args: argparse.Namespace, inputs: list[Path], select: Selection, options: ReadOptions, glossary=None) -> int:
    """List on stdout what `run` would do with each path and why, then the counts;
    write nothing and load no model. The exit code is the run's: 1 when paths would fail."""
    from ..messages import counted
    from ..run import OutputConflict, OutputIsInput, plan

    translator = translator_for(args, writes=False, glossary=glossary if args.glossary_mode == "enforce" else None)
    try:
        decisions = plan(inputs, args.output, translator, args.force, args.ref, select, options)
    except (OutputIsInput, OutputConflict) as exc:
        raise Fatal(str(exc)) from None
    finally:
        if translator.memory:
            translator.memory.close()
    for decision in decisions:
        status, pending = decision.article.status, decision.pending
        detail = f" ({counted(pending.sentences, 'sentence')})" if pending else f": {decision.reason}" if decision.reason else ""
        print(f"{_FATES.get(status, status):<12}{decision.article.input}{detail}")
    statuses = [d.article.status for d in decisions]
    sentences = sum(d.pending.sentences for d in decisions if d.pending)
    print(
        f"{statuses.count('pending')} to translate ({counted(sentences, 'sentence')}), {statuses.count('skipped')} unchanged, "
        f"{statuses.count('error')} would fail{_others([d.article for d in decisions])}; dry run, nothing written"
    )
    warn(translator.warnings)
    return _nothing_chosen(statuses) or (EXIT_ARTICLE_FAILED if "error" in statuses else EXIT_OK)


def _others(articles: list[Article]) -> str:
    """The unsupported (with their suffixes) and ignored paths of a run's summary
    line, when there are any: ", 2 unsupported: .pdf, .rtf, 1 ignored"."""
    counts = {status: sum(a.status == status for a in articles) for status in ("unsupported", "ignored")}
    kinds = sorted({os.path.splitext(a.input)[1].lower() or "no suffix" for a in articles if a.status == "unsupported"})
    return "".join(f", {n} {status}" + (f": {', '.join(kinds)}" if status == "unsupported" else "") for status, n in counts.items() if n)


def _copied(articles: list[Article]) -> str:
    """How many of the articles translated had nothing to translate, when any did."""
    copied = sum(a.status == "ok" and bool(a.note) for a in articles)
    return f" ({copied} with nothing to translate, copied)" if copied else ""


def _print_scores(summary: RunSummary, references: Path, worst: int = 10) -> None:
    """After a run with --ref: chrF2 and BLEU of the worst articles by chrF2, then of
    the corpus they make; on stderr, as the rest of the run's report."""
    from ..messages import counted

    scored = sorted(
        (a for a in summary.articles if a.done and a.scores), key=lambda a: (a.scores["chrf"], a.input)  # type: ignore[index]
    )
    if not scored:
        print(f"no article was scored: {references} holds no readable reference for them (IN/a/b.txt is scored against {references / 'a' / 'b.txt'})", file=sys.stderr)
        return
    which = "worst first" if len(scored) <= worst else f"the {worst} worst of {len(scored)}"
    rows = [f"{'chrF2':>7} {'BLEU':>7}  article ({which})"]
    rows += [f"{a.scores['chrf']:7.1f} {a.scores['bleu']:7.1f}  {a.input}" for a in scored[:worst]]  # type: ignore[index]
    corpus = summary.scores
    if corpus:
        rows.append(f"{corpus['chrf']['score']:7.1f} {corpus['bleu']['score']:7.1f}  corpus of {counted(len(scored), 'article')}")
    print("\n".join(rows), file=sys.stderr)


def report_failures(summary: RunSummary) -> int:
    """Name every failed article of a run summary on stderr; return the exit code."""
    failed = [a for a in summary.articles if a.status == "error"]
    for article in failed:
        print(f"mtpipe: failed: {article.error}", file=sys.stderr)
    return EXIT_ARTICLE_FAILED if failed else EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from ..messages import counted
    from ..run import INDEX, OutputBusy, OutputConflict, rewrite_reports

    try:
        summary = rewrite_reports(args.output, review_for(args))
    except (FileNotFoundError, OutputBusy, OutputConflict) as exc:
        raise Fatal(str(exc)) from None
    except (OSError, ValueError) as exc:
        raise Fatal(f"cannot rewrite the reports of {args.output}: {exc}; run mtpipe run again") from None
    pages = sum(a.done for a in summary.articles)
    print(f"{counted(pages, 'review page')} written; open {args.output / INDEX}", file=sys.stderr)
    return report_failures(summary)
