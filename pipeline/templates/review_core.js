// The review page's pure parts, which need no page: inlined into the page before
// review.js, which uses them as reviewCore, and loaded by node for tests/js.
const reviewCore = (() => {
  "use strict";
  // What Python's str.split() splits on: word i of a cell is the i-th word of its `words` links.
  // eslint-disable-next-line no-control-regex -- str.split() splits on U+001C–U+001F too
  const SPACE = /([\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+)/;

  // A cell's text cut into its chips, in order: {text, index} for word `index`, and
  // {text, index: null} for the whitespace between words, kept as it is.
  function chips(text) {
    let words = 0;
    return text.split(SPACE).flatMap((part, k) => (k % 2 ? [{ text: part, index: null }] : part ? [{ text: part, index: words++ }] : []));
  }

  // A row's word links from their Pharaoh form ("0-0 1-2"): [French word → English
  // words, English word → French words].
  function wordLinks(pharaoh) {
    const there = [new Map(), new Map()];
    for (const pair of pharaoh.split(" ").filter(Boolean)) {
      const [s, t] = pair.split("-").map(Number);
      there[0].set(s, [...(there[0].get(s) || []), t]);
      there[1].set(t, [...(there[1].get(t) || []), s]);
    }
    return there;
  }

  // The word indexes of a space-separated list ("" for none).
  const indexes = (list) => new Set(list.split(" ").filter(Boolean).map(Number));

  // Levenshtein distance in characters (code points): insertions, deletions, substitutions.
  function distance(a, b) {
    const x = Array.from(a), y = Array.from(b);
    let before = y.map((_, j) => j + 1);
    before.unshift(0);
    x.forEach((cx, i) => {
      const now = [i + 1];
      y.forEach((cy, j) => now.push(Math.min(before[j + 1] + 1, now[j] + 1, before[j] + (cx === cy ? 0 : 1))));
      before = now;
    });
    return before[y.length];
  }

  // Only the keys of a schema's object, in its order.
  const pick = (values, keys) => Object.fromEntries(Object.keys(keys).map((key) => [key, values[key]]));

  // The text of a corrections file (corrections.schema.json): the page's article, model
  // and revision (null when unknown), and its units, each {ids, src, mt, edit}.
  function correctionsFile(schema, page, units) {
    const file = { mtpipe: schema.mtpipe, version: schema.version, article: page.article, model: page.model, revision: page.revision, units: units.map((unit) => pick(unit, schema.unit)) };
    return JSON.stringify(pick(file, schema.file), null, 1) + "\n";
  }

  return { chips, wordLinks, indexes, distance, correctionsFile };
})();
if (typeof module !== "undefined") module.exports = reviewCore;
