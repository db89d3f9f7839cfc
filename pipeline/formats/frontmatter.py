"""Front matter: the YAML (`---` … `---` or `...`) or TOML (`+++` … `+++`) block that
opens a page of a static site (Jekyll, Hugo, VitePress, Docusaurus, MkDocs, MDN).

The values of human-facing keys (`FRONT_MATTER_KEYS`, at any depth: VitePress's
`hero:` and `features:` lists too) are translated; every other byte stays as it was
(keys, quoting, comments, lists, other values). An English value is written in its
value's own style where it can be (plain, single or double quoted, `|` or `>` block,
TOML basic or literal string) and double-quoted where that would not read back the
same; the YAML is read again after writing, and should it not give the same data
with exactly the English values, the front matter is kept as it was.

Pure: the formats read and write the file.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FRONT_MATTER_KEYS = ("title", "description", "summary", "subtitle", "excerpt", "alt", "caption")

_FENCES = {"---": ("yaml", ("---", "...")), "+++": ("toml", ("+++",))}
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")
_TOML_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')"""
_TOML_PAIR = re.compile(
    rf"""[ \t]*(?P<key>{_TOML_KEY}(?:[ \t]*\.[ \t]*{_TOML_KEY})*)[ \t]*=[ \t]*(?P<value>"(?:[^"\\\n]|\\.)*"|'[^'\n]*')[ \t]*(?:#.*)?$"""
)


@dataclass(frozen=True)
class Field:
    """A value to translate: its source range (quotes or block header included), its
    text as read (whitespace runs as one space), its style (None: plain; `'`, `"`,
    `|`, `>`; `toml"`, `toml'`), and its place in the data (keys and indices)."""

    start: int
    end: int
    text: str
    style: str | None
    path: tuple[Any, ...] = ()

    @property
    def text_at(self) -> int:
        """Where the value's text starts in the source (after its opening quote)."""
        return self.start + (self.style in ("'", '"', "toml'", 'toml"'))


@dataclass(frozen=True)
class FrontMatter:
    """A page's front matter: where it ends in the source (after its closing fence's
    line ending), its language, and its fields to translate."""

    end: int
    kind: str
    fields: tuple[Field, ...]


def find(source: str, keys: Sequence[str] = FRONT_MATTER_KEYS, strict: bool = True) -> FrontMatter | None:
    """The front matter opening `source`, if any. A YAML one must read as a mapping
    (else it is no front matter) when `strict`; otherwise (Markdown, where a closed
    `---` block at the start is front matter whatever it holds) it gives no fields
    when it does not."""
    first = _LINE.match(source)
    fence = first.group().rstrip(" \t\r\n")
    if fence not in _FENCES or not first.group().endswith(("\n", "\r")):
        return None
    kind, closers = _FENCES[fence]
    pos = first.end()
    while pos < len(source):
        line = _LINE.match(source, pos)
        if line.group().rstrip(" \t\r\n") in closers:
            body = (first.end(), pos)
            fields = _yaml_fields(source, *body, keys) if kind == "yaml" else _toml_fields(source, *body, keys)
            if fields is None and (strict or kind == "toml"):
                return None
            return FrontMatter(line.end(), kind, tuple(fields or ()))
        if not line.group():
            break
        pos = line.end()
    return None


def blanked(source: str, end: int) -> str:
    """The source with its first `end` characters blank (line endings kept): what a
    format's parser reads instead of the front matter."""
    return re.sub(r"[^\r\n]", " ", source[:end]) + source[end:]


