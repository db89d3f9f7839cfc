"""What the commands share: exit codes and the error table, one-sentence failures,
reading options, the translator the model options describe, progress and warnings."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from ..errors import (
    CorrectionsError,
    EngineError,
    InputError,
    ModelError,
    MtpipeError,
    OutputError,
    StoreError,
    UsageError,
)

EXIT_OK, EXIT_ARTICLE_FAILED, EXIT_FATAL, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE, EXIT_TERMINATED = 0, 1, 2, 130, 141, 143


# The most lines `evaluate` scores unless told: all four metrics take about 2.5 minutes
# per 100,000 lines on 2 cores (TER most of it), so a million-line file would run for
# half an hour; it is more likely a corpus given by mistake.
MAX_EVALUATE_LINES = 100_000
# The most bytes evaluate reads of a text: 2,000 per line of its line limit (200 MB for
# the default; newstest2014's 3,003 lines are 0.4 MB); more is refused before it fills memory.
EVALUATE_LINE_BYTES = 2_000


class Fatal(MtpipeError):
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


def unreadable(action: str, name: object, exc: Exception) -> Fatal:
    """The one-line error for an input that cannot be read: the system's reason, or ingest's."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
    return Fatal(f"cannot {action} {name}: {reason}")


def options_for(args: argparse.Namespace, inputs: list[Path]):
    """How the articles are read: the project file's settings, then the command line's."""
    from ..project import ProjectError, find, read_options

    try:
        config = args.config or find(inputs)
        keys = None if args.front_matter_keys is None else args.front_matter_keys.split(",")
        options = read_options(config, args.protect, keys)
    except ProjectError as exc:
        raise Fatal(str(exc)) from None
    if args.max_article_mb is None:
        return options
    if not args.max_article_mb > 0:
        raise Fatal("--max-article-mb must be a number of megabytes above 0")
    return replace(options, max_bytes=int(args.max_article_mb * 1_000_000))


def review_for(args: argparse.Namespace, options=None):
    """How the review pages check translations: the checks --qa selects, the --glossary
    files and the glossary imported into the memory, the protect rules of `options`
    (ReadOptions), a run-wide consistency index."""
    from ..glossary import Glossary
    from ..glossary.readers import load
    from ..qa import Context, selection
    from ..qa.consistency import Consistency

    entries = {e.source: e for e in (load(args.glossary).entries if args.glossary else ())}
    for entry in _stored_glossary(args):  # a --glossary file's entry wins over the memory's
        entries.setdefault(entry.source, entry)
    glossary = Glossary(entries.values()) if entries else None
    if getattr(args, "glossary_mode", "check") == "enforce" and glossary is None:
        raise Fatal("--glossary-mode enforce needs a glossary: add --glossary FILE")
    return Context(selection(args.qa), glossary, options.protect if options is not None else None, Consistency())


def _stored_glossary(args: argparse.Namespace) -> list:
    """The glossary entries imported into the translation memory (`mtpipe memory import
    --glossary`), which every run checks; none without a memory file, with --no-cache,
    or when it cannot be read (the run's translator then says why)."""
    from ..memory import MemoryFault, TranslationMemory, default_path

    path = getattr(args, "cache", None) or default_path()
    if getattr(args, "no_cache", False) or not path.is_file():
        return []
    try:
        memory = TranslationMemory(path)
    except MemoryFault:
        return []
    try:
        return memory.glossary_entries()
    except MemoryFault:
        return []
    finally:
        memory.close()


def translator_for(args: argparse.Namespace, writes: bool = True, glossary=None):
    """The translator the model options describe (the model is loaded on first use),
    forcing the terms of `glossary` when given. With `writes` false (a dry run), a
    memory file that does not exist is not created and a hub model is looked for in
    the cache only, never downloaded."""
    from ..hub import resolve
    from ..memory import MemoryFault, TranslationMemory, default_path
    from ..process import settle
    from ..translate import DecodeSettings, Translator

    if args.beam is not None and args.beam < 1:
        raise Fatal("--beam must be at least 1")
    if args.batch_tokens < 1:
        raise Fatal("--batch-tokens must be at least 1")
    check_compute_type(args.compute_type)
    model = resolve(args.model, download=writes)
    memory, fault, memory_path = None, None, args.cache or default_path()
    if not args.no_cache and (writes or memory_path.is_file()):
        try:
            memory = TranslationMemory(memory_path)
        except MemoryFault as exc:  # translate without it, and say so
            fault = str(exc)
    settings = DecodeSettings(args.beam, args.batch_tokens, args.device, args.compute_type, args.align_layer, args.align_head, shortlist=args.shortlist)
    executor, options = getattr(args, "engine", "local"), None
    if executor == "ray":
        from ..cluster import RayOptions

        options = RayOptions(args.address, args.actors, args.cpus_per_actor, args.gpus_per_actor)
        settings = options.settings_for(settings)
    translator = Translator(model, args.backend, settings, memory, executor, options, glossary)
    if executor == "local":  # else the engine's workers settle their own processes
        settle(translator.backend_name, args.device)
    translator.warnings += [fault] if fault else []
    return translator


