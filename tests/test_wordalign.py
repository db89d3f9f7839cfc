"""Word alignment without a model: tokens to words, attention to links, links of
pieces joined, spans carried across, omissions found, AER."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.wordalign import (
    aer,
    attention_links,
    from_pharaoh,
    join_links,
    project_spans,
    sentence_links,
    to_pharaoh,
    token_words,
    uncovered,
)

EOS = frozenset({"</s>", "<pad>"})


@pytest.mark.parametrize(
    ("tokens", "text", "words"),
    [
        (["▁Le", "▁chat", "▁dort", "."], "Le chat dort.", [0, 1, 2, 2]),
        (["▁Bonjour", "▁", "à", "▁tous", ","], "Bonjour à tous,", [0, 1, 1, 2, 2]),
        (["▁l", "'", "UE", "▁vote"], "l'UE vote", [0, 0, 0, 1]),
        # an <unk> that decodes to nothing: matched by characters instead
        (["▁The", "▁", "<unk>", "▁cat"], "The cat", [0, None, None, 1]),
        # normalisation: a ligature in the text, spelled out by the tokenizer
        (["▁La", "▁fin", "▁est", "▁là"], "La ﬁn est là", [0, 1, 2, 3]),
        # the tokenizer splits a word the text keeps whole
        (["▁porte", "▁-", "▁avions"], "porte-avions", [0, 0, 0]),
        ([], "", []),
    ],
)
def test_token_words(tokens: list[str], text: str, words: list[int | None]) -> None:
    assert token_words(tokens, text) == words


def test_attention_links_takes_each_output_token_to_its_strongest_source_word() -> None:
    source = ["▁Le", "▁chat", "▁noir", ".", "</s>"]
    target = ["▁The", "▁black", "▁cat", ".", "</s>"]
    attention = [
        [0.9, 0.0, 0.0, 0.0, 0.1],
        [0.0, 0.1, 0.8, 0.0, 0.1],
        [0.0, 0.7, 0.1, 0.1, 0.1],
        [0.0, 0.0, 0.0, 0.3, 0.7],  # the full stop, mostly on </s>: still the full stop
        [0.1, 0.0, 0.0, 0.0, 0.9],
    ]
    links = sentence_links(attention, source, "Le chat noir.", target, "The black cat.", EOS)
    assert to_pharaoh(links) == "0-0 1-2 2-1 2-2"


@pytest.mark.parametrize(
    ("row", "target_token", "sinks", "expected"),
    [
        ([0.2, 0.5, 0.3], "▁dog", True, {(0, 0)}),  # a word skips the punctuation sink
        ([0.2, 0.5, 0.3], "▁dog", False, {(1, 0)}),  # without sinks, the strongest word or mark
        ([0.6, 0.3, 0.1], ",", True, {(1, 0)}),  # punctuation goes to punctuation
        ([0.0, 0.0, 1.0], "▁dog", True, {(0, 0)}),  # </s> takes no part
    ],
)
def test_punctuation_and_end_of_sentence_are_sinks(row: list[float], target_token: str, sinks: bool, expected: set) -> None:
    source = ["▁chien", ",", "</s>"]
    got = attention_links([row], source, [0, 1, None], [target_token], [0], sinks=sinks)
    assert set(got) == expected


def test_punctuation_with_no_punctuation_in_the_source_stays_unlinked() -> None:
    assert attention_links([[0.5, 0.5]], ["▁oui", "</s>"], [0, None], ["!"], [0]) == ()
    # ... while a word whose source is all punctuation links to it
    assert attention_links([[0.9, 0.1]], ["«", "</s>"], [0, None], ["▁quote"], [0]) == ((0, 0),)


def test_a_bare_word_start_is_what_follows_it() -> None:
    """Sentencepiece spells " ," as "▁" then ",": both are punctuation, so the comma
    word links to the source's comma, whereas "▁" "à" is a word."""
    source = ["▁oui", "▁", ",", "▁", "à", "</s>"]
    words = [0, 1, 1, 2, 2, None]
    assert attention_links([[0.5, 0.0, 0.1, 0.4, 0.0, 0.0]], source, words, ["▁", ","], [0, 0][:1] * 2) == ((1, 0),)
    assert attention_links([[0.1, 0.5, 0.1, 0.3, 0.0, 0.0]], source, words, ["▁to"], [0]) == ((2, 0),)


