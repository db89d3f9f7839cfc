"""What a run records, defined once: the sentence record (a line of .align.jsonl) and
the run summary (summary.json) with its article entries.

Each has one writer (`to_json`, whose key order is the files' order) and one reader
that validates what it reads (`read_records`, `RunSummary.from_json`): records are
refused with the line at fault, summary entries that are not as mtpipe writes them
(edited by hand, damaged) are left out, so that no later stage meets a value of the
wrong type.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from types import UnionType
from typing import Any, get_args, get_origin, get_type_hints

from .ingest import Document
from .segment import Segment
from .translate.types import Translation
from .wordalign import from_pharaoh, to_pharaoh

# What may have happened to a path under the inputs (see Article).
STATUSES = ("ok", "skipped", "error", "unsupported", "ignored", "pending")
# The statuses of an article whose outputs are in the output folder.
DONE = ("ok", "skipped")


@dataclass(frozen=True)
class SentenceRecord:
    """One sentence of an article as .align.jsonl holds it.

    `start`/`end` locate the sentence in its line, `source` in the source file's text
    with its inline tags (HTML, Markdown), so that a page can be rebuilt from the
    records; `words` holds its word links (Pharaoh "src-tgt" pairs) when known. A
    sentence paired with a reference carries its `unit` (the id of the unit's first
    sentence), the `ref` segment and the unit's sentence `chrf`/`bleu` (None when the
    reference segment is blank). A human translation that differs from the model's
    carries the model's output (`machine`) and its `hter`; `markup` is "unsure" when
    the format placed inline markup without word links; `free` is what the model made
    before the glossary forced its terms (--glossary-mode enforce).
    """

    id: str
    line: int
    src: str
    mt: str
    start: int | None = None
    end: int | None = None
    source: tuple[int, int] | None = None
    logprob: float | None = None
    pieces: int = 1
    human: bool = False
    words: str | None = None
    unit: str | None = None
    ref: str | None = None
    chrf: float | None = None
    bleu: float | None = None
    machine: str | None = None
    hter: float | None = None
    markup: str | None = None
    free: str | None = None

    def to_json(self) -> dict:
        """The record as written, in the files' key order; optional fields only when set."""
        out: dict = {"id": self.id, "line": self.line, "start": self.start, "end": self.end}
        if self.source is not None:
            out["source"] = list(self.source)
        out |= {"src": self.src, "mt": self.mt, "logprob": self.logprob, "pieces": self.pieces}
        if self.human:
            out["human"] = True
        if self.words is not None:
            out["words"] = self.words
        if self.unit is not None:
            out |= {"unit": self.unit, "ref": self.ref, "chrf": self.chrf, "bleu": self.bleu}
        if self.machine is not None:
            out |= {"machine": self.machine, "hter": self.hter}
        if self.markup is not None:
            out["markup"] = self.markup
        if self.free is not None:
            out["free"] = self.free
        return out

    @property
    def links(self) -> tuple[tuple[int, int], ...] | None:
        return None if self.words is None else from_pharaoh(self.words)


def _json_types(cls: type) -> dict[str, tuple[bool, tuple[type, ...]]]:
    """Each field of a dataclass with whether it is required (has no default) and the
    JSON types its annotation allows: a float may be written as an int, a tuple is a
    list, None is null."""
    hints = get_type_hints(cls)
    json_of: dict[type, tuple[type, ...]] = {float: (int, float), tuple: (list,)}
    table = {}
    for f in fields(cls):
        hint = hints[f.name]
        kinds = get_args(hint) if isinstance(hint, UnionType) else (hint,)
        types = tuple(t for kind in kinds for t in json_of.get(get_origin(kind) or kind, (get_origin(kind) or kind,)))
        table[f.name] = (f.default is MISSING, types)
    return table


_RECORD_TYPES = _json_types(SentenceRecord)


