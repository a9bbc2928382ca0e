"""How much the report trains: the full ladder, or a quick run that says what it cut.

The Transformer's budget is counted in optimizer steps, so the same command and seed give
the same numbers on an idle or a loaded machine; wall time is shown beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Budget:
    """What one report run trains.

    Attributes
    ----------
    name : str
        "quick" or "full".
    orders : tuple of int
        The n-gram orders of the ladder.
    sgns_epochs, glove_epochs : int
        Passes of skip-gram and GloVe over the training text.
    transformer_steps : int or None
        Optimizer steps (32 windows of 128 tokens each) per Transformer run.
    transformer_minutes : float or None
        A wall-clock budget instead (``report --transformer-minutes``): not reproducible.
    """

    name: str
    orders: tuple[int, ...]
    sgns_epochs: int
    glove_epochs: int
    transformer_steps: int | None
    transformer_minutes: float | None = None

    def transformer(self) -> str:
        """The Transformer's budget in words ("1,150 optimizer steps")."""
        if self.transformer_minutes is not None:
            return f"{self.transformer_minutes:g} minutes of training (wall clock: not reproducible)"
        return f"{self.transformer_steps:,} optimizer steps"

    def describe(self) -> str:
        return (f"n-gram orders {self.orders[0]}–{self.orders[-1]}; skip-gram {self.sgns_epochs} epoch(s), "
                f"GloVe {self.glove_epochs}; each Transformer run {self.transformer()}")


# 1,150 steps of the default Transformer: about 10 minutes at 7,800 tokens/s (2 idle cores of an
# earlier session's machine), 19 at the 4,100 tokens/s measured on 2026-11-30.
FULL = Budget("full", (1, 2, 3, 4, 5), sgns_epochs=15, glove_epochs=25, transformer_steps=1150)
QUICK = Budget("quick", (1, 2, 3), sgns_epochs=1, glove_epochs=5, transformer_steps=115)

# What full-length runs gave on the Penn Treebank (docs/transformer.md, docs/embeddings.md), for the
# quick run's banner.
FULL_RUN_ON_PTB = ("on the Penn Treebank, full-length runs reached a test perplexity of 110.5 for this Transformer "
                   "(10 minutes, about 1,140 steps; the 5-gram: 141.2) and 454.5 for skip-gram's next-word model "
                   "(15 epochs)")


def choose(quick: bool, transformer_steps: int | None = None, transformer_minutes: float | None = None) -> Budget:
    """The quick or full budget, with the Transformer's budget changed if asked."""
    budget = QUICK if quick else FULL
    if transformer_minutes is not None:
        return replace(budget, transformer_steps=None, transformer_minutes=transformer_minutes)
    if transformer_steps is not None:
        return replace(budget, transformer_steps=transformer_steps)
    return budget