def test_rows_and_columns_of_padding_are_ignored() -> None:
    attention = [[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.3, 0.3, 0.4]]
    assert attention_links(attention, ["▁a", "▁b"], [0, 1], ["▁x", "▁y"], [0, 1]) == ((0, 1), (1, 0))


@pytest.mark.parametrize("text", ["", "0-0", "0-0 1-2 2-1", "3-3 0-0"])
def test_pharaoh_round_trip(text: str) -> None:
    assert to_pharaoh(from_pharaoh(text)) == " ".join(sorted(text.split(), key=lambda p: tuple(map(int, p.split("-")))))


@pytest.mark.parametrize("text", ["0-", "a-b", "0:1", "1-2-3", "-1-2"])
def test_pharaoh_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError):
        from_pharaoh(text)


@st.composite
def cut_sentences(draw: st.DrawFn) -> tuple[str, list[int], list[tuple[int, int]]]:
    """A source sentence cut anywhere into pieces (even inside a word), the target word
    count of each piece's translation, and true links of the whole: each target word
    links to source words that touch its piece."""
    words = draw(st.lists(st.text("abc", min_size=1, max_size=4), min_size=1, max_size=8))
    text = " ".join(words)
    cuts = sorted(draw(st.sets(st.integers(1, len(text) - 1), max_size=4))) if len(text) > 1 else []
    return text, cuts, draw(st.lists(st.integers(0, 3), min_size=len(cuts) + 1, max_size=len(cuts) + 1))


@pytest.mark.slow
@given(cut_sentences(), st.randoms(use_true_random=False))
@settings(max_examples=200, deadline=None)
def test_join_links_puts_each_piece_link_where_it_is_in_the_whole(case, rnd) -> None:
    text, cuts, target_counts = case
    bounds = [0, *cuts, len(text)]
    starts = [i for i, c in enumerate(text) if not c.isspace() and (i == 0 or text[i - 1].isspace())]
    word_at = {}
    for w, start in enumerate(starts):
        end = start
        while end < len(text) and not text[end].isspace():
            word_at[end] = w
            end += 1
    parts, expected, target_offset = [], set(), 0
    for k in range(len(bounds) - 1):
        piece = text[bounds[k] : bounds[k + 1]]
        whole = sorted({word_at[i] for i in range(bounds[k], bounds[k + 1]) if i in word_at})
        n_target = target_counts[k]
        local = set()
        for t in range(n_target):
            if whole:
                s = rnd.randrange(len(whole))
                local.add((s, t))
                expected.add((whole[s], t + target_offset))
        assert len(piece.split()) == len(whole)
        parts.append((piece, " ".join(["w"] * n_target), tuple(sorted(local))))
        target_offset += n_target
    assert set(join_links(parts)) == expected


def test_join_links_of_sentences_joined_with_a_space_and_unknown_parts() -> None:
    parts = [("Il pleut.", "It rains.", ((0, 0), (1, 1))), ("Oui.", "Yes.", ((0, 0),))]
    assert join_links(parts, sep=" ") == ((0, 0), (1, 1), (2, 2))
    assert join_links([*parts, ("Non.", "No.", None)], sep=" ") is None


@pytest.mark.parametrize(
    ("source", "links", "expected"),
    [
        ("Le chat noir dort .", "0-0 1-1 3-2 4-3", [2]),  # "noir" left out
        ("Le chat noir dort .", "1-1 2-1 3-2", []),  # "Le" and "." are not content
        ("Il a 3 chats", "0-0 3-1", []),  # numbers are not content words here
        ("l'Europe et la France", "3-2", [0]),  # an elided article does not hide "Europe"
        ("", "", []),
    ],
)
def test_uncovered_content_words(source: str, links: str, expected: list[int]) -> None:
    assert uncovered(source, from_pharaoh(links)) == expected


