"""Protected text: what the model never sees, kept byte for byte where it stood.

Every format takes the matches of these rules out of the text it sends to the model
and writes them back verbatim (as void markup, `markup.place` putting each after the
English of the French word before it). Built in, in every format:

- `url`, `email`: URLs (an entity such as `&amp;` taken whole, final punctuation left
  out) and e-mail addresses;
- `template`: template tags and macros, `{{ … }}` (Jinja, Liquid, Vue, Hugo's
  `{{< … >}}` and `{{% … %}}`, MDN's `{{Compat}}` and `{{JSxRef("Array.at")}}`),
  `{% … %}`, `{# … #}` and `{* … *}` (Smarty comments, FastAPI's code includes), and
  MkDocs snippets `--8<-- "file.md"`;
- `attributes`: attribute lists `{#id .class key=val}` (Pandoc, kramdown's `{: …}`,
  markdown-it-attrs);
- `emoji`: emoji shortcodes `:warning:`, `:material-check:` (letters, digits, `_+-`,
  at least one letter, so no time such as 10:30:00).

A user adds rules with `--protect REGEX` or the `protect` list of a project file
(`mtpipe.toml`); a match of theirs wins over a built-in one it overlaps.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache

from .errors import UsageError

URL_OR_EMAIL = re.compile(
    r"""(?:https?://|ftp://|www\.)(?:&#?\w+;|&(?!#?\w+;)|[^\s<>"'«»&])*(?:&#?\w+;|[^\s<>"'«»&.,;:!?)\]])"""
    r"|(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b"
)


def _between(opener: str, closer: str) -> str:
    """`opener … closer` on one line, with no other opener inside: the innermost of
    nested ones, and each start scans only to the next opener, so a line of thousands
    of openers with no closer takes linear time, not quadratic as `.*?` does."""
    stop = f"{re.escape(opener)}|{re.escape(closer)}"
    return f"{re.escape(opener)}(?:(?!{stop})[^\\n])*{re.escape(closer)}"


_ATTRIBUTE = r"""(?:[#.][\w:-]+|[\w-]+=(?:"[^"\n]*"|'[^'\n]*'|[^\s}"']+))"""
# Built-in rules other than URLs and e-mail addresses, by name (the docs list them).
BUILT_IN: dict[str, re.Pattern[str]] = {
    "template": re.compile("|".join(_between(*pair) for pair in (("{{", "}}"), ("{%", "%}"), ("{#", "#}"), ("{*", "*}"))) + r"|-{2,}8<-{2,}(?:[ \t]*\"[^\"\n]*\")?"),
    "attributes": re.compile(rf"\{{:?[ \t]*(?:{_ATTRIBUTE}|-)(?:[ \t]+{_ATTRIBUTE})*[ \t]*\}}"),
    "emoji": re.compile(r"(?<![\w:]):(?=[a-z0-9_+-]*[a-z])[a-z0-9_+-]+:(?![\w:])"),
}


class ProtectError(UsageError):
    """A protect rule of the user's that is not a regular expression."""


def compile_rule(pattern: str) -> re.Pattern[str]:
    """A user's protect rule, compiled; ProtectError saying what is wrong with it."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ProtectError(f"the protect rule {pattern!r} is not a regular expression ({exc}); fix it (in Python's re syntax)") from None


@lru_cache(maxsize=64)
def _rules(patterns: tuple[str, ...], urls: bool) -> tuple[re.Pattern[str], ...]:
    """The user's rules first (theirs win), then the built-in ones."""
    return (*map(compile_rule, patterns), *BUILT_IN.values(), *((URL_OR_EMAIL,) if urls else ()))


@dataclass(frozen=True)
class Protector:
    """The protect rules in force: the built-in ones and the user's `patterns`."""

    patterns: tuple[str, ...] = ()

    def spans(self, text: str, start: int = 0, end: int | None = None, urls: bool = True) -> list[tuple[int, int]]:
        """The protected [start, end) spans of text[start:end], sorted and disjoint: where
        matches overlap, the rule listed first wins, then the earlier and longer match.
        Without `urls`, URLs and e-mail addresses are left to the caller."""
        end = len(text) if end is None else end
        found: list[tuple[int, int, int]] = []
        for rank, rule in enumerate(_rules(self.patterns, urls)):
            found += [(m.start(), m.end(), rank) for m in rule.finditer(text, start, end) if m.end() > m.start()]
        starts: list[int] = []
        taken: list[tuple[int, int]] = []  # sorted by start, disjoint
        for a, b, _ in sorted(found, key=lambda f: (f[2], f[0], -f[1])):
            k = bisect_left(starts, a)
            if (k == 0 or taken[k - 1][1] <= a) and (k == len(taken) or b <= taken[k][0]):
                starts.insert(k, a)
                taken.insert(k, (a, b))
        return taken

    def check(self) -> None:
        """ProtectError when one of the user's rules is not a regular expression."""
        _rules(self.patterns, True)
