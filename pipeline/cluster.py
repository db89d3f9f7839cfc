"""Cluster: the batches a run plans, translated by Ray actors on one or many machines.

The driver (this process) keeps everything but the model: reading, segmenting, the
translation memory, the batch plan, every write. Each actor loads the backend once
and translates the batches it is sent; results come back in plan order, so a run
on a cluster writes the same bytes as on one machine with the same settings.

Ray is imported only here, and only when the engine starts: `mtpipe --help` and the
local engine never load it. Actors get small constructor arguments (the backend's
class, the model's path, the settings), so Ray can restart them from anywhere.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .errors import EngineError, MtpipeError, UsageError
from .hub import ModelError, ModelRef
from .messages import first_line
from .reaper import Reaper
from .translate.marian import token_counter
from .translate.types import (
    BACKENDS,
    DecodeSettings,
    Hypothesis,
    generate_on,
    usable_cores,
)
from .wordalign import Links

if TYPE_CHECKING:  # the Translator makes this engine (translator._ray): no import back
    from .translate.translator import Translator

NEEDS_RAY = '--engine ray needs Ray: pip install -e ".[ray]" in a checkout (pip install "ray>=2.44" otherwise)'
# An actor whose process dies is started again and its batch sent again, this many
# times (Ray's own restart); a batch that still fails is sent to another actor, up
# to MAX_ATTEMPTS times in all, then its articles fail.
MAX_RESTARTS, MAX_ATTEMPTS = 4, 3
# Batches queued per actor: one being translated, one waiting, so that no actor idles
# while the driver handles a result.
DEPTH = 2
# Seconds the cluster may take to place and load every actor, and the longest wait
# for any batch to finish before the run is declared stuck (a dead node whose
# actors cannot be placed anywhere else).
START_SECONDS, STALL_SECONDS = 600.0, 1800.0


class ClusterError(MtpipeError, RuntimeError):
    """A batch could not be translated on the cluster (its actors kept failing on it):
    its articles fail, the run goes on."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide a run goes on Ray. `address` None means RAY_ADDRESS when
    set, else a Ray instance started on this machine for the run and stopped after
    it; `actors` None means as many as the cluster's CPUs (or GPUs) allow."""

    address: str | None = None
    actors: int | None = None
    cpus_per_actor: int = 1
    gpus_per_actor: float = 0.0

    def __post_init__(self) -> None:
        if self.actors is not None and self.actors < 1:
            raise UsageError("--actors must be at least 1")
        if self.cpus_per_actor < 1:
            raise UsageError("--cpus-per-actor must be at least 1 (an actor's threads are whole cores)")
        if self.gpus_per_actor < 0:
            raise UsageError("--gpus-per-actor cannot be negative")

    def settings_for(self, settings: DecodeSettings) -> DecodeSettings:
        """The settings each actor runs with: threads laid out for its CPUs rather than
        for the cores it can see, and `auto` decided by whether it holds a GPU (Ray
        hides the GPUs from an actor that asked for none)."""
        device = settings.device if settings.device != "auto" else ("cuda" if self.gpus_per_actor > 0 else "cpu")
        return replace(settings, cores=self.cpus_per_actor, device=device)