@pytest.mark.parametrize(
    ("spans", "links", "n_target", "expected"),
    [
        ([(1, 2)], "0-0 1-2 2-1", 3, [(2, 3)]),
        ([(1, 3)], "0-0 1-2 2-1", 3, [(1, 3)]),  # a phrase stays contiguous
        ([(1, 2)], "0-0 1-1 1-3 2-2", 4, [(1, 4)]),  # words between are taken in
        ([(1, 2)], "0-0 2-1", 2, [(0, 1)]),  # unlinked: the preceding neighbour on a tie
        ([(0, 1)], "2-1 3-0", 2, [(1, 2)]),  # unlinked: the nearest neighbour
        ([(0, 2)], "", 3, [(0, 3)]),  # no links at all: the whole translation
        ([(0, 1)], "0-5", 3, [(0, 3)]),  # links past the translation are dropped
        ([(0, 1), (0, 1), (1, 2)], "0-0 1-1", 2, [(0, 1), (0, 1), (1, 2)]),  # one out per span in
    ],
)
def test_project_spans(spans: list[tuple[int, int]], links: str, n_target: int, expected: list[tuple[int, int]]) -> None:
    assert project_spans(spans, from_pharaoh(links), n_target) == expected


@given(
    st.integers(1, 12).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(1, 4)), max_size=6),
            st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, 9))),
            st.integers(0, 10),
        )
    )
)
def test_project_spans_never_loses_a_span(case) -> None:
    n_source, raw, links, n_target = case
    spans = [(start, min(n_source, start + length)) for start, length in raw]
    out = project_spans(spans, tuple(sorted(links)), n_target)
    assert len(out) == len(spans)
    assert all(0 <= a <= b <= n_target for a, b in out)
    assert n_target == 0 or all(a < b for a, b in out)  # a translation with words gives every span some


@given(st.integers(1, 10))
def test_project_spans_with_the_identity_keeps_spans_in_place(n: int) -> None:
    identity = tuple((i, i) for i in range(n))
    spans = [(i, j) for i in range(n) for j in range(i + 1, n + 1)]
    assert project_spans(spans, identity, n) == spans


@pytest.mark.parametrize(
    ("predicted", "sure", "possible", "expected"),
    [
        ({(0, 0), (1, 1)}, {(0, 0), (1, 1)}, set(), 0.0),
        (set(), {(0, 0)}, set(), 1.0),
        ({(0, 0), (1, 2)}, {(0, 0)}, {(1, 2)}, 0.0),  # a possible link costs nothing
        ({(0, 1)}, {(0, 0)}, set(), 1.0),
        ({(0, 0), (0, 1)}, {(0, 0)}, set(), 1 - 2 / 3),
        (set(), set(), set(), 0.0),
    ],
)
def test_aer(predicted: set, sure: set, possible: set, expected: float) -> None:
    assert aer(predicted, sure, possible) == pytest.approx(expected)


# --- through a run: every record has its links, the same when rebuilt from memory --------


@pytest.mark.slow
def test_seed_run_links_every_sentence_and_memory_gives_the_same_bytes(tmp_path) -> None:
    import json
    import shutil

    from conftest import SEED, TINY_MODEL

    from pipeline.cli import main

    src, out, cache = tmp_path / "in", tmp_path / "out", tmp_path / "tm.sqlite3"
    src.mkdir()
    shutil.copy(SEED, src / "seed.txt")
    args = ["run", str(src), "-o", str(out), "--model", str(TINY_MODEL), "--cache", str(cache), "--quiet"]
    assert main(args) == 0
    first = (out / "seed.align.jsonl").read_bytes()
    records = [json.loads(line) for line in first.decode().splitlines()]
    assert len(records) > 20
    for r in records:
        links = from_pharaoh(r["words"])
        assert all(s < len(r["src"].split()) and t < len(r["mt"].split()) for s, t in links), r
    assert sum(bool(r["words"]) for r in records) >= 0.9 * len(records)
    shutil.rmtree(out)
    assert main(args) == 0
    assert (out / "seed.align.jsonl").read_bytes() == first
    summary = json.loads((out / "summary.json").read_text())
    assert summary["articles"][0]["from_memory"] == len(records)
