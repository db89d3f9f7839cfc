"""`python -m pipeline.cli`: the mtpipe command."""

import sys

from .command import main

sys.exit(main())
