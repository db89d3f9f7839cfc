"""The Ray engine: a run on Ray actors writes what a local run writes, also when
actors die, a node leaves, or the driver is interrupted and run again.

Every test starts the Ray instance it uses (never `ray stop`: that would end every
Ray process on the machine) and has a timeout, since a hang raises nothing.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray") if not os.environ.get("MTPIPE_CI") else __import__("ray")
torch = pytest.importorskip("torch")

from pipeline.cluster import MAX_RESTARTS, RayOptions, unplaceable  # noqa: E402
from pipeline.errors import UsageError  # noqa: E402
from pipeline.glossary import Entry, Glossary  # noqa: E402
from pipeline.hub import ModelError, ModelRef  # noqa: E402
from pipeline.memory import TranslationMemory  # noqa: E402
from pipeline.outdir import MANIFEST  # noqa: E402
from pipeline.reaper import alive, descendants  # noqa: E402
from pipeline.run import run  # noqa: E402
from pipeline.translate import BACKENDS, DecodeSettings, TransformersBackend, Translator  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "models" / "tiny-fr-en"
SEED = next((REPO / "seeds").glob("*.txt"))
BATCH_TOKENS = 96  # small batches: many of them, so that faults land mid-run
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

# Sent to the actors by value, so that they can run classes defined here.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module", autouse=True)
def _fixed_date():
    """Pages dated alike, so that runs compare byte for byte."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1700000000")
        yield


@pytest.fixture(autouse=True)
def _one_thread():
    """Local runs with the actors' thread count, so that the pages' settings agree."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Articles of seed sentences that repeat across articles (a dateline, shared
    paragraphs), in two folders."""
    paragraphs = [p for p in SEED.read_text(encoding="utf-8").split("\n\n") if p.strip()][:12]
    root = tmp_path_factory.mktemp("corpus")
    for i in range(5):
        chosen = ["PARIS (AFP) – Dépêche du jour.", *paragraphs[i * 2 : i * 2 + 4], paragraphs[0]]
        path = root / ("a" if i % 2 else "b") / f"article{i}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n\n".join(chosen) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def ray_instance():
    """A Ray instance of two CPUs, as a user's script would start it, shared by the tests
    of this module that join one (each engine starts and stops its own actors)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=128 << 20)
    yield
    ray.shutdown()


def _translator(memory: Path | None, engine: str = "local", actors: int = 2, glossary: Glossary | None = None) -> Translator:
    settings = DecodeSettings(batch_tokens=BATCH_TOKENS)
    options = RayOptions(actors=actors) if engine == "ray" else None
    if options:
        settings = options.settings_for(settings)
    model = ModelRef("tiny-fr-en", FIXTURE, "fixture")
    return Translator(model, "transformers", settings, TranslationMemory(memory) if memory else None, engine, options, glossary)


def _run(corpus: Path, out: Path, translator: Translator) -> dict:
    try:
        return run([corpus], out, translator).to_json()
    finally:
        translator.close()


def _outputs(out: Path) -> dict[str, bytes | list[bytes]]:
    """Every output but the summary (compared apart); the manifest's lines as a sorted
    list: it logs files in the order they were first written, and when summary.json
    is first written during a run depends on the clock."""
    files: dict[str, bytes | list[bytes]] = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and p.name != "summary.json"}
    files[MANIFEST] = sorted(files[MANIFEST].splitlines())  # type: ignore[union-attr]
    return files


def _comparable(summary: dict) -> dict:
    """A summary without what differs between engines by design: times and the engine."""
    drop = {"date", "seconds", "engine"}
    return {
        **{k: v for k, v in summary.items() if k not in drop},
        "articles": [{k: v for k, v in a.items() if k != "seconds"} for a in summary["articles"]],
    }


def _rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return sorted(db.execute("SELECT * FROM translations")) + sorted(db.execute("SELECT * FROM word_links"))


@pytest.fixture(scope="module")
def local(corpus: Path, tmp_path_factory) -> tuple[Path, dict]:
    """The reference: a local run of the corpus, with a memory."""
    root = tmp_path_factory.mktemp("local")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        summary = _run(corpus, root / "out", _translator(root / "memory.sqlite3"))
    finally:
        torch.set_num_threads(before)
    return root, summary


@pytest.mark.parametrize("cached", [True, False], ids=["memory", "no-cache"])
def test_ray_run_writes_the_local_run_bytes(corpus: Path, local, tmp_path: Path, ray_instance, cached: bool) -> None:
    reference, expected = local  # a first run: the same with or without the memory
    summary = _run(corpus, tmp_path / "out", _translator(tmp_path / "memory.sqlite3" if cached else None, "ray"))
    assert _outputs(tmp_path / "out") == _outputs(reference / "out")
    assert _comparable(summary) == _comparable(expected)
    assert summary["engine"]["name"] == "ray" and summary["engine"]["actors"] == 2 and summary["engine"]["batches"] > 4
    assert summary["model_loaded"] and summary["totals"]["error"] == 0
    if cached:
        assert _rows(tmp_path / "memory.sqlite3") == _rows(reference / "memory.sqlite3")


def test_ray_forces_glossary_terms_as_the_local_engine_does(corpus: Path, tmp_path: Path, ray_instance) -> None:
    glossary = Glossary([Entry("russe", ("Russian",)), Entry("armée", ("army",)), Entry("ville", ("city",))])
    for engine in ("local", "ray"):
        _run(corpus, tmp_path / engine, _translator(None, engine, glossary=glossary))
    assert _outputs(tmp_path / "ray") == _outputs(tmp_path / "local")
    records = [json.loads(line) for path in sorted((tmp_path / "ray").rglob("*.align.jsonl")) for line in path.read_text(encoding="utf-8").splitlines()]
    forced = [r for r in records if "free" in r]
    assert forced and all(not glossary.missed(r["src"], r["mt"]) for r in forced)


class ExitOnce(TransformersBackend):
    """Exits its actor's process on its second batch, the first time only."""

    marker: Path

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.batches = 0

    def generate(self, texts, max_new_tokens):
        self.batches += 1
        if self.batches == 2:
            try:
                self.marker.open("x").close()
            except FileExistsError:
                pass
            else:
                os._exit(1)
        return super().generate(texts, max_new_tokens)


