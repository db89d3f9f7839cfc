"""Sentence alignment: n:m links between the sentences of an article and of its
translation, in order, by dynamic programming in a corridor around anchor links."""

from __future__ import annotations

import re
import unicodedata
import zlib
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

# (source sentences, target sentences) of the links the dynamic program may use.
LINK_TYPES = ((1, 1), (1, 2), (2, 1), (1, 3), (3, 1), (1, 0), (0, 1))
_DIM = 2048  # hashed feature space; collisions add noise of about 1/sqrt(_DIM) to a cosine
_RARITY_SLOTS = 1 << 22  # hashed counters of feature occurrences, for the rarity weights
_BLOCK_CELLS = 1 << 18  # corridor cells whose link costs are computed at once (~100 bytes each)


@dataclass(frozen=True)
class Link:
    """Source sentences `src` are translated by target sentences `tgt` (0-based
    indices; one side is empty for a null link). `score` is their similarity, from 0
    (nothing in common, and every null link) to 1."""

    src: tuple[int, ...]
    tgt: tuple[int, ...]
    score: float


@dataclass(frozen=True)
class _Weights:
    """The constant parts of a link's cost, in units of the mean sentence's |x|²."""

    length: float  # times the squared Gale–Church deviation
    null: float  # per 1:0 or 0:1 link
    merge: float  # per 1:2 or 2:1 link; 1:3 and 3:1 pay it twice
    anchor: float  # least cosine of a chain pair to be kept as an anchor


# Tuned on the development sets of bench/align.py (newstest2013, multi30k), not on
# the test sets it reports.
_WITH_MT = _Weights(length=0.02, null=0.3, merge=0.4, anchor=0.3)
_WITHOUT_MT = _Weights(length=0.05, null=0.4, merge=0.4, anchor=0.2)


# Variance of a translation's length in characters, per character: Gale and Church
# measured 6.8 across languages; MT against a reference, or French against English
# news once lengths are scaled by their ratio, varies about 2.
_LENGTH_VARIANCE = 2.0
_ORDERS = (3, 4, 5)  # character n-grams compared between MT and target
_CORRIDOR = 12  # target sentences either side of the anchor path


# The most target sentences either side of it, however far apart the anchors. The
# half-width grows by a tenth of the longest gap between anchors, and reaches this
# only for gaps of 2,380 sentences or more (at most 48 on the human gold alignments
# of bench/align.py); unbounded, a document with no anchors (repeated lines, say)
# would cost memory and time in the square of its length: 12 GB for 20,000 lines.
_MAX_HALF = 250
_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+(?:[.,\u00a0\u202f ]\d{3})*(?:[.,]\d+)?")
_PUNCT = re.compile(r"[^\w\s]")
_QUOTES = str.maketrans("«»“”„‟\"", "'''''''")


def align(source: Sequence[str], target: Sequence[str], mt: Sequence[str] | None = None) -> list[Link]:
    """Align two sentence lists monotonically: every source and every target sentence
    is in exactly one link, links are in document order. `mt` (one English sentence
    per source sentence) makes the similarity far more reliable; without it, lexical
    anchors and lengths decide."""
    if mt is not None and len(mt) != len(source):
        raise ValueError(f"align: mt has {len(mt)} sentences but source has {len(source)}; give one translation per source sentence")
    n, m = len(source), len(target)
    if not n or not m:
        return [Link((i,), (), 0.0) for i in range(n)] + [Link((), (j,), 0.0) for j in range(m)]
    left = list(mt) if mt is not None else list(source)  # what is compared with the target
    weights = _WITH_MT if mt is not None else _WITHOUT_MT
    if mt is not None:
        x_tokens, y_tokens = [_WORD.findall(t.lower()) for t in left], [_WORD.findall(t.lower()) for t in target]
        x, y = _profiles(_char_ngrams(left, _ORDERS), n, _char_ngrams(target, _ORDERS), m)
    else:
        x_tokens, y_tokens = _lexical_features(left), _lexical_features(target)
        x, y = _profiles(_token_hashes(x_tokens), n, _token_hashes(y_tokens), m)
    lengths_x = np.array([len(s) for s in left], dtype=np.float64)
    lengths_y = np.array([len(s) for s in target], dtype=np.float64)
    ratio = max(lengths_y.sum(), 1.0) / max(lengths_x.sum(), 1.0)
    anchors = _anchors(x_tokens, y_tokens, x, y, weights.anchor)
    lo, hi = _corridor(anchors, n, m)
    return _dynamic_program(x, y, lengths_x * ratio, lengths_y, lo, hi, weights)


