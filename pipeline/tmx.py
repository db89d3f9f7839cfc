"""TMX 1.4b, as mtpipe writes it: a run's translations of an article (`report`) and the
memory's human translations (`memory export`) go out through this one writer, with
their origin and scores as <prop>s, so that a CAT tool imports them. Pure text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from . import __version__

# Characters XML 1.0 cannot hold at all, not even as references.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# A parser turns a bare CR into LF, and whitespace in an attribute into spaces.
_XML_CONTENT = {"\r": "&#13;"}
_XML_ATTRIBUTE = {**_XML_CONTENT, '"': "&quot;", "\n": "&#10;", "\t": "&#9;"}


@dataclass(frozen=True)
class Unit:
    """One <tu>: the French and its English, <prop>s (type, value), <note>s, and either
    an id (`tuid`) or the ISO 8601 time it was made (`created`)."""

    source: str
    target: str
    props: Sequence[tuple[str, str]] = ()
    tuid: str | None = None
    created: str | None = None
    notes: Sequence[str] = ()


def xml_text(text: str) -> str:
    """Text escaped for XML content, carriage returns kept (a parser would turn a bare CR
    into LF); characters XML cannot hold become U+FFFD."""
    return escape(_NOT_XML.sub("\ufffd", text), _XML_CONTENT)


def xml_attribute(text: str) -> str:
    """Text escaped for a double-quoted XML attribute, its whitespace kept as references."""
    return escape(_NOT_XML.sub("\ufffd", text), _XML_ATTRIBUTE)


def tmx_date(iso: str) -> str:
    """A TMX date (20240501T120000Z) from an ISO 8601 one (2024-05-01T12:00:00Z)."""
    return re.sub(r"[-:]", "", iso)[:15] + "Z"


def tmx_text(units: Iterable[Unit], o_tmf: str, created: str | None = None, props: Sequence[tuple[str, str]] = ()) -> str:
    """A TMX 1.4b document, French to English: the header says `o_tmf` (where the units
    come from), `created` (ISO 8601) and `props`; one <tu> per unit."""
    date = f' creationdate="{tmx_date(created)}"' if created else ""
    header = f'  <header creationtool="mtpipe" creationtoolversion="{__version__}" segtype="sentence" o-tmf="{o_tmf}" adminlang="en" srclang="fr" datatype="plaintext"{date}'
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n', '<!DOCTYPE tmx SYSTEM "tmx14.dtd">\n', '<tmx version="1.4">\n']
    if props:
        out += [header + ">\n", *_props(props, "    "), "  </header>\n"]
    else:
        out.append(header + "/>\n")
    out.append("  <body>\n")
    for unit in units:
        tuid = f' tuid="{xml_attribute(unit.tuid)}"' if unit.tuid is not None else ""
        when = f' creationdate="{tmx_date(unit.created)}"' if unit.created else ""
        out += [
            f"    <tu{tuid}{when}>\n",
            *(f"      <note>{xml_text(note)}</note>\n" for note in unit.notes),
            *_props(unit.props, "      "),
            f'      <tuv xml:lang="fr"><seg>{xml_text(unit.source)}</seg></tuv>\n',
            f'      <tuv xml:lang="en"><seg>{xml_text(unit.target)}</seg></tuv>\n',
            "    </tu>\n",
        ]
    out.append("  </body>\n</tmx>\n")
    return "".join(out)


def _props(props: Sequence[tuple[str, str]], indent: str) -> list[str]:
    return [f'{indent}<prop type="{kind}">{xml_text(value)}</prop>\n' for kind, value in props]
