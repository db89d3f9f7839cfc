"""The `mtpipe` command: its parser, and main(), which runs a command and turns what
it raises (errors, Ctrl-C, SIGTERM, a closed pipe) into one line and an exit code."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from .. import __version__
from ..errors import MtpipeError
from ..process import quiet_libraries, show_steps
from .common import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    MAX_EVALUATE_LINES,
    exit_code,
)
from .models import (
    SHORTLIST_SENTENCES,
    cmd_convert,
    cmd_memory_export,
    cmd_memory_import,
    cmd_memory_stats,
    cmd_models_list,
    cmd_models_remove,
    cmd_models_shortlist,
)
from .runs import cmd_report, cmd_run
from .texts import cmd_align, cmd_evaluate, cmd_translate


class _Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as Ctrl-C does, with what finished recorded."""


_SIGTERM_SEEN = False  # a library (Ray) may turn _Terminated into a plain KeyboardInterrupt


def _terminate(signum: int, frame: object) -> None:
    global _SIGTERM_SEEN
    _SIGTERM_SEEN = True
    raise _Terminated


def _reading_options() -> argparse.ArgumentParser:
    """The options of how articles are read, for the commands that read them."""
    from ..ingest import MAX_ARTICLE_MB

    reading = argparse.ArgumentParser(add_help=False)
    group = reading.add_argument_group("reading", "what is kept verbatim, never translated, and which front matter is")
    group.add_argument("--protect", action="append", default=[], metavar="REGEX", help="keep text that matches REGEX (Python syntax) verbatim, never translated (repeatable; added to the built-in rules: URLs, e-mail addresses, template tags, {#id} attributes, :emoji:)")
    group.add_argument("--front-matter-keys", default=None, metavar="K,…", help="front matter keys whose values are translated (default: title,description,summary,subtitle,excerpt,alt,caption)")
    group.add_argument("--config", type=Path, default=None, metavar="FILE", help="project file with protect and front_matter_keys lists (default: mtpipe.toml in an input folder)")
    group.add_argument("--max-article-mb", type=float, default=None, metavar="MB", help=f"refuse articles larger than MB megabytes, in bytes or in text (default: {MAX_ARTICLE_MB}; a run needs about 50 MB of memory per MB of article)")
    return reading


def _review_options() -> argparse.ArgumentParser:
    """The options of what the review pages check, for the commands that write them."""
    review = argparse.ArgumentParser(add_help=False)
    group = review.add_argument_group("quality checks", "what the review pages, TSV and TMX flag")
    group.add_argument("--qa", default=None, metavar="CHECK,…", help="the checks to run: empty, untranslated, numbers, protected, term, punctuation, repeated, consistency, length, uncovered, markup, or all, none (default: all)")
    group.add_argument("--glossary", action="append", default=[], type=Path, metavar="FILE", help="French terms and the English they must get: TSV/CSV (fr<TAB>en[<TAB>note], variants as a|b), TBX or MultiTerm XML (repeatable); the term check flags sentences that miss one")
    return review