def _char_ngrams(texts: Sequence[str], orders: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(text index, hash) of every character n-gram of the lowercased texts."""
    texts = [" ".join(t.lower().split()) for t in texts]
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
    owner = np.repeat(np.arange(len(texts)), [len(t) for t in texts])
    rows, hashes = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.uint64)]
    for order in orders:
        span = len(codes) - order + 1
        if span <= 0:
            continue
        h = np.full(span, order, dtype=np.uint64)
        for k in range(order):
            h = h * np.uint64(0x100000001B3) + codes[k : k + span]
        same = owner[:span] == owner[order - 1 :]
        rows.append(owner[:span][same])
        hashes.append(h[same])
    return np.concatenate(rows), np.concatenate(hashes)


def _token_hashes(token_lists: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    rows = np.array([i for i, tokens in enumerate(token_lists) for _ in tokens], dtype=np.int64)
    hashes = [zlib.crc32(token.encode("utf-8", "surrogatepass")) for tokens in token_lists for token in tokens]
    return rows, np.array(hashes, dtype=np.uint64)


def _profiles(x_features: tuple[np.ndarray, np.ndarray], x_count: int, y_features: tuple[np.ndarray, np.ndarray], y_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of hashed feature counts, each feature weighted by the log of how rarely
    it occurs on both sides, so that what every sentence has counts for nothing. The
    hash also gives each feature a sign, so that collisions cancel out on average."""
    mixed = [_mix(x_features[1]), _mix(y_features[1])]
    occurrences = np.bincount(np.concatenate(mixed) % np.uint64(_RARITY_SLOTS), minlength=_RARITY_SLOTS)
    total = x_count + y_count
    profiles = []
    for (rows, _), h, count in zip((x_features, y_features), mixed, (x_count, y_count)):
        weight = np.log(np.maximum(total / np.maximum(occurrences[h % np.uint64(_RARITY_SLOTS)], 1), 1))
        values = np.where((h >> np.uint64(40)) & np.uint64(1), weight, -weight)
        flat = rows * _DIM + (h % np.uint64(_DIM)).astype(np.int64)
        profiles.append(np.bincount(flat, weights=values, minlength=count * _DIM).reshape(count, _DIM).astype(np.float32))
    return profiles[0], profiles[1]


def _mix(h: np.ndarray) -> np.ndarray:
    """Spread the bits of polynomial and CRC hashes, so that any slice of bits is uniform."""
    h = (h * np.uint64(0xBF58476D1CE4E5B9)) ^ (h >> np.uint64(31))
    return h ^ (h >> np.uint64(29))


def _fold(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))


def _lexical_features(texts: Sequence[str]) -> list[list[str]]:
    """Tokens that tend to survive translation from French to English."""
    features = []
    for text in texts:
        found = ["#" + re.sub(r"\D", "", number) for number in _NUMBER.findall(text)]
        for word in _WORD.findall(text):
            if word.isdigit():
                continue
            folded = _fold(word)
            found.append(folded[:4])
            if word[0].isupper():
                found.append("^" + folded)
        found += _PUNCT.findall(text.translate(_QUOTES))
        features.append(found)
    return features


def _anchors(x_tokens: list[list[str]], y_tokens: list[list[str]], x: np.ndarray, y: np.ndarray, least: float) -> list[tuple[int, int]]:
    """Sentence pairs that share a word found nowhere else in either document, kept
    if similar enough, then the longest chain of them that is monotonic on both sides."""

    def once(token_lists: list[list[str]]) -> dict[str, int]:
        sentences = Counter(token for tokens in token_lists for token in set(tokens))
        return {token: i for i, tokens in enumerate(token_lists) for token in tokens if sentences[token] == 1}

    in_x, in_y = once(x_tokens), once(y_tokens)
    pairs = sorted({(in_x[t], in_y[t]) for t in in_x.keys() & in_y.keys()}, key=lambda p: (p[0], -p[1]))
    if not pairs:
        return []
    p, q = np.array(pairs).T
    cosine = _cosine(np.einsum("ij,ij->i", x[p], y[q]), np.einsum("ij,ij->i", x[p], x[p]), np.einsum("ij,ij->i", y[q], y[q]))
    pairs = [pair for pair, c in zip(pairs, cosine) if c >= least]
    # Longest strictly increasing subsequence of targets (sources are sorted, and a
    # source's pairs come in decreasing target order so that at most one is chosen).
    tails: list[int] = []
    tail_index: list[int] = []
    previous = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        pos = bisect_left(tails, j)
        previous[k] = tail_index[pos - 1] if pos else -1
        if pos == len(tails):
            tails.append(j)
            tail_index.append(k)
        else:
            tails[pos], tail_index[pos] = j, k
    chain = []
    k = tail_index[-1] if tail_index else -1
    while k >= 0:
        chain.append(pairs[k])
        k = previous[k]
    return chain[::-1]


