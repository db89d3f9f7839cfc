"""Prose or not: whether a text unit (a line, a table cell, an attribute value) holds
words to translate, or only what reads the same in English.

A unit is not prose when every whitespace-separated token of it, its opening and
closing punctuation aside, is a number (`1 234,5`, `-3`, `12 %`, `+0,5`), a numeric
date or time (`2022-09`, `12/05/2024`, `14h30`, `10:30:00`, `2024-05-03T12:00Z`), an
amount or a measure (`45 €`, `10km`, `3,5 kg`, a unit symbol alone), a version
(`v2.3.1`), a hexadecimal value (`#ff0000`, `0x1F`, a commit hash), a URL, an e-mail
address, a file path (`/usr/bin`, `./a.md`, `C:\\dossier`), an identifier that can only
be code (`snake_case`, `camelCase`, `Array.at`, `parse()`, `$el`), letters and digits
mixed (`UTF-8`, `MP3`, `RFC2397`) or punctuation and symbols alone. Such a unit is
copied as it is: the model would only turn "2011" into words. French ordinals (`1er`,
`2e`, `XXIe`) and unit symbols that differ in English (`Mo`, `Go`) are prose.
"""

from __future__ import annotations

import re

from .protect import URL_OR_EMAIL

# Unit symbols written the same in English.
_UNITS = (
    "% ‰ € $ £ ¥ ° °C °F K km m cm mm µm nm kg g mg t l L ml mL cl dl h min s ms µs ns Hz kHz MHz GHz "
    "W kW MW GW kWh V mV A mA px pt em rem vh vw dpi ppi B KB kB MB GB TB KiB MiB GiB bit kbit Mbit Gbit "
    "bps kbps Mbps Gbps m² m³ km² km/h m/s"
).split()
_UNIT = "(?:" + "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True)) + ")"
# A unit alone (a column's "kg"), but not a single letter: "A." may be an initial or a list's label.
_UNIT_ALONE = "(?:" + "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True) if len(u) > 1 or not u.isalpha()) + ")"
_NUMBER = r"[+\-−±~≈]?(?:\d{1,3}(?:[ \u00a0\u202f.,'’]\d{3})+|\d+)(?:[.,]\d+)?"
_TOKEN = re.compile(
    "|".join(
        [
            rf"{_NUMBER}(?:{_UNIT})?",  # 12, 1.234,5, 12%, 10km, 45€
            rf"{_NUMBER}(?:{_UNIT})?[-–—]{_NUMBER}(?:{_UNIT})?",  # ranges: 2011–2022
            rf"[€$£¥]{_NUMBER}",  # $45
            _UNIT_ALONE,
            r"\d{1,4}(?:[-/.]\d{1,4}){1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?",  # dates
            r"\d{1,2}(?::\d{2}){1,2}|\d{1,2}h(?:\d{2})?(?:min)?",  # 10:30, 14h30
            r"[vV]?\d+(?:\.\d+)+(?:[-+][\w.]+)?",  # versions
            r"#[0-9a-fA-F]{3,8}|0[xX][0-9a-fA-F]+|(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,40}",  # hexadecimal
            r"(?:~|\.{1,2})?/[^\s]*|[A-Za-z]:\\[^\s]*",  # paths
            r"[^\w\s]+",  # punctuation and symbols
        ]
    )
)
# Identifiers that can only be code, and tokens mixing letters and digits.
_CODE = re.compile(
    r"[$@]?[A-Za-z_][\w$]*(?:(?:\.|::|->|#)[A-Za-z_$][\w$]*)*(?:\([^()\s]*\))?"
)
_ORDINAL = re.compile(r"\d+(?:er|re|ère|e|ème|eme|nd|nde|d)s?|[IVXLCDM]+(?:er|e|ème)s?")
_EDGE = "([{«\"“‘'<"
_TRAIL = ")]}»\"”’'.,;:!?…>"


def is_prose(text: str) -> bool:
    """Whether the text holds words to translate (see the module docstring)."""
    text = URL_OR_EMAIL.sub(" ", text)
    return any(_is_word(token) for token in text.split())


def _is_word(token: str) -> bool:
    opened = token.lstrip(_EDGE)
    core = opened.rstrip(_TRAIL)
    if not core:
        return False
    if _ORDINAL.fullmatch(core):
        return True
    return not any(_TOKEN.fullmatch(t) or _code(t) for t in (core, opened.rstrip(_TRAIL.replace(")", ""))) if t)


def _code(core: str) -> bool:
    """An identifier only code has: with an underscore, a dot, `::`, `()`, a `$`, an inner
    capital after a small letter, or letters and digits mixed (UTF-8, MP3)."""
    if not _CODE.fullmatch(core) and not re.fullmatch(r"[\w-]+", core):
        return False
    letters, digits = any(c.isalpha() for c in core), any(c.isdigit() for c in core)
    if letters and digits:
        return True
    if not _CODE.fullmatch(core):
        return False
    parts = re.split(r"\.|::|->|#", core.rstrip("()").split("(")[0])
    dotted = len(parts) > 1 and all(len(p.strip("$@")) > 1 for p in parts)
    return dotted or any(c in core for c in "_$@(") or bool(re.search(r"[a-z][A-Z]", core))
