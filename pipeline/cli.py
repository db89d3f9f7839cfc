"""Command line: argument parsing, progress and exit codes; the work is in the stages.

Exit codes: 0 everything translated (or skipped as unchanged); 1 some articles
failed (see summary.json); 2 nothing could be done (bad arguments, model not
loadable, unreadable input for `translate`, an output folder that cannot be
used); 130 interrupted (Ctrl-C); 141 standard output was closed early (a pipe into
`head`); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from . import __version__

EXIT_OK, EXIT_ARTICLE_FAILED, EXIT_FATAL, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE, EXIT_TERMINATED = 0, 1, 2, 130, 141, 143


class _Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as Ctrl-C does, with what finished recorded."""


def _terminate(signum: int, frame: object) -> None:
    raise _Terminated


class _Fatal(Exception):
    """An error that ends the command with one line on stderr and exit code 2."""


def _unreadable(action: str, name: object, exc: Exception) -> _Fatal:
    """The one-line error for an input that cannot be read: the system's reason, or ingest's."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
    return _Fatal(f"cannot {action} {name}: {reason}")


def _model_options() -> argparse.ArgumentParser:
    from .hub import DEFAULT_MODEL

    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("model")
    group.add_argument("--model", default=DEFAULT_MODEL, help=f"hub id or local folder of a Marian checkpoint (default: {DEFAULT_MODEL})")
    group.add_argument("--backend", default="transformers", help="translation engine: transformers, or ctranslate2 with the fast extra (default: transformers)")
    group.add_argument("--compute-type", default=None, metavar="TYPE", help="ctranslate2 weights and arithmetic: int8 (default), int8_float32, int8_float16, int8_bfloat16, int16, float16, bfloat16, float32")
    group.add_argument("--beam", type=int, default=None, metavar="N", help="beam size (default: the model's generation config)")
    group.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="where the model runs (default: auto)")
    group.add_argument("--batch-tokens", type=int, default=2048, metavar="N", help="source tokens per batch, padding included (default: 2048)")
    group.add_argument("--align-layer", type=int, default=-1, metavar="L", help="decoder layer whose cross-attention gives the word links, 0-based or -1 for the last (default: -1; transformers backend for others)")
    group.add_argument("--align-head", type=int, default=0, metavar="H", help="attention head of that layer (default: 0, the head OPUS-MT models are trained to align with)")
    group.add_argument("--cache", type=Path, default=None, metavar="PATH", help="translation memory file (default: memory.sqlite3 in the user cache dir)")
    group.add_argument("--no-cache", action="store_true", help="do not read or write the translation memory")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mtpipe", description="French→English machine translation of article folders with MarianMT.")
    parser.add_argument("--version", action="version", version=f"mtpipe {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _model_options()

    run = sub.add_parser("run", parents=[common], help="translate files and folders of articles", description="Translate .txt/.md articles (folders recursively) into OUT, mirroring the tree.")
    run.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="article files or folders")
    run.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="output folder")
    run.add_argument("--force", action="store_true", help="translate articles again even if unchanged since the last run")
    run.add_argument("--ref", type=Path, metavar="REFDIR", help="human reference translations: IN/a/b.txt is scored against REFDIR/a/b.txt when it exists")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    engine = run.add_argument_group("engine", "where the model runs: in this process, or on the actors of a Ray cluster (the ray extra); outputs are the same")
    engine.add_argument("--engine", choices=["local", "ray"], default="local", help="local (default) or ray")
    engine.add_argument("--address", default=None, metavar="ADDR", help="Ray cluster to join (default: RAY_ADDRESS, else a Ray instance started on this machine for the run)")
    engine.add_argument("--actors", type=int, default=None, metavar="N", help="Ray actors, each holding the model (default: as many as the cluster's CPUs, or GPUs, allow)")
    engine.add_argument("--cpus-per-actor", type=int, default=1, metavar="C", help="CPU cores per actor; its threads follow it (default: 1)")
    engine.add_argument("--gpus-per-actor", type=float, default=0.0, metavar="F", help="GPUs per actor, fractions allowed (default: 0)")
    run.set_defaults(handler=_cmd_run)

    tr = sub.add_parser("translate", parents=[common], help="translate one text to stdout", description="Translate one article (a file, or - for stdin) and print the English with the same layout.")
    tr.add_argument("file", nargs="?", default="-", metavar="FILE", help="article file, or - for standard input (default)")
    tr.set_defaults(handler=_cmd_translate)

    ev = sub.add_parser("evaluate", help="score translations against references with sacrebleu", description="Score hypothesis files against reference files (BLEU, chrF2, chrF2++, TER with sacrebleu signatures); with several --hyp, test each against the first.")
    ev.add_argument("--ref", action="append", required=True, type=Path, metavar="REF", help="reference file, one segment per line (repeat for several references)")
    ev.add_argument("--hyp", action="append", required=True, type=Path, metavar="HYP", help="hypothesis file, line-parallel to REF (repeat to compare systems; the first is the baseline)")
    ev.add_argument("--metrics", default="bleu,chrf,chrf++,ter", help="comma-separated metrics among bleu, chrf, chrf++, ter (default: all)")
    ev.add_argument("--tokenize", default="13a", metavar="TOK", help="BLEU tokenizer, as sacrebleu's --tokenize (default: 13a)")
    ev.add_argument("--lowercase", action="store_true", help="case-insensitive BLEU and chrF (TER is case-insensitive anyway)")
    ev.add_argument("--segments", action="store_true", help="also give the score of every line (sentence BLEU with effective order, sentence chrF2, ...)")
    ev.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    ev.add_argument("--paired-bs-n", type=int, default=1000, metavar="N", help="paired bootstrap resamples (default: 1000)")
    ev.add_argument("--paired-ar-n", type=int, default=10000, metavar="N", help="paired approximate randomization trials (default: 10000)")
    ev.add_argument("--jobs", type=int, default=None, metavar="N", help="processes that share the scoring (default: one per CPU)")
    ev.set_defaults(handler=_cmd_evaluate)

    al = sub.add_parser("align", parents=[common], help="link the sentences of an article and of its human translation", description="Align SRC (French) and TGT (its human English translation) sentence by sentence, n:m and in order, using a machine translation of SRC.")
    al.add_argument("source", type=Path, metavar="SRC", help="French article (with --sentences: one sentence per line)")
    al.add_argument("target", type=Path, metavar="TGT", help="its English translation, in the same form")
    mt = al.add_mutually_exclusive_group()
    mt.add_argument("--mt", type=Path, metavar="MT", help="machine translation of SRC, one line per source sentence (default: translate SRC with --model)")
    mt.add_argument("--no-mt", action="store_true", help="no machine translation: align on lengths and words that survive translation (numbers, names, cognates)")
    al.add_argument("--sentences", action="store_true", help="SRC and TGT hold one sentence per line instead of articles to segment")
    al.add_argument("-o", "--output", type=Path, metavar="OUT", help="write the links to OUT (default: standard output)")
    al.add_argument("--format", choices=["vecalign", "jsonl"], default="vecalign", help="vecalign: one link per line, [i, j]:[k]; jsonl: also texts and scores (default: vecalign)")
    al.set_defaults(handler=_cmd_align)

    rp = sub.add_parser("report", help="write a run's review pages and exports again", description="Write the review pages (.html), exports (.tmx, .tsv) and index.html of OUT again from its summary.json and .align.jsonl files.")
    rp.add_argument("output", type=Path, metavar="OUT", help="output folder of an earlier mtpipe run")
    rp.set_defaults(handler=_cmd_report)

    cache = argparse.ArgumentParser(add_help=False)
    cache.add_argument("--cache", type=Path, default=None, metavar="PATH", help="translation memory file (default: memory.sqlite3 in the user cache dir, as for run)")
    memory = sub.add_parser("memory", help="human translations in the translation memory", description="Import human translations (post-edits, CAT-tool memories) into the translation memory that runs use first, export them, count entries.")
    memsub = memory.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = memsub.add_parser("import", parents=[cache], help="store human translations from corrections files and TMX files", description="Store each French→English pair of the files as a human translation: runs use it for that sentence instead of the model. Each file is imported whole or not at all.")
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE", help="a review page's .corrections.json, or a TMX 1.4b file from a CAT tool")
    imp.set_defaults(handler=_cmd_memory_import)
    exp = memsub.add_parser("export", parents=[cache], help="write the human translations as TMX 1.4b", description="Write the memory's human translations (with --machine, its machine translations too) as a TMX 1.4b file for CAT tools.")
    exp.add_argument("file", type=Path, metavar="FILE.tmx", help="the TMX file to write")
    exp.add_argument("--machine", action="store_true", help="also export the machine translations")
    exp.add_argument("--force", action="store_true", help="replace FILE if it exists")
    exp.set_defaults(handler=_cmd_memory_export)
    stats = memsub.add_parser("stats", parents=[cache], help="count the memory's entries by kind", description="Count the translation memory's entries: machine translations and human ones.")
    stats.set_defaults(handler=_cmd_memory_stats)

    models = sub.add_parser("models", help="manage converted models", description="Manage models converted for the ctranslate2 backend.")
    msub = models.add_subparsers(dest="action", required=True, metavar="ACTION")
    conv = msub.add_parser("convert", help="convert a model for --backend ctranslate2 ahead of time", description="Convert a Marian checkpoint for --backend ctranslate2 into the user cache dir (done on first use otherwise).")
    conv.add_argument("model", metavar="MODEL", help="hub id or local folder of a Marian checkpoint")
    conv.add_argument("--compute-type", default="int8", metavar="TYPE", help="weight type: int8 (default), int8_float32, int8_float16, int8_bfloat16, int16, float16, bfloat16, float32")
    conv.add_argument("--force", action="store_true", help="convert again even if the cache has it")
    conv.set_defaults(handler=_cmd_convert)
    return parser


def _translator(args: argparse.Namespace):
    from .hub import resolve
    from .memory import MemoryFault, TranslationMemory, default_path
    from .translate import DecodeSettings, Translator

    if args.beam is not None and args.beam < 1:
        raise _Fatal("--beam must be at least 1")
    if args.batch_tokens < 1:
        raise _Fatal("--batch-tokens must be at least 1")
    _check_compute_type(args.compute_type)
    model = resolve(args.model)
    memory, fault = None, None
    if not args.no_cache:
        try:
            memory = TranslationMemory(args.cache or default_path())
        except MemoryFault as exc:  # translate without it, and say so
            fault = str(exc)
    settings = DecodeSettings(args.beam, args.batch_tokens, args.device, args.compute_type, args.align_layer, args.align_head)
    executor, options = getattr(args, "engine", "local"), None
    if executor == "ray":
        from .cluster import RayOptions

        options = RayOptions(args.address, args.actors, args.cpus_per_actor, args.gpus_per_actor)
        settings = options.settings_for(settings)
    translator = Translator(model, args.backend, settings, memory, executor, options)
    translator.warnings += [fault] if fault else []
    return translator


def _check_compute_type(compute_type: str | None) -> None:
    from .translate import COMPUTE_TYPES

    if compute_type is not None and compute_type not in COMPUTE_TYPES:
        raise _Fatal(f"unknown --compute-type {compute_type}: choose one of {', '.join(COMPUTE_TYPES)}")


def _memory(args: argparse.Namespace):
    """The translation memory a `memory` command works on (the one `run` uses)."""
    from .memory import MemoryFault, TranslationMemory, default_path

    try:
        return TranslationMemory(args.cache or default_path())
    except MemoryFault as exc:
        raise _Fatal(str(exc)) from None


def _cmd_memory_import(args: argparse.Namespace) -> int:
    from .corrections import CorrectionsError, read_any
    from .memory import MemoryFault

    memory, failed = _memory(args), 0
    try:
        for path in args.files:
            try:
                reading = read_any(path)
                changes = memory.add_human(reading.pairs)
            except (CorrectionsError, MemoryFault) as exc:
                print(f"mtpipe: failed: {exc}; nothing of it was imported", file=sys.stderr)
                failed += 1
                continue
            counts = [(len(changes.added), "added"), (len(changes.replaced), "replaced"), (len(changes.unchanged), "unchanged"), (len(reading.refusals), "refused")]
            print(f"{path}: " + ", ".join(f"{n} {what}" for n, what in counts), file=sys.stderr)
            for refusal in reading.refusals:
                print(f"  refused: {refusal.where}: {refusal.why}", file=sys.stderr)
    finally:
        memory.close()
    return EXIT_ARTICLE_FAILED if failed else EXIT_OK


def _cmd_memory_export(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from .corrections import write_tmx
    from .memory import HumanEntry, MemoryFault
    from .writers import write_text

    if args.file.exists() and not args.force:
        raise _Fatal(f"{args.file} exists; choose another name, or pass --force to replace it")
    memory = _memory(args)
    try:
        entries = list(memory.human_entries())
        if args.machine:
            now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            entries += [HumanEntry(source, target, "machine translation", now) for source, target in memory.machine_entries()]
    except MemoryFault as exc:
        raise _Fatal(str(exc)) from None
    finally:
        memory.close()
    try:
        write_text(args.file, write_tmx(entries))
    except OSError as exc:
        raise _Fatal(f"cannot write {args.file} ({exc.strerror or exc}); choose another path") from None
    print(f"{len(entries)} translation units written to {args.file}", file=sys.stderr)
    return EXIT_OK


def _cmd_memory_stats(args: argparse.Namespace) -> int:
    from .memory import MemoryFault

    memory = _memory(args)
    try:
        counts = memory.counts()
    except MemoryFault as exc:
        raise _Fatal(str(exc)) from None
    finally:
        memory.close()
    print(f"{memory.path}: {_plural(counts['human'], 'human translation')}, {_plural(counts['machine'], 'machine translation')}")
    return EXIT_OK


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _cmd_convert(args: argparse.Namespace) -> int:
    from .hub import resolve
    from .translate import convert_ct2

    _check_compute_type(args.compute_type)
    folder = convert_ct2(resolve(args.model), args.compute_type, force=args.force)
    print(folder)
    return EXIT_OK


def _progress(enabled: bool):
    from functools import partial

    from tqdm import tqdm

    # mininterval 0: redrawn after every batch (batches take long enough not to flood the terminal)
    return partial(tqdm, unit="sent", dynamic_ncols=True, mininterval=0, disable=not enabled)


def _output_folder(out: Path) -> list[Path]:
    """Check that `out` can be the output folder, creating it (and missing parents) and
    trying a write there; return the folders created, outermost first, so that a run
    that fails before any work can remove them again."""
    if out.is_symlink() and not out.exists():
        raise _Fatal(f"the output folder {out} is a symbolic link to {os.readlink(out)}, which does not exist; create it or choose another -o")
    if out.exists() and not out.is_dir():
        raise _Fatal(f"the output folder {out} is a file, not a folder; choose another -o")
    missing = [p for p in (out, *out.parents) if not p.exists()][::-1]
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".mtpipe-{os.getpid() & 0xFFFFFFFF:08x}.tmp"
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as exc:
        _remove_empty(missing)
        raise _Fatal(f"cannot write to the output folder {out} ({exc.strerror or exc}); choose another -o") from None
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders (innermost first) that are still empty."""
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            return


