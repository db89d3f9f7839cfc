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
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .errors import (
    CorrectionsError,
    EngineError,
    InputError,
    ModelError,
    MtpipeError,
    OutputError,
    StoreError,
    UsageError,
)

if TYPE_CHECKING:
    from .formats.base import ReadOptions
    from .run import Selection

EXIT_OK, EXIT_ARTICLE_FAILED, EXIT_FATAL, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE, EXIT_TERMINATED = 0, 1, 2, 130, 141, 143


class _Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as Ctrl-C does, with what finished recorded."""


# The most lines `evaluate` scores unless told: all four metrics take about 2.5 minutes
# per 100,000 lines on 2 cores (TER most of it), so a million-line file would run for
# half an hour; it is more likely a corpus given by mistake.
MAX_EVALUATE_LINES = 100_000
_SIGTERM_SEEN = False  # a library (Ray) may turn _Terminated into a plain KeyboardInterrupt


def _terminate(signum: int, frame: object) -> None:
    global _SIGTERM_SEEN
    _SIGTERM_SEEN = True
    raise _Terminated


class _Fatal(MtpipeError):
    """An error the command line itself finds: one line on stderr and exit code 2."""


# The exit code of each kind of error (the first of an error's classes found here).
EXIT_CODES: dict[type[BaseException], int] = {
    UsageError: EXIT_FATAL,
    InputError: EXIT_FATAL,
    ModelError: EXIT_FATAL,
    EngineError: EXIT_FATAL,
    OutputError: EXIT_FATAL,
    StoreError: EXIT_FATAL,
    CorrectionsError: EXIT_FATAL,
    MtpipeError: EXIT_FATAL,
}


def exit_code(exc: MtpipeError) -> int:
    """The exit code for an error that ends a command."""
    return next(EXIT_CODES[kind] for kind in type(exc).__mro__ if kind in EXIT_CODES)


def _unreadable(action: str, name: object, exc: Exception) -> _Fatal:
    """The one-line error for an input that cannot be read: the system's reason, or ingest's."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
    return _Fatal(f"cannot {action} {name}: {reason}")


def _reading_options() -> argparse.ArgumentParser:
    """The options of how articles are read, for the commands that read them."""
    reading = argparse.ArgumentParser(add_help=False)
    group = reading.add_argument_group("reading", "what is kept verbatim, never translated, and which front matter is")
    group.add_argument("--protect", action="append", default=[], metavar="REGEX", help="keep text that matches REGEX (Python syntax) verbatim, never translated (repeatable; added to the built-in rules: URLs, e-mail addresses, template tags, {#id} attributes, :emoji:)")
    group.add_argument("--front-matter-keys", default=None, metavar="K,…", help="front matter keys whose values are translated (default: title,description,summary,subtitle,excerpt,alt,caption)")
    group.add_argument("--config", type=Path, default=None, metavar="FILE", help="project file with protect and front_matter_keys lists (default: mtpipe.toml in an input folder)")
    return reading


