"""Writers: the English article, JSON and JSON lines; atomically.

`english_text`, `jsonl_text` and `json_text` are pure (what a run records is defined
in `records`); files are
written by `atomic_write` (through `outdir` in the output folder), always through a
temporary file and a rename so that a reader (or a killed run) never sees half a file.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from .ingest import Document
from .segment import Segment
from .translate.types import Translation

TEMP_PREFIX, TEMP_SUFFIX = ".mtpipe-", ".tmp"


def english_text(doc: Document, segments: Sequence[Segment], translations: Sequence[Translation]) -> str:
    """Rebuild the article in English with the source layout: each sentence replaced in place.

    Whatever lies between sentences (indentation, Markdown markers, spacing) and every
    line ending is kept as it was; lines without sentences are kept verbatim.
    """
    by_line: dict[int, list[tuple[Segment, Translation]]] = {}
    for seg, tr in zip(segments, translations, strict=True):
        by_line.setdefault(seg.line, []).append((seg, tr))
    out = []
    for line in doc.lines:
        pos, parts = 0, []
        for seg, tr in by_line.get(line.number, []):
            parts += [line.text[pos : seg.start], tr.text]
            pos = seg.end
        parts += [line.text[pos:], line.newline]
        out.append("".join(parts))
    return "".join(out)


def atomic_write(path: Path, data: bytes, dir_fd: int | None = None) -> None:
    """Write bytes to path through a temporary file in the same folder and a rename.

    With `dir_fd`, `path` is a name in the folder that descriptor holds (the folder is
    not looked up again by path, so it cannot be swapped for a link meanwhile); else
    its folder is created if missing. The temporary file is named `.mtpipe-XXXXXXXX.tmp`
    (short, so that a long output name still fits, and recognisable, so that one left
    by a killed run can be removed without touching anybody else's files). It is
    created with mode 0666 less the umask, as any other tool's output is.
    """
    if dir_fd is None:
        path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.parent / f"{TEMP_PREFIX}{secrets.token_hex(4)}{TEMP_SUFFIX}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o666, dir_fd=dir_fd)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        raise


def write_text(path: Path, text: str) -> None:
    """Write text as UTF-8 (line endings exactly as given)."""
    atomic_write(path, text.encode("utf-8"))


def jsonl_text(records: Sequence[dict]) -> str:
    """One JSON object per line, non-ASCII kept readable."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def write_jsonl(path: Path, records: Sequence[dict]) -> None:
    """Write records as JSON lines in UTF-8."""
    write_text(path, jsonl_text(records))


def json_text(obj: dict) -> str:
    """Indented JSON, non-ASCII kept readable."""
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"

