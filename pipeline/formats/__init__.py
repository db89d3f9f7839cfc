"""Article formats, by suffix: see base.Format. Importing this package registers them."""

from __future__ import annotations

from pathlib import PurePath

from . import docx, html, markdown, plain  # noqa: F401  (registers)
from .base import FORMATS, Format, Written

__all__ = ["FORMATS", "Format", "Written", "format_for", "format_or_plain"]


def format_for(name: str) -> Format | None:
    """The format that reads a file of this name (by its suffix), None if none does."""
    return FORMATS.get(PurePath(name).suffix.lower())


def format_or_plain(name: str) -> Format:
    """The format of a file of this name, plain text when no format reads its suffix:
    for the commands that take any text (standard input, a .log), where runs refuse it."""
    return format_for(name) or FORMATS[".txt"]
