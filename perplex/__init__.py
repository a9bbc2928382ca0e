"""perplex: classical statistical language modeling, end to end on real text.

The top-level package holds what every part shares and nothing model-specific:
the one error type (:mod:`perplex.errors`) and atomic file writing
(:mod:`perplex.fileio`).
"""

__version__ = "0.1.0"
