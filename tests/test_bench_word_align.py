"""bench/word_align.py without a model: the gold's reading, the scores, span projection."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from conftest import shared_file

ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location("bench_word_align", ROOT / "bench" / "word_align.py")
bench = sys.modules.setdefault("bench_word_align", importlib.util.module_from_spec(_SPEC))
_SPEC.loader.exec_module(bench)  # registered first: its dataclasses look their module up


@pytest.fixture(scope="module")
def pairs():
    shared_file(bench.HANSARDS)  # skipped without ../shared; a failure under CI
    return bench.load_hansards()


def test_gold_is_read_french_first_and_zero_based(pairs):
    assert len(pairs) == 447
    assert sum(len(p.sure) for p in pairs) == 4038
    assert sum(len(p.possible) for p in pairs) == 4038 + 13400
    # "let us remember , ... ||| souvenons - nous , ...": gold 3-1 is English "remember"
    # with French "souvenons"; 1p1 "let" with "souvenons", possible only.
    sixth = pairs[5]
    assert sixth.english.split()[2] == "remember" and sixth.french.split()[0] == "souvenons"
    assert (0, 2) in sixth.sure and (0, 0) in sixth.possible and (0, 0) not in sixth.sure
    assert all(p.sure <= p.possible for p in pairs)


def test_gold_links_score_perfectly_and_shifted_ones_do_not(pairs):
    gold = [tuple(sorted(p.sure)) for p in pairs]
    score = bench.corpus_score(gold, pairs)
    assert score.aer == 0 and score.precision == 1 and score.recall == 1
    assert bench.corpus_score(bench.shifted(gold, pairs, 1), pairs).aer > 0.5


class _Backend:
    """Links each source word to the same target word; records batch sizes."""

    def __init__(self):
        self.batches = []

    def align(self, sources, targets):
        self.batches.append(len(sources))
        return [tuple((i, i) for i in range(min(len(s.split()), len(t.split())))) for s, t in zip(sources, targets)]


def test_model_links_batch_by_length_and_keep_the_pairs_order(pairs):
    backend = _Backend()
    links = bench.model_links(backend, pairs, 32)
    assert backend.batches == [32] * 13 + [447 - 13 * 32]
    assert links == backend.align([p.french for p in pairs], [p.english for p in pairs])


def test_span_projection_with_sure_links_gives_the_gold_span(pairs):
    spans = bench.random_spans(pairs, 500, seed=3)
    assert spans == bench.random_spans(pairs, 500, seed=3)
    assert all(1 <= end - start <= 4 and end <= len(pairs[k].french.split()) for k, (start, end) in spans)
    sure = bench.projection_score(spans, pairs, [tuple(sorted(p.sure)) for p in pairs])
    assert sure.lost == 0 and sure.exact == sure.overlap == sure.gold > 0
    none = bench.projection_score(spans, pairs, [() for _ in pairs])  # every span: the whole sentence
    assert none.lost == 0 and none.overlap == none.gold
