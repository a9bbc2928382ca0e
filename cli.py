#!/usr/bin/env python3
"""``python cli.py ...`` from a checkout: the same entry point as the installed ``perplex``
command and ``python -m perplex`` (the code is :mod:`perplex.cli`)."""

import sys

try:
    from perplex.cli import main
except ModuleNotFoundError as exc:  # a checkout whose package (or a dependency) is not installed
    sys.exit(f"perplex: error: {exc}; install the checkout first: pip install -e .")

if __name__ == "__main__":
    sys.exit(main())
