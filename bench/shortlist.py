"""`--shortlist`: its speed through mtpipe on a model of opus-mt-fr-en's size, and its
fidelity on the fixture model, in one invocation.

Speed: bench/translate.py's model (random weights of opus-mt-fr-en's dimensions, the
real 53,017-piece tokenizer). Its own translations are noise, so its shortlist is built
as the one of a real model would be sized: build_shortlist (mtpipe's) over newstest2013
with human English, each English piece linked to the French piece of its sentence with
the best Dice co-occurrence, `--frequent` and `--per-piece` as `mtpipe models shortlist`
takes them. Then `mtpipe run` on the first --lines FLORES lines (one article) with and
without `--shortlist`, in this process, --repeats times interleaved, beam 4, outputs
forced to the reference's token count (bench/translate.py's bench-ctranslate2 backend),
timed from the model loaded to the run's end; median target tokens/s.

Fidelity: the fixture model (models/tiny-fr-en) gets its shortlist from
`mtpipe models shortlist` over newstest2013+2014 (its own translations and word
links), then translates the 1,012 FLORES devtest lines with and without it (mtpipe's
Translator, memory off): share of identical outputs, chrF2 and BLEU against the
references. The fixture is a toy whose English is garbage by design: this says how much
the shortlist changes a model's choices, not what it does to opus-mt-fr-en's quality.

    python bench/shortlist.py [--lines 400] [--repeats 3] [--frequent N] [--per-piece K] [--parts fidelity,speed]

Not a test: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from translate import FLORES, SHARED, build_model, data, register_forced  # noqa: E402

TESTSETS = SHARED / "data" / "testsets" / "fra-eng"
FIXTURE = ROOT / "models" / "tiny-fr-en"


def dice_links(tok, corpus: Path) -> list:
    """PieceLinks of a parallel corpus: each English piece linked to the French piece of
    its sentence with the best Dice co-occurrence over the corpus."""
    from pipeline.translate.shortlist import PieceLinks

    fr = corpus.with_suffix(".fra").read_text(encoding="utf-8").splitlines()
    en = corpus.with_suffix(".eng").read_text(encoding="utf-8").splitlines()
    src = [tok.convert_ids_to_tokens(ids) for ids in tok(fr)["input_ids"]]
    tgt = [tok.convert_ids_to_tokens(ids) for ids in tok(text_target=en)["input_ids"]]
    count_s, count_t, both = collections.Counter(), collections.Counter(), collections.Counter()
    for s, t in zip(src, tgt):
        count_s.update(set(s))
        count_t.update(set(t))
        both.update((a, b) for a in set(s) for b in set(t))

    def dice(a: str, b: str) -> float:
        return 2 * both[a, b] / (count_s[a] + count_t[b])

    return [PieceLinks(s, t, [max(range(len(s)), key=lambda i: dice(s[i], piece)) for piece in t]) for s, t in zip(src, tgt)]


def speed(work: Path, args: argparse.Namespace) -> None:
    from pipeline.cli import main as mtpipe
    from pipeline.hub import resolve
    from pipeline.translate.shortlist import build_shortlist, save_shortlist
    from pipeline.translate.spm import MarianSpm

    model = work / "model"
    build_model(model)
    tok = MarianSpm(model)
    shortlist = build_shortlist(dice_links(tok, TESTSETS / "newstest2013"), tok.pad_token, args.frequent, args.per_piece)
    save_shortlist(resolve(str(model)), shortlist, {"corpus": ["newstest2013 (human English, Dice links)"]})
    sentences, lengths = data(args.lines)
    (work / "in").mkdir()
    (work / "in" / "flores.txt").write_text("\n".join(sentences) + "\n", encoding="utf-8")
    stats: dict = {}
    ratio = sum(lengths.values()) / sum(len(s.split()) * 1.3 for s in sentences)
    register_forced(lengths, ratio, stats)
    always = set(shortlist.always)
    pieces = sorted((tok.convert_ids_to_tokens(ids) for ids in tok(sentences)["input_ids"]), key=len)
    groups = {1: [[p] for p in pieces], 64: [pieces[i : i + 64] for i in range(0, len(pieces), 64)]}
    candidates = {n: statistics.mean(len(always.union(*(shortlist.by_piece.get(p, ()) for s in g for p in s))) for g in group) for n, group in groups.items()}
    timed: dict[str, list[float]] = {"full vocabulary": [], "--shortlist": []}
    for r in range(args.repeats):
        for name, flags in (("full vocabulary", []), ("--shortlist", ["--shortlist"])):
            stats.clear()
            command = ["run", str(work / "in"), "-o", str(work / f"out-{r}-{len(flags)}"), "--model", str(model), "--backend", "bench-ctranslate2"]
            code = mtpipe([*command, "--beam", str(args.beam), "--no-cache", "--quiet", "--force", *flags])
            seconds = time.perf_counter() - stats["loaded"]
            assert code == 0, code
            timed[name].append(stats["tokens"] / seconds)
    print(f"speed: random-weight opus-mt-sized model (vocabulary {len(tok.encoder)}), {args.lines} FLORES lines, beam {args.beam}, forced lengths, {os.cpu_count()} cores")
    print(f"  shortlist: {len(shortlist.always)} always + up to {args.per_piece} per French piece; {candidates[1]:.0f} candidates per sentence, {candidates[64]:.0f} per 64 length-sorted sentences, on average")
    for name, rates in timed.items():
        print(f"  {name:<16} {statistics.median(rates):8.1f} target tokens/s  (runs: {', '.join(f'{x:.0f}' for x in rates)})")
    full, short = (statistics.median(timed[n]) for n in timed)
    print(f"  --shortlist / full: {short / full:.2f}x")


def fidelity(work: Path, args: argparse.Namespace) -> None:
    import sacrebleu

    from pipeline.cli import main as mtpipe
    from pipeline.hub import resolve
    from pipeline.translate import DecodeSettings, Translator

    corpus = [TESTSETS / f"newstest{year}.fra" for year in (2013, 2014)]
    command = ["models", "shortlist", "--model", str(FIXTURE), *map(str, corpus), "--quiet", "--frequent", str(args.frequent), "--per-piece", str(args.per_piece)]
    assert mtpipe(command) == 0
    fr = FLORES.with_suffix(".fra").read_text(encoding="utf-8").splitlines()
    en = FLORES.with_suffix(".eng").read_text(encoding="utf-8").splitlines()
    outputs, rates = {}, {}
    for shortlist in (False, True):
        translator = Translator(resolve(str(FIXTURE)), "ctranslate2", DecodeSettings(shortlist=shortlist), None)
        translator.backend()
        t0 = time.perf_counter()
        outputs[shortlist] = [t.text for t in translator.translate(fr)]
        rates[shortlist] = len(fr) / (time.perf_counter() - t0)
    same = sum(a == b for a, b in zip(outputs[False], outputs[True]))
    print(f"fidelity: fixture model, shortlist from newstest2013+2014 ({args.frequent} frequent, {args.per_piece} per piece), {len(fr)} FLORES devtest lines, beam 4")
    for shortlist, name in ((False, "full vocabulary"), (True, "--shortlist")):
        chrf, bleu = sacrebleu.corpus_chrf(outputs[shortlist], [en]).score, sacrebleu.corpus_bleu(outputs[shortlist], [en]).score
        print(f"  {name:<16} chrF2 {chrf:6.2f}  BLEU {bleu:5.2f}  {rates[shortlist]:6.1f} lines/s")
    print(f"  identical outputs: {same} of {len(fr)} ({same / len(fr):.1%})")


def main() -> None:
    from pipeline.translate.shortlist import FREQUENT, PER_PIECE

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=400, help="FLORES lines timed (default 400)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--beam", type=int, default=4)
    parser.add_argument("--frequent", type=int, default=FREQUENT)
    parser.add_argument("--per-piece", type=int, default=PER_PIECE)
    parser.add_argument("--parts", default="fidelity,speed", help="which parts to run (default: fidelity,speed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mtpipe-shortlist-") as tmp:
        work = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")  # conversions and shortlists stay in the temp dir
        for part in args.parts.split(","):
            {"fidelity": fidelity, "speed": speed}[part](work, args)


if __name__ == "__main__":
    main()