def _read_options(args: argparse.Namespace, inputs: list[Path]):
    """How the articles are read: the project file's settings, then the command line's."""
    from .project import ProjectError, find, read_options

    try:
        config = args.config or find(inputs)
        keys = None if args.front_matter_keys is None else args.front_matter_keys.split(",")
        return read_options(config, args.protect, keys)
    except ProjectError as exc:
        raise _Fatal(str(exc)) from None


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

    reading = _reading_options()
    run = sub.add_parser("run", parents=[common, reading], help="translate files and folders of articles", description="Translate articles (.txt, .md, .html, .docx; folders recursively) into OUT, mirroring the tree.")
    run.add_argument("inputs", nargs="*", type=Path, metavar="INPUT", help="article files or folders (or list them with --files-from)")
    run.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="output folder")
    run.add_argument("--force", action="store_true", help="translate articles again even if unchanged since the last run")
    run.add_argument("--ref", type=Path, metavar="REFDIR", help="human reference translations: IN/a/b.txt is scored against REFDIR/a/b.txt when it exists")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    choose = run.add_argument_group(
        "choosing what runs",
        "GLOB matches a file's path relative to its INPUT, with / between folders: * and ? within a name, [abc] one of a set, ** any number of folders (**/*.md: every .md file)",
    )
    choose.add_argument("--include", action="append", default=[], metavar="GLOB", help="read only the files that match GLOB (repeatable: any of them); the others are listed as ignored")
    choose.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="leave out the files that match GLOB, listed as ignored (repeatable; wins over --include; DIR/** leaves a folder unread)")
    choose.add_argument("--files-from", metavar="FILE", help="read INPUT paths from FILE, one a line, relative to the current folder (- for standard input; blank lines and # comments skipped)")
    choose.add_argument("--dry-run", action="store_true", help="list what would be translated, skipped as unchanged or refused, and why; write nothing and load no model")
    engine = run.add_argument_group("engine", "where the model runs: in this process, or on the actors of a Ray cluster (the ray extra); outputs are the same")
    engine.add_argument("--engine", choices=["local", "ray"], default="local", help="local (default) or ray")
    engine.add_argument("--address", default=None, metavar="ADDR", help="Ray cluster to join (default: RAY_ADDRESS, else a Ray instance started on this machine for the run)")
    engine.add_argument("--actors", type=int, default=None, metavar="N", help="Ray actors, each holding the model (default: as many as the cluster's CPUs, or GPUs, allow)")
    engine.add_argument("--cpus-per-actor", type=int, default=1, metavar="C", help="CPU cores per actor; its threads follow it (default: 1)")
    engine.add_argument("--gpus-per-actor", type=float, default=0.0, metavar="F", help="GPUs per actor, fractions allowed (default: 0)")
    run.set_defaults(handler=_cmd_run)

    tr = sub.add_parser("translate", parents=[common, reading], help="translate one text to stdout", description="Translate one article (a file, or - for stdin) and print the English with the same layout.")
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
    ev.add_argument(
        "--max-lines", type=int, default=None, metavar="N", help=f"refuse files of more lines, a corpus given by mistake (default: {MAX_EVALUATE_LINES:,}; 0: no limit)"
    )
    ev.set_defaults(handler=_cmd_evaluate)

    al = sub.add_parser("align", parents=[common, reading], help="link the sentences of an article and of its human translation", description="Align SRC (French) and TGT (its human English translation) sentence by sentence, n:m and in order, using a machine translation of SRC.")
    al.add_argument("source", type=Path, metavar="SRC", help="French article (with --sentences: one sentence per line)")
    al.add_argument("target", type=Path, metavar="TGT", help="its English translation, in the same form")
    mt = al.add_mutually_exclusive_group()
    mt.add_argument("--mt", type=Path, metavar="MT", help="machine translation of SRC: one line per source sentence, or the .align.jsonl a run wrote for SRC (default: translate SRC with --model)")
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

    models = sub.add_parser("models", help="list models on disk, convert or remove conversions", description="List the models mtpipe finds on this machine; convert models for the ctranslate2 backend, or remove conversions.")
    msub = models.add_subparsers(dest="action", required=True, metavar="ACTION")
    conv = msub.add_parser("convert", help="convert a model for --backend ctranslate2 ahead of time", description="Convert a Marian checkpoint for --backend ctranslate2 into the user cache dir (done on first use otherwise).")
    conv.add_argument("model", metavar="MODEL", help="hub id or local folder of a Marian checkpoint")
    conv.add_argument("--compute-type", default="int8", metavar="TYPE", help="weight type: int8 (default), int8_float32, int8_float16, int8_bfloat16, int16, float16, bfloat16, float32")
    conv.add_argument("--force", action="store_true", help="convert again even if the cache has it")
    conv.set_defaults(handler=_cmd_convert)
    ls = msub.add_parser(
        "list",
        help="list hub models, local folders used and CTranslate2 conversions",
        description="List the Marian checkpoints in the Hugging Face cache, the local model folders mtpipe was given (the 20 latest, recorded when used), and the CTranslate2 conversions in the user cache dir, with their sizes.",
    )
    ls.set_defaults(handler=_cmd_models_list)
    rm = msub.add_parser("remove", help="delete CTranslate2 conversions", description="Delete a CTranslate2 conversion from the user cache dir (converted again on next use); never a hub model or a local folder.")
    rm.add_argument("name", metavar="NAME", help="a conversion's NAME as `mtpipe models list` shows it, or its MODEL to remove all its conversions")
    rm.set_defaults(handler=_cmd_models_remove)
    return parser