def _model_options() -> argparse.ArgumentParser:
    from ..hub import DEFAULT_MODEL

    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("model")
    group.add_argument("--model", default=DEFAULT_MODEL, help=f"hub id or local folder of a Marian checkpoint (default: {DEFAULT_MODEL})")
    group.add_argument(
        "--backend",
        default="auto",
        help="translation engine: ctranslate2 (fast; the model is converted once on first use), transformers (the reference), "
        "or auto: ctranslate2 when it can run the model, else transformers, saying why (default: auto)",
    )
    group.add_argument("--compute-type", default=None, metavar="TYPE", help="ctranslate2 weights and arithmetic: int8 (default), int8_float32, int8_float16, int8_bfloat16, int16, float16, bfloat16, float32")
    group.add_argument(
        "--shortlist",
        action="store_true",
        help="restrict each batch's output vocabulary to the model's shortlist (mtpipe models shortlist builds it): faster on ctranslate2; outputs may differ",
    )
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
    review = _review_options()
    run = sub.add_parser("run", parents=[common, reading, review], help="translate files and folders of articles", description="Translate articles (.txt, .md, .html, .docx; folders recursively) into OUT, mirroring the tree.")
    run.add_argument("inputs", nargs="*", type=Path, metavar="INPUT", help="article files or folders (or list them with --files-from)")
    run.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="output folder")
    run.add_argument("--force", action="store_true", help="translate articles again even if unchanged since the last run")
    run.add_argument("--ref", type=Path, metavar="REFDIR", help="human reference translations: IN/a/b.txt is scored against REFDIR/a/b.txt when it exists")
    run.add_argument("--glossary-mode", choices=["check", "enforce"], default="check", help="check: flag sentences that miss a --glossary term; enforce: also decode them again with the term forced in (the record keeps what the model made first) (default: check)")
    run.add_argument("--quiet", action="store_true", help="no progress bar, nor the line saying the model is being converted for the fast engine")
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
    run.set_defaults(handler=cmd_run)

    tr = sub.add_parser("translate", parents=[common, reading], help="translate one text to stdout", description="Translate one article (a file, or - for stdin) and print the English with the same layout.")
    tr.add_argument("file", nargs="?", default="-", metavar="FILE", help="article file, or - for standard input (default)")
    tr.set_defaults(handler=cmd_translate)

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
    ev.set_defaults(handler=cmd_evaluate)

    al = sub.add_parser("align", parents=[common, reading], help="link the sentences of an article and of its human translation", description="Align SRC (French) and TGT (its human English translation) sentence by sentence, n:m and in order, using a machine translation of SRC.")
    al.add_argument("source", type=Path, metavar="SRC", help="French article (with --sentences: one sentence per line)")
    al.add_argument("target", type=Path, metavar="TGT", help="its English translation, in the same form")
    mt = al.add_mutually_exclusive_group()
    mt.add_argument("--mt", type=Path, metavar="MT", help="machine translation of SRC: one line per source sentence, or the .align.jsonl a run wrote for SRC (default: translate SRC with --model)")
    mt.add_argument("--no-mt", action="store_true", help="no machine translation: align on lengths and words that survive translation (numbers, names, cognates)")
    al.add_argument("--sentences", action="store_true", help="SRC and TGT hold one sentence per line instead of articles to segment")
    al.add_argument("-o", "--output", type=Path, metavar="OUT", help="write the links to OUT (default: standard output)")
    al.add_argument("--format", choices=["vecalign", "jsonl"], default="vecalign", help="vecalign: one link per line, [i, j]:[k]; jsonl: also texts and scores (default: vecalign)")
    al.set_defaults(handler=cmd_align)

    rp = sub.add_parser("report", parents=[review], help="write a run's review pages and exports again", description="Write the review pages (.html), exports (.tmx, .tsv) and index.html of OUT again from its summary.json and .align.jsonl files.")
    rp.add_argument("output", type=Path, metavar="OUT", help="output folder of an earlier mtpipe run")
    rp.set_defaults(handler=cmd_report)

    cache = argparse.ArgumentParser(add_help=False)
    cache.add_argument("--cache", type=Path, default=None, metavar="PATH", help="translation memory file (default: memory.sqlite3 in the user cache dir, as for run)")
    memory = sub.add_parser("memory", help="human translations in the translation memory", description="Import human translations (post-edits, CAT-tool memories) into the translation memory that runs use first, export them, count entries.")
    memsub = memory.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = memsub.add_parser("import", parents=[cache], help="store human translations from corrections files and TMX files", description="Store each French→English pair of the files as a human translation: runs use it for that sentence instead of the model. Each file is imported whole or not at all.")
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE", help="a review page's .corrections.json, or a TMX 1.4b file from a CAT tool")
    imp.add_argument("--as-human", action="store_true", help="also import the units a file marks as machine translation (a run's own .tmx, memory export --machine) as human translations")
    imp.add_argument("--glossary", action="store_true", help="the files are glossaries (TSV/CSV, TBX, MultiTerm XML, as --glossary reads them): every run then checks their terms (and forces them with --glossary-mode enforce)")
    imp.set_defaults(handler=cmd_memory_import)
    exp = memsub.add_parser("export", parents=[cache], help="write the human translations as TMX 1.4b", description="Write the memory's human translations (with --machine, its machine translations too) as a TMX 1.4b file for CAT tools.")
    exp.add_argument("file", type=Path, metavar="FILE.tmx", help="the TMX file to write")
    exp.add_argument("--machine", action="store_true", help="also export the machine translations")
    exp.add_argument("--force", action="store_true", help="replace FILE if it exists")
    exp.set_defaults(handler=cmd_memory_export)
    stats = memsub.add_parser("stats", parents=[cache], help="count the memory's entries by kind", description="Count the translation memory's entries: machine translations and human ones.")
    stats.set_defaults(handler=cmd_memory_stats)

    models = sub.add_parser("models", help="list models on disk, convert or remove conversions", description="List the models mtpipe finds on this machine; convert models for the ctranslate2 backend, or remove conversions.")
    msub = models.add_subparsers(dest="action", required=True, metavar="ACTION")
    conv = msub.add_parser("convert", help="convert a model for --backend ctranslate2 ahead of time", description="Convert a Marian checkpoint for --backend ctranslate2 into the user cache dir (done on first use otherwise).")
    conv.add_argument("model", metavar="MODEL", help="hub id or local folder of a Marian checkpoint")
    conv.add_argument("--compute-type", default="int8", metavar="TYPE", help="weight type: int8 (default), int8_float32, int8_float16, int8_bfloat16, int16, float16, bfloat16, float32")
    conv.add_argument("--force", action="store_true", help="convert again even if the cache has it")
    conv.set_defaults(handler=cmd_convert)
    from ..hub import DEFAULT_MODEL
    from ..translate.shortlist import FREQUENT, PER_PIECE

    short = msub.add_parser(
        "shortlist",
        help="build a model's vocabulary shortlist for --shortlist",
        description="Translate a French corpus with the model (CTranslate2) and keep, as its shortlist, the English pieces it produces most often "
        "and, for each French piece, the English pieces its word links tie to it; --shortlist then restricts each batch's output vocabulary to them "
        "(faster; outputs may differ: measure on your references). Stored in the user cache dir, one per model revision.",
    )
    short.add_argument("corpus", nargs="+", type=Path, metavar="CORPUS", help="French text files, one sentence or paragraph per line (a few thousand sentences of your domain)")
    short.add_argument("--model", default=DEFAULT_MODEL, help=f"hub id or local folder of a Marian checkpoint (default: {DEFAULT_MODEL})")
    short.add_argument("--frequent", type=int, default=FREQUENT, metavar="N", help=f"English pieces always allowed: the N the model produces most (default: {FREQUENT})")
    short.add_argument("--per-piece", type=int, default=PER_PIECE, metavar="K", help=f"English pieces each French piece allows: the K most often linked to it (default: {PER_PIECE})")
    short.add_argument("--max-sentences", type=int, default=SHORTLIST_SENTENCES, metavar="N", help=f"learn from the first N distinct sentences (default: {SHORTLIST_SENTENCES:,})")
    short.add_argument("--compute-type", default=None, metavar="TYPE", help="the conversion to translate with and to add the shortlist to (default: int8)")
    short.add_argument("--beam", type=int, default=None, metavar="N", help="beam size (default: the model's generation config)")
    short.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where the model runs (default: auto)")
    short.add_argument("--quiet", action="store_true", help="no progress bar")
    short.set_defaults(handler=cmd_models_shortlist)
    ls = msub.add_parser(
        "list",
        help="list hub models, local folders used and CTranslate2 conversions",
        description="List the Marian checkpoints in the Hugging Face cache, the local model folders mtpipe was given (the 20 latest, recorded when used), and the CTranslate2 conversions in the user cache dir, with their sizes.",
    )
    ls.set_defaults(handler=cmd_models_list)
    rm = msub.add_parser("remove", help="delete CTranslate2 conversions", description="Delete a CTranslate2 conversion from the user cache dir (converted again on next use); never a hub model or a local folder.")
    rm.add_argument("name", metavar="NAME", help="a conversion's NAME as `mtpipe models list` shows it, or its MODEL to remove all its conversions")
    rm.set_defaults(handler=cmd_models_remove)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mtpipe` command."""
    global _SIGTERM_SEEN
    _SIGTERM_SEEN = False
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    quiet_libraries()
    show_steps(sys.stderr, quiet=getattr(args, "quiet", False))
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
