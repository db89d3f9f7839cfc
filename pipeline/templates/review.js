/* global CORRECTIONS_SCHEMA, reviewCore -- defined before this script in the page (article.html.j2) */
(() => {
  "use strict";
  const { chips, wordLinks, indexes, distance, correctionsFile } = reviewCore;
  const rows = Array.from(document.querySelectorAll("#units tr.unit"));
  const homes = rows.map((row) => row.parentNode);
  const sorted = document.getElementById("sorted");
  const flaggedOnly = document.getElementById("flagged-only");
  const checkFilter = document.getElementById("check");
  const sort = document.getElementById("sort");
  const search = document.getElementById("search");
  const count = document.getElementById("count");
  const table = document.getElementById("units");
  let texts = null;
  let order = rows;
  const links = new WeakMap();  // row → [French word → English words, English word → French words]
  const spanned = new WeakSet();  // the cells whose words are spans
  let lit = [];

  // Search hits are painted with the CSS Custom Highlight API: static ranges over the text
  // of the visible rows' French and English cells, so that the cells stay as they are
  // (their word spans, an editor) and the ranges survive sorting. A row's ranges are
  // painted again when its cells change. Browsers without the API only filter.
  const hits = window.Highlight && window.CSS && CSS.highlights ? new Highlight() : null;
  if (hits) CSS.highlights.set("search", hits);
  const painted = new Map();  // row → its ranges in hits
  // Glossary terms are painted the same way: each term of a row's French, and its English
  // while the English is as written (data-terms holds code point offsets in both).
  const terms = hits ? new Highlight() : null;
  if (terms) CSS.highlights.set("term", terms);
  const termed = new Map();  // row → its ranges in terms
  let pattern = null;  // the search, case-insensitive, or null

  // The text node at a character offset of texts laid end to end, and the offset in it.
  function point(nodes, offset, end) {
    const [node, start] = nodes.find(([n, s]) => (end ? offset <= s + n.data.length : offset < s + n.data.length));
    return [node, offset - start];
  }

  function textNodes(cell) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT, { acceptNode: (node) => (node.parentNode.closest(".editor-actions") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT) });
    const nodes = [];
    let text = "";
    while (walker.nextNode()) {
      nodes.push([walker.currentNode, text.length]);
      text += walker.currentNode.data;
    }
    return [nodes, text];
  }

  function range(nodes, start, end) {
    const [startContainer, startOffset] = point(nodes, start, false);
    const [endContainer, endOffset] = point(nodes, end, true);
    return new StaticRange({ startContainer, startOffset, endContainer, endOffset });
  }

  function paintTerms(row) {
    (termed.get(row) || []).forEach((r) => terms.delete(r));
    termed.delete(row);
    if (!row.dataset.terms) return;
    const ranges = [];
    [row.cells[1], row.cells[2]].forEach((cell, side) => {
      if (side && row.matches(".edited, .editing")) return;
      const [nodes, text] = textNodes(cell);
      const units = (offset) => Array.from(text).slice(0, offset).join("").length;  // code points → UTF-16
      row.dataset.terms.split(" ").forEach((term) => {
        const span = term.split(":")[side];
        if (!span) return;
        const [start, end] = span.split("-").map((n) => units(Number(n)));
        if (end > start && end <= text.length) ranges.push(range(nodes, start, end));
      });
    });
    ranges.forEach((r) => terms.add(r));
    termed.set(row, ranges);
  }

  function paint(row) {
    if (!hits) return;
    paintTerms(row);
    (painted.get(row) || []).forEach((range) => hits.delete(range));
    painted.delete(row);
    if (!pattern || row.hidden) return;
    const ranges = [];
    row.querySelectorAll("td[lang]").forEach((cell) => {
      const [nodes, text] = textNodes(cell);
      for (const match of text.matchAll(pattern)) ranges.push(range(nodes, match.index, match.index + match[0].length));
    });
    ranges.forEach((range) => hits.add(range));
    painted.set(row, ranges);
  }

  function filter() {
    const typed = search.value.trim();
    const query = typed.toLowerCase();
    if (query && !texts) texts = rows.map((row) => Array.from(row.cells, (cell) => (cell.classList.contains("tools") ? "" : cell.textContent)).join("").toLowerCase());
    let shown = 0;
    rows.forEach((row, i) => {
      const check = checkFilter ? checkFilter.value : "";
      const flags = (row.dataset.flags || "").split(" ");
      row.hidden = (flaggedOnly.checked && !row.classList.contains("flagged")) || (check !== "" && !flags.includes(check)) || (query !== "" && !texts[i].includes(query));
      shown += !row.hidden;
    });
    count.value = `${shown} of ${rows.length} rows`;
    pattern = typed ? new RegExp(typed.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&"), "giu") : null;
    if (!hits) return;
    hits.clear();
    painted.clear();
    if (pattern) rows.forEach((row) => row.hidden || paint(row));
  }

  function reorder() {
    const [key, direction] = sort.value.split("-");
    if (key === "doc") {
      rows.forEach((row, i) => homes[i].appendChild(row));
      order = rows;
      return;
    }
    const sign = direction === "desc" ? -1 : 1;
    const value = (row) => parseFloat(row.dataset[key]);
    order = rows.slice().sort((a, b) => {
      const x = value(a), y = value(b);
      if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) - Number.isNaN(y);
      return sign * (x - y);
    });
    order.forEach((row) => sorted.appendChild(row));
  }

  function move(step) {
    const visible = order.filter((row) => !row.hidden);
    if (!visible.length) return;
    const here = visible.indexOf(document.activeElement && document.activeElement.closest("tr.unit"));
    const next = here < 0 ? (step > 0 ? 0 : visible.length - 1) : Math.min(Math.max(here + step, 0), visible.length - 1);
    visible[next].focus();
  }

  // A row's French and English cells become word spans the first time it is hovered or
  // focused, so that the page opens as fast with links as without. The links are those
  // of the English as written: an edited English stays text.
  function wrap(row) {
    if (!row || row.dataset.words === undefined) return;
    if (!links.has(row)) links.set(row, wordLinks(row.dataset.words));
    const unlinked = indexes(row.dataset.uncovered || "");
    let changed = false;
    [row.cells[1], row.cells[2]].forEach((cell, side) => {
      if (spanned.has(cell) || (side && row.matches(".edited, .editing"))) return;
      spanned.add(cell);
      changed = true;
      const parts = chips(cell.textContent);
      cell.textContent = "";
      parts.forEach(({ text, index }) => {
        if (index === null) cell.appendChild(document.createTextNode(text));
        else {
          const word = document.createElement("span");
          word.className = "w";
          word.tabIndex = 0;
          word.textContent = text;
          if (!side && unlinked.has(index)) {
            word.classList.add("unlinked");
            word.title = "linked to no English word";
          }
          cell.appendChild(word);
        }
      });
    });
    if (changed) paint(row);
  }

  // Highlights a word and the words of the other language it is linked to.
  function show(word) {
    lit.forEach((w) => w.classList.remove("linked"));
    lit = [];
    if (!word) return;
    const row = word.closest("tr.unit");
    const side = word.parentNode === row.cells[1] ? 0 : 1;
    const other = row.cells[2 - side];
    const index = Array.prototype.indexOf.call(word.parentNode.children, word);
    lit = [word, ...(links.get(row)[side].get(index) || []).map((i) => other.children[i]).filter((w) => w && isWord(w))];
    lit.forEach((w) => w.classList.add("linked"));
  }

  const isWord = (node) => node.classList.contains("w");
  const activate = (event) => {
    wrap(event.target.closest("tr.unit"));
    if (isWord(event.target)) show(event.target);
  };
  table.addEventListener("mouseover", activate);
  table.addEventListener("focusin", activate);
  table.addEventListener("mouseout", (event) => {
    if (isWord(event.target)) show(isWord(document.activeElement) ? document.activeElement : null);
  });
  table.addEventListener("focusout", () => show(null));

  // Post-editing. An edit is a row's English as the reviewer wrote it, plain text, kept
  // in the browser's storage under the page's article, model and revision, with the
  // row's French: a page made again over another text drops the edits that no longer fit.
  const info = document.body.dataset;
  const revision = info.revision === undefined ? null : info.revision;
  const storeKey = `mtpipe:edits:${info.article}:${info.model}:${revision ?? ""}`;
  const notice = document.getElementById("edit-notice");
  const editsCount = document.getElementById("edits");
  const edits = new Map();  // row → its edit
  const written = new WeakMap();  // row → its English as the page was written

  // A text with a CR comes in a data attribute too: HTML reads a CR in a cell as LF.
  const sourceOf = (row) => row.dataset.src ?? row.cells[1].textContent;
  function englishOf(row) {
    if (!written.has(row)) written.set(row, row.dataset.mt ?? row.cells[2].textContent);
    return written.get(row);
  }
  const idsOf = (row) => [row.id, ...Array.from(row.cells[0].querySelectorAll("span[id]"), (span) => span.id)];

  function element(tag, className, text) {
    const node = document.createElement(tag);
    node.className = className;
    node.textContent = text;
    return node;
  }

  function actionButton(act, text) {
    const button = element("button", act, text);
    button.type = "button";
    button.dataset.act = act;
    return button;
  }

  // Shows a row with its edit, or as written when `text` is null or the English as written.
  function apply(row, text) {
    const english = englishOf(row);
    const cell = row.cells[2];
    const tools = row.querySelector("td.tools");
    const edited = text !== null && text !== english;
    if (edited) edits.set(row, text);
    else edits.delete(row);
    row.classList.toggle("edited", edited);
    cell.textContent = edited ? text : english;
    cell.title = edited ? `As written: ${english}` : "";
    spanned.delete(cell);
    texts = null;
    tools.querySelectorAll(".edited-badge, .revert").forEach((node) => node.remove());
    if (edited) {
      const changed = distance(english, text);
      const badge = element("span", "edited-badge", `edited · ${changed} char${changed === 1 ? "" : "s"} changed`);
      badge.title = "characters inserted, deleted or replaced to go from the English as written to the edit (Levenshtein distance)";
      tools.prepend(badge, actionButton("revert", "Revert"), " ");
    }
    editsCount.value = edits.size ? `${edits.size} edited row${edits.size === 1 ? "" : "s"}` : "";
    paint(row);
  }

  let storage = null;
  let saved = null;
  try {
    storage = window.localStorage;
    saved = JSON.parse(storage.getItem(storeKey));
  } catch (error) {
    if (!(error instanceof SyntaxError)) storage = null;  // no storage at all, rather than a damaged entry
  }
  for (const [id, stored] of Object.entries(saved instanceof Object ? saved : {})) {
    const row = document.getElementById(id);
    if (row && row.matches("tr.unit") && stored && typeof stored.edit === "string" && stored.src === sourceOf(row)) apply(row, stored.edit);
  }

  function persist() {
    try {
      if (!storage) throw new Error("no storage");
      if (edits.size) storage.setItem(storeKey, JSON.stringify(Object.fromEntries(Array.from(edits, ([row, edit]) => [row.id, { src: sourceOf(row), edit }]))));
      else storage.removeItem(storeKey);
    } catch {
      storage = null;
      notice.hidden = false;
    }
  }

  function startEdit(row) {
    if (!row || row.classList.contains("editing") || row.querySelector("button[data-act=edit]").disabled) return;
    const english = englishOf(row);
    const box = element("textarea", "editor", "");
    box.value = edits.get(row) ?? english;
    box.setAttribute("aria-label", `English of ${row.cells[0].textContent}`);
    const actions = element("div", "editor-actions", "");
    actions.append(actionButton("save", "Save"), actionButton("cancel", "Cancel"), element("span", "keys", "Enter saves · Shift+Enter: new line · Esc cancels"));
    row.classList.add("editing");
    row.cells[2].replaceChildren(box, actions);
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
    paint(row);
  }

  function finishEdit(row, keep) {
    const text = keep ? row.cells[2].querySelector("textarea.editor").value : edits.get(row) ?? null;
    row.classList.remove("editing");
    apply(row, text);
    if (keep) persist();
    row.focus();
  }

  function revert(row) {
    apply(row, null);
    persist();
    row.focus();
  }

  function exportCorrections() {
    const units = rows.filter((row) => edits.has(row)).map((row) => ({ ids: idsOf(row), src: sourceOf(row), mt: englishOf(row), edit: edits.get(row) }));
    if (!units.length) {
      editsCount.value = "No edited rows to export: edit a row first";
      return;
    }
    const text = correctionsFile(CORRECTIONS_SCHEMA, { article: info.article, model: info.model, revision }, units);
    const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = info.corrections;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);  // revoked at once, the download might not have started
  }

  // "Read the English": the article as prose, one paragraph per source paragraph (a
  // tbody of the table), each unit's English as edited; on wide screens the French
  // beside it, paragraph by paragraph. Made afresh each time it opens, from the rows.
  const read = document.getElementById("read");
  const prose = document.getElementById("prose");

  function paragraph(lang) {
    const p = element("p", "", "");
    p.lang = lang;
    return p;
  }

  function showProse(on) {
    read.setAttribute("aria-pressed", String(on));
    table.hidden = on;
    prose.hidden = !on;
    if (!on) {
      prose.replaceChildren();
      return;
    }
    const pairs = [];
    let en, fr;
    rows.forEach((row, i) => {
      if (i && homes[i] === homes[i - 1]) {
        en.append(" ");
        fr.append(" ");
      } else {
        [en, fr] = [paragraph("en"), paragraph("fr")];
        pairs.push(element("div", "pair", ""));
        pairs[pairs.length - 1].append(en, fr);
      }
      en.append(edits.has(row) ? element("span", "edited", edits.get(row)) : englishOf(row));
      fr.append(sourceOf(row));
    });
    prose.replaceChildren(...pairs);
  }
  read.addEventListener("click", () => showProse(prose.hidden));

  const acts = { edit: startEdit, save: (row) => finishEdit(row, true), cancel: (row) => finishEdit(row, false), revert };
  table.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-act]");
    if (button) acts[button.dataset.act](button.closest("tr.unit"));
  });
  table.addEventListener("dblclick", (event) => {
    const row = event.target.closest("tr.unit");
    if (row && event.target.closest("td") === row.cells[2]) startEdit(row);
  });
  table.addEventListener("keydown", (event) => {
    if (!event.target.matches("textarea.editor")) return;
    const row = event.target.closest("tr.unit");
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) finishEdit(row, true);
    else if (event.key === "Escape") finishEdit(row, false);
    else return;
    event.preventDefault();
    event.stopPropagation();
  });
  document.getElementById("export").addEventListener("click", exportCorrections);

  if (terms) rows.forEach(paintTerms);
  flaggedOnly.addEventListener("change", filter);
  if (checkFilter) checkFilter.addEventListener("change", filter);
  search.addEventListener("input", filter);
  sort.addEventListener("change", reorder);
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input[type=search], select, textarea")) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.key === "j" || event.key === "k") move(event.key === "j" ? 1 : -1);
    else if (event.key === "f") { flaggedOnly.checked = !flaggedOnly.checked; filter(); }
    else if (event.key === "/") search.focus();
    else if (event.key === "e" && document.activeElement.closest("tr.unit")) startEdit(document.activeElement.closest("tr.unit"));
    else if (event.key === "x") exportCorrections();
    else if (event.key === "r") showProse(prose.hidden);
    else return;
    event.preventDefault();
  });
})();
