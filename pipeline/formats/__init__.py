"""Article formats, by suffix: see base.Format. Importing this package registers them."""

from __future__ import annotations

from pathlib import PurePath

from . import docx, html, markdown, plain  # noqa: F401  (registers)
from .base import FORMATS, Format, Written

__all__ = ["FORMATS", "Format", "Written", "format_for"]


def format_for(name: str) -> Format | None:
    """The format that reads a file of this name (by its suffix), None if none does."""
    return FORMATS.get(PurePath(name).suffix.lower())
