"""Alignment quality against gold links: precision, recall and F1 of links, strict
and lax."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .sentences import Link


@dataclass(frozen=True)
class Scores:
    """Precision, recall and F1 of predicted links against gold links, as Vecalign's
    `score.py` counts them. Strict: a link counts only if exactly right. Lax: a
    predicted link counts if it shares a source and a target sentence with a gold
    link. Precision is over all predicted links, null links included; recall over
    the gold links that are not null, matched by the predicted links that are not."""

    precision_strict: float
    recall_strict: float
    f1_strict: float
    precision_lax: float
    recall_lax: float
    f1_lax: float


def _matches(gold: Sequence[Link], predicted: Sequence[Link]) -> tuple[int, int, int]:
    """(strict matches, lax matches, predicted links)."""
    gold_pairs = {(g.src, g.tgt) for g in gold if g.src or g.tgt}
    linked: dict[int, set[int]] = {}
    for src, tgt in gold_pairs:
        for i in src:
            linked.setdefault(i, set()).update(tgt)
    strict = lax = total = 0
    for src, tgt in {(p.src, p.tgt) for p in predicted if p.src or p.tgt}:
        total += 1
        if (src, tgt) in gold_pairs:
            strict += 1
            lax += 1
        elif any(j in linked.get(i, ()) for i in src for j in tgt):
            lax += 1
    return strict, lax, total


def score(gold: Sequence[Sequence[Link]], predicted: Sequence[Sequence[Link]]) -> Scores:
    """Score predicted alignments of several documents against their gold alignments
    (counts are summed over documents before dividing)."""
    if len(gold) != len(predicted):
        raise ValueError(f"score: {len(gold)} gold documents but {len(predicted)} predicted ones")
    precision_counts = np.zeros(3, dtype=np.int64)
    recall_counts = np.zeros(3, dtype=np.int64)
    for g, p in zip(gold, predicted):
        precision_counts += _matches(g, p)
        recall_counts += _matches([l for l in p if l.src and l.tgt], [l for l in g if l.src and l.tgt])

    ps, pl = (float(c) / precision_counts[2] for c in precision_counts[:2]) if precision_counts[2] else (0.0, 0.0)
    rs, rl = (float(c) / recall_counts[2] for c in recall_counts[:2]) if recall_counts[2] else (0.0, 0.0)
    return Scores(ps, rs, _f1(ps, rs), pl, rl, _f1(pl, rl))


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