def unplaceable(options: RayOptions, nodes: Sequence[dict[str, float]]) -> str | None:
    """Why the actors asked for can never all be placed on a cluster whose live nodes
    have these resources ("CPU", "GPU"), or None: an actor's CPUs and GPUs must be on
    one node, so a wait for them would never end. Said at once, with what to lower."""
    cpus, gpus = options.cpus_per_actor, options.gpus_per_actor

    def room(node: dict[str, float]) -> int:
        fit = int(node.get("CPU", 0) // cpus)
        return min(fit, int(node.get("GPU", 0) // gpus)) if gpus else fit

    places = sum(room(node) for node in nodes)
    def amount(n: float, what: str) -> str:
        return f"{n:g} {what}" + ("" if n == 1 else "s")

    sizes = ", ".join(amount(node.get("CPU", 0), "CPU") + (" and " + amount(node.get("GPU", 0), "GPU") if gpus else "") for node in nodes) or "no live node"
    need = amount(cpus, "CPU") + (" and " + amount(gpus, "GPU") if gpus else "")
    if not places:
        return f"no node of the Ray cluster can hold an actor of {need} (its nodes have {sizes}): lower --cpus-per-actor or --gpus-per-actor, or add larger nodes first"
    if options.actors and options.actors > places:
        return f"the Ray cluster has room for {places} actors of {need}, not {options.actors} (its nodes have {sizes}): lower --actors to {places} or leave it out, or add nodes first"
    return None


# What opens every HTTP/2 connection; Ray's GCS (a gRPC server) answers it with a SETTINGS frame.
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def _answers(address: str, seconds: float = 5.0) -> str | None:
    """Why no Ray cluster answers at a `host:port` address (nothing listens there, or a
    server that is not gRPC, such as a web server, replies), or None when one may:
    Ray's own connection retries would wait minutes before saying so."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:  # "auto", ray:// client addresses: Ray's own checks
        return None
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=seconds) as conn:
            conn.sendall(_HTTP2_PREFACE)
            reply = conn.recv(9)
    except TimeoutError:  # listening but silent: let Ray try
        return None
    except OSError as exc:
        return first_line(exc)
    if reply and not (len(reply) >= 4 and reply[3] == 0x04):  # not an HTTP/2 SETTINGS frame
        return f"what listens there is not a Ray cluster: it answered {reply[:9]!r}"
    return None


class _Worker:
    """One actor: the backend loaded once, translating the batches it is sent."""

    def __init__(self, backend: str, factory: Any, model: ModelRef, settings: DecodeSettings) -> None:
        import torch

        from .process import settle

        # Process-wide, so set here at the actor's start rather than at import.
        settle(backend, settings.device)
        torch.set_num_threads(settings.cores or 1)
        self.error: str | None = None
        try:
            self.backend = factory(model, settings)
        except ModelError as exc:  # reported by ready(), so the driver can say why
            self.error = str(exc)

    def ready(self) -> tuple[str | None, int, int, str]:
        """(why the backend could not load or None, its input limit, pid, node id)."""
        import ray

        limit = 0 if self.error else self.backend.max_input_tokens
        return self.error, limit, os.getpid(), ray.get_runtime_context().get_node_id()

    def generate(self, texts: list[str], max_new_tokens: int, prefixes: list[str] | None = None) -> list[Hypothesis]:
        return generate_on(self.backend, texts, max_new_tokens, prefixes)

    def align(self, sources: list[str], targets: list[str]) -> list[Links]:
        return self.backend.align(sources, targets)


class RayEngine:
    """A Backend whose batches run on a pool of Ray actors, several at once, with
    results handed back in the order they were planned. Token counts (which the
    plan needs for every sentence) are made here, with the model's tokenizer."""

    def __init__(self, translator: Translator) -> None:
        options = translator.executor_options or RayOptions()
        try:
            import ray
        except ImportError:
            raise ModelError(NEEDS_RAY) from None
        self.ray, self.options, self.warnings = ray, options, translator.warnings
        self.reaper: Reaper | None = None
        self.count_tokens = token_counter(translator.model)
        self.started = False
        try:
            self.started = self._connect()
            self._start_actors(translator, options)
        except BaseException:
            self.close()
            raise
        self.batches = self.sentences = self.retried = self.lost = 0

    def _connect(self) -> bool:
        """Join the Ray instance this process already uses, the cluster at --address or
        RAY_ADDRESS, or start one here; True when this engine started (or joined) it
        and must shut it down."""
        ray = self.ray
        if ray.is_initialized():
            self.address = "the caller's Ray instance"
            return False
        address = self.options.address or os.environ.get("RAY_ADDRESS")
        # Batches and their results are small: a small object store spares /dev/shm.
        quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR, "object_store_memory": 256 << 20}
        handler = signal.getsignal(signal.SIGTERM)
        if address and (why := _answers(address)):
            raise ModelError(f"nothing answers at the Ray cluster address {address} ({why}): check --address or RAY_ADDRESS, and that `ray status` works there")
        try:
            if address:
                ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
            else:
                self.reaper = Reaper()
                ray.init(num_cpus=usable_cores(), **quiet)
        except ConnectionError as exc:
            raise ModelError(f"cannot reach the Ray cluster at {address} ({exc}); check --address or RAY_ADDRESS, and that `ray status` works there") from None
        except Exception as exc:  # Ray raises many types for clusters it cannot start or join
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise ModelError(f"cannot start or join {where} ({type(exc).__name__}: {first_line(exc)}); see docs/cluster.md") from None
        finally:
            # ray.init takes SIGTERM over (in the main thread); mtpipe's own handler records what finished.
            if handler is not None and threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, handler)
        self.address = address or "local instance"
        return True

    def _start_actors(self, translator: Translator, options: RayOptions) -> None:
        ray = self.ray
        if why := unplaceable(options, [node["Resources"] for node in ray.nodes() if node.get("Alive")]):
            raise ModelError(why)
        resources = ray.cluster_resources()
        wanted = options.actors or max(
            1,
            min(
                int(resources.get("CPU", 1) // options.cpus_per_actor),
                int(resources.get("GPU", 0) // options.gpus_per_actor) if options.gpus_per_actor else 1 << 30,
            ),
        )
        settings = translator.settings  # the command made them with options.settings_for
        actor = ray.remote(_Worker).options(
            num_cpus=options.cpus_per_actor,
            num_gpus=options.gpus_per_actor,
            max_restarts=MAX_RESTARTS,
            max_task_retries=MAX_RESTARTS,
            scheduling_strategy="SPREAD",
        )
        actors = [actor.remote(translator.backend_name, BACKENDS[translator.backend_name], translator.model, settings) for _ in range(wanted)]
        try:
            states = ray.get([a.ready.remote() for a in actors], timeout=START_SECONDS)
        except ray.exceptions.GetTimeoutError:
            raise ModelError(
                f"the Ray cluster did not start {wanted} actors of {options.cpus_per_actor} CPUs"
                + (f" and {options.gpus_per_actor:g} GPUs" if options.gpus_per_actor else "")
                + f" within {START_SECONDS:.0f} s (it has {resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs): lower --actors or --cpus-per-actor"
            ) from None
        except ray.exceptions.RayError as exc:
            raise ModelError(f"a Ray actor failed to start ({first_line(exc)}); check that mtpipe and its dependencies are installed on every node") from None
        errors = [error for error, *_ in states if error]
        if len(errors) == len(actors):
            raise ModelError(f"{errors[0]} (on every Ray actor)")
        for error in dict.fromkeys(errors):
            self.warnings.append(f"{errors.count(error)} of {len(actors)} Ray actors could not load the model and were left out: {error}")
        self.actors = [a for a, (error, *_) in zip(actors, states) if not error]
        self.max_input_tokens = min(limit for error, limit, *_ in states if not error)
        self.pids = [pid for error, _, pid, _ in states if not error]
        self.nodes = len({node for error, *_, node in states if not error})
        self.wanted = wanted

    def generate(self, texts: Sequence[str], max_new_tokens: int, prefixes: Sequence[str] | None = None) -> list[Hypothesis]:
        [hyps] = self.generate_many([(list(texts), max_new_tokens) if prefixes is None else (list(texts), max_new_tokens, list(prefixes))])
        return hyps

    def generate_many(self, jobs: Sequence[tuple]) -> Iterator[list[Hypothesis]]:
        """Each (texts, max_new_tokens[, prefixes]) job's hypotheses in order, DEPTH
        batches queued per actor."""
        for texts, *_ in jobs:
            self.batches += 1
            self.sentences += len(texts)
        return self._run("generate", jobs)

    def align(self, sources: Sequence[str], targets: Sequence[str]) -> list[Links]:
        [links] = self._run("align", [(list(sources), list(targets))])
        return links

    def _run(self, method: str, jobs: Sequence[tuple]) -> Iterator[Any]:
        """Send jobs to the least busy actors, at most DEPTH each at a time; yield their
        results in job order. A job whose actor failed goes to another, up to
        MAX_ATTEMPTS in all; an actor that died for good leaves the pool."""
        ray = self.ray
        load = {id(a): 0 for a in self.actors}
        in_flight: dict[Any, tuple[int, Any, int]] = {}  # ref → (job, actor, attempts so far)
        done: dict[int, Any] = {}
        sent = given = 0

        def send(job: int, attempts: int, avoid: Any = None) -> None:
            choices = [a for a in self.actors if a is not avoid] or self.actors
            actor = min(choices, key=lambda a: load[id(a)])
            load[id(actor)] += 1
            in_flight[getattr(actor, method).remote(*jobs[job])] = (job, actor, attempts)

        while given < len(jobs):
            if given in done:
                yield done.pop(given)
                given += 1
                continue
            while self.actors and sent < len(jobs) and len(in_flight) + len(done) < DEPTH * len(self.actors):
                send(sent, 0)
                sent += 1
            if not self.actors:
                raise EngineError(f"every Ray actor has died ({self.lost} lost); check the nodes' logs (ray logs) and run the same command again")
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=STALL_SECONDS)
            if not ready:
                raise EngineError(f"no batch finished on the Ray cluster within {STALL_SECONDS:.0f} s; check `ray status` for dead nodes and run the same command again")
            job, actor, attempts = in_flight.pop(ready[0])
            load[id(actor)] -= 1
            try:
                done[job] = ray.get(ready[0])
            except ray.exceptions.RayError as exc:
                self.retried += 1
                if isinstance(exc, ray.exceptions.ActorDiedError) and actor in self.actors:
                    self.actors.remove(actor)
                    self.lost += 1
                if attempts + 1 >= MAX_ATTEMPTS:
                    raise ClusterError(f"a batch failed on {MAX_ATTEMPTS} Ray actors ({first_line(exc)})") from None
                if self.actors:  # else the loop ends the run: no actor is left
                    send(job, attempts + 1, avoid=actor)

    def describe(self) -> dict:
        """What summary.json records of the engine: where, how wide, what it did."""
        return {
            "address": self.address,
            "actors": self.wanted,
            "nodes": self.nodes,
            "cpus_per_actor": self.options.cpus_per_actor,
            "gpus_per_actor": self.options.gpus_per_actor,
            "batches": self.batches,
            "sentences": self.sentences,
            "retried_batches": self.retried,
            "lost_actors": self.lost,
        }

    def close(self) -> None:
        """Stop the actors, and the Ray instance when this engine started or joined it."""
        for actor in getattr(self, "actors", []):
            self.ray.kill(actor)
        self.actors = []
        if self.started:
            self.ray.shutdown()
            self.started = False
        if self.reaper is not None:
            self.reaper.close()
            self.reaper = None

