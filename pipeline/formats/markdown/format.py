"""The Markdown format: read a page into blocks of plain text, write the English back
in place, every other byte kept, and check that the English parses to the same
structure."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from markdown_it.common.utils import normalizeReference

from ...ingest import Document, IngestError, Line, decode
from ...segment import Segment
from ...translate.types import Translation
from .. import frontmatter
from ..base import (
    ReadOptions,
    Written,
    block_sentences,
    fill,
    protected_line,
    register,
    unit_text,
)
from ..markup import Event, Inline, Sentence, place
from .render import render_block, spell_out
from .syntax import (
    CODE_SPAN,
    MAX_NESTING,
    Unparsed,
    masked_text,
    md_parser,
    text_blocks,
    token_signature,
)
from .walk import Block, Field, Layout, Leaf, Walk


@register
class Markdown:
    name = "markdown"
    suffixes = (".md", ".markdown")

    def read(self, data: bytes, name: str, options: ReadOptions = ReadOptions()) -> Document:
        source, encoding = decode(data)
        front = frontmatter.find(source, options.front_matter_keys, strict=False)
        env: dict = {}
        tokens = md_parser().parse(source if front is None else frontmatter.blanked(source, front.end), env)
        if any(tok.level >= MAX_NESTING - 1 for tok in tokens):
            raise IngestError(f"it nests lists, quotes or emphasis more than {MAX_NESTING} levels deep, past which mtpipe cannot read it; flatten the deepest parts")
        units: list[tuple[tuple, Line]] = []  # (sort key, unit), line
        for k, field in enumerate(front.fields if front else ()):
            units.append(((field.start, 0), Field(k, field.start), protected_line(field.text, options, source, field.text_at)))
        for entry in text_blocks(tokens, source):
            if entry[0] == "leaf":
                _, start, end, style, text = entry
                code = [m.span() for m in CODE_SPAN.finditer(text)]  # such a title is inline Markdown
                units.append(((start, 0), Leaf(start, end, style), protected_line(text, options, source, start, code)))
                continue
            _, k, src_of, cell, line_start = entry
            tok = tokens[k]
            protected = options.protect.spans(tok.content, urls=False)
            content = masked_text(tok.content, protected)
            walk = Walk(content, env, protected, tok.content)
            try:
                walk.run((md_parser().parseInline(content, env)[0].children if protected else tok.children) or [])
            except Unparsed:
                continue  # kept as it is
            for a, b, style, text, label in walk.leaves:
                units.append(((src_of[a], 1), Leaf(src_of[a], src_of[b], style, label), protected_line(text, options, source, src_of[a])))
            if walk.text.strip():
                markup, block, where = walk.block(source, src_of, cell, line_start, k)
                units.append(((block.start, 0), block, Line(0, walk.text, "", markup, where)))
        units.sort(key=lambda u: u[0])
        lines = tuple(Line(n, line.text, "", line.markup, line.origin) for n, (_, _, line) in enumerate(units, start=1))
        layout = Layout(source, tuple(unit for _, unit, _ in units), front, token_signature(tokens))
        return Document(name=name, lines=lines, encoding=encoding, sha256=hashlib.sha256(data).hexdigest(), layout=layout)

    def write(self, doc: Document, segments: Sequence[Segment], translations: Sequence[Translation]) -> Written:
        layout: Layout = doc.layout
        by_block = block_sentences(segments, translations)
        placed: dict[int, tuple[list[Event], set[int]]] = {}
        for number, (sentences, _) in by_block.items():
            line = doc.lines[number - 1]
            placed[number] = place(line.text, line.markup, sentences)
        leaves, fields = [], {}
        for number, unit in enumerate(layout.units, start=1):
            english = unit_text(placed[number][0], doc.lines[number - 1].markup) if number in placed else ""
            if not english.strip():  # no English (an empty model output): kept as it was
                continue
            if isinstance(unit, Leaf):
                leaves.append((unit.start, unit.end, _leaf_text(unit, placed[number][0], doc.lines[number - 1].markup)))
            elif isinstance(unit, Field):
                fields[unit.index] = english
        head = frontmatter.write(layout.source, layout.front, fields) if layout.front else ""
        blocks = [(number, unit) for number, unit in enumerate(layout.units, start=1) if number in placed and isinstance(unit, Block)]
        # A block without English words (an empty model output) cannot hold its markup: kept.
        levels = {n: 0 if any(k == "text" and str(v).strip() for k, v in placed[n][0]) else _KEPT for n, _ in blocks}
        for _ in range(_ROUNDS):
            rendered = {}
            for number, block in blocks:
                line = doc.lines[number - 1]
                if levels[number] == _KEPT:
                    rendered[number] = layout.source[block.start : block.end]
                    continue
                if levels[number] == _UNLINKED:
                    sentences = [Sentence(x.start, x.end, x.english, None) for x in by_block[number][0]]
                    placed[number] = place(line.text, line.markup, sentences)
                rendered[number] = render_block(placed[number][0], line.text, line.markup, block, layout.source, leaves, levels[number] > 0)
            text = _assembled(layout, head, leaves, [(block.start, block.end, rendered[number]) for number, block in blocks])
            faults, every = _faults(layout, text, len(head), {block.token: number for number, block in blocks})
            todo = [n for n in faults if levels[n] < _KEPT]
            if not todo:
                break
            for number in todo if every else todo[:1]:
                levels[number] += 1
        unsure = {by_block[n][1][k] for n, (_, doubtful) in placed.items() for k in doubtful}
        unsure |= {i for n in {*faults, *(n for n, level in levels.items() if level >= _UNLINKED)} for i in by_block[n][1]}
        codec = doc.encoding.split()[0]  # "utf-8 (3 invalid byte sequences replaced…)" too
        return Written(text.encode(codec, errors="xmlcharrefreplace"), frozenset(unsure))


# How hard the English of a block is made to keep the source's structure, should the
# page read back otherwise: 0 as placed, 1 its text escaped, _UNLINKED placed again
# without word links (elements in source order), _KEPT its source kept (an English
# that cannot hold the structure: empty where an element needs text), both flagged;
# and how many times the page is read back.
_UNLINKED = 2
_KEPT = 3
_ROUNDS = 16


def _leaf_text(leaf: Leaf, events: Sequence[Event], markup: Sequence[Inline]) -> str:
    """A leaf's English as source text of its kind: its text escaped as the kind
    needs, its protected spans (code in a title) as they were."""
    if leaf.style == "quoted":  # inline Markdown, which MkDocs reads up to the next quote, escapes or not
        spell = lambda text: spell_out(text, (), escape=True).replace('"', "”")  # noqa: E731
    elif leaf.style in ("alt", "title"):
        spell = lambda text: spell_out(text, (), escape=True)  # noqa: E731
    else:
        closer = ")" if leaf.style == "(" else leaf.style
        spell = lambda text: re.sub(r"[\\%s]" % re.escape(closer + ("(" if leaf.style == "(" else "")), lambda m: "\\" + m.group(), " ".join(text.splitlines()))  # noqa: E731
    english = "".join(spell(str(value)) if kind == "text" else markup[int(value)].open for kind, value in events if kind in ("text", "void"))
    if leaf.label is None:
        return english
    name, tail = leaf.label
    return english + (tail if normalizeReference(english) == normalizeReference(name) else f"][{name}]")


def _assembled(layout: Layout, head: str, leaves: list[tuple[int, int, str]], blocks: list[tuple[int, int, str]]) -> str:
    """The page: the front matter's English, then the source with the blocks' English,
    and the leaves' outside any block."""
    start = layout.front.end if layout.front else 0
    return head + fill(layout.source, start, len(layout.source), sorted(blocks + leaves))  # a leaf inside a block was written with it


def _faults(layout: Layout, text: str, head: int, by_token: dict[int, int]) -> tuple[list[int], bool]:
    """The blocks (by line number) whose English gives the page another structure
    than the source's, and whether all are at fault: those whose inline content reads
    otherwise (all); or, when the blocks themselves differ, the suspects, likeliest
    first: the first translated block from the first difference on (its text made
    another block: a rule, a heading), the last one before it (its text took the
    next line in: a setext heading, a table), then the others outwards."""
    got = token_signature(md_parser().parse(frontmatter.blanked(text, head) if head else text, {}))
    want = layout.signature
    if len(got) == len(want) and all(g[0] == w[0] for g, w in zip(got, want)):
        return [by_token[k] for k, (g, w) in enumerate(zip(got, want)) if g != w and k in by_token], True
    first = next((k for k, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
    after, before = sorted(k for k in by_token if k >= first), sorted((k for k in by_token if k < first), reverse=True)
    return [by_token[k] for k in after[:1] + before[:1] + after[1:] + before[1:]], False
