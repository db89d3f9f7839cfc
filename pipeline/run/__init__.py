"""Run: translate a tree of articles into a mirrored output tree, resumably.

`IN/a/b.txt` becomes `OUT/a/b.en.txt`, `OUT/a/b.align.jsonl` and the review files
`OUT/a/b.review.html`, `.tmx` and `.tsv`; `OUT/summary.json` accounts for every path
found under the inputs (translated, skipped as unchanged, error, unsupported or
ignored, each with its reason) and is rewritten as articles finish (a bounded number
of times) and at the end, so an interrupted run is resumed by running it again. One
bad article never stops the rest. `OUT/index.html` links every article's page. mtpipe
writes only files it owns in OUT (see `outdir`): an article whose output would
overwrite anybody else's file is an error entry instead.

Rooms, each with one job: `discover` (the paths under the inputs), `summary` (the
run summary's file, date and durations; what it holds is `records`), `planning` (what is unchanged, what is
translated, what each may write), `pages` (review pages, exports, index; `mtpipe
report`) and `drive` (translating and writing, a window at a time).
"""

from ..outdir import OutputBusy, OutputConflict
from .discover import (
    Found,
    Selection,
    discover,
    glob_match,
    read_found,
    read_regular,
    shown,
)
from .drive import ProgressBar, run
from .pages import rewrite_reports
from .planning import Decision, OutputIsInput, plan
from .summary import INDEX, SUMMARY, output_paths, run_date

__all__ = [
    "INDEX", "SUMMARY", "Decision", "Found", "OutputBusy", "OutputConflict", "OutputIsInput", "ProgressBar", "Selection",
    "discover", "glob_match", "output_paths", "plan", "read_found", "read_regular", "rewrite_reports", "run", "run_date", "shown",
]
