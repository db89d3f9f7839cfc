"""Glossary files: tab- or comma-separated terms (`fr<TAB>en[<TAB>note]`, columns named
by language as CAT tools export them, memoQ's and Xbench's among them, or rows that name
their languages as TICO-19's termbases do), TBX (basic, TBX 2 and TBX 3) and SDL
MultiTerm XML. One reader per format, in a registry by name; `load`
picks the reader from the file's contents."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from . import Entry, Glossary, GlossaryError

# A glossary is read whole: more than this is not a glossary (mtpipe says so, not the OOM killer).
MAX_GLOSSARY_BYTES = 64 * 1024 * 1024
# English variants of one term in one cell: "city council|town council".
VARIANTS = re.compile(r"\s*\|\s*")
_FRENCH = re.compile(r"^(fr(?:[-_][a-z]{2})?|french|fran[cç]ais|source|src|term|terme)$", re.IGNORECASE)
_ENGLISH = re.compile(r"^(en(?:[-_][a-z]{2})?|english|anglais|target|tgt|translation|traduction)$", re.IGNORECASE)
_NOTE = re.compile(r"^(notes?|comments?|commentaires?|definition|définition|remarques?)$", re.IGNORECASE)

READERS: dict[str, Callable[[str, str], list[Entry]]] = {}


def reader(name: str) -> Callable:
    def register(read: Callable[[str, str], list[Entry]]) -> Callable[[str, str], list[Entry]]:
        READERS[name] = read
        return read

    return register


def _entry(source: str, targets: str | Iterable[str], note: str = "") -> Entry | None:
    variants = VARIANTS.split(targets.strip()) if isinstance(targets, str) else [t.strip() for t in targets]
    variants = [v for v in dict.fromkeys(variants) if v]
    source = " ".join(source.split())
    return Entry(source, tuple(variants), " ".join(note.split())) if source and variants else None


def _columns(header: list[str]) -> tuple[int, int, int | None] | None:
    """The French, English and note columns a header names, or None if it names no languages."""
    names = [h.strip().lstrip("\ufeff") for h in header]
    french = next((i for i, h in enumerate(names) if _FRENCH.match(h)), None)
    english = next((i for i, h in enumerate(names) if _ENGLISH.match(h)), None)
    if french is None or english is None:
        return None
    return french, english, next((i for i, h in enumerate(names) if _NOTE.match(h)), None)


def _per_row_languages(rows: list[list[str]]) -> list[Entry] | None:
    """Entries of a termbase export whose rows name their languages (TICO-19's and
    Google's: sourceLang, targetLang, sourceString, targetString): French→English rows
    as they are, English→French rows turned round; None when the header is not such."""
    names = {h.strip().lstrip("\ufeff").casefold(): i for i, h in enumerate(rows[0])} if rows else {}
    wanted = ("sourcelang", "targetlang", "sourcestring", "targetstring")
    if not all(w in names for w in wanted):
        return None
    sl, tl, ss, ts = (names[w] for w in wanted)
    note = names.get("description")
    entries = []
    for row in rows[1:]:
        if len(row) <= max(sl, tl, ss, ts):
            continue
        pair = {row[sl].strip().casefold()[:2]: row[ss], row[tl].strip().casefold()[:2]: row[ts]}
        if set(pair) == {"fr", "en"} and (entry := _entry(pair["fr"], pair["en"], row[note] if note is not None and note < len(row) else "")):
            entries.append(entry)
    return entries


def _table(text: str, name: str, delimiter: str) -> list[Entry]:
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    by_row = _per_row_languages(rows)
    if by_row is not None:
        return by_row
    columns = _columns(rows[0]) if rows else None
    french, english, note = columns or (0, 1, 2)
    entries = []
    for number, row in enumerate(rows[1:] if columns else rows, start=2 if columns else 1):
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if len(row) <= max(french, english) or not row[english].strip():
            raise GlossaryError(f"{name}, line {number}: it has no English term; write each entry as French{'<TAB>' if delimiter == chr(9) else ','}English")
        entry = _entry(row[french], row[english], row[note] if note is not None and note < len(row) else "")
        if entry is not None:
            entries.append(entry)
    return entries


@reader("tsv")
def read_tsv(text: str, name: str) -> list[Entry]:
    return _table(text, name, "\t")


@reader("csv")
def read_csv(text: str, name: str) -> list[Entry]:
    try:
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;").delimiter
    except csv.Error:  # no comma nor semicolon to go by: rows of one cell, said below
        delimiter = ","
    return _table(text, name, delimiter)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _language(element) -> str:
    for key, value in element.attrib.items():
        if _local(key) in ("lang", "type") or key.endswith("}lang"):
            return value.casefold()
    return ""


def _is(language: str, code: str, names: tuple[str, ...]) -> bool:
    return language.split("-")[0].split("_")[0] == code or language in names


def _concepts(root, concept: str, language_group: str, term: str) -> list[Entry]:
    """Entries of a concept-oriented file: each concept's French terms, each rendered by
    all its English terms."""
    entries = []
    for node in root.iter():
        if _local(node.tag) != concept:
            continue
        french, english, notes = [], [], []
        for group in node.iter():
            if _local(group.tag) != language_group:
                continue
            language = _language(group) or next((_language(c) for c in group if _local(c.tag) == "language"), "")
            terms = ["".join(t.itertext()).strip() for t in group.iter() if _local(t.tag) == term]
            if _is(language, "fr", ("french", "français")):
                french += terms
            elif _is(language, "en", ("english", "anglais")):
                english += terms
        notes = ["".join(n.itertext()).strip() for n in node.iter() if _local(n.tag) in ("note", "descrip", "definition")]
        entries += [e for f in french if (e := _entry(f, english, notes[0] if notes else "")) is not None]
    return entries


def _xml(text: str, name: str):
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        raise GlossaryError(f"{name}: it is not well-formed XML ({exc}); export the glossary again") from None


@reader("tbx")
def read_tbx(text: str, name: str) -> list[Entry]:
    root = _xml(re.sub(r"^<\?xml[^>]*\?>", "", text.lstrip("\ufeff").lstrip()), name)
    if any(_local(n.tag) == "conceptEntry" for n in root.iter()):  # TBX 3
        return _concepts(root, "conceptEntry", "langSec", "term")
    return _concepts(root, "termEntry", "langSet", "term")  # TBX 2 and TBX-Basic


@reader("multiterm")
def read_multiterm(text: str, name: str) -> list[Entry]:
    root = _xml(re.sub(r"^<\?xml[^>]*\?>", "", text.lstrip("\ufeff").lstrip()), name)
    return _concepts(root, "conceptGrp", "languageGrp", "term")


def sniff(text: str, name: str) -> str:
    """The reader for a file's contents: XML by its root element, else TSV when a tab is
    on its first line, else CSV."""
    head = text.lstrip("\ufeff").lstrip()[:4096]
    if head.startswith("<"):
        return "multiterm" if re.search(r"<mtf\b", head) else "tbx"
    first = head.split("\n", 1)[0]
    return "tsv" if "\t" in first or name.endswith(".tsv") else "csv"


def read(text: str, name: str) -> list[Entry]:
    """The entries of a glossary file's text; GlossaryError when it holds none."""
    entries = READERS[sniff(text, name)](text, name)
    if not entries:
        raise GlossaryError(f"{name}: it holds no glossary entry; write one per line as French<TAB>English, or export TBX")
    return entries


def load(paths: Iterable[str | Path]) -> Glossary:
    """One glossary from files (the first file's entry wins where two give a term)."""
    entries: list[Entry] = []
    for path in paths:
        path = Path(path)
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_GLOSSARY_BYTES + 1)
        except OSError as exc:
            raise GlossaryError(f"{path}: the glossary cannot be read ({exc.strerror or exc}); check the path") from None
        if len(data) > MAX_GLOSSARY_BYTES:
            raise GlossaryError(f"{path}: it is larger than {MAX_GLOSSARY_BYTES >> 20} MB, more than a glossary mtpipe reads; split it")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise GlossaryError(f"{path}: it is not UTF-8 text; save the glossary as UTF-8") from None
        entries += read(text, str(path))
    seen: dict[str, Entry] = {}
    for entry in entries:
        seen.setdefault(entry.source, entry)
    return Glossary(seen.values())
