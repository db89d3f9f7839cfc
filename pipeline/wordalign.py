"""Word alignment: which English words came from which French words.

OPUS-MT models were trained by Marian with guided alignment, which teaches one
cross-attention head (head 0 of the last decoder layer) to point each output token at
the source token it translates; Marian's `--alignment` reads that head. The backends
hand over that head's attention (one row per output token, one column per source
token); this module turns it into hard links between whitespace-separated words
(0-based, source first, Pharaoh format "0-0 1-2"), and carries spans of source words
onto the translation (`project_spans`), as Bergamot moves HTML tags.

Everything here is pure: no model, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import Any

Links = tuple[tuple[int, int], ...]  # (source word, target word), sorted

# Where sentencepiece starts a new word.
_WORD_START = "▁"
# A token made of punctuation only (or nothing but a word start): an attention sink
# for content words.
_PUNCT = re.compile(r"[\W_]*")
# French words that carry no content of their own: an unlinked one is no omission.
STOP_WORDS = frozenset(
    """
    a à afin ai aie aient ait alors as au aucun aucune aujourd auprès aussi autre autres aux avaient avais avait avant avec avez
    avoir avons ayant c ça car ce ceci cela celle celles celui cependant certes ces cet cette ceux chacun chaque chez ci comme
    comment d dans de des donc dont du elle elles en encore entre es est et étaient étais était été être eu eux fait faire
    furent fut grâce hors il ils j je jusqu jusque l la là laquelle le lequel les lesquelles lesquels leur leurs lors lorsque
    lui m ma mais me même mêmes mes moi mon n ne ni nos notre nous on ont or ou où par parce parmi pas pendant peu plus
    plutôt pour pourquoi puis qu quand que quel quelle quelles quels qui quoi s sa sans se selon ses si soi soit son sont
    sous sur t ta tandis te tes toi ton tous tout toute toutes très tu un une unes uns vers via vos votre vous y
    """.split()
)


def token_words(tokens: Sequence[str], text: str) -> list[int | None]:
    """The word of `text` (index in text.split()) that each sentencepiece token spells
    part of, None for a token that spells none of it.

    A token starting with "▁" starts a word. When that does not give text's words (the
    tokenizer's normalisation joined or split words differently, an <unk> that decodes
    to nothing), the tokens' characters are matched to text's instead.
    """
    words = text.split()
    index, out = -1, []
    for token in tokens:
        if token.startswith(_WORD_START):
            index += 1
        out.append(index if index >= 0 else None)
    if index + 1 == len(words) and all(i is not None for i in out):
        return out
    return _matched_words(tokens, text)


def _matched_words(tokens: Sequence[str], text: str) -> list[int | None]:
    """token_words by matching characters: a token belongs to the word of its first
    character that matches one of text's (NFKC-folded on both sides)."""
    spelled, owner = [], []
    for k, token in enumerate(tokens):
        for ch in unicodedata.normalize("NFKC", token.replace(_WORD_START, " ")).casefold():
            spelled.append(ch)
            owner.append(k)
    folded, word_of = [], []
    word = -1
    for ch in text:
        if not ch.isspace() and (not word_of or word_of[-1] is None):
            word += 1
        for c in unicodedata.normalize("NFKC", ch).casefold():
            folded.append(c)
            word_of.append(None if ch.isspace() else word)
    out: list[int | None] = [None] * len(tokens)
    matcher = SequenceMatcher(None, spelled, folded, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            token, w = owner[a + k], word_of[b + k]
            if out[token] is None and w is not None:
                out[token] = w
    return out


def _punctuation(tokens: Sequence[str]) -> list[bool]:
    """Which tokens are punctuation only. A bare "▁" (sentencepiece's space before a
    token of its own: " ,", " à") is what the token after it is."""
    out = [bool(_PUNCT.fullmatch(t.replace(_WORD_START, ""))) for t in tokens]
    for k in range(len(tokens) - 2, -1, -1):
        if tokens[k] == _WORD_START and not tokens[k + 1].startswith(_WORD_START):
            out[k] = out[k + 1]
    return out


def attention_links(
    attention: Any,
    source_tokens: Sequence[str],
    source_words: Sequence[int | None],
    target_tokens: Sequence[str],
    target_words: Sequence[int | None],
    sinks: bool = True,
) -> Links:
    """Hard word links from one attention head: each output token links to the source
    token it attends to most (Marian's hard alignment), and a word pair is linked when
    any of their tokens are.

    `attention[t][s]` is output token t's attention on source token s (an array or
    nested lists; rows and columns past the tokens given are padding); tokens whose
    word is None (end of sentence, padding) take no part. With `sinks`, punctuation
    tokens, where attention pools when a token has nowhere better to go, are only
    linked to each other: an output word links among the source's words (any of its
    tokens if it has only punctuation), a punctuation mark among its punctuation
    (nowhere if it has none).
    """
    import numpy as np

    n_target, n_source = len(target_tokens), len(source_tokens)
    weights = np.asarray(attention, dtype=np.float64)[:n_target, :n_source]
    if weights.size == 0:
        return ()
    allowed = np.array([w is not None for w in source_words[:n_source]])[None, :].repeat(weights.shape[0], 0)
    if sinks:
        source_punct = np.array(_punctuation(source_tokens))
        target_punct = np.array(_punctuation(target_tokens))[: weights.shape[0]]
        same = allowed & (source_punct[None, :] == target_punct[:, None])
        # an output word whose source has no word tokens keeps every column
        allowed = np.where((same.any(1) | target_punct)[:, None], same, allowed)
    best = np.where(allowed, weights, -np.inf).argmax(1)
    links = {
        (source_words[best[t]], target_words[t])
        for t in range(weights.shape[0])
        if target_words[t] is not None and allowed[t].any()
    }
    return tuple(sorted(links))


def sentence_links(
    attention: Any,
    source_tokens: Sequence[str],
    source: str,
    target_tokens: Sequence[str],
    target: str,
    specials: frozenset[str],
) -> Links:
    """Word links of one translated sentence from its attention head (rows: output
    tokens, columns: source tokens), the tokens as the tokenizer spells them;
    `specials` (end of sentence, padding) belong to no word."""
    return attention_links(
        attention, source_tokens, _words(source_tokens, source, specials), target_tokens, _words(target_tokens, target, specials)
    )


def _words(tokens: Sequence[str], text: str, specials: frozenset[str]) -> list[int | None]:
    """token_words, special tokens left out."""
    kept = [k for k, token in enumerate(tokens) if token not in specials]
    out: list[int | None] = [None] * len(tokens)
    for k, word in zip(kept, token_words([tokens[k] for k in kept], text)):
        out[k] = word
    return out


def to_pharaoh(links: Links) -> str:
    """Links as Pharaoh text: "0-0 1-2 2-1" (source-target)."""
    return " ".join(f"{s}-{t}" for s, t in links)


def from_pharaoh(text: str) -> Links:
    """Links from Pharaoh text (ValueError on anything else)."""
    pairs = []
    for item in text.split():
        s, sep, t = item.partition("-")
        if not sep or not s.isdigit() or not t.isdigit():
            raise ValueError(f"{item!r} is not a source-target word link")
        pairs.append((int(s), int(t)))
    return tuple(sorted(set(pairs)))


def join_links(parts: Sequence[tuple[str, str, Links | None]], sep: str = "") -> Links | None:
    """The links of (source, target, links) parts once joined: sources joined with
    `sep` (a word cut between two parts is one word), targets with a space (empty
    ones left out), as a long sentence's pieces or a unit's sentences are joined.
    None when any part's links are unknown."""
    if any(links is None for _, _, links in parts):
        return None
    out, prefix, target_offset = [], "", 0
    for k, (source, target, links) in enumerate(parts):
        prefix += sep if k else ""
        offset = len(prefix.split())
        if prefix and source and not prefix[-1].isspace() and not source[0].isspace():
            offset -= 1
        out += [(s + offset, t + target_offset) for s, t in links]
        prefix += source
        target_offset += len(target.split())
    return tuple(sorted(set(out)))


def word_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Character spans of the whitespace-separated words of text (the words links
    index), shifted by `offset`."""
    return [(offset + m.start(), offset + m.end()) for m in re.finditer(r"\S+", text)]


def words_within(spans: Sequence[tuple[int, int]], start: int, end: int) -> list[int]:
    """The indices of the words (`word_spans`) that [start, end) overlaps."""
    return [i for i, (a, b) in enumerate(spans) if a < end and start < b]


def uncovered(source: str, links: Links) -> list[int]:
    """Content words of the source (not punctuation, not stop words) that no link
    reaches: words the translation may have left out."""
    linked = {s for s, _ in links}
    out = []
    for i, word in enumerate(source.split()):
        parts = [p for p in re.split(r"[\W_]+", word.casefold()) if p]
        if i not in linked and any(p not in STOP_WORDS and not p.isdigit() for p in parts):
            out.append(i)
    return out


def project_spans(src_spans: Sequence[tuple[int, int]], links: Links, n_target: int) -> list[tuple[int, int]]:
    """Carry spans of source words ([start, end), word indices) onto the translation:
    one target span per source span, in order, never dropped.

    A span covers the target words linked to any of its words, from the first to the
    last, so that a tagged phrase stays contiguous. A span none of whose words is
    linked takes the place of its nearest linked neighbour (the preceding one on a
    tie); with no links at all, the whole translation. Target spans are clipped to
    [0, n_target].
    """
    targets: dict[int, list[int]] = {}
    for s, t in links:
        if 0 <= t < n_target:
            targets.setdefault(s, []).append(t)
    out = []
    for start, end in src_spans:
        hit = [t for s in range(start, end) for t in targets.get(s, [])]
        if not hit and targets:
            nearest = min(targets, key=lambda s: (start - s if s < start else s - end + 1, s >= start))
            hit = targets[nearest]
        out.append((min(hit), max(hit) + 1) if hit else (0, n_target))
    return out


def aer(predicted: set[tuple[int, int]], sure: set[tuple[int, int]], possible: set[tuple[int, int]]) -> float:
    """Alignment error rate (Och & Ney 2003): 1 − (|A∩S| + |A∩P|) / (|A| + |S|), with
    every sure link counted as possible too."""
    possible = possible | sure
    if not predicted and not sure:
        return 0.0
    return 1 - (len(predicted & sure) + len(predicted & possible)) / (len(predicted) + len(sure))
