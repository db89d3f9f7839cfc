"""Markdown syntax as mtpipe reads it: the markdown-it parser with its plugins and the
`=== "Tab"` block rule, the text blocks of a page (with container, admonition and tab
titles), and the patterns of what is block or inline syntax."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.token import Token
from mdit_py_plugins.admon import admon_plugin
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin

_NEWLINE = re.compile(r"\r\n|\r|\n")


# A soft or hard line break in a block's content, as markdown-it consumed it.
BREAK = re.compile(r"[ \t]*\\?\n[ \t]*")
HARD_BREAK = re.compile(r" {2,}|[ \t]*\\")
_TAG = re.compile(r"<(?P<close>/)?(?P<name>[A-Za-z][A-Za-z0-9-]*)[^>]*?(?P<self>/)?>", re.DOTALL)
_VOID_ELEMENTS = frozenset("area br col embed hr img input source track wbr".split())
INLINE_SYNTAX = frozenset("\\`*_[]<>&|~!")


# English starting a line that Markdown would read as block syntax; an ordered list marker.
BLOCK_SYNTAX = re.compile(r"#{1,6}(?:[ \t]|$)|[-+*](?:[ \t]|$)|>|(?:[-=*_][ \t]*)+$|`{3}|~{3}|<[A-Za-z/!?]|:{3}|!!!|\?{3}|={3}|\${2}|\[\^[^\]]*\]:")
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).+?(?<!`)\1(?!`)")


# A content tab of pymdownx.tabbed (MkDocs Material): `=== "Titre"`, its body indented.
_TAB = re.compile(r"""===\+?!?[ \t]+"(?P<title>[^"\n]*)"[ \t]*$""")
ORDERED = re.compile(r"\d{1,9}(?=[.)](?:[ \t]|$))")
LINE = re.compile(r"[^\r\n]*")


# markdown-it's limit is 20 levels (a list level is two, its paragraph one more): 30 nested
# lists and quotes need about 90; the parser recurses per level, far from Python's limit at 256.
MAX_NESTING = 256


class Unparsed(Exception):
    """A block whose source the inline tokens could not be mapped back onto."""


@lru_cache(maxsize=1)
def md_parser() -> MarkdownIt:
    """CommonMark with GFM tables and strikethrough, and the documentation dialects:
    `:::` containers of any name, MkDocs admonitions, footnotes, `$` math (Pandoc's
    rules: no space inside the dollars, no digit after the closing one, so prices stay
    text). Escapes and entities stay tokens of their own (no text_join), so their
    source is known. Front matter is blanked out before parsing (see `read`). Lists and
    quotes nest up to MAX_NESTING deep (markdown-it stops reading deeper content)."""
    md = MarkdownIt("commonmark", {"maxNesting": MAX_NESTING}).enable(["table", "strikethrough"]).disable("text_join")
    md.use(container_plugin, name="any", validate=lambda params, markup: True)
    md.use(admon_plugin).use(footnote_plugin, inline=False)
    md.block.ruler.before("fence", "tabbed", _tabbed, {"alt": ["paragraph", "reference", "blockquote", "list"]})
    return md.use(dollarmath_plugin, allow_space=False, allow_digits=False, double_inline=True)


