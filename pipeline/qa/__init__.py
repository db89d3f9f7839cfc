"""Quality checks: what a reviewer should look at in a translation, found without a
model or a reference.

Each check is one function in the registry `CHECKS`, given a `Sentence` (the French,
its English, their word links) and the run's `Context` (the glossary, the protect
rules, what the run translated elsewhere), and says in a short reason what is wrong,
or None. `check_sentence` runs the checks a run selected (`--qa`); a failing check is
a flag on the review page (its reason on hover), a count in summary.json, a TSV
column and a TMX note. The checks are in `checks.py`, numbers in `numbers.py`, the
run-wide consistency in `consistency.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:
    from ..glossary import Glossary
    from ..protect import Protector
    from ..wordalign import Links
    from .consistency import Consistency


@dataclass(frozen=True)
class Sentence:
    """One French sentence and its English as a check reads them: with their word links
    when known, whether the English is a human's, and whether its format could not place
    its inline markup."""

    source: str
    mt: str
    links: Links | None = None
    human: bool = False
    markup: bool = False


@dataclass(frozen=True)
class Context:
    """How a run checks its translations: the checks selected (None: all), and what they
    need beyond the sentence: the glossary, the protect rules, and the run's
    translations of other sentences (for consistency)."""

    checks: tuple[str, ...] | None = None
    glossary: Glossary | None = None
    protector: Protector | None = None
    consistency: Consistency | None = None

    @property
    def selected(self) -> tuple[str, ...]:
        return selection(self.checks)

    @property
    def run_wide(self) -> Consistency | None:
        """The run's consistency index when the consistency check runs, else None."""
        return self.consistency if "consistency" in self.selected else None


@dataclass(frozen=True)
class Check:
    """A registered check: its `title` (what its flag means), an `example` pair it flags,
    whether it judges the model only (`machine_only`: a human's translation is not
    checked by it), and its function."""

    name: str
    title: str
    example: tuple[str, str]
    run: Callable[[Sentence, Context], str | None] = field(repr=False)
    machine_only: bool = False


@dataclass(frozen=True)
class Finding:
    """A failed check on a sentence: the check's name and why."""

    check: str
    reason: str


CHECKS: dict[str, Check] = {}


def check(name: str, title: str, example: tuple[str, str], machine_only: bool = False) -> Callable:
    """Register a check function under `name` (the registry's order is the flags' order)."""

    def register(run: Callable[[Sentence, Context], str | None]) -> Callable[[Sentence, Context], str | None]:
        CHECKS[name] = Check(name, title, example, run, machine_only)
        return run

    return register


def all_checks() -> tuple[str, ...]:
    """Every check's name, in the registry's order."""
    from . import checks  # noqa: F401  (registers the checks)

    return tuple(CHECKS)


def selection(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """The checks named by `--qa` ("numbers,term", "all", "none"; None is all), in the
    registry's order; UsageError naming the unknown ones and the known ones."""
    known = all_checks()
    if text is None:
        return known
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if names == ["all"]:
        return known
    if names in ([], ["none"]):
        return ()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"--qa: no check named {', '.join(unknown)}; choose among {', '.join(known)} (or all, none)")
    return tuple(n for n in known if n in names)


def check_sentence(sentence: Sentence, selected: Iterable[str], context: Context = Context()) -> list[Finding]:
    """The selected checks the sentence fails, in the registry's order. An empty English
    is only that: the other checks have nothing to read."""
    all_checks()
    wanted = set(selected)
    if not any(c.isalnum() for c in sentence.source):
        return []
    if not sentence.mt.strip():
        wanted &= {"empty"}
    found = []
    for name, rule in CHECKS.items():
        if name in wanted and not (sentence.human and rule.machine_only):
            reason = rule.run(sentence, context)
            if reason is not None:
                found.append(Finding(name, reason))
    return found