class Reporting(TransformersBackend):
    """Writes its pid when loaded and a line per batch, so that a test can kill it."""

    folder: Path

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        (self.folder / f"{os.getpid()}.pid").write_text("")

    def generate(self, texts, max_new_tokens):
        with (self.folder / "batches").open("a") as log:
            log.write(f"{os.getpid()}\n")
        return super().generate(texts, max_new_tokens)


def _when(condition, then, timeout: float = 120) -> threading.Thread:
    """Run `then` in a thread as soon as `condition()` holds."""

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)
        then()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def _batches(folder: Path) -> list[str]:
    path = folder / "batches"
    return path.read_text().split() if path.exists() else []


def test_an_actor_that_exits_mid_run_is_restarted_and_the_outputs_do_not_change(corpus, local, tmp_path, ray_instance, monkeypatch) -> None:
    monkeypatch.setattr(ExitOnce, "marker", tmp_path / "exited", raising=False)
    monkeypatch.setitem(BACKENDS, "transformers", ExitOnce)
    summary = _run(corpus, tmp_path / "out", _translator(None, "ray"))
    assert (tmp_path / "exited").exists()  # an actor did exit
    assert summary["totals"]["error"] == 0
    assert _outputs(tmp_path / "out") == _outputs(local[0] / "out")


def test_an_actor_killed_by_pid_from_the_driver_changes_nothing(corpus, local, tmp_path, ray_instance, monkeypatch) -> None:
    monkeypatch.setattr(Reporting, "folder", tmp_path, raising=False)
    monkeypatch.setitem(BACKENDS, "transformers", Reporting)
    killed: list[int] = []

    def kill() -> None:
        pid = int(_batches(tmp_path)[0])
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    watcher = _when(lambda: len(_batches(tmp_path)) >= 2, kill)
    summary = _run(corpus, tmp_path / "out", _translator(None, "ray"))
    watcher.join(5)
    assert killed and len(list(tmp_path.glob("*.pid"))) == 3  # two actors, one started again
    assert summary["totals"]["error"] == 0
    assert _outputs(tmp_path / "out") == _outputs(local[0] / "out")


