"""Command line: argument parsing, progress and exit codes; the work is in the stages.

Rooms: `command` (the parser and main), `common` (what the commands share: exit
codes, the error table, the translator the model options describe), `runs` (run,
dry run, report), `texts` (translate, evaluate, align), `models` (memory, models).

Exit codes: 0 everything translated (or skipped as unchanged); 1 some articles
failed (see summary.json); 2 nothing could be done (bad arguments, model not
loadable, unreadable input for `translate`, an output folder that cannot be
used); 130 interrupted (Ctrl-C); 141 standard output was closed early (a pipe into
`head`); 143 terminated (SIGTERM).
"""

from .command import build_parser, main
from .common import (
    EXIT_ARTICLE_FAILED,
    EXIT_BROKEN_PIPE,
    EXIT_CODES,
    EXIT_FATAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    exit_code,
)

__all__ = ["EXIT_ARTICLE_FAILED", "EXIT_BROKEN_PIPE", "EXIT_CODES", "EXIT_FATAL", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_TERMINATED", "build_parser", "exit_code", "main"]