def record_from_json(value: object) -> SentenceRecord:
    """The record a decoded JSON line holds; ValueError saying what is off (keys mtpipe
    does not write are ignored)."""
    if not isinstance(value, dict):
        raise ValueError("it is not a JSON object")
    for name, (required, types) in _RECORD_TYPES.items():
        if name not in value:
            if required:
                raise ValueError(f"it has no {name}")
            continue
        item = value[name]
        if not isinstance(item, types) or (isinstance(item, bool) and bool not in types):
            raise ValueError(f"its {name} is not what mtpipe writes there")
    source = value.get("source")
    if source is not None and not (len(source) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in source)):
        raise ValueError("its source is not a [start, end] pair")
    record = SentenceRecord(**{k: v for k, v in value.items() if k in _RECORD_TYPES and k != "source"}, source=None if source is None else tuple(source))
    if record.words is not None and not _links_fit(record):
        raise ValueError("its word links are not pairs of its words")
    return record


def _links_fit(record: SentenceRecord) -> bool:
    """Whether a record's `words` are Pharaoh links within its two sentences' words."""
    try:
        links = record.links or ()
    except ValueError:
        return False
    n_source, n_target = len(record.src.split()), len(record.mt.split())
    return all(s < n_source and t < n_target for s, t in links)


def load_json(text: str) -> Any:
    """json.loads, with a document nested too deep for the parser (RecursionError) a
    ValueError like any other malformed one."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("it nests too deep to be one mtpipe wrote") from None


def read_records(text: str) -> list[SentenceRecord]:
    """The sentence records of an .align.jsonl's text, in order; ValueError naming the
    line when one is not a record mtpipe writes. Records are split at "\\n" only: JSON
    escapes it inside strings, whereas U+2028 and friends stay raw. Blank lines are
    skipped."""
    records = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(record_from_json(load_json(line)))
        except ValueError as exc:
            reason = "it is not JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise ValueError(f"line {number} is not a sentence record ({reason})") from None
    return records


def records_text(records: Sequence[SentenceRecord]) -> str:
    """An .align.jsonl: one record per line, non-ASCII kept readable."""
    return "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in records)


def sentence_records(segments: Sequence[Segment], translations: Sequence[Translation], doc: Document | None = None) -> list[SentenceRecord]:
    """One record per sentence, in document order; given the document, and when its
    format knows it (HTML, Markdown), each with its span in the source file's text.

    Records depend only on the article, the model, the settings and the human
    translations imported (`human`), never on which machine translations the memory
    held, so a resumed run writes the same bytes as an uninterrupted one (memory use is
    counted in summary.json instead)."""
    lines = {line.number: line for line in doc.lines} if doc is not None else {}
    records = []
    for seg, tr in zip(segments, translations, strict=True):
        line = lines.get(seg.line)
        span = None if line is None else line.source_span(seg.start, seg.end)
        records.append(
            SentenceRecord(
                id=seg.id,
                line=seg.line,
                start=seg.start,
                end=seg.end,
                source=None if span is None else tuple(span),
                src=seg.text,
                mt=tr.text,
                logprob=None if tr.logprob is None else round(tr.logprob, 4),
                pieces=tr.pieces,
                human=tr.human,
                words=None if tr.links is None else to_pharaoh(tr.links),
                free=tr.free,
            )
        )
    return records


@dataclass
class Article:
    """What happened to one path under the inputs; one entry of summary.json.

    status is ok, skipped (unchanged since an earlier run), error (`error` says why),
    unsupported (a file of another type), ignored (hidden, the output folder, or an
    output of mtpipe), or pending (not reached yet: only seen in the summary of an
    interrupted run). With a reference, `pairing` says how its sentences were matched
    (lines or aligned) and `scores` holds the article's corpus scores;
    `reference_error` says why it is unscored. `note` says why an ok article has no
    sentences (it had nothing to translate, and was copied).
    """

    input: str
    status: str = "pending"
    error: str | None = None
    output: str | None = None
    encoding: str | None = None
    sentences: int = 0
    from_memory: int = 0
    seconds: float = 0.0
    sha256: str | None = None
    settings: str | None = None
    reference: str | None = None
    reference_sha256: str | None = None
    reference_error: str | None = None
    pairing: str | None = None
    scores: dict[str, float] | None = None
    flagged: int | None = None
    flags: dict[str, int] | None = None
    human: int = 0
    hter: float | None = None
    human_sha256: str | None = None
    note: str | None = None

    @property
    def done(self) -> bool:
        """Whether the article's outputs are in the output folder."""
        return self.status in DONE


