"""Word (.docx): every paragraph with text is a block, translated whole — in the body,
in table cells (nested ones too), text boxes, each section's headers and footers,
footnotes, endnotes and comments — and its formatting is put back around the English
words aligned to the French words it covered (`markup.place`).

A block's inline markup: each run of text whose formatting (`w:rPr`) differs from
the paragraph's usual one is a span, and so is each element that wraps runs (a
hyperlink, a tracked insertion, a content control, a smart tag); what is not text
(a picture, a tab, a break, a field, a footnote mark, a bookmark) is a void, moved
to the English as it was. Runs split only by editing history or spelling marks,
with the same look, give no span. Writing re-opens the source, finds each block's
paragraph again by the same walk, and rebuilds its runs from the placed events;
the paragraph's properties (style, numbering) and everything else stay as they were.

A text box's copy for older versions of Word gets the English of the box. A field's
code and result (a page number, a cross reference's text) are kept as they are: Word
computes the result, and shows it in English once fields are updated. The language tags that name French in the English runs, in the paragraph marks and in the
styles name English instead, so that Word checks the spelling in English.

Rooms: `runs` (a paragraph's runs read and rebuilt), `package` (the file around
them: stories, language tags, saving), `format` (the Word format).
"""

from .format import Docx

__all__ = ["Docx"]