def _kill_every_actor(folder: Path, stop: threading.Event, killed: set[int]) -> None:
    """Kill each actor that wrote its pid file into `folder` (a started or restarted one), until `stop`."""
    while not stop.is_set():
        for pid in {int(p.name.split(".")[-2]) for p in folder.glob("*.pid")} - killed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            killed.add(pid)
        time.sleep(0.02)


def test_a_model_no_actor_can_load_is_one_sentence(corpus, tmp_path, ray_instance) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in os.listdir(FIXTURE):  # the tokenizer loads; the weights do not
        if name != "model.safetensors":
            (broken / name).write_bytes((FIXTURE / name).read_bytes())
    (broken / "model.safetensors").write_bytes(b"not weights")
    options = RayOptions(actors=2)
    translator = Translator(ModelRef("broken", broken, None), "transformers", options.settings_for(DecodeSettings()), None, "ray", options)
    with pytest.raises(ModelError, match=r"model broken could not be loaded: .*\(on every Ray actor\)"):
        translator.translate(["Bonjour."])


def test_a_node_removed_mid_run_leaves_the_outputs_unchanged(corpus, local, tmp_path, monkeypatch) -> None:
    from ray.cluster_utils import Cluster

    ray.shutdown()  # a cluster of its own: the module's shared instance (if started) is done with
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False, "object_store_memory": 128 << 20})
    worker = cluster.add_node(num_cpus=1, object_store_memory=128 << 20)
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        monkeypatch.setattr(Reporting, "folder", tmp_path, raising=False)
        monkeypatch.setitem(BACKENDS, "transformers", Reporting)
        removed = threading.Event()
        watcher = _when(lambda: len(_batches(tmp_path)) >= 2, lambda: (cluster.remove_node(worker), removed.set()))
        summary = _run(corpus, tmp_path / "out", _translator(None, "ray"))
        watcher.join(30)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert removed.is_set() and summary["engine"]["nodes"] == 2  # the actors were spread, one on the removed node
    assert summary["totals"]["error"] == 0
    assert _outputs(tmp_path / "out") == _outputs(local[0] / "out")


@pytest.mark.parametrize("options, message", [
    ({"actors": 0}, "--actors must be at least 1"),
    ({"cpus_per_actor": 0}, "--cpus-per-actor must be at least 1"),
    ({"gpus_per_actor": -1}, "--gpus-per-actor cannot be negative"),
])
def test_ray_options_are_checked(options: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        RayOptions(**options)


@pytest.mark.parametrize(
    "options, nodes, message",
    [
        ({}, [{"CPU": 2.0}], None),
        ({"actors": 2}, [{"CPU": 2.0}], None),
        ({"actors": 3}, [{"CPU": 2.0}], "room for 2 actors of 1 CPU, not 3 (its nodes have 2 CPUs): lower --actors to 2"),
        ({"actors": 1000}, [{"CPU": 2.0}, {"CPU": 4.0}], "room for 6 actors of 1 CPU, not 1000 (its nodes have 2 CPUs, 4 CPUs)"),
        ({"cpus_per_actor": 64}, [{"CPU": 2.0}, {"CPU": 32.0}], "no node of the Ray cluster can hold an actor of 64 CPUs (its nodes have 2 CPUs, 32 CPUs): lower --cpus-per-actor"),
        ({"cpus_per_actor": 3}, [{"CPU": 2.0}, {"CPU": 2.0}], "no node of the Ray cluster can hold an actor of 3 CPUs"),  # 4 CPUs in all, but never 3 on one node
        ({"gpus_per_actor": 1}, [{"CPU": 8.0}], "no node of the Ray cluster can hold an actor of 1 CPU and 1 GPU (its nodes have 8 CPUs and 0 GPUs)"),
        ({"actors": 2, "gpus_per_actor": 0.5}, [{"CPU": 8.0, "GPU": 1.0}], None),
        ({}, [], "no node of the Ray cluster can hold an actor of 1 CPU (its nodes have no live node)"),
    ],
)
def test_actors_that_can_never_be_placed_are_refused_at_once(options: dict, nodes: list, message: str | None) -> None:
    why = unplaceable(RayOptions(**options), nodes)
    assert why == message if message is None else message in why


@pytest.mark.parametrize(
    "flags, said",
    [
        (["--actors", "1000"], "mtpipe: error: the Ray cluster has room for 2 actors of 1 CPU, not 1000"),
        (["--cpus-per-actor", "64"], "mtpipe: error: no node of the Ray cluster can hold an actor of 64 CPUs"),
        (["--address", "CLOSED"], "mtpipe: error: nothing answers at the Ray cluster address 127.0.0.1:"),
        (["--address", "WEB"], "mtpipe: error: nothing answers at the Ray cluster address 127.0.0.1:"),
    ],
)
def test_a_ray_misconfiguration_fails_within_30_s_with_one_line(corpus, tmp_path: Path, flags: list[str], said: str) -> None:
    import http.server
    import socket

    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{probe.getsockname()[1]}"
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)  # not Ray: a web server
    threading.Thread(target=web.serve_forever, daemon=True).start()
    addresses = {"CLOSED": closed, "WEB": f"127.0.0.1:{web.server_address[1]}"}
    command = [sys.executable, "-m", "pipeline.cli", "run", str(corpus), "-o", str(tmp_path / "out"), "--model", str(FIXTURE), "--no-cache", "--quiet"]
    command += ["--engine", "ray", "--backend", "transformers", *[addresses.get(f, f) for f in flags]]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("RAY_ADDRESS", None)
    started = time.monotonic()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    finally:
        web.shutdown()
        web.server_close()
    assert time.monotonic() - started < 30
    assert done.returncode == 2 and done.stderr.startswith(said) and len(done.stderr.splitlines()) == 1, done.stderr


