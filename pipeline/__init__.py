"""mtpipe: French→English machine translation of article folders with MarianMT.

Stages, one module each: ingest → segment → translate → (align → evaluate → report).
Importing the package is cheap: torch and transformers load only when a model does.
"""

__version__ = "0.1.0"
