"""Human translations to import into the memory, and their export.

Two kinds of file hold them: TMX 1.4b memories written by CAT tools (OmegaT, Trados,
memoQ), and the review page's "Export corrections" files. Reading is all or nothing per
file: a file that cannot be read as a whole (malformed XML, a corrections file off its
schema) raises CorrectionsError, one sentence naming the file, what is wrong and what to
do; a pair that cannot be used (empty, not French→English) is refused with where and why,
and the others are read.

Texts are kept exactly as written, spaces included: the memory's key normalises the
source (memory.human_key), the target is served as the translator wrote it; so
write_tmx → read_tmx gives back the very same pairs.

The corrections file, UTF-8 JSON, with exactly these keys (their one definition is
templates/corrections.schema.json, which the review page also builds its files from):

    {
      "mtpipe": "corrections",   what the file is
      "version": 1,              this schema; a newer one is refused
      "article": str,            the article of the page
      "model": str,              the model that made the MT
      "revision": str | null,    the model's revision, when known
      "units": [                 one per edited row, in page order
        {"ids": [str, ...],      the unit's sentence ids (at least one)
         "src": str,             its French
         "mt": str,              the model's English
         "edit": str}            the editor's English: the human translation
      ]
    }
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from xml.parsers import expat

from . import errors
from .memory import HumanEntry
from .tmx import Unit, tmx_text


class CorrectionsError(errors.CorrectionsError):
    """A file of human translations cannot be read at all; the message is one sentence
    naming the file, what is wrong and what to do."""


@dataclass(frozen=True)
class Pair:
    """A human translation read from a file: French source, English target, and where it
    was read (file name and place in it)."""

    source: str
    target: str
    origin: str


@dataclass(frozen=True)
class Refusal:
    """A pair that cannot be used: where it is and why."""

    where: str
    why: str


@dataclass(frozen=True)
class Machine(Pair):
    """A pair the file marks as machine translation (mtpipe's own TMX, its memory
    export with --machine, a unit created by mtpipe): never a human translation unless
    the user says so (`memory import --as-human`)."""


@dataclass(frozen=True)
class Reading:
    """What a file gave: its pairs, its refusals and the pairs it marks as machine
    translation, each in file order."""

    pairs: tuple[Pair, ...]
    refusals: tuple[Refusal, ...]
    machine: tuple[Machine, ...] = ()


def _reading(items: Iterable[Pair | Refusal]) -> Reading:
    items = list(items)
    return Reading(
        tuple(i for i in items if isinstance(i, Pair) and not isinstance(i, Machine)),
        tuple(i for i in items if isinstance(i, Refusal)),
        tuple(i for i in items if isinstance(i, Machine)),
    )


def _checked(source: str, target: str, where: str) -> Pair | Refusal:
    """The pair, or its refusal when a side holds nothing but whitespace, or a character
    that is not text (a NUL, a control character, a lone surrogate: no output format
    can hold it)."""
    for side, text in (("French", source), ("English", target)):
        if not text.strip():
            return Refusal(where, f"the {side} is empty")
        bad = _NOT_TEXT.search(text)
        if bad:
            return Refusal(where, f"the {side} holds U+{ord(bad.group()):04X}, which is not text")
    return Pair(source, target, where)


# C0 controls but tab and line endings, DEL, and surrogates (JSON's "\ud800" alone).
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


# --- TMX -----------------------------------------------------------------------------

# Inline elements of a <seg> holding native code (or, for <sub>, a text of its own, such
# as a footnote inside a tag): none of their content is the segment's text. <hi> is
# text with formatting, kept.
_CODE = frozenset({"bpt", "ept", "ph", "it", "ut", "sub"})
_ANY_SOURCE = "*all*"


# <prop>s by which mtpipe marks machine translation: a run's TMX, a memory export with --machine.
_MACHINE_PROPS = frozenset({("x-mtpipe-translation", "machine"), ("x-mtpipe-origin", "machine translation")})


def _made_by_mtpipe(attrs: dict[str, str]) -> str | None:
    """Why a <tu> or <tuv> is mtpipe's machine translation, by its creationid or changeid."""
    for key in ("creationid", "changeid"):
        if attrs.get(key, "").strip().lower() == "mtpipe":
            return f"its {key} is {attrs[key]}"
    return None


