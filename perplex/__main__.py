"""``python -m perplex``: the same entry point as the ``perplex`` command."""

import sys

from perplex.cli import main

sys.exit(main())