_ARTICLE_TYPES = {name: types for name, (_, types) in _json_types(Article).items()}


def article_from_json(entry: object) -> Article | None:
    """The Article an entry of an earlier summary.json describes, or None when the entry
    is not one mtpipe writes (edited by hand, damaged): it is then ignored."""
    if not isinstance(entry, dict):
        return None
    values = {k: v for k, v in entry.items() if k in _ARTICLE_TYPES}
    for name, value in values.items():
        if not isinstance(value, _ARTICLE_TYPES[name]) or isinstance(value, bool):
            return None
    if "input" not in values or values.get("status", "pending") not in STATUSES:
        return None
    if any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in (values.get("scores") or {}).values()) or any(
        not isinstance(v, int) or isinstance(v, bool) for v in (values.get("flags") or {}).values()
    ):
        return None
    return Article(**values)


def run_totals(articles: Sequence[Article]) -> dict[str, int]:
    """How many articles of each status, and the sentences of those not in error."""
    done = [a for a in articles if a.done]
    return {
        "articles": len(articles),
        **{status: sum(a.status == status for a in articles) for status in STATUSES},
        "sentences": sum(a.sentences for a in done),
        "from_memory": sum(a.from_memory for a in done),
    }


@dataclass
class RunMeta:
    """The model, revision, backend and settings a run used."""

    model: str = "unknown model"
    revision: str | None = None
    backend: str = "unknown backend"
    settings: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: dict) -> RunMeta:
        """Those of a summary read back from disk, each of the type mtpipe writes (a
        hand-edited value is replaced by a blank)."""
        text = lambda key: raw.get(key) if isinstance(raw.get(key), str) else None  # noqa: E731
        return cls(
            model=text("model") or cls.model,
            revision=text("revision"),
            backend=text("backend") or cls.backend,
            settings=raw["settings"] if isinstance(raw.get("settings"), dict) else {},
        )


@dataclass
class RunSummary:
    """summary.json: what a run used, how long it took, and every path's Article.

    `scores` holds the corpus scores over the articles scored against references
    (metric → score and signature), when the run had references."""

    mtpipe: str
    date: str
    meta: RunMeta
    articles: list[Article]
    engine: dict | None = None
    model_loaded: bool = False
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    scores: dict | None = None

    @property
    def totals(self) -> dict[str, int]:
        return run_totals(self.articles)

    def to_json(self) -> dict:
        """The summary as written, in the file's key order."""
        out = {
            "mtpipe": self.mtpipe,
            "date": self.date,
            **asdict(self.meta),
            "engine": self.engine,
            "model_loaded": self.model_loaded,
            "seconds": self.seconds,
            "warnings": list(self.warnings),
            "totals": self.totals,
            "articles": [asdict(a) for a in self.articles],
        }
        return out if self.scores is None else out | {"scores": self.scores}

    @classmethod
    def from_json(cls, raw: object) -> RunSummary:
        """A summary read back from disk; ValueError when it is not one mtpipe wrote (no
        list of articles). Entries and values not as mtpipe writes them are left out."""
        if not isinstance(raw, dict) or not isinstance(raw.get("articles"), list):
            raise ValueError("it has no list of articles")
        value = lambda key, types, default: raw[key] if isinstance(raw.get(key), types) else default  # noqa: E731
        return cls(
            mtpipe=value("mtpipe", str, "unknown"),
            date=value("date", str, ""),
            meta=RunMeta.from_json(raw),
            articles=[a for a in map(article_from_json, raw["articles"]) if a is not None],
            engine=value("engine", dict, None),
            model_loaded=value("model_loaded", bool, False),
            seconds=value("seconds", (int, float), 0.0),
            warnings=[w for w in value("warnings", list, []) if isinstance(w, str)],
            scores=value("scores", dict, None),
        )
