"""What every topic's subparser shares: a ``--help`` whose prose is wrapped and whose
examples keep their lines (``perplex.cli_common.Formatter`` does this for the other
commands, but a library module may not import the command line)."""

from __future__ import annotations

import argparse
import textwrap


def add_topic(topics, common, name: str, help: str, prose: str, examples: list[str]) -> argparse.ArgumentParser:
    """``perplex explain NAME``: a subparser with the common options and a formatted description."""
    description = textwrap.fill(prose, 88, break_on_hyphens=False) + "\n\nexamples:\n" + "\n".join(f"  {e}" for e in examples)
    return topics.add_parser(name, parents=[common], help=help, description=description,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