def _language(tag: str) -> str:
    """The primary language of a language tag, lower case: fr-CA, FR_fr → fr."""
    return re.split(r"[-_]", tag.strip().lower(), maxsplit=1)[0]


@dataclass
class _Unit:
    """A <tu> being read: where it starts, and the text of each language's <tuv>."""

    line: int
    tuid: str | None
    srclang: str | None
    segs: dict[str, str] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)
    machine: str | None = None  # why the unit is machine translation, when it says so


class _TmxReader:
    """Reads a TMX with expat, streaming: XML line numbers for every <tu>, and entity
    declarations refused (TMX needs none; their expansion can exhaust memory)."""

    def __init__(self, name: str):
        self.name = name
        self.items: list[Pair | Refusal] = []
        self.srclang: str | None = None
        self.unit: _Unit | None = None
        self.lang: str | None = None
        self.seg: list[str] | None = None  # text of the <seg> being read
        self.prop: tuple[str, list[str]] | None = None  # type and text of the unit's <prop> being read
        self.skip = 0  # depth inside code elements of the <seg>
        self.root: str | None = None
        self.parser = expat.ParserCreate()
        self.parser.buffer_text = True
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.text
        self.parser.EntityDeclHandler = self.entity_declared
        self.parser.SkippedEntityHandler = self.entity_skipped

    def read(self, data: bytes) -> Reading:
        try:
            self.parser.Parse(data, True)
        except expat.ExpatError as exc:
            raise CorrectionsError(
                f"{self.name} is not well-formed XML at line {exc.lineno}, column {exc.offset + 1} ({expat.errors.messages[exc.code]}): "
                "correct it there, or export it again from its CAT tool"
            ) from None
        return _reading(self.items)

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if self.root is None:
            self.root = tag
            if tag != "tmx":
                raise CorrectionsError(f"{self.name} is not a TMX file (its root element is <{tag}>, not <tmx>): give a TMX file exported from a CAT tool")
        if self.seg is not None:
            if self.skip or tag in _CODE:
                self.skip += 1
        elif tag == "header":
            self.srclang = attrs.get("srclang")
        elif tag == "tu":
            self.unit = _Unit(self.parser.CurrentLineNumber, attrs.get("tuid"), attrs.get("srclang", self.srclang))
            self.unit.machine = _made_by_mtpipe(attrs)
        elif tag == "tuv":
            self.lang = attrs.get("xml:lang", attrs.get("lang"))  # `lang` before TMX 1.4
            if self.unit is not None and _language(self.lang or "") == "en":
                self.unit.machine = self.unit.machine or _made_by_mtpipe(attrs)
        elif tag == "prop" and self.unit is not None:
            self.prop = (attrs.get("type", ""), [])
        elif tag == "seg" and self.unit is not None and self.lang is not None:
            self.seg = []

    def end(self, tag: str) -> None:
        if self.skip:
            self.skip -= 1
        elif tag == "prop" and self.prop is not None:
            kind, text = self.prop[0], "".join(self.prop[1]).strip()
            if self.unit is not None and (kind, text) in _MACHINE_PROPS:
                self.unit.machine = self.unit.machine or f"its {kind} is {text}"
            self.prop = None
        elif tag == "seg" and self.seg is not None:
            self.unit.languages.append(self.lang)
            self.unit.segs.setdefault(_language(self.lang), "".join(self.seg))  # the first <tuv> of a language counts
            self.seg = None
        elif tag == "tuv":
            self.lang = None
        elif tag == "tu" and self.unit is not None:
            self.items.append(self.judged(self.unit))
            self.unit = None

    def text(self, data: str) -> None:
        if self.seg is not None and not self.skip:
            self.seg.append(data)
        elif self.prop is not None:
            self.prop[1].append(data)

    def judged(self, unit: _Unit) -> Pair | Refusal:
        where = f"{self.name} line {unit.line}" + (f" (tu {unit.tuid})" if unit.tuid else "")
        if unit.srclang and unit.srclang.lower() != _ANY_SOURCE and _language(unit.srclang) != "fr":
            return Refusal(where, f"not fr→en: its source language is {unit.srclang}")
        if "fr" not in unit.segs or "en" not in unit.segs:
            return Refusal(where, f"no fr/en pair (its languages: {', '.join(unit.languages) or 'none'})")
        pair = _checked(unit.segs["fr"], unit.segs["en"], where)
        if isinstance(pair, Pair) and unit.machine:
            return Machine(pair.source, pair.target, f"{where}: machine translation ({unit.machine})")
        return pair

    def entity_declared(self, entity: str, *_: object) -> None:
        raise CorrectionsError(
            f"{self.name} declares the XML entity {entity!r} at line {self.parser.CurrentLineNumber}, which TMX never needs and whose "
            "expansion could exhaust memory: export it again from its CAT tool"
        )

    def entity_skipped(self, entity: str, is_parameter: bool) -> None:
        raise CorrectionsError(
            f"{self.name} uses the undefined entity &{entity}; at line {self.parser.CurrentLineNumber}: "
            "write the character itself or its number (&#160; for a no-break space) instead"
        )