def done_with(translator) -> None:
    """Stop the translator's engine; a local model folder it loaded is recorded for `models list`."""
    from ..used_models import remember_used

    translator.close()
    if translator.loaded:
        remember_used(translator.model)


def check_compute_type(compute_type: str | None) -> None:
    from ..translate import COMPUTE_TYPES

    if compute_type is not None and compute_type not in COMPUTE_TYPES:
        raise Fatal(f"unknown --compute-type {compute_type}: choose one of {', '.join(COMPUTE_TYPES)}")


def memory_for(args: argparse.Namespace):
    """The translation memory a `memory` command works on (the one `run` uses)."""
    from ..memory import MemoryFault, TranslationMemory, default_path

    try:
        return TranslationMemory(args.cache or default_path())
    except MemoryFault as exc:
        raise Fatal(str(exc)) from None


# The bar shows a time left once this share of the sentences is done or this many
# seconds have passed: the first batches (model loading, the shortest sentences first)
# say little of the rest, and an ETA of hours after one batch misleads.
ETA_SHARE, ETA_SECONDS = 0.1, 30.0


def progress_bar(enabled: bool):
    from functools import partial

    from tqdm import tqdm

    class SteadyBar(tqdm):
        """tqdm, its time left hidden until the rate means something (ETA_SHARE, ETA_SECONDS)."""

        @property
        def format_dict(self):
            d = super().format_dict
            if d["total"] and d["n"] < ETA_SHARE * d["total"] and d["elapsed"] < ETA_SECONDS:
                d["bar_format"] = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}, time left after " + f"{ETA_SHARE:.0%}" + "{postfix}]"
            return d

    # mininterval 0: redrawn after every batch (batches take long enough not to flood the terminal)
    return partial(SteadyBar, unit="sent", dynamic_ncols=True, mininterval=0, disable=not enabled)


# What a bounded read says when the bound is passed, by default and for an article.
CHECK_FILE = "check that it is the file you meant"
SPLIT_ARTICLE = "split it, or raise the limit with --max-article-mb (a run needs about 50 MB of memory per MB of article)"


def read_stdin(what: str, limit: int | None = None, advice: str = CHECK_FILE) -> bytes:
    """All of standard input (at most `limit` bytes: see read_at_most); at a terminal, say
    first that mtpipe waits for it. Fatal when the command was started with standard
    input closed (`<&-`)."""
    if sys.stdin is None:
        raise Fatal(f"standard input is closed, so mtpipe cannot read {what.rstrip(',')} from it: give a file instead of -, or pipe the text in")
    if sys.stdin.isatty():
        print(f"mtpipe: waiting for {what} on standard input (end with Ctrl-D on an empty line)", file=sys.stderr)
    return _bounded(sys.stdin.buffer, limit, "standard input", advice)


def read_at_most(path: Path, limit: int | None, advice: str = CHECK_FILE) -> bytes:
    """A file's bytes; Fatal past `limit` bytes (saying `advice`), so that /dev/zero, a
    runaway pipe or a file far larger than such inputs ever are cannot fill memory.
    OSError as open raises it."""
    with open(path, "rb") as fh:
        return _bounded(fh, limit, str(path), advice)


def _bounded(stream, limit: int | None, name: str, advice: str) -> bytes:
    data = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise Fatal(f"{name} holds more than {limit / 1e6:,.0f} MB, the most mtpipe reads there: {advice}")
    return data


def warn(warnings: list[str]) -> None:
    for warning in warnings:
        print(f"mtpipe: warning: {warning}", file=sys.stderr)
