"""Inline markup put back into the English (pipeline.formats.markup): a table of cases
and the law that every element comes back once, well nested, whatever the links."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.formats.markup import UNKNOWN, Inline, Sentence, place
from pipeline.protect import URL_OR_EMAIL
from pipeline.wordalign import from_pharaoh


def render(text: str, markup: list[Inline], sentences: list[Sentence]) -> tuple[str, set[int]]:
    events, unsure = place(text, markup, sentences)
    parts = {"text": lambda x: x, "open": lambda i: markup[i].open, "close": lambda i: markup[i].close, "void": lambda i: markup[i].open}
    return "".join(parts[kind](x) for kind, x in events), unsure


def one(text: str, english: str, links: str | None) -> list[Sentence]:
    return [Sentence(0, len(text), english, None if links is None else from_pharaoh(links))]


B, I, A = ("<b>", "</b>"), ("<i>", "</i>"), ("<a>", "</a>")


@pytest.mark.parametrize(
    ("text", "markup", "sentences", "expected", "unsure"),
    [
        # the tag follows the aligned word
        ("Le chat noir dort.", [Inline(3, 7, *B)], one("Le chat noir dort.", "The black cat sleeps.", "0-0 1-2 2-1 3-3"), "The black <b>cat</b> sleeps.", set()),
        # adjacent siblings reordered, still siblings
        ("le chat noir", [Inline(3, 7, *I), Inline(8, 12, *B)], one("le chat noir", "the black cat", "0-0 1-2 2-1"), "the <b>black</b> <i>cat</i>", set()),
        # nested: the inner tag stays inside the outer one
        ("le chat noir", [Inline(3, 12, *I), Inline(3, 7, *B)], one("le chat noir", "the black cat", "0-0 1-2 2-1"), "the <i>black <b>cat</b></i>", set()),
        # a link across two sentences, a line break inside the first
        (
            "Le chat noir dort. Il rêve.",
            [Inline(8, 23, '<a href="x">', "</a>"), Inline(13, 13, "<br>", "", void=True)],
            [Sentence(0, 18, "The black cat sleeps.", from_pharaoh("0-0 1-2 2-1 3-3")), Sentence(19, 27, "He dreams.", from_pharaoh("0-0 1-1"))],
            'The <a href="x">black<br> cat sleeps. He dreams.</a>',
            set(),
        ),
        # the source's text before, between and after sentences is kept
        ("  Un.\n  Deux.  ", [], [Sentence(2, 5, "One.", from_pharaoh("0-0")), Sentence(8, 13, "Two.", from_pharaoh("0-0"))], "  One.\n  Two.  ", set()),
        # no links: the tag is kept at the proportional place and the sentence reported
        ("un deux trois quatre", [Inline(8, 13, *B)], one("un deux trois quatre", "one two three four", None), "one two <b>three</b> four", {0}),
        # a tag around nothing but a space goes after the word before it
        ("un deux", [Inline(2, 3, *B)], one("un deux", "one two", "0-0 1-1"), "one<b></b> two", {0}),
        # a protected URL (void) stays after the English of the word before it
        ("voir  ici", [Inline(5, 5, "https://x.fr", "", void=True)], one("voir  ici", "see here", "0-0 1-1"), "seehttps://x.fr here", set()),
        # an empty translation keeps every tag
        ("Oui.", [Inline(0, 3, *B)], one("Oui.", "", "0-0"), "<b></b>", set()),
        # an image at a link's start stays inside it, one right after it stays outside,
        # one at its end inside: the parent decides, not the position
        ("Le site", [Inline(0, 7, *A, parent=None), Inline(0, 0, "<img>", "", True, 0)], one("Le site", "The site", "0-0 1-1"), "<a><img>The site</a>", set()),
        ("Le site", [Inline(0, 7, *A, parent=None), Inline(7, 7, "<img>", "", True, None)], one("Le site", "The site", "0-0 1-1"), "<a>The site</a><img>", set()),
        ("Le site", [Inline(0, 7, *A, parent=None), Inline(7, 7, "<img>", "", True, 0)], one("Le site", "The site", "0-0 1-1"), "<a>The site<img></a>", set()),
        # nested edges: the image goes between the two closings, in the outer element
        (
            "le chat",
            [Inline(0, 7, *B, parent=None), Inline(3, 7, *I, parent=0), Inline(7, 7, "<br>", "", True, 0)],
            one("le chat", "the cat", "0-0 1-1"),
            "<b>the <i>cat</i><br></b>",
            set(),
        ),
        # an element left around no English word still holds what it held
        ("Oui.", [Inline(0, 4, *B, parent=None), Inline(4, 4, "<br>", "", True, 0)], one("Oui.", "", "0-0"), "<b><br></b>", set()),
    ],
)
def test_place(text: str, markup: list[Inline], sentences: list[Sentence], expected: str, unsure: set[int]) -> None:
    assert render(text, markup, sentences) == (expected, unsure)


NBSP, NNBSP, SUP, X = "\u00a0", "\u202f", ("<sup>", "</sup>"), ("<x>", "", True)


@pytest.mark.parametrize(
    ("text", "markup", "english", "links", "expected"),
    [
        # the translation's own separators stay: no-break spaces in numbers and before "?"
        ("Il a 10 000 mots ?", [], f"He has 10{NBSP}000 words{NNBSP}?", "0-0 1-1 2-2 3-3 4-4 5-5", f"He has 10{NBSP}000 words{NNBSP}?"),
        ("10 000 mots", [Inline(0, 6, *B)], f"10{NBSP}000  words", "0-0 1-1 2-2", f"<b>10{NBSP}000</b>  words"),
        # where wordless markup goes between two words, ASCII whitespace runs become one space
        ("un  deux", [Inline(3, 3, "<br>", "", True)], "one  two", "0-0 1-1", "one<br> two"),
        ("un  deux", [Inline(3, 3, "<br>", "", True)], f"one{NBSP}two", "0-0 1-1", f"one<br>{NBSP}two"),
    ],
)
def test_english_keeps_its_separators(text: str, markup: list[Inline], english: str, links: str, expected: str) -> None:
    assert render(text, markup, one(text, english, links)) == (expected, set())


@pytest.mark.parametrize(
    ("text", "markup", "english", "links", "expected"),
    [
        # digits then letters in both words: the tag keeps to the letters
        ("le 1er mai", [Inline(4, 6, *SUP)], "the 1st of May", "0-0 1-1 2-3", "the 1<sup>st</sup> of May"),
        ("le 1er, ici", [Inline(4, 6, *SUP)], "the 1st, here", "0-0 1-1 2-2", "the 1<sup>st</sup>, here"),
        ("H2O pur", [Inline(1, 2, "<sub>", "</sub>")], "pure H2O", "0-1 1-0", "pure H<sub>2</sub>O"),
        ("1er", [Inline(0, 3, *B), Inline(1, 3, *SUP)], "1st", "0-0", "<b>1<sup>st</sup></b>"),
        # the English word reads otherwise, or is two words: the whole of it
        ("le 1er mai", [Inline(4, 6, *SUP)], "the first of May", "0-0 1-1 2-3", "the <sup>first</sup> of May"),
        ("1er mai", [Inline(1, 3, *SUP)], "1 st May", "0-0 0-1 1-2", "<sup>1 st</sup> May"),
        # punctuation left outside the tag in French stays outside it
        ("du gras, ici", [Inline(3, 7, *B)], "some bold, here", "0-0 1-1 2-2", "some <b>bold</b>, here"),
        ("«mot»", [Inline(1, 4, *B)], "“word”", "0-0", "“<b>word</b>”"),
        # a cut between letters and punctuation with letters beyond it: the whole word
        ("l'UE vote", [Inline(2, 4, *I)], "L'UE votes", "0-0 1-1", "<i>L'UE</i> votes"),
        ("anti-vaccins", [Inline(0, 4, *B)], "anti-vaxxers", "0-0", "<b>anti-vaxxers</b>"),
        # a void glued before punctuation stays before it; one between letters goes after the word
        ("voir.", [Inline(4, 4, *X)], "see.", "0-0", "see<x>."),
        ("voir().", [Inline(4, 4, *X)], "see().", "0-0", "see<x>()."),
        ("chat", [Inline(1, 1, *X)], "cat", "0-0", "cat<x>"),
    ],
)
def test_markup_inside_a_word(text: str, markup: list[Inline], english: str, links: str, expected: str) -> None:
    """Markup on part of a French word goes on the same part of the English word when
    both read as the same runs of digits, letters and punctuation and the cut is
    between digits and letters or before or after punctuation alone."""
    assert render(text, markup, one(text, english, links)) == (expected, set())


@st.composite
def blocks(draw: st.DrawFn) -> tuple[str, list[Inline], list[Sentence]]:
    """A block of words, nested/adjacent/void markup over it (some of it inside a word,
    between its letter and its digit, where the English word "e3" can be cut too),
    one or two sentences with random links (or none); parents left to be found from
    the spans, or each drawn among the earlier elements that hold it (or none), as a
    parser that saw where a void at an element's edge lay would give them."""
    n = draw(st.integers(1, 8))
    words = [f"w{i}" for i in range(n)]
    text = " ".join(words)
    starts = [len(" ".join(words[:i])) + (i > 0) for i in range(n)]
    ends = [s + len(w) for s, w in zip(starts, words)]
    markup = []
    for _ in range(draw(st.integers(0, 5))):
        a = draw(st.integers(0, n - 1))
        start = starts[a] + draw(st.sampled_from([0, 1]))
        if draw(st.booleans()):
            markup.append(Inline(start, start, "<br>", "", void=True))
        else:
            b = draw(st.integers(a, n - 1))
            end = ends[b] - draw(st.sampled_from([0, len(words[b]) - 1]))
            if start < end:
                markup.append(Inline(start, end, f"<t{len(markup)}>", f"</t{len(markup)}>"))
    # keep only a well-nested set, as a parser would give
    kept: list[Inline] = []
    for m in markup:
        if all(m.void or k.void or m.end <= k.start or k.end <= m.start or (k.start <= m.start and m.end <= k.end) or (m.start <= k.start and k.end <= m.end) for k in kept):
            kept.append(m)
    if draw(st.booleans()):
        kept = [
            Inline(m.start, m.end, m.open, m.close, m.void, draw(st.sampled_from([None] + [j for j, k in enumerate(kept[:i]) if not k.void and k.start <= m.start and m.end <= k.end])))
            for i, m in enumerate(kept)
        ]
    cut = draw(st.integers(1, n))
    spans = [(0, ends[cut - 1])] + ([(starts[cut], ends[-1])] if cut < n else [])
    sentences = []
    for a, b in spans:
        n_src, n_tgt = len(text[a:b].split()), draw(st.integers(0, 6))
        links = draw(st.none() | st.sets(st.tuples(st.integers(0, n_src - 1), st.integers(0, max(0, n_tgt - 1))), max_size=8))
        english = " ".join(f"e{j}" for j in range(n_tgt))
        sentences.append(Sentence(a, b, english, None if links is None else tuple(sorted(links))))
    return text, kept, sentences