def read_tmx(data: bytes, name: str) -> Reading:
    """The French→English pairs of a TMX 1.4b file (`name`: its file name, for origins
    and messages). A <tu> is read from its first French <tuv> (fr, fr-FR, fr-CA…) and
    its first English one (en, en-GB…); one without both, or whose source language
    (of the <tu>, else the header) is not French, is refused."""
    return _TmxReader(name).read(data)


# --- Corrections files ---------------------------------------------------------------

# The schema the review page writes its files by: what marks them, their version, and the
# keys of the file and of a unit, each with the JSON kinds its value may have.
_SCHEMA = json.loads((resources.files(__package__) / "templates" / "corrections.schema.json").read_text(encoding="utf-8"))
_MARK: str = _SCHEMA["mtpipe"]
CORRECTIONS_VERSION: int = _SCHEMA["version"]
_FILE_KEYS = {key: tuple(kinds) for key, kinds in _SCHEMA["file"].items()}
_UNIT_KEYS = {key: tuple(kinds) for key, kinds in _SCHEMA["unit"].items()}
_JSON_KINDS = ((type(None), "null"), (bool, "boolean"), ((int, float), "number"), (str, "string"), (list, "array"), (dict, "object"))


def _kind(value: object) -> str:
    """The JSON kind of a decoded value (bool before number: a bool is an int)."""
    return next(kind for types, kind in _JSON_KINDS if isinstance(value, types))


def _schema_problem(value: object, keys: dict[str, tuple[str, ...]], what: str) -> str | None:
    """What makes `value` not an object of exactly `keys` of their kinds, else None."""
    if _kind(value) != "object":
        return f"{what} is {_kind(value)}, not an object"
    if missing := [key for key in keys if key not in value]:
        return f"{what} has no {', '.join(map(repr, missing))}"
    if unknown := [key for key in value if key not in keys]:
        return f"{what} has unknown keys {', '.join(map(repr, unknown))}"
    for key, kinds in keys.items():
        if _kind(value[key]) not in kinds:
            return f"{what}'s {key!r} is {_kind(value[key])}, not {' or '.join(kinds)}"
    return None


def _corrections_problem(document: object) -> str | None:
    """What makes a decoded corrections file off its schema, else None."""
    problem = _schema_problem(document, _FILE_KEYS, "the file")
    if problem:
        return problem
    for number, unit in enumerate(document["units"], 1):
        problem = _schema_problem(unit, _UNIT_KEYS, f"unit {number}")
        if problem:
            return problem
        if not unit["ids"] or any(_kind(i) != "string" for i in unit["ids"]):
            return f"unit {number}'s 'ids' is not a list of one or more strings"
    return None


