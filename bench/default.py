"""Fast by default: the README's main command, `mtpipe run IN -o OUT` with no backend
flag, against the same command with `--backend transformers`, in one invocation.

Inputs: the seed article, and the first 400 FLORES-101 devtest lines (one article,
5-line paragraphs). Model: random weights of opus-mt-fr-en's architecture with the
real tokenizer (bench/translate.py's), whose output bias on the end-of-sentence token
is raised by --eos-bias so that generation ends at lengths like a translation's:
random weights alone never end before mtpipe's length cap, which it takes for runaway
output and translates again in pieces. The two backends' outputs differ (int8 against
float32), so each line also says how many target tokens it produced.

Each command runs in its own process, as a user runs it, timed from start to exit
(model loading included), memory off (--no-cache), --repeats times, interleaved,
median kept. The default path's first run, which converts the model for CTranslate2
once, is timed apart.

    python bench/default.py [--lines 400] [--repeats 1] [--eos-bias 5]

Prints seconds, sentences/s and target tokens/s per run, and default/transformers.
Not a test: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from translate import FLORES, build_model  # noqa: E402

SEED = next((ROOT / "seeds").glob("*.txt"))


def biased(folder: Path, eos_bias: float) -> None:
    """Raise the model's output bias on </s> (its final_logits_bias) in place."""
    import torch
    from transformers import MarianMTModel

    model = MarianMTModel.from_pretrained(folder)
    with torch.no_grad():
        model.final_logits_bias[0, model.config.eos_token_id] += eos_bias
    model.save_pretrained(folder)


def mtpipe(inputs: Path, out: Path, model: Path, backend: list[str]) -> tuple[float, dict]:
    """Run the command; its wall seconds and summary."""
    command = [sys.executable, "-m", "pipeline.cli", "run", str(inputs), "-o", str(out), "--model", str(model), "--no-cache", "--quiet", "--force", *backend]
    t0 = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, json.loads((out / "summary.json").read_text(encoding="utf-8"))


def target_tokens(out: Path, model: Path) -> int:
    """The English's tokens under the model's tokenizer, over a run's records."""
    from transformers import MarianTokenizer

    tok = MarianTokenizer.from_pretrained(model)
    texts = [json.loads(line)["mt"] for path in out.rglob("*.align.jsonl") for line in path.read_text(encoding="utf-8").splitlines()]
    return sum(len(ids) for ids in tok(text_target=texts)["input_ids"]) if texts else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=400, help="FLORES lines (default 400)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--eos-bias", type=float, default=5.0, help="added to </s>'s output bias (default 5: beam 4 then ends FLORES sentences at 18-31 tokens, their references having 33 on average)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mtpipe-default-") as tmp:
        work = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")  # the conversion stays in the temp dir
        model = work / "model"
        build_model(model)
        biased(model, args.eos_bias)
        corpora = {"seed": work / "seed", f"{args.lines} FLORES lines": work / "flores"}
        corpora["seed"].mkdir()
        (corpora["seed"] / SEED.name).write_bytes(SEED.read_bytes())
        lines = FLORES.with_suffix(".fra").read_text(encoding="utf-8").splitlines()[: args.lines]
        corpora[f"{args.lines} FLORES lines"].mkdir()
        paragraphs = ["\n".join(lines[i : i + 5]) for i in range(0, len(lines), 5)]
        (corpora[f"{args.lines} FLORES lines"] / "flores.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")

        first, _ = mtpipe(corpora["seed"], work / "first", model, [])
        print(f"first run of the default path on the seed, converting the model once: {first:.1f} s")
        systems = {"default (no flag)": [], "--backend transformers": ["--backend", "transformers"]}
        print(f"{'corpus':<20} {'command':<24} {'backend':<13} {'seconds':>8} {'sent/s':>8} {'tok/s':>8} {'tokens':>7}")
        for c, (corpus, inputs) in enumerate(corpora.items()):
            timed: dict[str, list[float]] = {name: [] for name in systems}
            facts: dict[str, tuple[str, int, int]] = {}
            for r in range(args.repeats):
                for k, (name, flags) in enumerate(systems.items()):
                    out = work / f"out-{c}-{k}-{r}"
                    seconds, summary = mtpipe(inputs, out, model, flags)
                    timed[name].append(seconds)
                    facts[name] = (summary["backend"], summary["totals"]["sentences"], target_tokens(out, model))
            for name, times in timed.items():
                backend, sentences, tokens = facts[name]
                s = statistics.median(times)
                print(f"{corpus:<20} {name:<24} {backend:<13} {s:8.1f} {sentences / s:8.2f} {tokens / s:8.1f} {tokens:7d}")
            fast, slow = (statistics.median(timed[n]) for n in systems)
            (_, _, fast_tokens), (_, _, slow_tokens) = (facts[n] for n in systems)
            print(f"{corpus}: default/transformers {slow / fast:.2f}x in wall time, {(fast_tokens / fast) / (slow_tokens / slow):.2f}x in target tokens/s")


if __name__ == "__main__":
    main()