def _translator(args: argparse.Namespace, writes: bool = True):
    """The translator the model options describe (the model is loaded on first use).
    With `writes` false (a dry run), a memory file that does not exist is not created
    and a hub model is looked for in the cache only, never downloaded."""
    from .hub import resolve
    from .memory import MemoryFault, TranslationMemory, default_path
    from .translate import DecodeSettings, Translator

    if args.beam is not None and args.beam < 1:
        raise _Fatal("--beam must be at least 1")
    if args.batch_tokens < 1:
        raise _Fatal("--batch-tokens must be at least 1")
    _check_compute_type(args.compute_type)
    model = resolve(args.model, download=writes)
    memory, fault, memory_path = None, None, args.cache or default_path()
    if not args.no_cache and (writes or memory_path.is_file()):
        try:
            memory = TranslationMemory(memory_path)
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


def _done_with(translator) -> None:
    """Stop the translator's engine; a local model folder it loaded is recorded for `models list`."""
    from .used_models import remember_used

    translator.close()
    if translator.loaded:
        remember_used(translator.model)


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
    from .corrections import write_tmx
    from .memory import HumanEntry, MemoryFault, utc_stamp
    from .writers import write_text

    if args.file.exists() and not args.force:
        raise _Fatal(f"{args.file} exists; choose another name, or pass --force to replace it")
    memory = _memory(args)
    try:
        entries = list(memory.human_entries())
        if args.machine:
            now = utc_stamp()
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
    from .messages import counted

    memory = _memory(args)
    try:
        counts = memory.counts()
    except MemoryFault as exc:
        raise _Fatal(str(exc)) from None
    finally:
        memory.close()
    print(f"{memory.path}: {counted(counts['human'], 'human translation')}, {counted(counts['machine'], 'machine translation')}")
    return EXIT_OK


def _cmd_convert(args: argparse.Namespace) -> int:
    from .hub import resolve
    from .translate import convert_ct2
    from .used_models import remember_used

    _check_compute_type(args.compute_type)
    model = resolve(args.model)
    folder = convert_ct2(model, args.compute_type, force=args.force)
    remember_used(model)
    print(folder)
    return EXIT_OK


def _size(n: int) -> str:
    """Bytes in decimal units (B, kB, MB, GB), as file managers show them."""
    power = 0
    while power < 3 and n >= 1000 ** (power + 1):
        power += 1
    return f"{n} B" if power == 0 else f"{n / 1000**power:.1f} {'kMG'[power - 1]}B"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """Rows under a header, in columns two spaces apart, indented; `none` for no rows."""
    if not rows:
        return ["  none"]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
    return ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in (header, *rows)]


