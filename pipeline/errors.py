"""The errors mtpipe's library code raises, as one family.

Each says in one sentence what went wrong, why, and what to do. Library code raises
them and never exits; the command line maps each kind to an exit code (`cli.EXIT_CODES`).
The Python base classes (ValueError, RuntimeError) are kept so that callers written
against them still catch what they did.
"""

from __future__ import annotations


class MtpipeError(Exception):
    """Something mtpipe cannot do, said so that a user knows what to do next."""


class UsageError(MtpipeError, ValueError):
    """Options, patterns or a project file that cannot be used as given."""


class InputError(MtpipeError, ValueError):
    """One input cannot be read as asked; a run reports it and goes on with the others."""


class ModelError(MtpipeError, RuntimeError):
    """The model cannot be found, loaded or run here: nothing can be translated."""


class EngineError(MtpipeError, RuntimeError):
    """The engine that runs the model is gone (every Ray actor died, nothing finishes):
    no article can be translated, so the run stops rather than fail each one."""


class OutputError(MtpipeError):
    """The output folder cannot be used (busy, not mtpipe's, inside an input)."""


class StoreError(MtpipeError, RuntimeError):
    """The translation memory cannot be used; runs go on without it."""


class CorrectionsError(MtpipeError, ValueError):
    """A corrections or TMX file cannot be imported."""


# What stops a whole run rather than one article: without a model or an engine no
# article can be translated, and retrying each would only say so once per article.
STOPS_A_RUN: tuple[type[MtpipeError], ...] = (ModelError, EngineError)
