"""The Translator: a translation memory in front of a backend that is loaded only on a
memory miss, and the executors that run its batches (here, or on a cluster)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol

from ..glossary import Glossary
from ..glossary.enforce import prefix, terms_digest
from ..hub import ModelError, ModelRef
from ..memory import HumanEntry, MemoryFault, TranslationMemory, human_key
from ..wordalign import Links, from_pharaoh, to_pharaoh
from .choose import AUTO, FAST, REFERENCE, choose_backend, fallback_warning
from .marian import beam_size
from .orchestrate import as_translation, output_cap, translate_stream
from .shortlist import ONLY_CT2, shortlist_digest
from .types import (
    BACKENDS,
    DEFAULT_COMPUTE_TYPE,
    Backend,
    DecodeSettings,
    Hypothesis,
    Translation,
    generate_on,
)

# Distinct sentences to translate that a run pools into shared batches at a time,
# across articles: enough for full batches from short articles, a bound on memory.
WINDOW_SENTENCES = 2048


# Sentences missing a glossary term that are forced together (a batch's worth).
ENFORCE_BATCH = 64


# Rounds a missed glossary term gets: forced after the English before it, then (when
# the model glued a suffix to it) with the word that followed it forced too.
ENFORCE_TRIES = 2


# Part of every memory key: bumped when the same settings start giving other output
# (2: beam search stops once `beam` hypotheses have finished).
MEMORY_FORMAT = 2


class Executor(Backend, Protocol):
    """Where the batches a Translator plans are translated: a Backend's interface (and
    generate_many when it runs several batches at once), made from the Translator once
    and kept for its life."""

    def describe(self) -> dict:
        """What summary.json records of it beside its name (workers, batches sent...)."""

    def close(self) -> None:
        """Stop what it started (processes, a cluster); the Translator calls it once."""


class Local:
    """The Translator's own backend, loaded in this process."""

    def __init__(self, translator: Translator) -> None:
        self.backend = translator.backend()
        self.max_input_tokens = self.backend.max_input_tokens

    def count_tokens(self, text: str) -> int:
        return self.backend.count_tokens(text)

    def generate(self, texts: Sequence[str], max_new_tokens: int, prefixes: Sequence[str] | None = None) -> list[Hypothesis]:
        return generate_on(self.backend, texts, max_new_tokens, prefixes)

    def align(self, sources: Sequence[str], targets: Sequence[str]) -> list[Links]:
        return self.backend.align(sources, targets)

    def describe(self) -> dict:
        return {}

    def close(self) -> None:
        """Nothing to stop: the backend goes with the Translator."""


def _ray(translator: Translator) -> Executor:
    from ..cluster import RayEngine  # Ray is imported only when this engine starts

    return RayEngine(translator)


# The executors by name (--engine): "local" in this process, "ray" over a Ray cluster.
EXECUTORS: dict[str, Callable[[Translator], Executor]] = {"local": Local, "ray": _ray}