def _cmd_models_list(args: argparse.Namespace) -> int:
    from .hub import hub_cache, hub_models
    from .translate import ct2_cache_root, ct2_conversions
    from .used_models import local_models, local_record

    out = [f"Hub models (Marian checkpoints in {hub_cache()}):"]
    out += _table(("MODEL", "REVISIONS", "SIZE"), [(m.name, ", ".join(m.revisions), _size(m.size)) for m in hub_models()])
    out += ["", f"Local folders used (the latest, as recorded in {local_record()}):"]
    out += _table(("FOLDER", "REVISION", "SIZE", "LAST USED"), [(str(m.path), m.revision, _size(m.size) if m.size is not None else "gone", m.used.astimezone().strftime("%Y-%m-%d %H:%M")) for m in local_models()])
    out += ["", f"CTranslate2 conversions (in {ct2_cache_root()}; mtpipe models remove NAME deletes one):"]
    out += _table(
        ("NAME", "MODEL", "COMPUTE TYPE", "SIZE"),
        [(c.name, c.model, c.compute_type, _size(c.size) + ("" if c.intact else " (incomplete)")) for c in ct2_conversions()],
    )
    print("\n".join(out))
    return EXIT_OK


def _cmd_models_remove(args: argparse.Namespace) -> int:
    from .translate import remove_conversions

    for conversion in remove_conversions(args.name):
        print(f"removed {conversion.name} ({conversion.model}, {conversion.compute_type}, {_size(conversion.size)})")
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
    from .messages import counted
    from .run import (
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
        raise _Fatal(str(exc)) from None
    options = _read_options(args, inputs)
    if args.dry_run:
        return _dry_run(args, inputs, select, options)
    try:
        run_date()
    except ValueError as exc:
        raise _Fatal(str(exc)) from None
    created = _output_folder(args.output)
    translator, started = None, time.perf_counter()
    try:
        translator = _translator(args)
        bar = _progress(not args.quiet and sys.stderr.isatty())
        summary = run(inputs, args.output, translator, force=args.force, progress=bar, references=args.ref, select=select, options=options)
    except (OutputBusy, OutputIsInput, OutputConflict) as exc:
        raise _Fatal(str(exc)) from None
    except OSError as exc:
        raise _Fatal(f"cannot write {exc.filename or args.output} ({exc.strerror or exc}); free some space or fix the folder, then run the same command again") from None
    finally:
        if translator:
            _done_with(translator)
        _remove_empty(created)
    totals = summary["totals"]
    _warn(summary.get("warnings", []))
    print(
        f"{totals['ok']} translated{_copied(summary['articles'])}, {totals['skipped']} unchanged, {totals['error']} failed{_others(summary['articles'])}; "
        f"{counted(totals['sentences'], 'sentence')} ({totals['from_memory']} from memory) in {time.perf_counter() - started:.1f} s; "
        f"see {args.output / SUMMARY}",
        file=sys.stderr,
    )
    code = _report_failures(summary)
    if args.ref:
        _print_scores(summary, args.ref)
    return code


def _run_inputs(args: argparse.Namespace) -> list[Path]:
    """The INPUT paths of `run`: those given, then those --files-from lists. Each (and
    --ref) must exist."""
    inputs = [*args.inputs, *(_listed_paths(args.files_from) if args.files_from else [])]
    if not inputs:
        raise _Fatal(
            f"--files-from {args.files_from} lists no paths; list some, or give INPUT files or folders"
            if args.files_from
            else "nothing to translate: give INPUT files or folders, or --files-from FILE"
        )
    missing = [str(p) for p in [*inputs, *([args.ref] if args.ref else [])] if not p.exists() and not p.is_symlink()]
    if missing:
        raise _Fatal(f"input not found: {', '.join(missing)}")
    return inputs


def _listed_paths(name: str) -> list[Path]:
    """The paths a --files-from file (or - for standard input) lists, one a line, blank
    lines and lines starting with # skipped; names are taken byte for byte, as the file
    system has them."""
    try:
        data = _read_stdin("paths, one a line,") if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise _unreadable("read --files-from", name, exc) from None
    lines = [os.fsdecode(line.removesuffix(b"\r")) for line in data.split(b"\n")]
    return [Path(line) for line in lines if line.strip() and not line.startswith("#")]


def _read_stdin(what: str) -> bytes:
    """All of standard input; at a terminal, say first that mtpipe waits for it."""
    if sys.stdin.isatty():
        print(f"mtpipe: waiting for {what} on standard input (end with Ctrl-D on an empty line)", file=sys.stderr)
    return sys.stdin.buffer.read()


# What a dry run calls the statuses of the paths it lists.
_FATES = {"pending": "translate", "skipped": "unchanged"}


def _dry_run(args: argparse.Namespace, inputs: list[Path], select: Selection, options: ReadOptions) -> int:
    """List on stdout what `run` would do with each path and why, then the counts;
    write nothing and load no model. The exit code is the run's: 1 when paths would fail."""
    from .messages import counted
    from .run import OutputConflict, OutputIsInput, plan

    translator = _translator(args, writes=False)
    try:
        decisions = plan(inputs, args.output, translator, args.force, args.ref, select, options)
    except (OutputIsInput, OutputConflict) as exc:
        raise _Fatal(str(exc)) from None
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
        f"{statuses.count('error')} would fail{_others([vars(d.article) for d in decisions])}; dry run, nothing written"
    )
    _warn(translator.warnings)
    return EXIT_ARTICLE_FAILED if "error" in statuses else EXIT_OK