def _corridor(anchors: list[tuple[int, int]], n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last target index, lo[i] and hi[i], of the band of DP cells (i, j)
    searched in each row i: around the line through the anchors, widened where
    anchors are far apart (up to _MAX_HALF either side), and wide enough that
    consecutive rows always connect. Every row then reaches as far right as the widest
    row's width (up to 2 * _MAX_HALF cells) allows: a margin that finds the true path
    where it strays from the anchor line (it does on the gold alignments of
    bench/align.py), while a row widened by a jump between anchors stays alone."""
    xs = np.array([0.0] + [i + 0.5 for i, _ in anchors] + [float(n)])
    ys = np.array([0.0] + [j + 0.5 for _, j in anchors] + [float(m)])
    half = min(_CORRIDOR + int(0.1 * np.diff(xs).max()), _MAX_HALF)
    centre = np.interp(np.arange(n + 1), xs, ys)
    before = np.minimum(centre, np.concatenate([[0.0], centre[:-1]]))
    after = np.maximum(centre, np.concatenate([centre[1:], [float(m)]]))
    lo = np.clip(np.floor(before).astype(np.int64) - half, 0, m)
    hi = np.clip(np.ceil(after).astype(np.int64) + half, 0, m)
    width = min(int((hi - lo).max()) + 1, 2 * _MAX_HALF)
    return lo, np.maximum(hi, np.minimum(lo + width - 1, m))


def _blocks(lo: np.ndarray, hi: np.ndarray) -> Iterator[tuple[int, int]]:
    """Consecutive row ranges [start, stop) whose rows and spanned target sentences
    multiply to at most _BLOCK_CELLS (a single row may exceed it)."""
    start, rows = 0, len(lo)
    while start < rows:
        stop = start + 1
        while stop < rows and (stop + 1 - start) * (hi[stop] - lo[start] + 4) <= _BLOCK_CELLS:
            stop += 1
        yield start, stop
        start = stop


def _cosine(dot: np.ndarray, mass_a: np.ndarray, mass_b: np.ndarray) -> np.ndarray:
    """Cosine clipped to [0, 1] from a dot product and the two squared norms."""
    denominator = np.sqrt(mass_a * mass_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, np.clip(dot / denominator, 0.0, 1.0), 0.0)


def _span_mass(profiles: np.ndarray, longest: int) -> list[np.ndarray]:
    """mass[a][e]: squared norm of the summed profiles of the `a` sentences ending
    before e, from the dot products of sentences at most `longest` - 1 apart."""
    count = len(profiles)
    gram = [np.einsum("ij,ij->i", profiles[: count - d], profiles[d:], dtype=np.float64) for d in range(longest)]
    mass = [np.zeros(count + 1)]
    for a in range(1, longest + 1):
        ends = np.arange(a, count + 1)
        squared = np.zeros(count + 1)
        squared[a:] = sum(gram[0][ends - 1 - k] for k in range(a))
        for d in range(1, a):
            squared[a:] += 2 * sum(gram[d][ends - a + k] for k in range(a - d))
        mass.append(np.maximum(squared, 0.0))
    return mass


def _dynamic_program(
    x: np.ndarray, y: np.ndarray, length_x: np.ndarray, length_y: np.ndarray, lo: np.ndarray, hi: np.ndarray, weights: _Weights
) -> list[Link]:
    """Cheapest monotonic path from cell (0, 0) to (n, m) inside the corridor, where
    cell (i, j) means that the first i source and j target sentences are aligned;
    row i holds the cells j = lo[i] .. hi[i]. Rows are computed a block at a time,
    keeping the totals of the last 3 rows and, for every cell, the link that enters it."""
    n, m = len(x), len(y)
    mass_x, mass_y = _span_mass(x, 3), _span_mass(y, 3)
    unit = max((mass_x[1].sum() + mass_y[1].sum()) / (n + m), 1e-9)  # the mean sentence's |x|²
    cum_x, cum_y = np.concatenate([[0.0], np.cumsum(length_x)]), np.concatenate([[0.0], np.cumsum(length_y)])
    # Cost of the 0:1 links of targets 0 .. j - 1, so that a run of them along a row is a difference.
    along = np.concatenate([[0.0], np.cumsum(mass_y[1][1:] / unit + weights.null)])
    widths = hi - lo + 1
    offsets = np.concatenate([[0], np.cumsum(widths)])
    choice = np.zeros(offsets[-1], dtype=np.int8)  # cell (i, j) at offsets[i] + j - lo[i]
    nowhere = int(widths.max())  # the column of "no predecessor", whose total stays inf
    total = np.full((4, nowhere + 1), np.inf)  # the totals of row i are total[i % 4]
    right = LINK_TYPES.index((0, 1))
    vertical = [(t, a) for t, (a, _) in enumerate(LINK_TYPES) if a]
    for start, stop in _blocks(lo, hi):
        rows = np.arange(start, stop)[:, None]
        cols = lo[start:stop, None] + np.arange(int(widths[start:stop].max()))
        safe_cols = np.minimum(cols, m)
        # dots[s, t] = x[top + s] · y[first + t]: every sentence pair of a link that ends in the block.
        top, first = max(start - 3, 0), max(int(lo[start]) - 3, 0)
        dots = x[top : min(stop, n)] @ y[first : int(hi[stop - 1])].T

        def pair_dot(src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
            """x[src] · y[tgt] where both are in `dots` (as in every valid link), else anything."""
            return dots[np.clip(src - top, 0, len(dots) - 1), np.clip(tgt - first, 0, dots.shape[1] - 1)].astype(np.float64)

        costs, preds = [], []
        for a, b in LINK_TYPES:
            above = np.maximum(rows - a, 0)
            pred = cols - b - lo[above]  # column of the link's first cell in row i - a
            valid = (cols <= hi[start:stop, None]) & (rows >= a) & (cols >= b) & (pred >= 0) & (pred < widths[above])
            preds.append(np.where(valid, pred, nowhere))
            mx, my = mass_x[a][rows], mass_y[b][safe_cols]
            if a and b:
                dot = sum(pair_dot(rows - 1 - s, cols - 1 - t) for s in range(a) for t in range(b))
                span_x = cum_x[rows] - cum_x[np.maximum(rows - a, 0)]
                span_y = cum_y[safe_cols] - cum_y[np.maximum(safe_cols - b, 0)]
                deviation = (span_y - span_x) ** 2 / (_LENGTH_VARIANCE * (span_x + span_y) / 2 + 1.0)
                cost = (mx + my - 2 * dot) / unit + weights.length * deviation + weights.merge * (max(a, b) - 1)
            else:
                cost = (mx + my) / unit + weights.null
            costs.append(np.where(valid, cost, np.inf).astype(np.float32))

        for r, i in enumerate(range(start, stop)):
            best = np.full(cols.shape[1], np.inf)
            arg = np.zeros(cols.shape[1], dtype=np.int8)
            if i == 0:
                best[0] = 0.0
            for t, a in vertical:
                if i >= a:
                    candidate = total[(i - a) % 4][preds[t][r]] + costs[t][r]
                    better = candidate < best
                    best = np.where(better, candidate, best)
                    arg[better] = t
            # total[k] = min(best[k], total[k - 1] + cost of 0:1 into k), in closed form.
            along_row = along[safe_cols[r]]
            running = np.minimum.accumulate(best - along_row) + along_row
            from_left = np.concatenate([[np.inf], running[:-1] + costs[right][r][1:]])
            take_left = from_left < best
            total[i % 4, : cols.shape[1]] = np.where(take_left, from_left, best)
            choice[offsets[i] : offsets[i + 1]] = np.where(take_left, right, arg)[: widths[i]]

    spans = []
    i, j = n, m
    while i > 0 or j > 0:
        a, b = LINK_TYPES[choice[offsets[i] + j - lo[i]]]
        spans.append((range(i - a, i), range(j - b, j)))
        i, j = i - a, j - b
    return [Link(tuple(src), tuple(tgt), _link_score(x, y, src, tgt)) for src, tgt in reversed(spans)]


def _link_score(x: np.ndarray, y: np.ndarray, src: range, tgt: range) -> float:
    if not src or not tgt:
        return 0.0
    a, b = x[src.start : src.stop].sum(axis=0, dtype=np.float64), y[tgt.start : tgt.stop].sum(axis=0, dtype=np.float64)
    return round(float(_cosine(a @ b, a @ a, b @ b)), 4)