class Translator:
    """A translation memory in front of a backend that is loaded only on a memory miss.

    A memory that fails (damaged, read-only, locked too long: MemoryFault) is dropped
    for the rest of the translator's life and the model translates instead; the fault's
    message is appended to `warnings`, for the caller to show. Translations are never
    lost to the memory.
    """

    def __init__(
        self,
        model: ModelRef,
        backend: str,
        settings: DecodeSettings,
        memory: TranslationMemory | None,
        executor: str = "local",
        executor_options: Any = None,
        glossary: Glossary | None = None,
    ):
        if backend not in BACKENDS and backend != AUTO:
            raise ModelError(f"unknown backend {backend!r}: choose one of {', '.join([AUTO, *sorted(BACKENDS)])}")
        if executor not in EXECUTORS:
            raise ModelError(f"unknown executor {executor!r}: choose one of {', '.join(sorted(EXECUTORS))}")
        self.warnings: list[str] = []
        self.auto = backend == AUTO
        if self.auto:
            backend, why = choose_backend(settings, model)
            self.warnings += [fallback_warning(why)] if why else []
        if settings.shortlist and backend == REFERENCE:
            raise ModelError(ONLY_CT2)
        self.model, self.backend_name, self.settings, self.memory = model, backend, settings, memory
        self.executor, self.executor_options = executor, executor_options
        self.glossary = glossary  # terms to force into the translations (--glossary-mode enforce)
        self._backend: Backend | None = None
        self._engine: Executor | None = None
        self._used: dict | None = None
        self._relinked: dict[str, Links] = {}  # links computed for recalled translations
        self._any_human: bool | None = None
        self.key = self._key()

    def _key(self) -> str:
        """What the memory's keys and the run's settings hash hold of the model and backend."""
        key = {"model": self.model.name, "revision": self.model.revision, "backend": self.backend_name, "beam": self.settings.beam, "format": MEMORY_FORMAT}
        if self.backend_name in DEFAULT_COMPUTE_TYPE:  # only where it applies, so that older memories stay valid
            key["compute_type"] = self.settings.compute_type or DEFAULT_COMPUTE_TYPE[self.backend_name]
        if self.settings.shortlist:
            key["shortlist"] = shortlist_digest(self.model)
        return json.dumps(key, sort_keys=True)

    @property
    def loaded(self) -> bool:
        """Whether the model was loaded (here, or on the executor's workers)."""
        return self._backend is not None or self._engine is not None

    def backend(self) -> Backend:
        """The backend, loaded on first use. Under `auto`, a fast engine that cannot load
        or convert the model gives way to the reference one, with a warning; the memory
        then keeps its translations under the backend that made them."""
        if self._backend is None:
            try:
                self._backend = BACKENDS[self.backend_name](self.model, self.settings)
            except ModelError as exc:
                if not (self.auto and self.backend_name == FAST) or self.settings.needs_fast:
                    raise  # asked for by name, or for what only CTranslate2 does
                self._backend = BACKENDS[REFERENCE](self.model, self.settings)
                self.warnings.append(fallback_warning(str(exc)))
                self.backend_name, self._used = REFERENCE, None
                self.key = self._key()
        return self._backend

    def engine(self) -> Executor:
        """Where batches are translated: the executor's engine, made on first use."""
        if self._engine is None:
            self._engine = EXECUTORS[self.executor](self)
        return self._engine

    def engine_used(self) -> dict:
        """The executor as summary.json records it: its name, and what the engine
        tells of itself (workers, batches sent, retries)."""
        return {"name": self.executor, **(self._engine.describe() if self._engine else {})}

    def close(self) -> None:
        """Release the engine for good (an engine that started processes stops them)."""
        if self._engine:
            self._engine.close()

    def settings_used(self) -> dict:
        """What runs, as summary.json and the pages record it: beam size, device, compute
        type, workers and threads, and the batch budget. Decided from the settings and
        the machine as the backend decides them when it loads (its `plan`), so that
        pages say the same whether their sentences came from the model or the memory."""
        if self._used is None:
            plan = getattr(BACKENDS[self.backend_name], "plan", None)
            try:
                used = plan(self.model, self.settings) if plan else {}
            except ModelError:  # the backend could not run here; the run says so if it needs it
                used = {"device": self.settings.device}
            self._used = {"beam": beam_size(self.model, self.settings), **used, "batch_tokens": self.settings.batch_tokens}
            if self.settings.other_alignment:
                self._used["word_alignment"] = self.settings.alignment
        return self._used

    def _plain_key(self, source: str) -> str:
        return hashlib.sha256(f"{self.key}\0{source}".encode()).hexdigest()

    def _memory_key(self, source: str) -> str:
        """A sentence's key in the memory: with terms to force, the digest of the
        glossary entries it holds is part of it, so that a glossary change translates
        again only the sentences whose entries changed; without, the plain key."""
        terms = terms_digest(self.glossary, source) if self.glossary else None
        if terms is None:
            return self._plain_key(source)
        return hashlib.sha256(f"{self.key}\0{source}\0terms {terms}".encode()).hexdigest()

    def translate(self, sentences: Sequence[str]) -> list[Translation]:
        """Translate sentences in order; each distinct sentence is translated at most once."""
        [(_, translations)] = list(self.stream([sentences]))
        return translations

    def stream(self, groups: Iterable[Sequence[str]], progress: Callable[[int], object] | None = None) -> Iterator[tuple[int, list[Translation]]]:
        """Translate groups of sentences (the articles of a run); yield (group index, its
        translations) as soon as a group's last sentence is done.

        The sentences still to translate of consecutive groups, up to WINDOW_SENTENCES
        distinct ones, share length-sorted batches, so that short articles make full
        batches; only that window is held at a time. A sentence's translation depends
        on nothing but the batch it happens to share (padding numerics). The memory
        gets each batch's translations in one transaction, so an interrupted run loses
        at most the batch in flight. `progress(n)` is told after each batch, and for
        sentences recalled from the memory, how many of the groups' sentences are done.

        A recalled translation stored without word links (by an older mtpipe) gets
        them from the model when it is loaded anyway; otherwise it goes without.
        """
        source = iter(enumerate(groups))
        while True:
            waiting: dict[int, tuple[list[str], dict[str, Translation]]] = {}
            todo: dict[str, str] = {}
            unlinked: dict[str, str] = {}
            for index, sentences in source:
                keys = [self._memory_key(s) for s in sentences]
                known = self._recall(keys)
                if self.glossary:
                    self._recall_free(known, keys, sentences)
                human = self._human(sentences)
                for k, s in zip(keys, sentences):
                    if s in human:
                        machine = known[k].text if k in known else None
                        known[k] = Translation(human[s].target, None, from_memory=True, human=True, machine=machine)
                unlinked.update((k, s) for k, s in zip(keys, sentences) if k in known and known[k].links is None and not known[k].human)
                if progress and known:
                    progress(sum(k in known for k in keys))
                if all(k in known for k in keys):
                    if self.loaded:
                        self._relink([known], unlinked)
                    yield index, [known[k] for k in keys]
                    continue
                waiting[index] = (keys, known)
                todo.update((k, s) for k, s in zip(keys, sentences) if k not in known)
                if len(todo) >= WINDOW_SENTENCES:
                    break
            if not waiting:
                return
            yield from self._translate_window(waiting, todo, unlinked, progress)

    def _translate_window(
        self,
        waiting: dict[int, tuple[list[str], dict[str, Translation]]],
        todo: dict[str, str],
        unlinked: dict[str, str],
        progress: Callable[[int], object] | None,
    ) -> Iterator[tuple[int, list[Translation]]]:
        engine = self.engine()
        self._relink([known for _, known in waiting.values()], unlinked, engine)
        keys = list(todo)
        occurrences = Counter(k for group_keys, known in waiting.values() for k in group_keys if k not in known)
        users: dict[str, list[int]] = {}
        for index, (group_keys, known) in waiting.items():
            for k in dict.fromkeys(group_keys):
                if k not in known:
                    users.setdefault(k, []).append(index)
        def hand_out(fresh: dict[str, Translation]) -> Iterator[tuple[int, list[Translation]]]:
            # Stored under the key of the backend that made them (auto may have fallen back on loading);
            # what the model made before terms were forced, under the plain key.
            self._remember({self._memory_key(todo[k]): (todo[k], t) for k, t in fresh.items()})
            self._remember({self._plain_key(todo[k]): (todo[k], replace(t, text=t.free)) for k, t in fresh.items() if t.free is not None})
            if progress:
                progress(sum(occurrences[k] for k in fresh))
            for k, t in fresh.items():
                for index in users[k]:
                    group_keys, known = waiting[index]
                    known[k] = t
                    if len(known) == len(set(group_keys)):
                        del waiting[index]
                        yield index, [known[key] for key in group_keys]

        # Sentences that miss a glossary term wait for ENFORCE_BATCH of them (or the end
        # of the window), so that their forced rounds run in full batches.
        missing: dict[str, Translation] = {}
        for finished in translate_stream(engine, list(todo.values()), self.settings.batch_tokens):
            fresh = {keys[i]: t for i, t in finished}
            if self.glossary:
                missing |= {k: fresh.pop(k) for k in [k for k, t in fresh.items() if self.glossary.missed(todo[k], t.text)]}
                if len(missing) >= ENFORCE_BATCH:
                    fresh |= self._enforce(engine, missing, todo)
                    missing = {}
            yield from hand_out(fresh)
        if missing:
            yield from hand_out(self._enforce(engine, missing, todo))

    def _enforce(self, engine: Backend, fresh: dict[str, Translation], sources: dict[str, str]) -> dict[str, Translation]:
        """The translations with the glossary's terms they missed forced in, one term per
        round (left to right), each keeping what the model made first as `free`. A
        term the model still leaves out after ENFORCE_TRIES rounds is given up (the
        term check flags it), and so is a forced output that ran into the length cap:
        the translation is never cut short for a term."""
        out = dict(fresh)
        tries: dict[str, Counter[str]] = {k: Counter() for k in fresh}
        forced: dict[str, str] = {}
        while True:
            round_: dict[str, str] = {}
            for k, t in out.items():
                hit = next((h for h in self.glossary.missed(sources[k], t.text) if tries[k][h.entry.source] < ENFORCE_TRIES), None)
                if hit is not None and engine.count_tokens(sources[k].strip()) <= engine.max_input_tokens:  # else it was translated in pieces: no one prefix fits it
                    tries[k][hit.entry.source] += 1
                    anchor = tries[k][hit.entry.source] > 1  # the term came out glued to a suffix: start a new word after it
                    round_[k] = forced[k] = prefix(sources[k], t.text, t.links, hit, forced.get(k, ""), anchor)
            if not round_:
                return out
            texts = [sources[k].strip() for k in round_]
            for k, hyp in zip(round_, engine.generate(texts, output_cap(engine.count_tokens(t) for t in texts), list(round_.values()))):
                if hyp.hit_limit:  # the forced English ran into the length cap: keep the whole one
                    continue
                first = out[k].free if out[k].free is not None else out[k].text
                out[k] = replace(as_translation(replace(hyp, parts=((sources[k], hyp.text),))), free=first)

    def _recall_free(self, known: dict[str, Translation], keys: Sequence[str], sentences: Sequence[str]) -> None:
        """Give recalled translations whose terms were forced what the model made first
        (stored under the sentence's plain key)."""
        plain = {k: p for k, s in zip(keys, sentences) if k in known and (p := self._plain_key(s)) != k}
        first = self._recall(list(plain.values())) if plain else {}
        for k, p in plain.items():
            if p in first and first[p].text != known[k].text:
                known[k] = replace(known[k], free=first[p].text)

    def _human(self, sentences: Sequence[str]) -> dict[str, HumanEntry]:
        """The human translations the memory holds for these sentences, by sentence."""
        if not self.memory or not self.has_human:
            return {}
        try:
            return self.memory.get_human(sentences)
        except MemoryFault as fault:
            self._drop_memory(fault)
            return {}

    def human_digest(self, sentences: Sequence[str]) -> str | None:
        """The fingerprint of the human translations the memory holds for these
        sentences (None: it holds none), as human_digest gives it for an article's
        translations: a run compares them to know whether an article must be written again."""
        return human_digest((s, entry.target) for s, entry in self._human(sentences).items())

    @property
    def has_human(self) -> bool:
        """Whether the memory holds any human translation (asked once)."""
        if self._any_human is None:
            try:
                self._any_human = bool(self.memory and self.memory.counts()["human"])
            except MemoryFault as fault:
                self._drop_memory(fault)
                self._any_human = False
        return self._any_human

    def _recall(self, keys: Sequence[str]) -> dict[str, Translation]:
        """What the memory holds for these keys (nothing once it has failed)."""
        if not self.memory:
            return {}
        try:
            found = self.memory.get(keys, self.settings.alignment)
        except MemoryFault as fault:
            self._drop_memory(fault)
            return {}
        return {k: Translation(text, logprob, pieces, from_memory=True, links=_stored_links(links)) for k, (text, logprob, pieces, links) in found.items()}

    def _remember(self, items: dict[str, tuple[str, Translation]]) -> None:
        """Store key → (source, translation) in one transaction."""
        if self.memory and items:
            try:
                self.memory.put(
                    {k: (source, t.text, t.logprob, t.pieces, None if t.links is None else to_pharaoh(t.links)) for k, (source, t) in items.items()},
                    self.settings.alignment,
                )
            except MemoryFault as fault:
                self._drop_memory(fault)

    def _relink(self, recalled: Sequence[dict[str, Translation]], sources: dict[str, str], engine: Backend | None = None) -> None:
        """Give recalled translations without word links theirs (each distinct one
        once), by forced decoding on the loaded model, and keep them in the memory."""
        missing = {k: t.text for known in recalled for k, t in known.items() if t.links is None and k in sources and k not in self._relinked}
        if missing:
            engine = engine or self.engine()
            found = dict(zip(missing, engine.align([sources[k] for k in missing], list(missing.values()))))
            self._relinked.update(found)
            if self.memory:
                try:
                    self.memory.put_links({k: (missing[k], to_pharaoh(links)) for k, links in found.items()}, self.settings.alignment)
                except MemoryFault as fault:
                    self._drop_memory(fault)
        for known in recalled:
            known.update({k: replace(t, links=self._relinked[k]) for k, t in known.items() if t.links is None and not t.human and k in self._relinked})

    def _drop_memory(self, fault: MemoryFault) -> None:
        """Record a memory fault and go on without the memory (it may be shared, so it
        is left open for its owner to close)."""
        self.warnings.append(str(fault))
        self.memory = None


def human_digest(pairs: Iterable[tuple[str, str]]) -> str | None:
    """A fingerprint of (source, human translation) pairs, None for none: the same for
    the same translations of the same sentences, however often or in which order."""
    unique = sorted({(human_key(source), target) for source, target in pairs})
    return hashlib.sha256(json.dumps(unique, ensure_ascii=False).encode()).hexdigest()[:16] if unique else None


def _stored_links(text: str | None) -> Links | None:
    """Links as the memory stored them; None when absent or unreadable."""
    try:
        return None if text is None else from_pharaoh(text)
    except ValueError:
        return None
