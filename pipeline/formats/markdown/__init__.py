r"""Markdown (.md, .markdown): each block's text translated in place, every other byte kept.

Blocks are what markdown-it (CommonMark, GFM tables and strikethrough, YAML/TOML front
matter) reads as inline text: paragraphs (in list items and block quotes too), ATX and
setext headings, table cells. Fenced and indented code, front matter, HTML blocks,
reference definitions and thematic breaks are no block: copied as they are, as is
everything around a block's text (markers, indentation, line endings, an ATX
heading's closing `#`s, a table's pipes and alignment row).

Inside a block the model sees plain text. markdown-it's inline tokens are walked over
the block's content, each character of which is mapped back to the source, so every
piece of markup is written back as the source text it came from:
- emphasis (`*`, `_`, `**`, `__`, `~~`), links (`[` … `](dest "title")`, `][ref]`, the
  title untranslated) and paired inline HTML (`<sup>` … `</sup>`) wrap text:
  `markup.place` puts them around the English words linked to the French words they
  wrapped; punctuation ending (or opening) the French word next to the markup stays
  outside it (`**gras**,` → `**bold**,`). A collapsed or shortcut reference link
  (`[texte][]`, `[texte]`) whose English no longer matches its label is written
  `[English][texte]`, so it still finds its definition. An element that wraps no
  text (`[`code`](url)`) is void as a whole;
- code spans, images (alt text untranslated), autolinks, unpaired inline HTML, and
  URLs and e-mail addresses in running text are void: the model never sees them.
  Each takes the whitespace before it along (after it, at the block's start), and a
  word glued after it (`` `Promise`-based ``, `` `x`s ``), so the English keeps its
  spacing; one that starts or ends an element's text goes with that element's
  opening or closing markup;
- line breaks, soft or hard, are void too: the model sees a space and the English
  keeps the source's line structure, each break (trailing spaces or backslash, line
  ending, the next line's `> ` or indentation) after the English of the French word
  before it. Breaks that land together are written once (the hard one if any), one
  with no English after it not at all;
- a backslash escape is its character for the model; a character that is inline
  syntax (`` \ ` * _ [ ] < > & | ~ ! ``) and was escaped in the block is escaped
  wherever it comes in the block's English; other escapes (`\.`, `\#`) only matter
  at a line's start, where English that would read as block syntax (`# `, `- `,
  `1. `, `> `, a fence, `===`, `<div`) always gets a backslash. An entity
  (`&eacute;`) is its character for the model and is written back as that entity.
  A pipe in a table cell is always written `\|`.
The file is written back in its own encoding, characters it lacks as character
references (Markdown reads them like HTML does).

Rooms: `syntax` (the parser, the text blocks of a page), `walk` (a block's inline
tokens mapped back to the source), `render` (the English written back as Markdown),
`format` (the Markdown format: read, write, check).
"""

from .format import Markdown

__all__ = ["Markdown"]