def test_a_live_ray_cluster_answers_the_address_probe_at_once() -> None:
    """The probe that refuses a web server at --address must let Ray's GCS through: it
    answers the HTTP/2 preface with a SETTINGS frame."""
    from ray.cluster_utils import Cluster

    from pipeline.cluster import _answers

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        started = time.monotonic()
        assert _answers(cluster.address, seconds=5.0) is None
        assert time.monotonic() - started < 4  # a reply, not the probe's timeout
    finally:
        cluster.shutdown()


@pytest.mark.parametrize("device, gpus, expected", [("auto", 0, "cpu"), ("auto", 0.5, "cuda"), ("cpu", 1, "cpu"), ("cuda", 0, "cuda")])
def test_actor_settings_follow_their_resources(device: str, gpus: float, expected: str) -> None:
    settings = RayOptions(cpus_per_actor=3, gpus_per_actor=gpus).settings_for(DecodeSettings(device=device))
    assert (settings.device, settings.cores) == (expected, 3)


@pytest.mark.parametrize("cores, workers, threads", [(1, 1, 1), (2, 2, 1), (3, 3, 1), (8, 4, 2)])
def test_an_actors_threads_follow_its_cpus_not_the_cores_it_sees(cores: int, workers: int, threads: int) -> None:
    from pipeline.translate import CTranslate2Backend

    pytest.importorskip("ctranslate2")
    model = ModelRef("tiny-fr-en", FIXTURE, "fixture")
    settings = RayOptions(cpus_per_actor=cores).settings_for(DecodeSettings())
    assert (CTranslate2Backend.plan(model, settings)["workers"], CTranslate2Backend.plan(model, settings)["threads"]) == (workers, threads)
    assert TransformersBackend.plan(model, settings)["threads"] == cores


# A driver that logs every text sent to the actors: the resume test reads what a run dispatched.
DRIVER = textwrap.dedent(
    """
    import os, sys
    from pipeline.cli import main
    from pipeline.translate import BACKENDS, TransformersBackend

    class Logged(TransformersBackend):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            open(f"{os.environ['MTPIPE_TEST_LOG']}.{os.getpid()}.pid", "w").close()

        def generate(self, texts, max_new_tokens):
            with open(os.environ["MTPIPE_TEST_LOG"], "a", encoding="utf-8") as log:
                log.writelines(t.replace("\\n", " ") + "\\n" for t in texts)
            return super().generate(texts, max_new_tokens)

    BACKENDS["transformers"] = Logged
    sys.exit(main(sys.argv[1:]))
    """
)


