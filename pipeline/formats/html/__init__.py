"""HTML (.html, .htm): each block's text translated in place, every other byte kept.

A block is the maximal run of text and inline markup (`<a>`, `<em>`, `<b>`, `<span>`,
`<img>`, `<br>`…) between two block-level tags (`<p>`, `<li>`, `<td>`, `<h1>`, `<div>`,
`<title>`…, or any tag this module does not know as inline): a sentence is translated
whole, without its tags, which `markup.place` then puts back around the English words
linked to the French words they wrapped. A single `<br>` is markup inside its block;
two in a row (whitespace between) end it, as a paragraph break the source shows.

Never translated, copied as they are: `<script>`, `<style>`, `<pre>`, `<code>`, `<kbd>`,
`<samp>`, `<textarea>`, `<svg>`, `<math>`, elements marked `translate="no"` or class
`notranslate`, comments, the DOCTYPE, and URLs and e-mail addresses in running text.
Inside a block they are void markup the model never sees, which takes the whitespace
before it along (after it, at the block's start) so the English keeps its spacing;
punctuation glued after it stays glued for the model ("voir <code>x</code>." reads
"voir.", and `markup.place` puts the void back before the English full stop).

`alt`, `title`, `placeholder`, `aria-label` and `aria-description` values are blocks
of their own, on never-translated elements too (a `<textarea>`'s placeholder) unless
marked `translate="no"` or `notranslate`; `lang="fr"` becomes `lang="en"` except on
never-translated elements; every other byte comes from the source (entities as
written, attribute order and quoting, whitespace, line endings). `html.parser` gives
only token positions: nothing is re-serialised, and malformed HTML (unclosed or stray
tags) reads like any other. The file is decoded and written back in its own encoding:
a byte-order mark, else `<meta charset>` (read as the WHATWG Encoding standard
labels it, as browsers do: "iso-8859-1" is windows-1252; a label it does not know,
such as "unicode_escape", is ignored), else as `ingest.decode` detects it; characters the encoding lacks
become character references.

Rooms: `tokens` (element classes, the tokenizer, the page's encoding), `reader` (a
page read into blocks of plain text with their markup), `format` (the HTML format).
"""

from .format import Html

__all__ = ["Html"]