def _yaml_fields(source: str, start: int, end: int, keys: Sequence[str]) -> list[Field] | None:
    """The fields of a YAML body that reads as a mapping (None when it does not)."""
    try:
        root = yaml.compose(source[start:end], Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        return None
    wanted = set(keys)
    fields = []
    for path, node in _scalars(root, ()):
        if path and path[-1] in wanted and node.tag == "tag:yaml.org,2002:str" and node.value.strip():
            a, b = start + node.start_mark.index, start + node.end_mark.index
            fields.append(Field(a, b, " ".join(node.value.split()), node.style, path))
    return fields


def _scalars(node: yaml.Node, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], yaml.ScalarNode]]:
    """Every scalar value under the node, with its path (mapping keys, list indices)."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if isinstance(value, yaml.ScalarNode):
                    yield (*path, key.value), value
                else:
                    yield from _scalars(value, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for k, value in enumerate(node.value):
            if not isinstance(value, yaml.ScalarNode):
                yield from _scalars(value, (*path, k))


def _toml_fields(source: str, start: int, end: int, keys: Sequence[str]) -> list[Field] | None:
    """The fields of a TOML body: one-line strings whose key (its last part) is wanted."""
    try:
        tomllib.loads(source[start:end])
    except tomllib.TOMLDecodeError:
        return None
    wanted = set(keys)
    fields = []
    for line in _LINE.finditer(source, start, end):
        m = _TOML_PAIR.match(line.group().rstrip("\r\n"))
        if m is None:
            continue
        key = re.split(r"[ \t]*\.[ \t]*", m["key"])[-1].strip("\"'")
        value = tomllib.loads(f"v = {m['value']}")["v"]
        if key in wanted and value.strip():
            a = line.start() + m.start("value")
            fields.append(Field(a, a + len(m["value"]), " ".join(value.split()), "toml" + m["value"][0]))
    return fields


def render(source: str, field: Field, english: str, quoted: bool = False) -> str:
    """A field's English as source text in the field's style (`quoted`: double-quoted)."""
    if field.style in ("toml'", 'toml"'):
        if field.style == "toml'" and not re.search(r"['\r\n\x00-\x08\x0b-\x1f\x7f]", english):
            return f"'{english}'"
        return _double(english)
    if quoted or field.style == '"':
        return _double(english)
    if field.style == "'":
        return "'" + english.replace("'", "''") + "'"
    if field.style in ("|", ">"):
        raw = source[field.start : field.end]
        header, _, body = raw.partition("\n")
        indent = re.match(r"[ \t]*", body).group()
        return f"{header}\n{indent}{english}" + ("\n" if raw.endswith("\n") else "")
    return english if _plain_reads(english) else _double(english)


def _double(english: str) -> str:
    """A double-quoted string, which YAML and TOML both read as JSON writes it."""
    return json.dumps(english, ensure_ascii=False)


def _plain_reads(english: str) -> bool:
    """Whether YAML reads the English back as that string, written plain after a key."""
    try:
        data = yaml.safe_load(f"k: {english}")
    except yaml.YAMLError:
        return False
    return data == {"k": english} and "\n" not in english and " #" not in english


def write(source: str, front: FrontMatter, english: Mapping[int, str]) -> str:
    """The front matter (source[:front.end]) with the English of its fields (by index in
    `front.fields`): in their own styles, else double-quoted, else (should the data
    not read back as expected) as it was."""
    if not english:
        return source[: front.end]
    for quoted in (False, True):
        subs = [(f.start, f.end, render(source, f, english[k], quoted)) for k, f in enumerate(front.fields) if k in english]
        out, pos = [], 0
        for a, b, text in subs:
            out += [source[pos:a], text]
            pos = b
        out.append(source[pos : front.end])
        written = "".join(out)
        if front.kind == "toml" or _reads_as(source[: front.end], written, front, english):
            return written
    return source[: front.end]


def _reads_as(before: str, after: str, front: FrontMatter, english: Mapping[int, str]) -> bool:
    """Whether the written YAML gives the source's data with the fields' values English."""

    def body(text: str) -> str:
        lines = text.splitlines(keepends=True)
        return "".join(lines[1:-1])

    try:
        expected, got = yaml.safe_load(body(before)), yaml.safe_load(body(after))
    except yaml.YAMLError:
        return False
    expected = copy.deepcopy(expected)
    try:
        for k, text in english.items():
            field = front.fields[k]
            *parents, last = field.path
            node = expected
            for key in parents:
                node = node[key]
            block = field.style in ("|", ">") and after[field.start : field.start + 2].startswith(field.style)
            node[last] = text + ("\n" if block and "-" not in before[field.start : field.end].split("\n", 1)[0] else "")
    except (KeyError, IndexError, TypeError):
        return False
    return got == expected