def _others(articles: list[dict]) -> str:
    """The unsupported (with their suffixes) and ignored paths of a run's summary
    line, when there are any: ", 2 unsupported: .pdf, .rtf, 1 ignored"."""
    counts = {status: sum(a["status"] == status for a in articles) for status in ("unsupported", "ignored")}
    kinds = sorted({os.path.splitext(a["input"])[1].lower() or "no suffix" for a in articles if a["status"] == "unsupported"})
    return "".join(f", {n} {status}" + (f": {', '.join(kinds)}" if status == "unsupported" else "") for status, n in counts.items() if n)


def _copied(articles: list[dict]) -> str:
    """How many of the articles translated had nothing to translate, when any did."""
    copied = sum(a["status"] == "ok" and bool(a.get("note")) for a in articles)
    return f" ({copied} with nothing to translate, copied)" if copied else ""


def _print_scores(summary: dict, references: Path, worst: int = 10) -> None:
    """After a run with --ref: chrF2 and BLEU of the worst articles by chrF2, then of
    the corpus they make; on stderr, as the rest of the run's report."""
    from .messages import counted

    scored = sorted(
        (a for a in summary["articles"] if a["status"] in ("ok", "skipped") and a.get("scores")), key=lambda a: (a["scores"]["chrf"], a["input"])
    )
    if not scored:
        print(f"no article was scored: {references} holds no readable reference for them (IN/a/b.txt is scored against {references / 'a' / 'b.txt'})", file=sys.stderr)
        return
    which = "worst first" if len(scored) <= worst else f"the {worst} worst of {len(scored)}"
    rows = [f"{'chrF2':>7} {'BLEU':>7}  article ({which})"]
    rows += [f"{a['scores']['chrf']:7.1f} {a['scores']['bleu']:7.1f}  {a['input']}" for a in scored[:worst]]
    corpus = summary.get("scores")
    if corpus:
        rows.append(f"{corpus['chrf']['score']:7.1f} {corpus['bleu']['score']:7.1f}  corpus of {counted(len(scored), 'article')}")
    print("\n".join(rows), file=sys.stderr)


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
    from .messages import counted
    from .run import INDEX, OutputBusy, OutputConflict, rewrite_reports

    try:
        summary = rewrite_reports(args.output)
    except (FileNotFoundError, OutputBusy, OutputConflict) as exc:
        raise _Fatal(str(exc)) from None
    except (OSError, ValueError) as exc:
        raise _Fatal(f"cannot rewrite the reports of {args.output}: {exc}; run mtpipe run again") from None
    pages = sum(a["status"] in ("ok", "skipped") for a in summary["articles"])
    print(f"{counted(pages, 'review page')} written; open {args.output / INDEX}", file=sys.stderr)
    return _report_failures(summary)


