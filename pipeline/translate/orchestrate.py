"""Sentences through a backend: split what does not fit the model, batch by length
under a token budget, retry output that ran away or dropped text on halves, and
put the pieces of each sentence back together. Testable without a model."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from ..segment import halve, split_to_fit
from ..wordalign import join_links
from .types import (
    MAX_BATCH_SIZE,
    MIN_OUTPUT_RATIO,
    OUTPUT_RATIO,
    OUTPUT_SLACK,
    Backend,
    Hypothesis,
    Translation,
)


def length_batches(lengths: Sequence[int], budget: int, max_size: int = MAX_BATCH_SIZE) -> list[list[int]]:
    """Group indices into batches of similar length whose padded size stays under budget."""
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        batch = batches[-1] if batches else None
        if batch and len(batch) < max_size and lengths[batch[0]] * (len(batch) + 1) <= budget:
            batch.append(i)
        else:
            batches.append([i])
    return batches


def _merge(hyps: Sequence[Hypothesis]) -> Hypothesis:
    """The translations of consecutive pieces as one, joined with a space, their word
    links shifted into the whole's word indices."""
    return Hypothesis(
        " ".join(h.text for h in hyps if h.text),
        sum(h.logprob_sum for h in hyps),
        sum(h.tokens for h in hyps),
        parts=tuple(part for h in hyps for part in h.parts),
        links=join_links([("".join(source for source, _ in h.parts), h.text, h.links) for h in hyps]),
    )


@dataclass(eq=False)
class _Piece:
    """Part of a sentence sent to the model; when its output ran away or came out far
    too short, its two halves are translated again and stand in for it."""

    text: str
    hyp: Hypothesis | None = None
    halves: tuple[_Piece, _Piece] | None = None

    @property
    def done(self) -> bool:
        return self.hyp is not None and (self.halves is None or all(h.done for h in self.halves))

    def result(self) -> Hypothesis:
        return self.hyp if self.halves is None else _merge([h.result() for h in self.halves])


def as_translation(hyp: Hypothesis) -> Translation:
    """A hypothesis as a sentence's translation: its mean token log-probability, made of
    as many pieces as its `parts` say."""
    logprob = hyp.logprob_sum / hyp.tokens if hyp.tokens else None
    return Translation(hyp.text, logprob, len(hyp.parts), parts=hyp.parts, links=hyp.links)


def output_cap(lengths: Iterable[int]) -> int:
    """The output tokens a batch may generate, from its inputs' token counts: beyond it,
    output is runaway generation."""
    return OUTPUT_RATIO * max(lengths) + OUTPUT_SLACK


def _translation(pieces: Sequence[_Piece]) -> Translation:
    return as_translation(_merge([p.result() for p in pieces]))


def _generated(backend: Backend, jobs: Sequence[tuple[list[str], int]]) -> Iterator[list[Hypothesis]]:
    """Each (texts, max_new_tokens) job's hypotheses, in order: an engine that runs
    batches at once gets them all (generate_many); a backend, one after another."""
    many = getattr(backend, "generate_many", None)
    return many(jobs) if many else (backend.generate(texts, cap) for texts, cap in jobs)


def translate_stream(backend: Backend, texts: Sequence[str], budget: int) -> Iterator[list[tuple[int, Translation]]]:
    """Translate sentences of any length, batch by batch: after each batch, yield the
    (index, translation) of the sentences it finished. Nothing is cut off on either side.

    A sentence longer than the model's input is split into pieces that fit. The plan is
    a pure function of the pieces and the budget: length-sorted batches under the token
    budget (length_batches). A piece of several words whose output runs into the length
    cap, or is under a third of its length, is halved, and the halves of a round are
    translated in a round of their own (a single word is kept as it came out). Pieces'
    translations are joined with a space.
    """
    sentences = [[_Piece(p) for p in split_to_fit(t, backend.count_tokens, backend.max_input_tokens)] for t in texts]
    level = [(piece, i) for i, pieces in enumerate(sentences) for piece in pieces]
    while level:
        stripped = [piece.text.strip() for piece, _ in level]
        lengths = [backend.count_tokens(t) for t in stripped]
        retried: dict[int, tuple[_Piece, _Piece]] = {}
        batches = length_batches(lengths, budget)
        jobs = [([stripped[k] for k in batch], output_cap(lengths[k] for k in batch)) for batch in batches]
        for batch, hyps in zip(batches, _generated(backend, jobs)):
            for k, hyp in zip(batch, hyps):
                piece = level[k][0]
                piece.hyp = replace(hyp, parts=((piece.text, hyp.text),))
                if (hyp.hit_limit or hyp.tokens < MIN_OUTPUT_RATIO * lengths[k]) and len(pair := halve(piece.text)) == 2:
                    retried[k] = piece.halves = (_Piece(pair[0]), _Piece(pair[1]))
            touched = dict.fromkeys(level[k][1] for k in batch)
            yield [(i, _translation(sentences[i])) for i in touched if all(p.done for p in sentences[i])]
        level = [(half, level[k][1]) for k in sorted(retried) for half in retried[k]]


def translate_texts(backend: Backend, texts: Sequence[str], budget: int) -> list[Translation]:
    """Translate sentences of any length (see translate_stream), results in input order."""
    done: dict[int, Translation] = {}
    for finished in translate_stream(backend, texts, budget):
        done.update(finished)
    return [done[i] for i in range(len(texts))]