def _driver(corpus: Path, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """The command and environment of a CLI run on a Ray instance of its own that logs what it sends."""
    command = [sys.executable, "-c", DRIVER, "run", str(corpus), "-o", str(tmp_path / "out"), "--model", str(FIXTURE)]
    command += ["--cache", str(tmp_path / "memory.sqlite3"), "--batch-tokens", str(BATCH_TOKENS // 2), "--engine", "ray", "--actors", "2", "--quiet", "--backend", "transformers"]
    env = {**os.environ, "MTPIPE_TEST_LOG": str(tmp_path / "sent.log"), "PYTHONPATH": str(REPO)}
    env.pop("RAY_ADDRESS", None)
    return command, env


def _midway(driver: subprocess.Popen, cache: Path) -> set:
    """Wait until the run has remembered 3 translations; the processes under it then."""

    def remembered() -> int:
        try:
            with sqlite3.connect(cache, timeout=1) as db:
                return db.execute("SELECT count(*) FROM translations").fetchone()[0]
        except sqlite3.Error:
            return 0

    deadline = time.monotonic() + 180
    while remembered() < 3 and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    ours = descendants(driver.pid)
    assert len(ours) >= 3  # the Ray instance it started: its servers and actors
    return ours


def _gone_within(processes: set, seconds: float) -> list:
    """The processes still alive after `seconds`."""
    deadline = time.monotonic() + seconds
    while any(map(alive, processes)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return [p for p in processes if alive(p)]


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads the process tree from /proc")
@pytest.mark.parametrize(("signum", "code", "said"), [(signal.SIGTERM, 143, "terminated"), (signal.SIGKILL, -9, None)])
def test_a_ray_run_killed_or_terminated_leaves_no_ray_process(corpus, tmp_path, signum: int, code: int, said: str | None) -> None:
    command, env = _driver(corpus, tmp_path)
    driver = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    ours = _midway(driver, tmp_path / "memory.sqlite3")
    driver.send_signal(signum)
    _, stderr = driver.communicate(timeout=120)
    assert driver.returncode == code, stderr
    if said:
        assert said in stderr and "Traceback" not in stderr
    assert not _gone_within(ours, 20)


def test_the_command_on_a_cluster_whose_every_actor_is_killed_exits_2_with_one_line_within_60_s(corpus, tmp_path) -> None:
    command, env = _driver(corpus, tmp_path)
    started = time.monotonic()
    driver = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    stop, killed = threading.Event(), set()
    watcher = _when(lambda: (tmp_path / "sent.log").exists(), lambda: _kill_every_actor(tmp_path, stop, killed))
    try:
        _, stderr = driver.communicate(timeout=120)
    finally:
        stop.set()
        watcher.join(5)
    assert time.monotonic() - started < 60
    assert (driver.returncode, stderr) == (2, "mtpipe: error: every Ray actor has died (2 lost); check the nodes' logs (ray logs) and run the same command again\n")
    assert len(killed) == 2 * (1 + MAX_RESTARTS)  # every life of both actors
    summary = tmp_path / "out" / "summary.json"
    assert not summary.exists() or json.loads(summary.read_text())["totals"]["error"] == 0  # no article blamed


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads the process tree from /proc")
def test_an_interrupted_ray_run_leaves_no_ray_process_and_a_rerun_sends_only_what_is_missing(corpus, tmp_path) -> None:
    cache, log = tmp_path / "memory.sqlite3", tmp_path / "sent.log"
    command, env = _driver(corpus, tmp_path)
    driver = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    ours = _midway(driver, cache)
    driver.send_signal(signal.SIGINT)
    _, stderr = driver.communicate(timeout=120)
    assert driver.returncode == 130, stderr
    assert "interrupted; run the same command again" in stderr
    assert not _gone_within(ours, 30)

    with sqlite3.connect(cache) as db:
        kept = {source.strip() for (source,) in db.execute("SELECT source FROM translations")}
    assert kept
    log.unlink()
    rerun = subprocess.run(command, env=env, stderr=subprocess.PIPE, text=True, timeout=240)
    assert rerun.returncode == 0, rerun.stderr
    sent = set(log.read_text(encoding="utf-8").splitlines())
    assert not sent & kept  # nothing the interrupted run finished is sent again
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["totals"]["error"] == 0 and summary["totals"]["from_memory"] >= len(kept)
    with sqlite3.connect(cache) as db:
        now = {source.strip() for (source,) in db.execute("SELECT source FROM translations")}
    assert now - kept <= sent  # and everything else was