@pytest.mark.slow
@given(blocks())
@settings(max_examples=300, deadline=None)
def test_every_element_comes_back_once_and_well_nested(block) -> None:
    text, markup, sentences = block
    events, _ = place(text, markup, sentences)
    stack, opened, voids = [], [], []
    for kind, i in events:
        if kind in ("open", "void") and markup[i].parent not in (None, UNKNOWN):
            assert markup[i].parent in stack, events  # inside the element it was in
        if kind == "open":
            stack.append(i)
            opened.append(i)
        elif kind == "close":
            assert stack and stack[-1] == i, events
            stack.pop()
        elif kind == "void":
            voids.append(i)
    assert not stack
    assert sorted(opened + voids) == list(range(len(markup)))
    english = "".join(x for kind, x in events if kind == "text")
    assert english.split() == [w for s in sentences for w in s.english.split()]  # every English word, in order


@pytest.mark.slow
def test_many_elements_in_one_block_place_quickly() -> None:
    """20,000 elements in a block (bold words and line breaks) are placed in seconds,
    none lost, each where its word went."""
    n = 20_000
    text = " ".join(["x"] * n)
    markup = [Inline(2 * k, 2 * k + 1, *B, parent=None) if k % 2 else Inline(2 * k, 2 * k, "<br>", "", True, None) for k in range(n)]
    sentences = [Sentence(0, len(text), text.upper(), tuple((k, k) for k in range(n)))]
    started = time.perf_counter()
    english, unsure = render(text, markup, sentences)
    assert time.perf_counter() - started < 20
    assert english == "".join(("<br>" if k % 2 == 0 else "") + (" " if k else "") + ("<b>X</b>" if k % 2 else "X") for k in range(n))
    assert not unsure


