"""`mtpipe translate`, `evaluate` and `align`: one text, or files of sentences."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .common import (
    EVALUATE_LINE_BYTES,
    EXIT_OK,
    MAX_EVALUATE_LINES,
    SPLIT_ARTICLE,
    Fatal,
    done_with,
    options_for,
    read_at_most,
    read_stdin,
    translator_for,
    unreadable,
    warn,
)

if TYPE_CHECKING:
    from ..formats.base import ReadOptions


def cmd_translate(args: argparse.Namespace) -> int:
    from ..formats import format_or_plain
    from ..ingest import IngestError
    from ..segment import segment

    name = "<stdin>" if args.file == "-" else args.file
    fmt = format_or_plain(name)
    options = options_for(args, [] if args.file == "-" else [Path(args.file).parent])
    try:
        data = read_stdin("French text", options.max_bytes, SPLIT_ARTICLE) if args.file == "-" else read_at_most(Path(args.file), options.max_bytes, SPLIT_ARTICLE)
        doc = fmt.read(data, name, options)
    except (OSError, IngestError) as exc:
        raise unreadable("translate", name, exc) from None
    segments = segment(doc)
    translator = translator_for(args)
    try:
        translations = translator.translate([s.text for s in segments])
    finally:
        done_with(translator)
    sys.stdout.buffer.write(fmt.write(doc, segments, translations).data)
    sys.stdout.flush()
    warn(translator.warnings)
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from ..evaluate import Options, Text, as_json, evaluate, read_text, render_text
    from ..ingest import IngestError

    if min(args.paired_bs_n, args.paired_ar_n, args.jobs or 1) < 1:
        raise Fatal("--paired-bs-n, --paired-ar-n and --jobs must be at least 1")
    if (args.max_lines or 0) < 0:
        raise Fatal("--max-lines must be 0 (no limit) or more")
    max_lines = MAX_EVALUATE_LINES if args.max_lines is None else args.max_lines

    def load(path: Path) -> Text:
        try:
            return read_text(read_at_most(path, EVALUATE_LINE_BYTES * max_lines or None), str(path), max_lines)
        except (OSError, IngestError) as exc:
            raise unreadable("evaluate", path, exc) from None

    try:
        options = Options(tuple(m.strip() for m in args.metrics.split(",") if m.strip()), args.tokenize, args.lowercase)
        refs, hyps = [load(p) for p in args.ref], [load(p) for p in args.hyp]
        report = evaluate(
            hyps, refs, options, segments=args.segments, bs_samples=args.paired_bs_n, ar_samples=args.paired_ar_n, jobs=args.jobs or os.cpu_count() or 1
        )
    except ValueError as exc:
        raise Fatal(str(exc)) from None
    print(json.dumps(as_json(report), ensure_ascii=False, indent=2) if args.json else render_text(report))
    return EXIT_OK


def cmd_align(args: argparse.Namespace) -> int:
    from ..align import align, link_records, vecalign_text
    from ..writers import jsonl_text, write_text

    options = options_for(args, [args.source.parent])
    source, target = _sentences(args.source, args.sentences, options), _sentences(args.target, args.sentences, options)
    if args.mt:
        mt = _machine_translation(args.mt, source, args.source, args.sentences)
    else:
        mt = None
        if not args.no_mt and source:
            translator = translator_for(args)
            try:
                mt = [t.text for t in translator.translate(source)]
            finally:
                done_with(translator)
            warn(translator.warnings)
    links = align(source, target, mt)
    if args.format == "vecalign":
        text = vecalign_text(links)
    else:
        text = jsonl_text(link_records(links, source, target, mt))
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return EXIT_OK
    try:
        write_text(args.output, text)
    except OSError as exc:
        raise Fatal(f"cannot write {args.output} ({exc.strerror or exc}); choose another -o") from None
    return EXIT_OK


def _machine_translation(path: Path, source: list[str], source_path: Path, per_line: bool) -> list[str]:
    """The --mt file's translation of each source sentence: the `mt` of a run's
    .align.jsonl, once its `src` are found to be the source sentences, or the file's lines."""
    from ..align import is_run_records, run_records, run_translations
    from ..outdir import MAX_READ_BACK

    try:
        data = read_at_most(path, MAX_READ_BACK)  # a run's records are read back under this bound too
    except OSError as exc:
        raise unreadable("align", path, exc) from None
    if is_run_records(path.name, data):
        try:
            pairs = run_records(data, str(path))
        except ValueError as exc:
            raise Fatal(f"cannot align: {exc}") from None
        try:
            return run_translations(pairs, str(path), source, str(source_path))
        except ValueError as exc:
            also = f", or leave out --sentences so that {source_path} is segmented as runs segment it" if per_line else ""
            raise Fatal(f"cannot align: {exc}{also}") from None
    mt = _sentences(path, True)
    if len(mt) != len(source):
        raise Fatal(f"cannot align: {path} has {len(mt)} lines but {source_path} has {len(source)} sentences; give one translation per source sentence")
    return mt


def _sentences(path: Path, per_line: bool, options: ReadOptions | None = None) -> list[str]:
    """The sentences of a file: its lines (as `evaluate` reads them), or the article
    segmented as a run segments it (read by its suffix's format, with `options`). An
    empty or blank file has none."""
    from ..evaluate import read_text
    from ..formats import format_or_plain
    from ..formats.base import ReadOptions
    from ..ingest import IngestError
    from ..segment import segment

    try:
        data = read_at_most(path, (options or ReadOptions()).max_bytes, SPLIT_ARTICLE)
        if not data.strip():
            return []
        if per_line:
            return list(read_text(data, str(path)).lines)
        fmt = format_or_plain(path.name)
        return [s.text for s in segment(fmt.read(data, str(path), options) if options else fmt.read(data, str(path)))]
    except (OSError, IngestError) as exc:
        raise unreadable("align", path, exc) from None
