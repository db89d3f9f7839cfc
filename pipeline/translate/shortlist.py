"""Vocabulary shortlists (`--shortlist`): the English tokens a batch may produce, so that
each decoding step scores a few thousand candidates instead of the whole vocabulary
(CTranslate2's `use_vmap`, as Marian and Bergamot do with their lexical shortlists).

A shortlist is built by mtpipe from the model itself: the model translates a French
corpus; each English piece it produces is linked to the source piece its alignment
head attends to most; the shortlist keeps the `frequent` English pieces produced most
often, always allowed, and, for each French piece, the `per_piece` English pieces
most often linked to it. It is written as CTranslate2's `vmap.txt` (docs/ctranslate2.md
says what the format allows) into the user cache dir, one per model revision, and the
model is converted again with it (convert_ct2).

Building and writing a shortlist is pure (build_shortlist, Shortlist.vmap); the file's
place and the reading of corpora are at the bottom.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..hub import ModelError, ModelRef, file_sha256

FREQUENT, PER_PIECE = 1000, 50

ONLY_CT2 = "--shortlist needs --backend ctranslate2 (or auto); the transformers backend always scores the whole vocabulary"

# A piece a vocabulary-map line cannot hold: its separators are spaces, a tab and lines.
_UNWRITABLE = re.compile(r"\s")


@dataclass(frozen=True)
class PieceLinks:
    """One translated sentence as the shortlist learns from it: its source pieces, the
    pieces the model produced, and for each produced piece the index of the source piece
    it is linked to."""

    source: Sequence[str]
    target: Sequence[str]
    links: Sequence[int]


@dataclass(frozen=True)
class Shortlist:
    """The pieces always allowed (the decoder's start token first), and the pieces each
    source piece adds; `sentences` is how many translated sentences it was learnt from."""

    always: tuple[str, ...]
    by_piece: dict[str, tuple[str, ...]]
    sentences: int

    def vmap(self) -> str:
        """The shortlist as CTranslate2's vmap.txt: the always-allowed pieces on the line
        with an empty key, then one line per source piece. No blank line: CTranslate2
        reads one as the empty key and would replace the always-allowed pieces."""
        lines = ["\t" + " ".join(self.always)]
        lines += [f"{piece}\t{' '.join(targets)}" for piece, targets in sorted(self.by_piece.items()) if targets]
        return "\n".join(lines) + "\n"


def build_shortlist(
    examples: Iterable[PieceLinks], start: str, frequent: int = FREQUENT, per_piece: int = PER_PIECE
) -> Shortlist:
    """A shortlist from the model's translations of a corpus (see the module's doc).
    Ties are broken by piece, so that the same corpus gives the same file."""
    produced: Counter[str] = Counter()
    linked: defaultdict[str, Counter[str]] = defaultdict(Counter)
    sentences = 0
    for example in examples:
        sentences += 1
        produced.update(example.target)
        for piece, position in zip(example.target, example.links):
            linked[example.source[position]][piece] += 1

    def best(counts: Counter[str], n: int) -> list[str]:
        return [p for p, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])) if not _UNWRITABLE.search(p)][:n]

    always = tuple(dict.fromkeys([start, *best(produced, frequent)]))
    by_piece = {source: tuple(best(counts, per_piece)) for source, counts in linked.items() if not _UNWRITABLE.search(source) and source}
    return Shortlist(always, by_piece, sentences)


def learn_shortlist(
    piece_links: Callable[[Sequence[str]], list[PieceLinks]],
    sentences: Sequence[str],
    start: str,
    frequent: int = FREQUENT,
    per_piece: int = PER_PIECE,
    batch: int = 64,
    progress: Callable[[int], object] | None = None,
) -> Shortlist:
    """Translate the sentences (in batches of similar lengths, through the backend's
    `piece_links`) and build the shortlist from what the model produced."""
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))

    def examples() -> Iterator[PieceLinks]:
        for at in range(0, len(order), batch):
            texts = [sentences[i] for i in order[at : at + batch]]
            yield from piece_links(texts)
            if progress:
                progress(len(texts))

    return build_shortlist(examples(), start, frequent, per_piece)


def shortlist_root() -> Path:
    """The folder of mtpipe's shortlists, in the user cache dir."""
    from platformdirs import user_cache_path

    return user_cache_path("mtpipe") / "shortlists"


def shortlist_path(model: ModelRef) -> Path:
    """Where the shortlist of `model` is kept: by its revision alone (a local folder's is
    a fingerprint of its files, a hub model's its commit), so that the same weights find
    their shortlist however the folder is named on the command line."""
    revision = re.sub(r"[^\w.-]+", "_", model.revision)[-80:]
    return shortlist_root() / f"{revision}.vmap"


def shortlist_for(model: ModelRef) -> Path:
    """The shortlist file of `model`; ModelError saying how to build one when there is none."""
    path = shortlist_path(model)
    if not path.is_file():
        raise ModelError(
            f"--shortlist: model {model.name} has no shortlist yet: build one with "
            f"`mtpipe models shortlist --model {model.name} CORPUS.txt` (a few thousand French sentences, one per line)"
        )
    return path


def shortlist_digest(model: ModelRef) -> str:
    """The fingerprint of the model's shortlist, as the memory's keys hold it."""
    return file_sha256(shortlist_for(model))[:16]


def save_shortlist(model: ModelRef, shortlist: Shortlist, about: dict) -> Path:
    """Write the shortlist of `model` (and what it was built from, beside it, as JSON),
    replacing the one there was; each file is written whole, then renamed into place."""
    from ..writers import write_text

    path = shortlist_path(model)
    try:
        meta = {"model": model.name, "revision": model.revision, "sentences": shortlist.sentences, "always": len(shortlist.always), "source_pieces": len(shortlist.by_piece), **about}
        write_text(path.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")
        write_text(path, shortlist.vmap())
    except OSError as exc:
        raise ModelError(f"the shortlist {path} cannot be written ({exc.strerror or exc}): make {path.parent} writable, or set XDG_CACHE_HOME to another folder") from None
    return path


@dataclass(frozen=True)
class Stored:
    """A shortlist in the cache, as `mtpipe models list` shows it (what its JSON says;
    "?" where that is unreadable)."""

    model: str
    revision: str
    sentences: int
    size: int


def shortlists() -> list[Stored]:
    """The shortlists in the cache, by file name."""
    root = shortlist_root()
    found = []
    for path in sorted(root.glob("*.vmap")) if root.is_dir() else []:
        try:
            meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            model, revision, sentences = str(meta["model"]), str(meta["revision"]), int(meta["sentences"])
        except (OSError, ValueError, KeyError, TypeError):
            model, revision, sentences = path.stem, "?", 0
        found.append(Stored(model, revision, sentences, path.stat().st_size))
    return found
