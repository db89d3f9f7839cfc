"""Writing a block's English back as Markdown: markup around the English words it
wrapped, breaks where the French had them, and whatever the English holds that
Markdown would read as syntax escaped."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from functools import lru_cache

from markdown_it.common.utils import normalizeReference

from ..base import fill
from ..markup import Event, Inline
from .syntax import BLOCK_SYNTAX, HARD_BREAK, LINE, ORDERED
from .walk import Block

_Entry = tuple[str, str, int]  # (event kind, "break" or "moved" punctuation; its source; markup index)


def render_block(events: Sequence[Event], text: str, markup: Sequence[Inline], block: Block, source: str, leaves: Sequence[tuple[int, int, str]], escape: bool) -> str:
    """A block's English events as Markdown source (see the module docstring): markup as
    the source wrote it (the English of the leaves in it), text spelled the block's
    way (with `escape`, every character of Markdown syntax escaped and emphasis that
    would merge with its neighbour's written with the other delimiter), and as many
    line breaks as the source had."""
    swapped = _swaps(events, markup) if escape else set()
    out = _Entries()
    breaks: list[tuple[int, int]] = []  # (markup index, where the word links put it in the English)
    opened: dict[int, int] = {}  # label-dependent links: where their text starts in out
    for kind, value in events:
        if kind == "void" and value in block.breaks:
            breaks.append((int(value), out.chars))
            continue
        at = len(out)
        moved = ""
        if kind in ("close", "void"):
            moved, at = _trail_after(out, at, opened, _trailing_punctuation(text, markup[value].end if kind == "close" else markup[value].start))
        if kind == "text":
            piece = spell_out(str(value), block.respell, escape)
        elif kind == "close":
            piece = _source(block, int(value), 1, source, leaves)
            if value in block.labels:
                piece = _label_close(markup[value], block.labels[value], "".join(p for _, p, _ in out[opened[value] :]))
        else:
            piece = _source(block, int(value), 0, source, leaves)
        if value in swapped and kind != "text":
            piece = piece.translate(_OTHER_DELIMITER)
        if kind in ("text", "void") and (not at or out[at - 1][1][-1:].isspace()):
            piece = piece.lstrip()
        if not piece:
            continue
        if kind == "text":
            piece = _lead_before_opens(out, piece, text, markup, opened)
            at = len(out)
        _insert(out, at, (kind, piece, value), opened)
        if moved:
            _insert(out, at + 1, ("moved", moved, -1), opened)
        if kind == "open" and value in block.labels:
            opened[value] = at + 1
    return _escape_line_starts(_with_breaks(out, breaks, text, markup), block.line_start)


_OTHER_DELIMITER = str.maketrans("*_", "_*")
_EMPHASIS = re.compile(r"\*+|_+")
_SYNTAX = re.compile(r"[\\`*_\[\]<~|$]|&(?=#?\w+;)|[\r\n]")


# Escaped in any English, whatever the block: what could make raw HTML, a link (a
# `javascript:` one for some renderers), an image or a reference, or an entity.
_UNSAFE = re.compile(r"(?<!\\)((?:\\\\)*)(<|\[|&(?=#?\w+;))")  # after an even number of backslashes: unescaped


def _source(block: Block, index: int, side: int, source: str, leaves: Sequence[tuple[int, int, str]]) -> str:
    """A markup piece's opening (side 0) or closing as the source wrote it, with the
    English of the leaves inside it."""
    a, b = block.parts[index][side]
    return fill(source, a, b, leaves)


def _swaps(events: Sequence[Event], markup: Sequence[Inline]) -> set[int]:
    """Emphasis whose delimiters would touch a neighbour's of the same character (`*(*a*)*`
    translated as `**a**` reads as strong): the inner or later one, to be written with
    the other character."""
    swapped: set[int] = set()

    def delimiter(kind: str, i: int) -> str:
        raw = markup[i].open if kind == "open" else markup[i].close
        return raw[0] if _EMPHASIS.fullmatch(raw) else ""

    for (k1, v1), (k2, v2) in zip(events, events[1:]):
        if k1 in ("open", "close") and k2 in ("open", "close") and (k1, k2) != ("open", "close"):
            d1, d2 = delimiter(k1, int(v1)), delimiter(k2, int(v2))
            if d1 and d1 == d2 and int(v1) not in swapped:
                swapped.add(int(v1) if (k1, k2) == ("close", "close") else int(v2))
    return swapped


def spell_out(text: str, respell: tuple[tuple[str, str], ...], escape: bool) -> str:
    """English text spelled as the block spells characters it escaped or wrote as
    entities; with `escape`, every character Markdown would read as syntax escaped
    (an entity spelling kept), and line endings made spaces."""
    if not escape:  # line endings the model wrote are spaces: a block's lines are the source's
        text = " ".join(text.splitlines()) if "\n" in text or "\r" in text else text
        spelled = dict(respell)  # the block's own spelling of a character wins
        return _respell(_UNSAFE.sub(lambda m: m.group() if m.group(2) in spelled else m.group(1) + "\\" + m.group(2), text), respell)
    spelling = {char: spelled for char, spelled in respell if spelled.startswith("&")}
    if "|" not in dict(respell):  # outside a table cell: markdown-it reads `\|` as a cell border there too
        spelling["|"] = "&#124;"

    def one(m: re.Match[str]) -> str:
        char = m.group()
        if char in "\r\n":
            return " "
        return spelling.get(char) or ("\\" + char if _SYNTAX.fullmatch(char) or char == "&" else char)

    pattern = _SYNTAX if not spelling else re.compile("|".join([_SYNTAX.pattern, *map(re.escape, spelling)]))
    return pattern.sub(one, text)


def _with_breaks(out: list[_Entry], breaks: Sequence[tuple[int, int]], text: str, markup: Sequence[Inline]) -> list[_Entry]:
    """The entries with the block's line breaks, in source order, each at a space
    between two words: a hard one where the word links put it, a soft one where
    wrapping the English over as many lines as the source puts it; soft ones are
    dropped only when the English has fewer spaces than the source had breaks."""
    if not breaks or not out:  # no English at all: the page will not read back the same, and the block is kept
        return out
    spaces, offset = [], 0  # (offset in the English, entry, start, end in its piece)
    for k, (kind, piece, _) in enumerate(out):
        if kind in ("text", "moved"):
            spaces += [(offset + m.start(), k, m.start(), m.end()) for m in re.finditer(r"[ \t]+", piece)]
        elif kind == "void" and piece[:1] in " \t":
            spaces.append((offset, k, 0, len(piece) - len(piece.lstrip(" \t"))))
        offset += len(piece)
    joined = "".join(p for _, p, _ in out)
    first, last = len(joined) - len(joined.lstrip()), len(joined.rstrip())
    spaces = [sp for sp in spaces if first < sp[0] and sp[0] + sp[3] - sp[2] < last]
    ordered = sorted(breaks)
    hard = [bool(HARD_BREAK.match(markup[i].open)) for i, _ in ordered]
    keep = list(range(len(ordered)))
    while len(keep) > len(spaces) and any(not hard[j] for j in keep):
        keep.remove(max(j for j in keep if not hard[j]))
    wanted = [ordered[j][1] if hard[j] else round(len(joined) * markup[ordered[j][0]].start / max(1, len(text))) for j in keep]
    positions = [sp[0] for sp in spaces]
    chosen: list[int] = []  # index in spaces of each kept break
    for n, target in enumerate(wanted):
        lo = chosen[-1] + 1 if chosen else 0
        hi = len(spaces) - (len(wanted) - n)
        if hi < lo:  # more hard breaks than spaces: with the one before
            chosen.append(chosen[-1] if chosen else -1)
            continue
        k = min(max(bisect_left(positions, target, lo, hi + 1), lo), hi)
        if k > lo and abs(positions[k - 1] - target) <= abs(positions[k] - target):
            k -= 1
        chosen.append(k)
    at: dict[int, list[tuple[int, int, str]]] = {}  # by entry: (start, end, break's source)
    for j, k in zip(keep, chosen):
        raw = markup[ordered[j][0]].open
        if k < 0:  # no space at all: the break goes after the English
            at.setdefault(len(out) - 1, []).append((len(out[-1][1]), len(out[-1][1]), raw))
            continue
        _, entry, a, b = spaces[k]
        at.setdefault(entry, []).append((a, b, raw))
    result: list[_Entry] = []
    for k, (kind, piece, value) in enumerate(out):
        pos = 0
        for a, b, raw in at.get(k, []):
            if a > pos:
                result.append((kind, piece[pos:a], value))
            result.append(("break", raw, -1))
            pos = max(pos, b)
        if pos < len(piece) or not at.get(k):
            result.append((kind, piece[pos:], value))
    return result


def _label_close(link: Inline, label: tuple[str, str], inner: str) -> str:
    """A collapsed or shortcut reference link's closing, made a full reference when its
    English text no longer matches the label."""
    name, tail = label
    before = link.close[: -len(tail)]  # voids that ended its text
    if normalizeReference(link.open[1:] + inner + before) == normalizeReference(name):
        return link.close
    return f"{before}][{name}]"


class _Entries(list):
    """Entries, with how many characters their pieces hold together (a block of
    thousands of lines asks at every line break)."""

    chars = 0

    def insert(self, at: int, entry: _Entry) -> None:  # type: ignore[override]
        super().insert(at, entry)
        self.chars += len(entry[1])

    def __setitem__(self, at: int, entry: _Entry) -> None:  # type: ignore[override]
        self.chars += len(entry[1]) - len(self[at][1])
        super().__setitem__(at, entry)

    def __delitem__(self, at: int) -> None:  # type: ignore[override]
        self.chars -= len(self[at][1])
        super().__delitem__(at)


def _insert(out: list[_Entry], at: int, entry: _Entry, opened: dict[int, int]) -> None:
    out.insert(at, entry)
    for i, position in opened.items():
        opened[i] = position + (position > at)


def _trailing_punctuation(text: str, position: int) -> str:
    """The punctuation that ends the French word markup at `position` is glued to
    ("**gras**,", "[lien](u)."): it stays after the markup in English too."""
    end = position
    while end < len(text) and not text[end].isspace():
        end += 1
    run = text[position:end]
    glued = position > 0 and not text[position - 1].isspace()
    return run if run and glued and not any(c.isalnum() for c in run) else ""


def _leading_punctuation(text: str, position: int) -> str:
    """The punctuation that starts the French word markup at `position` is glued to ("(*voir*)")."""
    start = position
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    run = text[start:position]
    glued = position < len(text) and not text[position].isspace()
    return run if run and glued and not any(c.isalnum() for c in run) else ""


def _trail_after(out: list[_Entry], at: int, opened: dict[int, int], punctuation: str) -> tuple[str, int]:
    """Take `punctuation` off the English before out[at], to follow the markup; and
    where out[at] is now."""
    if not punctuation or not at:
        return "", at
    kind, piece, _ = out[at - 1]
    if kind == "moved" and piece.endswith(punctuation):
        if piece == punctuation:
            del out[at - 1]
            for i, position in opened.items():
                opened[i] = position - (position >= at)
            return punctuation, at - 1
        out[at - 1] = (kind, piece[: -len(punctuation)], -1)
        return punctuation, at
    if kind == "text" and piece.endswith(punctuation) and len(piece) > len(punctuation) and not piece[-len(punctuation) - 1].isspace():
        out[at - 1] = (kind, piece[: -len(punctuation)], -1)
        return punctuation, at
    return "", at


def _lead_before_opens(out: list[_Entry], piece: str, text: str, markup: Sequence[Inline], opened: dict[int, int]) -> str:
    """Move the French leading punctuation of the markup just opened, when the English
    word starts with it, in front of that markup; the rest of the word."""
    first = len(out)
    while first and out[first - 1][0] == "open":
        first -= 1
    for at in range(first, len(out)):
        lead = _leading_punctuation(text, markup[out[at][2]].start)
        if lead and piece.startswith(lead) and len(piece) > len(lead):
            _insert(out, at, ("text", lead, -1), opened)
            return piece[len(lead) :]
    return piece


def _escape_line_starts(out: Sequence[_Entry], line_start: bool) -> str:
    """The entries joined, a backslash before English that starts a line as block syntax."""
    pieces, starts, length = [], [], 0
    for kind, piece, _ in out:
        if line_start and kind in ("text", "moved"):
            starts.append(length)
        line_start = kind == "break"
        pieces.append(piece)
        length += len(piece)
    joined = "".join(pieces)
    for at in reversed(starts):
        line = LINE.match(joined, at).group()
        joined = joined[:at] + _escape_line_start(line) + joined[at + len(line) :]
    return joined


def _escape_line_start(line: str) -> str:
    m = ORDERED.match(line)
    if m:
        return f"{m.group()}\\{line[m.end() :]}"
    return "\\" + line if BLOCK_SYNTAX.match(line) else line


@lru_cache(maxsize=256)
def _respeller(respell: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(char) for char, _ in sorted(respell, key=lambda pair: -len(pair[0]))))


def _respell(text: str, respell: tuple[tuple[str, str], ...]) -> str:
    """English text with the characters the block escaped or wrote as entities written
    the block's way."""
    if not respell:
        return text
    spelling = dict(respell)
    return _respeller(respell).sub(lambda m: spelling[m.group()], text)
