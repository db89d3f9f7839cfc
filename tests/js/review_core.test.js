// The review page's pure parts (pipeline/templates/review_core.js), under node's test runner.
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { test } = require("node:test");

const { chips, wordLinks, indexes, distance, correctionsFile } = require("../../pipeline/templates/review_core.js");

const SCHEMA = JSON.parse(fs.readFileSync(path.join(__dirname, "../../pipeline/templates/corrections.schema.json"), "utf8"));

// Levenshtein distance in code points: [a, b, distance].
const DISTANCES = [
  ["", "", 0],
  ["abc", "", 3],
  ["", "abc", 3],
  ["chat", "chat", 0],
  ["kitten", "sitting", 3],
  ["flaw", "lawn", 2],
  ["The cat sleeps.", "The cat slept.", 2],
  ["é", "e", 1],
  ["e\u0301", "é", 2],  // a combining accent is a code point of its own
  ["😀", "😁", 1],  // one code point, two UTF-16 units
  ["a😀b", "ab", 1],
];

for (const [a, b, expected] of DISTANCES) {
  test(`distance(${JSON.stringify(a)}, ${JSON.stringify(b)}) is ${expected}, either way round`, () => {
    assert.equal(distance(a, b), expected);
    assert.equal(distance(b, a), expected);
  });
}

// A cell's text → its words, as Python's str.split() gives them (the word links count these).
const WORDS = [
  ["", []],
  ["   ", []],
  ["Le chat dort.", ["Le", "chat", "dort."]],
  ["  Le  chat ", ["Le", "chat"]],
  ["l'homme\u00a0: oui", ["l'homme", ":", "oui"]],  // no-break space
  ["a\tb\nc\rd\u000be\u000cf", ["a", "b", "c", "d", "e", "f"]],
  ["a\u001cb\u001dc\u001ed\u001ff\u0085g", ["a", "b", "c", "d", "f", "g"]],  // separators and NEL: str.split() splits on them
  ["a\u2028b\u2029c\u202fd\u3000e\u2009f", ["a", "b", "c", "d", "e", "f"]],
  ["a\u200bb\ufeffc", ["a\u200bb\ufeffc"]],  // zero-width space and BOM: no whitespace to Python
];

for (const [text, words] of WORDS) {
  test(`chips of ${JSON.stringify(text)}: its words numbered in order, the rest kept as whitespace`, () => {
    const cut = chips(text);
    assert.deepEqual(cut.filter((chip) => chip.index !== null).map((chip) => chip.text), words);
    assert.deepEqual(cut.filter((chip) => chip.index !== null).map((chip) => chip.index), words.map((_, i) => i));
    assert.equal(cut.map((chip) => chip.text).join(""), text);
    assert.ok(cut.every((chip) => chip.text !== ""));
  });
}

// Pharaoh links → [French word → English words, English word → French words].
const LINKS = [
  ["", [], []],
  ["0-0", [[0, [0]]], [[0, [0]]]],
  ["0-1 1-0 2-2", [[0, [1]], [1, [0]], [2, [2]]], [[1, [0]], [0, [1]], [2, [2]]]],
  ["0-0 0-1 3-1", [[0, [0, 1]], [3, [1]]], [[0, [0]], [1, [0, 3]]]],
  [" 1-2  ", [[1, [2]]], [[2, [1]]]],
];

for (const [pharaoh, french, english] of LINKS) {
  test(`wordLinks(${JSON.stringify(pharaoh)}) both ways`, () => {
    assert.deepEqual(wordLinks(pharaoh), [new Map(french), new Map(english)]);
  });
}

for (const [list, expected] of [["", []], ["3", [3]], ["0 2 10", [0, 2, 10]], [" 4  4 ", [4]]]) {
  test(`indexes(${JSON.stringify(list)})`, () => {
    assert.deepEqual(indexes(list), new Set(expected));
  });
}

// The JSON kind of a value, as pipeline/corrections.py names them.
function kind(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

// What makes `value` not an object of exactly `keys` of their kinds, else null.
function offSchema(value, keys) {
  if (kind(value) !== "object") return `${kind(value)}, not an object`;
  const names = Object.keys(keys);
  if (JSON.stringify(Object.keys(value)) !== JSON.stringify(names)) return `keys ${Object.keys(value)}, not ${names}`;
  const wrong = names.find((key) => !keys[key].includes(kind(value[key])));
  return wrong === undefined ? null : `${wrong} is ${kind(value[wrong])}`;
}

const UNIT = { ids: ["s1"], src: "Le chat dort.", mt: "The cat sleeps.", edit: "The cat is asleep." };
// [what, page, units]: files the page may export.
const FILES = [
  ["a revision", { article: "a/b.md", model: "opus-mt-fr-en", revision: "abc123" }, [UNIT]],
  ["no revision", { article: "b.txt", model: "m", revision: null }, [UNIT, { ...UNIT, ids: ["s2", "s3"], edit: "" }]],
  ["unit keys in another order, and one too many", { article: "c.html", model: "m", revision: null }, [{ edit: "E", mt: "M", src: "S", ids: ["s9"], extra: 1 }]],
];

for (const [what, page, units] of FILES) {
  test(`the corrections file, ${what}: its schema's keys, in order, of their kinds`, () => {
    const text = correctionsFile(SCHEMA, page, units);
    assert.ok(text.endsWith("}\n"));
    const file = JSON.parse(text);
    assert.equal(offSchema(file, SCHEMA.file), null);
    assert.equal(file.mtpipe, SCHEMA.mtpipe);
    assert.equal(file.version, SCHEMA.version);
    assert.deepEqual([file.article, file.model, file.revision], [page.article, page.model, page.revision]);
    assert.equal(file.units.length, units.length);
    file.units.forEach((unit, i) => {
      assert.equal(offSchema(unit, SCHEMA.unit), null);
      for (const key of Object.keys(SCHEMA.unit)) assert.deepEqual(unit[key], units[i][key]);
    });
  });
}

test("the corrections file is indented by one space, as the page has always written it", () => {
  const text = correctionsFile(SCHEMA, { article: "b.txt", model: "m", revision: null }, [UNIT]);
  assert.equal(
    text,
    '{\n "mtpipe": "corrections",\n "version": 1,\n "article": "b.txt",\n "model": "m",\n "revision": null,\n "units": [\n  {\n   "ids": [\n    "s1"\n   ],\n' +
      '   "src": "Le chat dort.",\n   "mt": "The cat sleeps.",\n   "edit": "The cat is asleep."\n  }\n ]\n}\n',
  );
});
