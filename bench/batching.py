"""Does a sentence's translation depend on the articles it shares batches with?

mtpipe pools the sentences of consecutive articles into shared length-sorted batches.
Which sentences share a batch (and so how much padding each gets) then depends on the
folder's layout, and padding changes the arithmetic slightly: in principle a sentence
can come out differently. This measures how often it does, on the fixture model: the
same FLORES lines translated as one article, as articles of 20 lines and of 5 lines,
with each backend, counting the sentences whose output (text) differs from the
one-article run, and those whose mean log-probability differs by more than 1e-4.
Within one window (2,048 distinct sentences) the batches are those of the one-article
run, so nothing should differ; a window of 100 sentences (as in a folder far larger
than the window) makes other batches, and shows what padding changes.

    python bench/batching.py [--lines 1012] [--beam 4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLORES = ROOT.parent / "shared" / "data" / "testsets" / "fra-eng" / "flores101-devtest.fra"
TINY_MODEL = ROOT / "models" / "tiny-fr-en"


def articles(lines: list[str], size: int) -> list[list[str]]:
    """The sentences of each article of `size` lines (as mtpipe segments them)."""
    from pipeline.ingest import parse
    from pipeline.segment import segment

    chunks = [lines[i : i + size] for i in range(0, len(lines), size)]
    return [[s.text for s in segment(parse(("\n".join(chunk) + "\n").encode(), "a.txt"))] for chunk in chunks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1012)
    parser.add_argument("--beam", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = tmp  # the CTranslate2 conversion stays in the temp dir
        from pipeline import translate
        from pipeline.hub import resolve
        from pipeline.translate import DecodeSettings, Translator

        lines = FLORES.read_text(encoding="utf-8").splitlines()[: args.lines]
        model = resolve(str(TINY_MODEL))
        print(f"{args.lines} FLORES lines, fixture model, beam {args.beam}; sentences that differ from the one-article run")
        print(f"{'backend':<24} {'articles of':>12} {'window':>7} {'sentences':>10} {'text differs':>13} {'logprob differs':>16}")
        for backend, compute_type in (("transformers", None), ("ctranslate2", "float32"), ("ctranslate2", "int8")):
            translator = Translator(model, backend, DecodeSettings(beam=args.beam, compute_type=compute_type), None)
            [one] = articles(lines, len(lines))
            reference = translator.translate(one)
            for size, window in ((20, translate.WINDOW_SENTENCES), (5, translate.WINDOW_SENTENCES), (20, 100), (5, 100)):
                translate.WINDOW_SENTENCES, default = window, translate.WINDOW_SENTENCES
                groups = articles(lines, size)
                done = dict(translator.stream(groups))
                translate.WINDOW_SENTENCES = default
                many = [t for i in range(len(groups)) for t in done[i]]
                assert len(many) == len(reference)
                texts = sum(a.text != b.text for a, b in zip(many, reference))
                scores = sum(abs((a.logprob or 0) - (b.logprob or 0)) > 1e-4 for a, b in zip(many, reference))
                name = backend + (f" {compute_type}" if compute_type else "")
                print(f"{name:<24} {size:>9} ln {window:>7} {len(many):>10} {texts:>6} ({100 * texts / len(many):.1f}%) {scores:>8} ({100 * scores / len(many):.1f}%)", flush=True)


if __name__ == "__main__":
    main()
