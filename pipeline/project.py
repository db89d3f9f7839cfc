"""The project file: how a folder's articles are read, kept with them (`mtpipe.toml`).

    # mtpipe.toml, in the input folder (or given with --config)
    protect = ['\\bACME-\\d+\\b', '<<[^>]*>>']   # kept verbatim, never translated
    front_matter_keys = ["title", "description", "tagline"]

`protect` adds protect rules (regular expressions, Python syntax) to the built-in
ones; `front_matter_keys` replaces the list of front matter keys whose values are
translated. The command line adds its `--protect` rules to the file's and its
`--front-matter-keys` wins over the file's. Runs list the file as ignored, never
as an article.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import UsageError
from .formats.base import ReadOptions
from .protect import ProtectError, Protector

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROJECT_FILE = "mtpipe.toml"
_KEYS = ("protect", "front_matter_keys")


class ProjectError(UsageError):
    """A project file or reading option that cannot be used; the message says what to fix."""


# A project file holds a few lists of patterns and keys; more than this is not one.
MAX_PROJECT_BYTES = 1_000_000


def load(path: Path) -> dict[str, tuple[str, ...]]:
    """The settings of a project file, checked: each key known, each value a list of strings."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_PROJECT_BYTES + 1)
        if len(raw) > MAX_PROJECT_BYTES:  # /dev/zero, or not a project file at all
            raise ProjectError(f"the project file {path} holds more than {MAX_PROJECT_BYTES // 1_000_000} MB, far more than a project file does; pass the right --config")
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise ProjectError(f"cannot read the project file {path} ({exc.strerror or exc}); fix it or pass another --config") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProjectError(f"the project file {path} is not valid TOML ({exc}); fix it") from None
    except RecursionError:
        raise ProjectError(f"the project file {path} is not valid TOML (it nests too deep); fix it") from None
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise ProjectError(f"the project file {path} has unknown settings ({', '.join(unknown)}); it may hold {' and '.join(_KEYS)}")
    settings = {}
    for key, value in data.items():
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ProjectError(f"{key} in the project file {path} must be a list of strings, such as {key} = [\"…\"]")
        settings[key] = tuple(value)
    return settings


def find(inputs: Sequence[Path]) -> Path | None:
    """The project file of the inputs: the one `mtpipe.toml` in the input folders (the
    folder of an input file) (None if none has one); ProjectError when two have
    different ones."""
    folders = [path if _is_dir(path) else path.parent for path in inputs]
    found = sorted({(folder / PROJECT_FILE).resolve() for folder in folders if _has_project(folder)})
    if len(found) > 1:
        raise ProjectError(f"the inputs have {len(found)} project files ({', '.join(map(str, found))}); choose one with --config")
    return found[0] if found else None


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _has_project(folder: Path) -> bool:
    """Whether the folder holds a project file; not when it cannot be read (the run
    says so about the folder itself)."""
    try:
        return folder.is_dir() and (folder / PROJECT_FILE).is_file()
    except OSError:
        return False


def read_options(config: Path | None, protect: Sequence[str] = (), front_matter_keys: Sequence[str] | None = None) -> ReadOptions:
    """How articles are read: the project file's settings (if any), the command line's
    protect rules added, its front matter keys (if given) instead of the file's."""
    settings = load(config) if config else {}
    keys = tuple(front_matter_keys) if front_matter_keys is not None else settings.get("front_matter_keys", ReadOptions.front_matter_keys)
    options = ReadOptions(Protector((*settings.get("protect", ()), *protect)), tuple(k.strip() for k in keys if k.strip()))
    try:
        options.protect.check()
    except ProtectError as exc:
        raise ProjectError(str(exc)) from None
    return options
