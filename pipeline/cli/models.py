"""`mtpipe memory` (import, export, stats) and `mtpipe models` (list, convert, shortlist, remove)."""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_ARTICLE_FAILED, EXIT_OK, Fatal, check_compute_type, memory_for


def cmd_memory_import(args: argparse.Namespace) -> int:
    from ..corrections import CorrectionsError, read_any
    from ..memory import MemoryFault

    if args.glossary:
        return _import_glossaries(args)
    memory, failed = memory_for(args), 0
    try:
        for path in args.files:
            try:
                reading = read_any(path)
                changes = memory.add_human(reading.pairs + (reading.machine if args.as_human else ()))
            except (CorrectionsError, MemoryFault) as exc:
                print(f"mtpipe: failed: {exc}; nothing of it was imported", file=sys.stderr)
                failed += 1
                continue
            counts = [(len(changes.added), "added"), (len(changes.replaced), "replaced"), (len(changes.unchanged), "unchanged"), (len(reading.refusals), "refused")]
            print(f"{path}: " + ", ".join(f"{n} {what}" for n, what in counts), file=sys.stderr)
            for refusal in reading.refusals:
                print(f"  refused: {refusal.where}: {refusal.why}", file=sys.stderr)
            if reading.machine and not args.as_human:
                print(f"  {len(reading.machine)} left out: the file marks them as machine translation (first: {reading.machine[0].origin}); pass --as-human to import them as human translations", file=sys.stderr)
    finally:
        memory.close()
    return EXIT_ARTICLE_FAILED if failed else EXIT_OK


def _import_glossaries(args: argparse.Namespace) -> int:
    """`memory import --glossary`: each file's entries stored whole or not at all."""
    from ..glossary import GlossaryError
    from ..glossary.readers import load
    from ..memory import MemoryFault

    memory, failed = memory_for(args), 0
    try:
        for path in args.files:
            try:
                changes = memory.add_glossary(load([path]).entries, origin=str(path))
            except (GlossaryError, MemoryFault) as exc:
                print(f"mtpipe: failed: {exc}; nothing of it was imported", file=sys.stderr)
                failed += 1
                continue
            counts = [(len(changes.added), "added"), (len(changes.replaced), "replaced"), (len(changes.unchanged), "unchanged")]
            print(f"{path}: glossary entries " + ", ".join(f"{n} {what}" for n, what in counts), file=sys.stderr)
    finally:
        memory.close()
    return EXIT_ARTICLE_FAILED if failed else EXIT_OK


def cmd_memory_export(args: argparse.Namespace) -> int:
    from ..corrections import write_tmx
    from ..memory import HumanEntry, MemoryFault, utc_stamp
    from ..writers import write_text

    if args.file.exists() and not args.force:
        raise Fatal(f"{args.file} exists; choose another name, or pass --force to replace it")
    memory = memory_for(args)
    try:
        entries = list(memory.human_entries())
        if args.machine:
            now = utc_stamp()
            entries += [HumanEntry(source, target, "machine translation", now) for source, target in memory.machine_entries()]
    except MemoryFault as exc:
        raise Fatal(str(exc)) from None
    finally:
        memory.close()
    try:
        write_text(args.file, write_tmx(entries))
    except OSError as exc:
        raise Fatal(f"cannot write {args.file} ({exc.strerror or exc}); choose another path") from None
    print(f"{len(entries)} translation units written to {args.file}", file=sys.stderr)
    return EXIT_OK


def cmd_memory_stats(args: argparse.Namespace) -> int:
    from ..memory import MemoryFault
    from ..messages import counted

    memory = memory_for(args)
    try:
        counts = memory.counts()
    except MemoryFault as exc:
        raise Fatal(str(exc)) from None
    finally:
        memory.close()
    n = counts["glossary"]
    glossary = f", {n} glossary {'entry' if n == 1 else 'entries'}" if n else ""
    print(f"{memory.path}: {counted(counts['human'], 'human translation')}, {counted(counts['machine'], 'machine translation')}{glossary}")
    return EXIT_OK


def cmd_convert(args: argparse.Namespace) -> int:
    from ..hub import resolve
    from ..translate import convert_ct2
    from ..used_models import remember_used

    check_compute_type(args.compute_type)
    model = resolve(args.model)
    folder = convert_ct2(model, args.compute_type, force=args.force)
    remember_used(model)
    print(folder)
    return EXIT_OK


# A shortlist learns from at most this many distinct sentences unless told: enough for
# every frequent French piece, and about 3 minutes of translating on 2 cores with a model
# of opus-mt-fr-en's size.
SHORTLIST_SENTENCES = 10_000