def _cmd_translate(args: argparse.Namespace) -> int:
    from .formats import format_or_plain
    from .ingest import IngestError
    from .segment import segment

    name = "<stdin>" if args.file == "-" else args.file
    fmt = format_or_plain(name)
    options = _read_options(args, [] if args.file == "-" else [Path(args.file).parent])
    try:
        data = _read_stdin("French text") if args.file == "-" else Path(args.file).read_bytes()
        doc = fmt.read(data, name, options)
    except (OSError, IngestError) as exc:
        raise _unreadable("translate", name, exc) from None
    segments = segment(doc)
    translator = _translator(args)
    try:
        translations = translator.translate([s.text for s in segments])
    finally:
        _done_with(translator)
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
    if (args.max_lines or 0) < 0:
        raise _Fatal("--max-lines must be 0 (no limit) or more")
    max_lines = MAX_EVALUATE_LINES if args.max_lines is None else args.max_lines

    def load(path: Path) -> Text:
        try:
            return read_text(path.read_bytes(), str(path), max_lines)
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

    options = _read_options(args, [args.source.parent])
    source, target = _sentences(args.source, args.sentences, options), _sentences(args.target, args.sentences, options)
    if args.mt:
        mt = _machine_translation(args.mt, source, args.source, args.sentences)
    else:
        mt = None
        if not args.no_mt and source:
            translator = _translator(args)
            try:
                mt = [t.text for t in translator.translate(source)]
            finally:
                _done_with(translator)
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


def _machine_translation(path: Path, source: list[str], source_path: Path, per_line: bool) -> list[str]:
    """The --mt file's translation of each source sentence: the `mt` of a run's
    .align.jsonl, once its `src` are found to be the source sentences, or the file's lines."""
    from .align import is_run_records, run_records, run_translations

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _unreadable("align", path, exc) from None
    if is_run_records(path.name, data):
        try:
            pairs = run_records(data, str(path))
        except ValueError as exc:
            raise _Fatal(f"cannot align: {exc}") from None
        try:
            return run_translations(pairs, str(path), source, str(source_path))
        except ValueError as exc:
            also = f", or leave out --sentences so that {source_path} is segmented as runs segment it" if per_line else ""
            raise _Fatal(f"cannot align: {exc}{also}") from None
    mt = _sentences(path, True)
    if len(mt) != len(source):
        raise _Fatal(f"cannot align: {path} has {len(mt)} lines but {source_path} has {len(source)} sentences; give one translation per source sentence")
    return mt


def _sentences(path: Path, per_line: bool, options: ReadOptions | None = None) -> list[str]:
    """The sentences of a file: its lines (as `evaluate` reads them), or the article
    segmented as a run segments it (read by its suffix's format, with `options`). An
    empty or blank file has none."""
    from .evaluate import read_text
    from .formats import format_or_plain
    from .ingest import IngestError
    from .segment import segment

    try:
        data = path.read_bytes()
        if not data.strip():
            return []
        if per_line:
            return list(read_text(data, str(path)).lines)
        fmt = format_or_plain(path.name)
        return [s.text for s in segment(fmt.read(data, str(path), options) if options else fmt.read(data, str(path)))]
    except (OSError, IngestError) as exc:
        raise _unreadable("align", path, exc) from None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mtpipe` command."""
    global _SIGTERM_SEEN
    _SIGTERM_SEEN = False
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.handler(args)
    except MtpipeError as exc:
        print(f"mtpipe: error: {exc}", file=sys.stderr)
        return exit_code(exc)
    except KeyboardInterrupt as exc:
        if argv is None:  # the program itself: a second Ctrl-C or SIGTERM while the interpreter exits (torch's exit handlers) is no traceback
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if isinstance(exc, _Terminated) or _SIGTERM_SEEN:
            print("mtpipe: terminated; run the same command again to finish the rest", file=sys.stderr)
            return EXIT_TERMINATED
        print("mtpipe: interrupted; run the same command again to finish the rest", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `mtpipe translate x | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
