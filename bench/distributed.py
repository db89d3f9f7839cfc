"""The Ray engine against the local one: lines/s once running, start-up, memory.

On the random-weight model of opus-mt-fr-en's dimensions with the real tokenizer
(built as bench/translate.py builds it; outputs forced to the reference's length),
CTranslate2 int8, FLORES lines as articles of 20 lines, each system in a process of
its own:

  (L) --engine local: one CTranslate2 translator using every core
  (R1) --engine ray, 1 actor of 1 CPU, on a Ray instance the run starts here
  (R2) --engine ray, 2 actors of 1 CPU each
  (C2) --engine ray, 2 actors of 1 CPU on a simulated cluster of two nodes of one
       CPU each (ray.cluster_utils.Cluster: two raylets on this machine)

"start s" is from the translator's creation to its engine being ready (model loaded;
for Ray: the instance started, actors placed and loaded); "lines/s" is the run
itself after that (mtpipe's batch.run, writes included, no memory). "peak RSS" sums
the resident memory of the process and every process below it (Ray's servers and
actors), sampled every 0.1 s. Ratios are of lines/s against (L), run in the same
invocation. Not a test: nothing here is asserted.

    python bench/distributed.py [--lines 400] [--beam 4] [--systems L,R1,R2,C2]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("bench_translate", ROOT / "bench" / "translate.py")
speed = sys.modules["bench_translate"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(speed)
SYSTEMS = {
    "L": ("local", 0, False, "--engine local (CTranslate2, every core)"),
    "R1": ("ray", 1, False, "--engine ray, 1 actor x 1 CPU"),
    "R2": ("ray", 2, False, "--engine ray, 2 actors x 1 CPU"),
    "C2": ("ray", 2, True, "--engine ray, 2 actors on a 2-node cluster"),
}


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and every process below it."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += [c for c, parent in parents.items() if parent == p]
    return total


def sample_peak(stop: threading.Event, peak: list[int]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], tree_rss(os.getpid()))
        time.sleep(0.1)


def child(system: str, work: Path, lines: int, beam: int) -> dict:
    import ray

    from pipeline.run import run
    from pipeline.cluster import RayOptions
    from pipeline.hub import resolve
    from pipeline.translate import DecodeSettings, Translator

    engine, actors, simulated, _ = SYSTEMS[system]
    sentences, lengths = speed.data(lines)
    ratio = sum(lengths.values()) / sum(len(s.split()) * 1.3 for s in sentences)
    speed.register_forced(lengths, ratio, {})
    ray.cloudpickle.register_pickle_by_value(speed)  # the forcing backend, sent to the actors
    peak, stop = [0], threading.Event()
    threading.Thread(target=sample_peak, args=(stop, peak), daemon=True).start()
    cluster = None
    t0 = time.perf_counter()
    if simulated:
        from ray.cluster_utils import Cluster

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False, "object_store_memory": 128 << 20})
        cluster.add_node(num_cpus=1, object_store_memory=128 << 20)
        ray.init(address=cluster.address, log_to_driver=False)
    settings = DecodeSettings(beam=beam, device="cpu", compute_type="int8")
    options = RayOptions(actors=actors) if engine == "ray" else None
    translator = Translator(resolve(str(work / "model")), "bench-ctranslate2", options.settings_for(settings) if options else settings, None, engine, options)
    try:
        translator.engine()
        started = time.perf_counter() - t0
        t1 = time.perf_counter()
        summary = run([work / "in"], work / f"out-{system}", translator).to_json()
        seconds = time.perf_counter() - t1
        used = translator.engine_used()
    finally:
        translator.close()
        if cluster:
            ray.shutdown()
            cluster.shutdown()
    stop.set()
    assert summary["totals"]["error"] == 0, summary["totals"]
    return {"start": started, "seconds": seconds, "rss": peak[0], "nodes": used.get("nodes", 1), "sentences": summary["totals"]["sentences"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=400)
    parser.add_argument("--beam", type=int, default=4)
    parser.add_argument("--systems", default="L,R1,R2,C2")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child, args.work, args.lines, args.beam)))
        return
    with tempfile.TemporaryDirectory(prefix="mtpipe-bench-") as tmp:
        work = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")  # the conversion stays in the temp dir
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        speed.build_model(work / "model")
        from pipeline.hub import resolve
        from pipeline.translate import convert_ct2

        convert_ct2(resolve(str(work / "model")), "int8")
        sentences, _ = speed.data(args.lines)
        (work / "in").mkdir()
        for k in range(0, len(sentences), 20):  # articles of 20 lines, paragraphs of 5
            paragraphs = ["\n".join(sentences[i : i + 5]) for i in range(k, min(k + 20, len(sentences)), 5)]
            (work / "in" / f"a{k:04d}.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
        print(f"{args.lines} FLORES lines as {len(list((work / 'in').iterdir()))} articles, beam {args.beam}, CTranslate2 int8, {os.cpu_count()} CPUs, outputs forced to the reference length")
        print(f"{'system':<46} {'start s':>8} {'lines/s':>8} {'vs L':>6} {'peak RSS MB':>12} {'nodes':>6}")
        base = None
        for system in args.systems.split(","):
            cmd = [sys.executable, __file__, "--child", system, "--work", str(work), "--lines", str(args.lines), "--beam", str(args.beam)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode or not line:
                print(f"({system}) failed:\n{proc.stderr[-3000:]}")
                continue
            r = json.loads(line[0][7:])
            rate = args.lines / r["seconds"]
            base = base or (rate if system == "L" else None)
            ratio = f"{rate / base:.2f}x" if base else "-"
            print(f"{SYSTEMS[system][3]:<46} {r['start']:>8.1f} {rate:>8.2f} {ratio:>6} {r['rss'] / 2**20:>12.0f} {r['nodes']:>6}", flush=True)
        # Outputs must not depend on the engine: the English of every run against (L)'s.
        outs = sorted(work.glob("out-*"))
        english = {o.name: {p.name: p.read_bytes() for p in o.glob("*.en.txt")} for o in outs}
        if "out-L" in english:
            same = [name for name, files in english.items() if files == english["out-L"] and name != "out-L"]
            print(f"English identical to (L): {', '.join(n[4:] for n in same) or 'none'} of {', '.join(n[4:] for n in english if n != 'out-L')}")


if __name__ == "__main__":
    main()
