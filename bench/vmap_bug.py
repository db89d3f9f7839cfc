"""Why CTranslate2's vocabulary shortlist (`use_vmap`) aborted with a range check: a
minimal reproduction of the upstream bug, on the fixture model's conversion.

CTranslate2 (checked on 4.8.5; source read at v4.8.1) restricts the output layer to
the shortlist of each batch in `Decoder::update_output_layer` (src/layers/decoder.cc):
it fills `_to_original_word_id` (position → vocabulary id) anew, but only adds to
`_to_output_word_id` (vocabulary id → position, a map that `emplace` never
overwrites and nothing clears). The decoder start token and the end token are mapped
through the stale positions of an earlier call (src/decoding.cc), and beam search then
reads `_to_original_word_id.at(position)` out of range. Checkpoints converted as
CTranslate2 converts OPUS-MT start from `</s>` (id 0, always at position 0), so the
plain path survives there. A checkpoint trained with transformers (the fixture)
starts from `<pad>`, which transformers puts at the last id, whose position changes
with every shortlist. Smaller shortlist first: no error, but output silently wrong.
mtpipe's conversion therefore moves `<pad>` to id 2 (convert.START_ID), right after
`</s>` and `<unk>`, which every shortlist holds: its position never changes.

    python bench/vmap_bug.py

Converts the fixture twice, `<pad>` left at the last id (the bug) and moved to id 2
(mtpipe's conversion), and prints what one Translator gives for two sentences in both
orders with use_vmap, against a fresh Translator for each sentence.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MODEL = ROOT / "models" / "tiny-fr-en"
SENTENCES = ["Le chat est sur la table.", "Bonjour."]
# A shortlist by hand: tokens always allowed, and tokens allowed per source piece.
ALWAYS = [".", ",", "?", "▁the"]
BY_SOURCE = {"▁Le": ["▁The"], "▁chat": ["▁cat"], "▁est": ["▁is"], "▁sur": ["▁on"], "▁la": ["▁the"], "▁table": ["▁table"], "▁Bonjour": ["▁Hello"]}


def check(start_id: int) -> None:
    """Convert the fixture with its decoder start token at `start_id`, add the shortlist,
    and translate both sentences in both orders on one Translator."""
    import ctranslate2
    import sentencepiece

    from pipeline.hub import resolve
    from pipeline.translate import convert, convert_ct2

    spm = sentencepiece.SentencePieceProcessor(model_file=str(MODEL / "source.spm"))
    tokens = {s: spm.encode(s, out_type=str) + ["</s>"] for s in SENTENCES}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = tmp
        kept, convert.START_ID = convert.START_ID, start_id
        try:
            folder = Path(tmp) / "model"
            shutil.copytree(convert_ct2(resolve(str(MODEL)), "int8"), folder)
        finally:
            convert.START_ID = kept
        vocabulary = json.loads((folder / "shared_vocabulary.json").read_text(encoding="utf-8"))
        assert all(t in vocabulary for t in ALWAYS + sum(BY_SOURCE.values(), []))
        lines = ["\t" + " ".join(["<pad>", *ALWAYS])] + [f"{source}\t{' '.join(targets)}" for source, targets in BY_SOURCE.items()]
        (folder / "vmap.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        start = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("decoder_start_token")
        print(f"ctranslate2 {ctranslate2.__version__}; decoder start token {start!r} at id {vocabulary.index(start)} of {len(vocabulary)}")

        def translate(translator, sentence: str) -> str:
            try:
                result = translator.translate_batch([tokens[sentence]], beam_size=4, use_vmap=True)
                return " ".join(result[0].hypotheses[0])
            except Exception as exc:  # the bug: IndexError (vector::_M_range_check)
                return f"{type(exc).__name__}: {exc}"

        fresh = {s: translate(ctranslate2.Translator(str(folder), device="cpu", compute_type="int8"), s) for s in SENTENCES}
        for order in (SENTENCES, SENTENCES[::-1]):
            one = ctranslate2.Translator(str(folder), device="cpu", compute_type="int8")
            for sentence in order:
                got = translate(one, sentence)
                verdict = "same as a fresh Translator" if got == fresh[sentence] else f"WRONG (a fresh Translator gives {fresh[sentence]!r})"
                print(f"  {sentence!r} after {[s for s in order if s != sentence][0]!r}" if sentence != order[0] else f"  {sentence!r} first", "->", repr(got), verdict)


def main() -> None:
    from pipeline.translate import convert

    last = len(json.loads((MODEL / "vocab.json").read_text(encoding="utf-8"))) - 1
    for start_id in (last, convert.START_ID):
        check(start_id)


if __name__ == "__main__":
    main()
