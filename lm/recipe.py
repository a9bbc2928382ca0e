"""Train an n-gram model and evaluate it on every evaluation split: what ``perplex ngram``
and the report's ladder both run, from an :class:`NgramConfig` (no command-line options)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from perplex.corpus.datasets import Splits
from perplex.errors import PerplexError
from perplex.eval.metrics import Evaluation, evaluate
from perplex.lm.base import NgramModel
from perplex.lm.smoothing import estimate, resolve
from perplex.lm.trie import NgramTrie

TUNING_SPLIT = "valid"  # the split every tuned choice is made on


@dataclass(frozen=True)
class NgramConfig:
    """What to estimate.

    Attributes
    ----------
    smoothing : str
        A name of :data:`perplex.lm.SMOOTHINGS`.
    order : int
        Highest n-gram order.
    alpha : float, optional
        add-k's k.
    alpha_grid : tuple of float, optional
        add-k only: try every k of the grid and keep the one with the lowest
        perplexity on the validation split (instead of a fixed ``alpha``).
    """

    smoothing: str = "kn"
    order: int = 3
    alpha: float | None = None
    alpha_grid: tuple[float, ...] | None = None

    def __post_init__(self):
        resolve(self.smoothing, self.alpha)
        if not isinstance(self.order, int) or self.order < 1:
            raise PerplexError(f"the order must be a whole number >= 1, got {self.order!r}")
        if self.alpha_grid is not None and (self.smoothing != "addk" or self.alpha is not None):
            raise PerplexError("a grid of k values tunes add-k only, in place of a fixed --alpha")


@dataclass
class NgramRun:
    """A trained n-gram model and its evaluations.

    Attributes
    ----------
    model : NgramModel
    evaluations : list of Evaluation
        One per evaluation split present (valid, test).
    build_seconds : float
        Counting and estimating (with add-k's tuning).
    alpha_scores : dict of float to float, optional
        add-k's tuning: the perplexity on :data:`TUNING_SPLIT` of every k tried.
    """

    model: NgramModel
    evaluations: list[Evaluation] = field(default_factory=list)
    build_seconds: float = 0.0
    alpha_scores: dict[float, float] | None = None


def train_ngram(data: Splits, config: NgramConfig, *, progress=None, prediction_entropy: bool = False) -> NgramRun:
    """Count ``data.train``'s n-grams, estimate the model (tuning add-k's k on valid when
    ``config.alpha_grid`` is given) and evaluate it on every evaluation split.

    ``progress`` is a tqdm bar advanced once per order counted.
    """
    start = time.perf_counter()
    trie = NgramTrie.count(data.train, config.order, progress)
    scores = None
    if config.alpha_grid is None:
        model = estimate(data.train, trie, config.smoothing, config.alpha)
    else:
        if TUNING_SPLIT not in data.corpora:
            raise PerplexError(f"tuning add-k's k needs {TUNING_SPLIT} data; give --valid FILE or --split")
        tuning = data.corpora[TUNING_SPLIT]
        scores = {k: evaluate(estimate(data.train, trie, "addk", k), tuning).perplexity for k in config.alpha_grid}
        model = estimate(data.train, trie, "addk", min(scores, key=scores.get))
    build_seconds = time.perf_counter() - start
    evaluations = []
    for split in data.eval_names():
        r = evaluate(model, data.corpora[split], split, prediction_entropy=prediction_entropy)
        r.extra.update({"order": trie.order, "smoothing": config.smoothing, "build_seconds": round(build_seconds, 3)})
        evaluations.append(r)
    return NgramRun(model, evaluations, build_seconds, scores)
