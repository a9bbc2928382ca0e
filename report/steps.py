"""The report steps of the model families beyond n-grams (embeddings, Transformer).

Each step is ``step(run, cache) -> (Section | None, list[Scored])``; a family
that is not installed simply contributes nothing.
"""

from __future__ import annotations


def available_steps(quick: bool) -> list:
    return []
