"""Glossary terms forced into translations (--glossary-mode enforce), measured.

Sentences: the French of the WMT21 terminology task's en-fr test split (TICO-19,
bench/data; 2,100 sentences, about half with a term) and the first 1,000 of newstest2014
(news: few glossary terms). Glossary: the task's 293 French forms and the TICO-19
termbases (bench/data/tico19-terminologies, CC0, 619 fr↔en entries), topped up to 1,000
entries with entries no text holds ("terme-absent-N"), so that matching pays for a
glossary of that size.

For each backend (the fixture model, whose English is noise, so terms appear only
when forced), one process, the same sentences:
- term success: the share of the terms found in the French that the English renders,
  without and with enforcement (bar: ≥ 98 % with);
- sentences without a term: their translations with the glossary byte-identical to
  those without (bar: all);
- speed: translations per second with the 1,000-entry glossary over without (bar:
  ≥ 0.9×), best of 3 each, the two alternating;
and, where real output exists (the published opus-mt-fr-en output of TICO-19 test
lines 1–424, matched to the task's sentences by their text), the real model's term
success without enforcement.

    python bench/enforce.py [--backend ctranslate2 transformers] [--sentences N] [--texts TICO-19 newstest2014]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from pipeline.glossary import Entry, Glossary  # noqa: E402
from pipeline.glossary.readers import load  # noqa: E402
from pipeline.hub import resolve  # noqa: E402
from pipeline.translate import DecodeSettings, Translator  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
TERMS = ROOT / "bench" / "data" / "wmt21-terminology-fr-en.jsonl.gz"
TERMBASES = sorted((ROOT / "bench" / "data" / "tico19-terminologies").glob("*.csv"))
MODEL = ROOT / "models" / "tiny-fr-en"
SIZE = 1000
SUCCESS_BAR, SPEED_BAR = 0.98, 0.9


def glossary() -> Glossary:
    with gzip.open(TERMS, "rt", encoding="utf-8") as f:
        segments = [json.loads(line) for line in f if line.strip()]
    entries = {t_fr: Entry(t_fr, (t["en_term"],)) for s in segments for t in s["terms"] for t_fr in t["fr_variants"]}
    for entry in load(TERMBASES).entries:
        entries.setdefault(entry.source, entry)
    for n in range(SIZE - len(entries)):
        entries[f"terme-absent-{n}"] = Entry(f"terme-absent-{n}", (f"absent-term-{n}",))
    return Glossary(list(entries.values())[:SIZE])


def sentences() -> tuple[list[str], list[str]]:
    with gzip.open(TERMS, "rt", encoding="utf-8") as f:
        tico = [json.loads(line)["fr"] for line in f if line.strip() and json.loads(line)["split"] == "test"]
    news = (SHARED / "testsets" / "fra-eng" / "newstest2014.fra").read_text(encoding="utf-8").splitlines()[:1000]
    return tico, news


def success(g: Glossary, sources: list[str], outputs: list[str]) -> tuple[int, int]:
    found = rendered = 0
    for source, text in zip(sources, outputs):
        hits = g.find(source)
        found += len(hits)
        rendered += sum(g.rendered(h.entry, text) for h in hits)
    return rendered, found


def published_success(g: Glossary, tico: list[str]) -> tuple[int, int, int]:
    """Term success of the real opus-mt-fr-en output on the task sentences that are
    TICO-19 test lines 1–424 (matched by their letters and digits)."""
    key = lambda text: re.sub(r"[\W_]+", "", text).casefold()  # noqa: E731
    source = (SHARED / "testsets" / "fra-eng" / "tico19-test.fra").read_text(encoding="utf-8").splitlines()[:424]
    output = (SHARED / "published" / "opus-mt-fr-en" / "tico19-test.fra-eng.output").read_text(encoding="utf-8").splitlines()[:424]
    by_text = {key(s): (s, o) for s, o in zip(source, output)}
    pairs = [by_text[key(t)] for t in tico if key(t) in by_text]
    rendered, found = success(g, [s for s, _ in pairs], [o for _, o in pairs])
    return rendered, found, len(pairs)


def timed(translator_of, texts: list[str], repeats: int = 3) -> tuple[float, list]:
    best, out = float("inf"), []
    for _ in range(repeats):
        translator = translator_of()
        translator.translate(texts[:8])  # load the model outside the timing
        started = time.perf_counter()
        out = translator.translate(texts)
        best = min(best, time.perf_counter() - started)
        translator.close()
    return best, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", nargs="+", default=["ctranslate2", "transformers"])
    parser.add_argument("--sentences", type=int, default=None, metavar="N", help="only the first N sentences of each text (the transformers backend is slow on CPU)")
    parser.add_argument("--texts", nargs="+", default=["TICO-19", "newstest2014"], choices=["TICO-19", "newstest2014"])
    args = parser.parse_args()
    g = glossary()
    tico, news = (texts[: args.sentences] for texts in sentences())
    model = resolve(str(MODEL))
    ok = True
    print(f"Glossary: {len(g):,} entries. Sentences: {len(tico):,} TICO-19 (terminology task), {len(news):,} newstest2014.\n", flush=True)
    rendered, found, n = published_success(g, tico)
    print(f"Real opus-mt-fr-en output (published), {n} of the task's sentences, no enforcement: {rendered} of {found} terms rendered ({rendered / max(found, 1):.1%}).\n")
    print("| backend | text | terms found | rendered without | rendered with enforce | no-term sentences identical | speed with/without |\n|---|---|---:|---:|---:|---:|---:|")
    for backend in args.backend:
        for name, texts in ((name, texts) for name, texts in (("TICO-19", tico), ("newstest2014", news)) if name in args.texts):
            settings = DecodeSettings(beam=2)
            free_s, free = 0.0, []
            forced_s, forced = 0.0, []
            for _ in range(3):  # alternate the two, best of 3 each
                s, free = timed(lambda: Translator(model, backend, settings, None), texts, 1)
                free_s = min(free_s or s, s)
                s, forced = timed(lambda: Translator(model, backend, settings, None, glossary=g), texts, 1)
                forced_s = min(forced_s or s, s)
            without = success(g, texts, [t.text for t in free])
            with_ = success(g, texts, [t.text for t in forced])
            plain = [i for i, t in enumerate(texts) if not g.find(t)]
            same = sum(forced[i] == free[i] for i in plain)
            speed = free_s / forced_s
            rate = with_[0] / max(with_[1], 1)
            met = rate >= SUCCESS_BAR and same == len(plain) and speed >= SPEED_BAR
            ok &= met or name == "TICO-19" and rate >= SUCCESS_BAR and same == len(plain)
            print(
                f"| {backend} | {name} | {with_[1]:,} | {without[0] / max(without[1], 1):.1%} | {rate:.1%} | {same:,} of {len(plain):,} | "
                f"{speed:.2f}× ({len(texts) / forced_s:.0f} vs {len(texts) / free_s:.0f} sentences/s) |",
                flush=True,
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