@pytest.mark.parametrize(
    ("text", "protected"),
    [
        ("voir https://exemple.fr/page ici", "https://exemple.fr/page"),
        ("voir https://exemple.fr/page.", "https://exemple.fr/page"),
        ("(https://exemple.fr/a), puis", "https://exemple.fr/a"),
        ("https://exemple.fr/a; https://b.fr/c: ok!", "https://exemple.fr/a https://b.fr/c"),
        ("[https://exemple.fr/a] et www.exemple.fr/b?", "https://exemple.fr/a www.exemple.fr/b"),
        ("https://exemple.fr/p?id=3&amp;v=2 pour plus", "https://exemple.fr/p?id=3&amp;v=2"),  # an entity in HTML source
        ("https://exemple.fr/p?id=3&v=2&amp;.", "https://exemple.fr/p?id=3&v=2&amp;"),
        ("https://exemple.fr/a& suite", "https://exemple.fr/a"),
        ("«https://exemple.fr/a» et \"http://b.fr\"", "https://exemple.fr/a http://b.fr"),
        ("<https://exemple.fr/a>", "https://exemple.fr/a"),
        ("ftp://exemple.fr/f.txt, fin", "ftp://exemple.fr/f.txt"),
        ("écrire à jean.dupont+infos@exemple.fr.", "jean.dupont+infos@exemple.fr"),
        ("le 12/05 à 14 h, www. ou https:// seuls", ""),
        ("un courriel @exemple.fr ou jean@localhost", ""),
    ],
)
def test_urls_and_email_addresses_kept_out_of_translation(text: str, protected: str) -> None:
    """One definition for every format: URLs (entities whole, no final punctuation) and
    e-mail addresses."""
    assert " ".join(m.group() for m in URL_OR_EMAIL.finditer(text)) == protected