def _tabbed(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """A content tab (`=== "Titre"`): a block holding the lines indented under it, as
    MkDocs admonitions do (two blank lines, or a line indented less, end it)."""
    if state.sCount[start_line] - state.blkIndent >= 4:
        return False
    start = state.bMarks[start_line] + state.tShift[start_line]
    if not _TAB.match(state.src, start, state.eMarks[start_line]):
        return False
    if silent:
        return True
    saved = state.parentType, state.lineMax, state.blkIndent
    state.parentType, state.blkIndent = "tabbed", state.sCount[start_line] + 4
    line, was_empty = start_line, False
    while line + 1 < end_line:
        line += 1
        empty = state.bMarks[line] + state.tShift[line] >= state.eMarks[line]
        if empty and was_empty or not empty and state.sCount[line] < state.blkIndent:
            break
        was_empty = empty
    else:
        line = end_line
    state.lineMax = line
    token = state.push("tabbed_open", "div", 1)
    token.block, token.map = True, [start_line, line]
    state.md.block.tokenize(state, start_line + 1, line)
    state.push("tabbed_close", "div", -1).block = True
    state.parentType, state.lineMax, state.blkIndent = saved
    state.line = line
    return True


def skip_space(text: str, pos: int, end: int) -> int:
    while pos < end and text[pos] in " \t\n":
        pos += 1
    return pos


def merged(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans sorted, overlapping ones made one."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a < out[-1][1]:
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        else:
            out.append((a, b))
    return out


def plain_text(children: Sequence[Token]) -> str:
    """Inline tokens as the text a reader sees (an image's alt text)."""
    out = []
    for tok in children:
        if tok.type in ("text", "text_special", "code_inline"):
            out.append(tok.content)
        elif tok.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif tok.type == "image":
            out.append(plain_text(tok.children or []))
    return " ".join("".join(out).split())


def html_pairs(children: Sequence[Token]) -> dict[int, int]:
    """Inline HTML tags that open and close an element in the block: opener → closer
    (token indices). The others are void."""
    stack: list[tuple[str, int]] = []
    pairs: dict[int, int] = {}
    for j, tok in enumerate(children):
        m = _TAG.fullmatch(tok.content) if tok.type == "html_inline" else None
        if m is None:
            continue
        name = m["name"].lower()
        if m["close"]:
            for k in range(len(stack) - 1, -1, -1):
                if stack[k][0] == name:
                    pairs[stack[k][1]] = j
                    del stack[k:]
                    break
        elif not m["self"] and name not in _VOID_ELEMENTS:
            stack.append((name, j))
    return pairs


def _line_spans(text: str) -> list[tuple[int, int]]:
    """Each line's (start, end), line ending excluded."""
    spans, start = [], 0
    for m in _NEWLINE.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return spans


def _lines_map(content: str, source: str, spans: Sequence[tuple[int, int]]) -> list[int] | None:
    """Source offset of each character of a paragraph's content (and of its end): each
    content line is the end of its source line (markdown-it took container markers and
    indentation off the front, trailing whitespace off the last); a line break maps to
    the source's line ending."""
    rows = content.split("\n")
    if len(rows) != len(spans):
        return None
    src_of: list[int] = []
    for k, (row, (a, b)) in enumerate(zip(rows, spans)):
        last = k == len(rows) - 1
        core = row.lstrip(" \t")  # indentation markdown-it may have rewritten (tabs)
        line = source[a:b].rstrip() if last else source[a:b]
        if not line.endswith(core):
            return None
        start = a + len(line) - len(core)
        src_of += [start] * (len(row) - len(core)) + list(range(start, start + len(core)))
        src_of.append(start + len(core) if last else b)
    return src_of


_CONTAINER = re.compile(r"(?P<fence>:{3,})[ \t]*(?P<name>\{[^}\n]*\}|[\w-]*)(?:\[(?P<bracketed>[^\]\n]*)\]|[ \t]+(?P<title>[^\n{]*?))?[ \t]*(?:\{[^}\n]*\})?[ \t]*$")
_ADMONITION = re.compile(r"""(?:!!!|\?\?\?\+?)[ \t]+[\w-]+(?:[ \t]+[\w-]+)*[ \t]+"(?P<title>[^"\n]*)"[ \t]*$""")


def text_blocks(tokens: Sequence[Token], source: str) -> list[tuple]:
    """What to translate, in token order: ("block", token index, source offset of each
    character of its content, whether it is a table cell, whether its text starts a
    line (not a cell's nor an ATX heading's)) for each inline token with text; and
    ("leaf", start, end, style, text) for the titles of containers and admonitions."""
    spans = _line_spans(source)
    found: list[tuple] = []
    row, cursor = -1, 0
    for k, (before, tok) in enumerate(zip([Token("", "", 0), *tokens], tokens)):
        if tok.type in ("tabbed_open", "container_any_open") and tok.map:
            tabbed = tok.type == "tabbed_open"
            found += _title(_TAB if tabbed else _CONTAINER, source, spans[tok.map[0]], "quoted" if tabbed else "title")
            continue
        if tok.type != "inline" or not tok.content.strip() or tok.map is None:
            continue
        first, last = tok.map
        content = tok.content
        src_of: list[int] | None
        if before.type == "admonition_title_open":
            found += _title(_ADMONITION, source, spans[first], "quoted")
            continue
        if before.type in ("th_open", "td_open"):
            if first != row:
                row, cursor = first, 0
            a, b = spans[first]
            escaped = content.replace("|", "\\|")  # markdown-it unescaped the cell's pipes
            at = source.find(escaped, a + cursor, b)
            if at < 0:
                continue
            src_of, pos = [], at
            for ch in content:
                src_of.append(pos)
                pos += 2 if ch == "|" else 1
            src_of.append(pos)
            cursor = pos - a
            found.append(("block", k, src_of, True, False))
            continue
        atx = before.type == "heading_open" and before.markup.startswith("#")
        if atx:
            a, b = spans[first]
            line = source[a:b]
            at = line.find(content, line.index("#") + len(before.markup))
            src_of = list(range(a + at, a + at + len(content) + 1)) if at >= 0 else None
        else:  # a paragraph, or a setext heading (the inline token's lines leave its underline out)
            src_of = _lines_map(content, source, spans[first:last])
        if src_of is not None:
            found.append(("block", k, src_of, False, not atx))
    return found


def _title(syntax: re.Pattern[str], source: str, span: tuple[int, int], style: str) -> list[tuple]:
    """The leaf of the title a block-syntax line (a tab's, a container's, an
    admonition's) has, in a list: empty when it has none."""
    line = syntax.search(source, *span)
    group = next((g for g in ("bracketed", "title") if line and line.re.groupindex.get(g) and line.group(g) is not None), None)
    if group is None or not line.group(group).strip():
        return []
    return [("leaf", line.start(group), line.end(group), style, line.group(group))]


def token_signature(tokens: Sequence[Token]) -> tuple[tuple, ...]:
    """The structure a parse gives, text aside: each token's kind, and an inline
    token's children's kinds with what they point at (a link's target, code)."""
    out = []
    for tok in tokens:
        if tok.type != "inline":
            out.append((tok.type, tok.tag, tok.nesting))
            continue
        children = []
        for child in tok.children or []:
            if child.type in ("text", "text_special"):
                continue
            if child.type in ("code_inline", "html_inline", "math_inline", "math_inline_double"):
                children.append((child.type, child.content))
            elif child.type in ("link_open", "image"):
                children.append((child.type, child.attrs.get("href") or child.attrs.get("src")))
            elif child.type == "footnote_ref":
                children.append((child.type, child.meta.get("label")))
            else:
                children.append((child.type,))
        out.append(("inline", tuple(children)))
    return tuple(out)


def masked_text(content: str, spans: Sequence[tuple[int, int]]) -> str:
    """Content with its protected spans as private-use characters, which markdown-it
    reads as plain text: no emphasis or link inside a template tag."""
    out, pos = [], 0
    for a, b in spans:
        out += [content[pos:a], "\ue000" * (b - a)]
        pos = b
    out.append(content[pos:])
    return "".join(out)
