"""Alignment outputs (JSON lines, vecalign's format) and a run's .align.jsonl read
back as the machine translation of an article."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..messages import counted
from ..records import read_records
from .sentences import Link


def vecalign_text(links: Sequence[Link]) -> str:
    """Links in Vecalign's format, one per line: `[3, 4]:[5]`, 0-based, `[]` on the
    empty side of a null link."""
    return "".join(f"{list(link.src)}:{list(link.tgt)}\n" for link in links)


def link_records(links: Sequence[Link], source: Sequence[str], target: Sequence[str], mt: Sequence[str] | None) -> list[dict]:
    """One JSON-ready record per link: indices, the sentences of each side joined with a
    space, the MT of the source side when there is one, and the score."""
    records = []
    for link in links:
        record = {"src": list(link.src), "tgt": list(link.tgt), "src_text": " ".join(source[i] for i in link.src), "tgt_text": " ".join(target[j] for j in link.tgt)}
        if mt is not None:
            record["mt"] = " ".join(mt[i] for i in link.src)
        records.append({**record, "score": link.score})
    return records


def is_run_records(name: str, data: bytes) -> bool:
    """Whether an MT file is a run's .align.jsonl rather than one translation a line:
    by its suffix, or by a first non-blank line that is a JSON object with `src` and `mt`."""
    if name.endswith(".jsonl"):
        return True
    first = data.lstrip().split(b"\n", 1)[0]
    if not first.startswith(b"{"):
        return False
    try:
        record = json.loads(first)
    except ValueError:
        return False
    return isinstance(record, dict) and {"src", "mt"} <= record.keys()


def _shown(text: str) -> str:
    """A sentence quoted for a message, cut to 60 characters."""
    return json.dumps(text if len(text) <= 60 else text[:59] + "…", ensure_ascii=False)


def run_records(data: bytes, name: str) -> list[tuple[str, str]]:
    """The (src, mt) of each sentence record of a run's .align.jsonl `name`, in order.

    Raises ValueError, in one sentence, when the file is not UTF-8 or a line is not a
    sentence record (as `records.read_records` reads them).
    """
    fix = "give the .align.jsonl that mtpipe run wrote, or a file with one translation per line"
    try:
        found = read_records(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{name} is not a run's .align.jsonl (it is not UTF-8): {fix}") from None
    except ValueError as exc:
        raise ValueError(f"{name} is not a run's .align.jsonl ({exc}): {fix}") from None
    return [(r.src, r.mt) for r in found]


def run_translations(pairs: Sequence[tuple[str, str]], name: str, source: Sequence[str], source_name: str) -> list[str]:
    """The machine translation of `source` in the records of a run's .align.jsonl (as
    `run_records` reads them): their `mt`, one per source sentence. Raises ValueError
    naming the first sentence that differs when their `src` are not the source sentences."""
    fix = f"give the .align.jsonl that mtpipe run wrote for {source_name}"
    for number, ((src, _), sentence) in enumerate(zip(pairs, source), start=1):
        if src != sentence:
            raise ValueError(f"sentence {number} of {name} is {_shown(src)} but sentence {number} of {source_name} is {_shown(sentence)}: {fix}")
    if len(pairs) != len(source):
        same = min(len(pairs), len(source))
        agree = f" (the first {same} are the same)" if same > 1 else " (the first is the same)" if same else ""
        raise ValueError(f"{name} has {counted(len(pairs), 'sentence')} but {source_name} has {len(source)}{agree}: {fix}")
    return [mt for _, mt in pairs]