def cmd_models_shortlist(args: argparse.Namespace) -> int:
    from ..hub import resolve
    from ..translate import DecodeSettings, convert_ct2
    from ..translate.backends.ctranslate2 import CTranslate2Backend
    from ..translate.shortlist import learn_shortlist, save_shortlist
    from .common import progress_bar

    check_compute_type(args.compute_type)
    for flag in ("frequent", "per_piece", "max_sentences"):
        if getattr(args, flag) < 1:
            raise Fatal(f"--{flag.replace('_', '-')} must be at least 1")
    sentences = _corpus_sentences(args.corpus, args.max_sentences)
    model = resolve(args.model)
    backend = CTranslate2Backend(model, DecodeSettings(beam=args.beam, device=args.device, compute_type=args.compute_type))
    with progress_bar(not args.quiet)(total=len(sentences), desc="shortlist") as bar:
        shortlist = learn_shortlist(backend.piece_links, sentences, backend.tokenizer.pad_token, args.frequent, args.per_piece, progress=bar.update)
    about = {"corpus": [str(p) for p in args.corpus], "frequent": args.frequent, "per_piece": args.per_piece, "compute_type": backend.used["compute_type"], "beam": backend.beam}
    path = save_shortlist(model, shortlist, about)
    convert_ct2(model, backend.used["compute_type"], shortlist=path)
    pieces = sum(len(t) for t in shortlist.by_piece.values()) / max(1, len(shortlist.by_piece))
    print(
        f"{path}: {len(shortlist.always)} English pieces always allowed, and {pieces:.0f} on average for each of "
        f"{len(shortlist.by_piece)} French pieces, learnt from {shortlist.sentences:,} sentences; use it with --shortlist",
        file=sys.stderr,
    )
    return EXIT_OK


def _corpus_sentences(paths: list, limit: int) -> list[str]:
    """The distinct sentences of French text files (each line split into sentences as
    articles are), the first `limit` of them; Fatal naming the file that cannot be read.
    Files are read as runs read articles: a regular file, never a link, FIFO or device."""
    from ..errors import InputError
    from ..evaluate import read_text
    from ..run import read_regular
    from ..segment import sentence_spans

    sentences: dict[str, None] = {}
    for path in paths:
        try:
            text = read_text(read_regular(path), str(path))
        except InputError as exc:
            raise Fatal(f"corpus {path} cannot be used: {exc}; give French text files, one sentence or paragraph per line") from None
        for line in text.lines:
            sentences.update((line[a:b], None) for a, b in sentence_spans(line))
            if len(sentences) >= limit:
                return list(sentences)[:limit]
    if not sentences:
        raise Fatal("the corpus has no sentences: give French text files, one sentence or paragraph per line")
    return list(sentences)


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


def cmd_models_list(args: argparse.Namespace) -> int:
    from ..hub import hub_cache, hub_models
    from ..translate import ct2_cache_root, ct2_conversions
    from ..translate.shortlist import shortlist_root, shortlists
    from ..used_models import local_models, local_record

    out = [f"Hub models (Marian checkpoints in {hub_cache()}):"]
    out += _table(("MODEL", "REVISIONS", "SIZE"), [(m.name, ", ".join(m.revisions), _size(m.size)) for m in hub_models()])
    out += ["", f"Local folders used (the latest, as recorded in {local_record()}):"]
    out += _table(("FOLDER", "REVISION", "SIZE", "LAST USED"), [(str(m.path), m.revision, _size(m.size) if m.size is not None else "gone", m.used.astimezone().strftime("%Y-%m-%d %H:%M")) for m in local_models()])
    out += ["", f"CTranslate2 conversions (in {ct2_cache_root()}; mtpipe models remove NAME deletes one):"]
    out += _table(
        ("NAME", "MODEL", "COMPUTE TYPE", "SHORTLIST", "SIZE"),
        [(c.name, c.model, c.compute_type, "yes" if c.shortlist else "no", _size(c.size) + ("" if c.intact else " (incomplete)")) for c in ct2_conversions()],
    )
    out += ["", f"Shortlists (in {shortlist_root()}; mtpipe models shortlist builds one, --shortlist uses it):"]
    out += _table(("MODEL", "REVISION", "SENTENCES", "SIZE"), [(s.model, s.revision, f"{s.sentences:,}", _size(s.size)) for s in shortlists()])
    print("\n".join(out))
    return EXIT_OK


def cmd_models_remove(args: argparse.Namespace) -> int:
    from ..translate import remove_conversions

    for conversion in remove_conversions(args.name):
        print(f"removed {conversion.name} ({conversion.model}, {conversion.compute_type}, {_size(conversion.size)})")
    return EXIT_OK