def _cmd_run(args: argparse.Namespace) -> int:
    from .batch import SUMMARY, OutputBusy, OutputConflict, OutputIsInput, run

    paths = [*args.inputs, args.ref] if args.ref else args.inputs
    missing = [str(p) for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        raise _Fatal(f"input not found: {', '.join(missing)}")
    created = _output_folder(args.output)
    translator = None
    try:
        translator = _translator(args)
        summary = run(
            args.inputs, args.output, translator, force=args.force, progress=_progress(not args.quiet and sys.stderr.isatty()), references=args.ref
        )
    except (OutputBusy, OutputIsInput, OutputConflict) as exc:
        raise _Fatal(str(exc)) from None
    except OSError as exc:
        raise _Fatal(f"cannot write {exc.filename or args.output} ({exc.strerror or exc}); free some space or fix the folder, then run the same command again") from None
    finally:
        if translator:
            translator.close()
        _remove_empty(created)
    totals = summary["totals"]
    _warn(summary.get("warnings", []))
    code = _report_failures(summary)
    kinds = sorted({os.path.splitext(a["input"])[1].lower() or "no suffix" for a in summary["articles"] if a["status"] == "unsupported"})
    others = "".join(f", {totals[s]} {s}" + (f": {', '.join(kinds)}" if s == "unsupported" else "") for s in ("unsupported", "ignored") if totals.get(s))
    print(
        f"{totals['ok']} translated, {totals['skipped']} unchanged, {totals['error']} failed{others}; "
        f"{totals['sentences']} sentences ({totals['from_memory']} from memory) in {summary['seconds']:.1f} s; "
        f"see {args.output / SUMMARY}",
        file=sys.stderr,
    )
    return code


def _report_failures(summary: dict) -> int:
    """Name every failed article of a run summary on stderr; return the exit code."""
    failed = [a for a in summary["articles"] if a["status"] == "error"]
    for article in failed:
        print(f"mtpipe: failed: {article['error']}", file=sys.stderr)
    return EXIT_ARTICLE_FAILED if failed else EXIT_OK


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        print(f"mtpipe: warning: {warning}", file=sys.stderr)


def _cmd_report(args: argparse.Namespace) -> int:
    from .batch import INDEX, OutputBusy, OutputConflict, rewrite_reports

    try:
        summary = rewrite_reports(args.output)
    except (FileNotFoundError, OutputBusy, OutputConflict) as exc:
        raise _Fatal(str(exc)) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _Fatal(f"cannot rewrite the reports of {args.output}: {exc}; run mtpipe run again") from None
    code = _report_failures(summary)
    pages = sum(a["status"] in ("ok", "skipped") for a in summary["articles"])
    print(f"{pages} review pages written; open {args.output / INDEX}", file=sys.stderr)
    return code


def _cmd_translate(args: argparse.Namespace) -> int:
    from .formats import FORMATS, format_for
    from .ingest import IngestError
    from .segment import segment

    name = "<stdin>" if args.file == "-" else args.file
    fmt = format_for(name) or FORMATS[".txt"]  # standard input, or any other file, is plain text
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        doc = fmt.read(data, name)
    except (OSError, IngestError) as exc:
        raise _unreadable("translate", name, exc) from None
    segments = segment(doc)
    translator = _translator(args)
    translations = translator.translate([s.text for s in segments])
    sys.stdout.buffer.write(fmt.write(doc, segments, translations).data)
    sys.stdout.flush()
    _warn(translator.warnings)
    return EXIT_OK


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json
    import os

    from .evaluate import Options, Text, as_json, evaluate, read_text, render_text
    from .ingest import IngestError

    if min(args.paired_bs_n, args.paired_ar_n, args.jobs or 1) < 1:
        raise _Fatal("--paired-bs-n, --paired-ar-n and --jobs must be at least 1")

    def load(path: Path) -> Text:
        try:
            return read_text(path.read_bytes(), str(path))
        except (OSError, IngestError) as exc:
            raise _unreadable("evaluate", path, exc) from None

    try:
        options = Options(tuple(m.strip() for m in args.metrics.split(",") if m.strip()), args.tokenize, args.lowercase)
        refs, hyps = [load(p) for p in args.ref], [load(p) for p in args.hyp]
        report = evaluate(
            hyps, refs, options, segments=args.segments, bs_samples=args.paired_bs_n, ar_samples=args.paired_ar_n, jobs=args.jobs or os.cpu_count() or 1
        )
    except ValueError as exc:
        raise _Fatal(str(exc)) from None
    print(json.dumps(as_json(report), ensure_ascii=False, indent=2) if args.json else render_text(report))
    return EXIT_OK


def _cmd_align(args: argparse.Namespace) -> int:
    from .align import align, link_records, vecalign_text
    from .writers import jsonl_text, write_text

    source, target = _sentences(args.source, args.sentences), _sentences(args.target, args.sentences)
    if args.mt:
        mt = _sentences(args.mt, True)
        if len(mt) != len(source):
            raise _Fatal(f"cannot align: {args.mt} has {len(mt)} lines but {args.source} has {len(source)} sentences; give one translation per source sentence")
    else:
        mt = None
        if not args.no_mt and source:
            translator = _translator(args)
            mt = [t.text for t in translator.translate(source)]
            _warn(translator.warnings)
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
        raise _Fatal(f"cannot write {args.output} ({exc.strerror or exc}); choose another -o") from None
    return EXIT_OK


def _sentences(path: Path, per_line: bool) -> list[str]:
    """The sentences of a file: its lines (as `evaluate` reads them), or the segmented
    article. An empty or blank file has none."""
    from .evaluate import read_text
    from .ingest import IngestError, parse
    from .segment import segment

    try:
        data = path.read_bytes()
        if not data.strip():
            return []
        return list(read_text(data, str(path)).lines) if per_line else [s.text for s in segment(parse(data, str(path)))]
    except (OSError, IngestError) as exc:
        raise _unreadable("align", path, exc) from None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mtpipe` command."""
    from .hub import ModelError

    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.handler(args)
    except (_Fatal, ModelError) as exc:
        print(f"mtpipe: error: {exc}", file=sys.stderr)
        return EXIT_FATAL
    except _Terminated:
        print("mtpipe: terminated; run the same command again to finish the rest", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("mtpipe: interrupted; run the same command again to finish the rest", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `mtpipe translate x | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