def read_corrections(data: bytes, name: str) -> Reading:
    """The pairs (French, edited English) of a review page's corrections file (schema
    in the module's docstring); a unit whose French or edit is empty, or that holds
    several sentences, is refused."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise CorrectionsError(f"{name} is not UTF-8 text (byte {exc.start + 1}): export the corrections again from the review page") from None
    except json.JSONDecodeError as exc:
        raise CorrectionsError(f"{name} is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}): export the corrections again from the review page") from None
    except (ValueError, RecursionError) as exc:  # a number of thousands of digits; arrays nested thousands deep
        reason = "it nests too deep" if isinstance(exc, RecursionError) else "it holds a number too long to read"
        raise CorrectionsError(f"{name} is not a corrections file ({reason}): export the corrections again from the review page") from None
    if not isinstance(document, dict) or document.get("mtpipe") != _MARK:
        raise CorrectionsError(
            f'{name} is not an mtpipe corrections file (it lacks "mtpipe": "{_MARK}"): give the file from "Export corrections" of a review page, or a TMX file'
        )
    version = document.get("version")
    if _kind(version) == "number" and version > CORRECTIONS_VERSION:
        raise CorrectionsError(f"{name} is a corrections file of version {version}, newer than this mtpipe reads ({CORRECTIONS_VERSION}): upgrade mtpipe to import it")
    problem = _corrections_problem(document) or (None if version == CORRECTIONS_VERSION else f"its version is {version!r}, not {CORRECTIONS_VERSION}")
    if problem:
        raise CorrectionsError(f"{name} is not a valid corrections file ({problem}): export the corrections again from the review page")
    return _reading(_unit(unit, f"{name} unit {number} ({' '.join(unit['ids'])})") for number, unit in enumerate(document["units"], 1))


def _unit(unit: dict, where: str) -> Pair | Refusal:
    """A corrections unit's pair, or its refusal: runs look human translations up
    sentence by sentence, so the edit of a row of several sentences (a page made with
    --ref pairs them as the reference does) would never be used."""
    if len(unit["ids"]) > 1:
        return Refusal(where, f"it holds {len(unit['ids'])} sentences, and human translations are used sentence by sentence: edit its sentences in a page made without --ref")
    return _checked(unit["src"], unit["edit"], where)


# --- Any file ------------------------------------------------------------------------

_READERS: dict[str, Callable[[bytes, str], Reading]] = {".tmx": read_tmx, ".json": read_corrections}
# A file named otherwise is known by its first character (after a BOM and whitespace).
_OPENINGS = {b"<": ".tmx", b"{": ".json"}


def read_any(path: Path) -> Reading:
    """The pairs of a TMX or corrections file, known by its suffix, else its content."""
    from .ingest import IngestError
    from .run import (
        read_regular,  # as runs read articles: never a FIFO that would block, a device, a link
    )

    try:
        data = read_regular(path)
    except IngestError as exc:
        raise CorrectionsError(f"{path} cannot be read: {exc}") from None
    suffix = path.suffix.lower()
    if suffix not in _READERS:
        suffix = _OPENINGS.get(data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1])
    if suffix is None:
        raise CorrectionsError(f"{path} is neither a TMX file nor a corrections file: give .tmx files from a CAT tool or .json files from a review page's Export corrections")
    return _READERS[suffix](data, path.name)


# --- Export --------------------------------------------------------------------------


def write_tmx(entries: Iterable[HumanEntry]) -> str:
    """A TMX 1.4b memory of human translations, one <tu> each, with its origin as a
    <prop> and its date as creationdate: what a CAT tool, or read_tmx, imports."""
    return tmx_text((Unit(e.source, e.target, (("x-mtpipe-origin", e.origin),), created=e.added) for e in entries), "mtpipe memory")
