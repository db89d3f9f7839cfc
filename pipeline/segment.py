"""Segment: Document → sentences with stable ids and character offsets.

Each line is split on its own (a line break is always a boundary), with the Moses
French non-breaking prefixes of `sentence-splitter` plus a few rules it lacks.
Offsets are recovered from the line itself, so the segments of a line always cover
all of its text: nothing can be dropped or rewritten here.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from .ingest import Document
from .prose import is_prose

# Non-breaking spaces look like word characters to the splitter; same length swap.
_NBSP = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2007": " "})
# Boundaries the Moses rules miss: an ellipsis, or an abbreviation-like "etc.",
# followed by a capitalised word.
_EXTRA_BOUNDARY = re.compile(r"(?:…|\.\.\.|\betc\.)[»”\"’)]*(?=\s+[«“\"]?[A-ZÀ-ÖØ-Þ])")
# A headline or quote without final punctuation, run into the next sentence: French
# capitalises determiners, pronouns, conjunctions, months and days only at the start
# of a sentence, so "… à Bogota Le sportif a …" is a boundary unless the next word
# is capitalised too (names such as "Le Monde", "La Haye", "Marine Le Pen").
_SENTENCE_OPENERS = (
    "Le La Les Un Une Des Du Au Aux Ce Cet Cette Ces Il Ils Elle Elles On Nous Vous Je Mais Et Or Donc "
    "Pourtant Cependant Ainsi En Dans Pour Par Sur Selon Après Avant Depuis Lors Alors Quand Si Comme Pas "
    "Plus Mon Ma Mes Son Sa Ses Leur Leurs Notre Nos Votre Vos Tout Tous Toute Toutes Certains Plusieurs "
    "Chaque Aucun Aucune Lundi Mardi Mercredi Jeudi Vendredi Samedi Dimanche Janvier Février Mars Avril Mai "
    "Juin Juillet Août Septembre Octobre Novembre Décembre"
).split()
_RUN_ON_BOUNDARY = re.compile(
    r"(?<=[\w.»\"”)’'])\s+(?=(?:(?:%s)\s+|(?:L|J|C|D|Qu)['’]\w+\s+)[a-zà-ÿ])" % "|".join(_SENTENCE_OPENERS)
)
# Lines longer than this are split window by window (see sentence_spans).
_WINDOW = 20_000
# Where a too-long sentence may be cut, best first: after clause punctuation, then spaces.
_CLAUSE_END = re.compile(r"[,;:)\]»”—–](?=\s)|\s[—–](?=\s)")


@dataclass(frozen=True)
class Segment:
    """One sentence: `id` is p<line>.s<n> (both 1-based); offsets index the line's text."""

    id: str
    line: int
    index: int
    start: int
    end: int
    text: str


@lru_cache(maxsize=1)
def _splitter():
    from sentence_splitter import SentenceSplitter

    return SentenceSplitter(language="fr")


def _extra_splits(sentence: str) -> list[str]:
    cuts = sorted({m.end() for rule in (_EXTRA_BOUNDARY, _RUN_ON_BOUNDARY) for m in rule.finditer(sentence)})
    return [sentence[a:b] for a, b in zip([0, *cuts], [*cuts, len(sentence)])]


def _spans(text: str) -> list[tuple[int, int]]:
    sentences = [piece for s in _splitter().split(text.translate(_NBSP)) for piece in _extra_splits(s)]
    spans: list[tuple[int, int]] = []
    pos, n = 0, len(text)
    for sentence in sentences:
        need = sum(not c.isspace() for c in sentence)
        while pos < n and text[pos].isspace():
            pos += 1
        if need == 0 or pos >= n:
            continue
        start = pos
        while pos < n and need:
            need -= not text[pos].isspace()
            pos += 1
        spans.append((start, pos))
    if text[pos:].strip():  # the splitter dropped something: keep it with the last sentence
        last_start = spans[-1][0] if spans else len(text) - len(text.lstrip())
        spans[-1:] = [(last_start, len(text.rstrip()))]
    return spans


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split one line into sentence spans (start, end) that cover all its non-space text.

    The splitter slows down more than linearly on long input, so a huge line is read
    in windows: each window's last sentence, maybe cut short, starts the next window.
    A single "sentence" longer than a window is cut at its last space (it is far too
    long for the model anyway and would be split for translation).
    """
    if not text.strip():
        return []
    spans: list[tuple[int, int]] = []
    pos = 0
    while pos < len(text):
        end = min(len(text), pos + _WINDOW)
        local = [(pos + a, pos + b) for a, b in _spans(text[pos:end])]
        if end == len(text):
            return spans + local
        if len(local) > 1:
            spans += local[:-1]
            pos = local[-1][0]
            continue
        space = text.rfind(" ", pos + 1, end)
        cut = space if space > (local[0][0] if local else pos) else end
        spans += [(a, min(b, cut)) for a, b in local if a < cut]
        pos = cut
    return spans


def segment(doc: Document) -> list[Segment]:
    """Split every line of a document into sentences, in document order. A line that
    is not prose (numbers, dates, codes, URLs: see `prose.is_prose`) has none: it is
    copied as it is, never sent to the model."""
    segments = []
    for line in doc.lines:
        if not is_prose(line.text):
            continue
        for index, (start, end) in enumerate(sentence_spans(line.text), start=1):
            segments.append(Segment(f"p{line.number}.s{index}", line.number, index, start, end, line.text[start:end]))
    return segments


def split_to_fit(text: str, count_tokens: Callable[[str], int], limit: int) -> list[str]:
    """Cut a sentence into consecutive pieces of at most `limit` tokens each.

    Cuts go after clause punctuation where possible, else between words, else (a
    single huge "word") between characters. The pieces concatenate back to `text`
    exactly (whitespace stays with the piece it touches). A single character that
    alone exceeds the limit is returned as it is.
    """
    if len(text) <= 1 or count_tokens(text) <= limit:
        return [text]
    for boundary in (_CLAUSE_END, re.compile(r"\s+")):
        cuts = sorted({m.end() for m in boundary.finditer(text)} - {0, len(text)})
        if cuts:
            break
    else:
        cuts = list(range(1, len(text)))
    pieces, start = [], 0
    bounds = [*cuts, len(text)]
    while start < len(text):
        # The longest prefix of the remaining text (ending at a cut) that fits.
        first = lo = bisect_right(bounds, start)
        hi = len(bounds) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count_tokens(text[start : bounds[mid]]) <= limit:
                lo = mid
            else:
                hi = mid - 1
        end = bounds[lo]
        piece = text[start:end]
        if lo == first and count_tokens(piece) > limit:
            pieces.extend(split_to_fit(piece, count_tokens, limit))
        else:
            pieces.append(piece)
        start = end
    return pieces


def halve(text: str) -> list[str]:
    """Cut text in two at the space nearest its middle ([text] if it has no inner space)."""
    middle = len(text) / 2
    cuts = [m.end() for m in re.finditer(r"\s+", text) if 0 < m.start() and m.end() < len(text)]
    if not cuts:
        return [text]
    cut = min(cuts, key=lambda c: abs(c - middle))
    return [text[:cut], text[cut:]]
