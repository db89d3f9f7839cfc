"""Align: source sentences ↔ the sentences of a human translation, n:m and in order.

Translators merge, split, drop and add sentences, so a French article and its human
English translation rarely match one to one. `align` finds the links (1:1, 1:2, 2:1,
1:3, 3:1, 1:0, 0:1) by dynamic programming over the cost of each candidate link.

Sentences are compared as hashed feature profiles, each feature weighted by its
rarity in the two documents. With a machine translation of the source (Bleualign's
idea) the features are the character n-grams of the MT and of the target, English
against English. Without one they are lexical anchors that survive translation:
numbers, word prefixes (cognates and names: "président" and "president" share
"pres"), capitalised words and punctuation.

A link costs what its two sides do not share, |x - y|² (a null link: its whole
profile), plus a Gale–Church length prior and a constant per merge or null link.
Long sentences are thus placed by their content, and short ones, whose profiles say
little, by the constants: 1:1 when in doubt.

Cost stays near linear: a word that occurs once in each document pairs up two
sentences that are almost surely linked; the longest monotonic chain of such pairs
draws a corridor, and the dynamic program runs only inside it. The corridor widens
with the gaps between anchors, but by at most _MAX_HALF sentences either side, so
that memory and time stay linear in the length of the documents, even when nothing
anchors them (repeated lines, unrelated texts). The profile of merged sentences is
the sum of theirs, so every n:m cost comes from dot products of single sentences
within the corridor. Link costs are computed a block of rows at a time; only one
byte per corridor cell, the link chosen, is kept for the whole document.

Rooms: `sentences` (the aligner), `records` (its outputs, a run's records read back),
`gold` (scores against gold links), `reference` (a reference paired with a run's units).
"""

from .gold import Scores, score
from .records import (
    is_run_records,
    link_records,
    run_records,
    run_translations,
    vecalign_text,
)
from .reference import Unit, pair_reference
from .sentences import LINK_TYPES, Link, align

__all__ = ["LINK_TYPES", "Link", "Scores", "Unit", "align", "is_run_records", "link_records", "pair_reference", "run_records", "run_translations", "score", "vecalign_text"]
