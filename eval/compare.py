"""Comparing models on the same test tokens: paired bootstrap intervals and
linear interpolation with an EM-tuned weight.

>>> import numpy as np
>>> lam = interpolation_weight(np.log10([0.5, 0.1, 0.4]), np.log10([0.1, 0.5, 0.4]))
>>> round(lam, 3)
0.5
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perplex.eval.metrics import Evaluation

LOG2_10 = math.log2(10.0)


@dataclass
class BootstrapInterval:
    """Perplexities with 95% paired-bootstrap intervals over sentences.

    ``ratio`` is perplexity(model) / perplexity(reference): below 1 the model is
    better; an interval that excludes 1 is a difference worth reporting.
    """

    perplexity: float
    low: float
    high: float
    reference_perplexity: float
    ratio: float
    ratio_low: float
    ratio_high: float
    samples: int


def _ppl(total_log10: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    return 10.0 ** (-total_log10 / tokens)


def paired_bootstrap(model: Evaluation, reference: Evaluation, samples: int = 1000, seed: int = 0,
                     level: float = 0.95) -> BootstrapInterval:
    """Resample the test sentences with replacement (the same draw for both models)
    and read the perplexities and their ratio off the percentiles.

    Both evaluations must be of the same test tokens (same sentences, same counts).
    """
    if not np.array_equal(model.sentence_tokens, reference.sentence_tokens):
        raise ValueError("paired bootstrap needs the two models scored on the same test sentences")
    rng = np.random.default_rng(seed)
    n = len(model.sentence_tokens)
    draw = rng.integers(0, n, size=(samples, n))
    tokens = model.sentence_tokens[draw].sum(axis=1)
    a = _ppl(model.sentence_log10[draw].sum(axis=1), tokens)
    b = _ppl(reference.sentence_log10[draw].sum(axis=1), tokens)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(a, [tail, 100 - tail])
    rlo, rhi = np.percentile(a / b, [tail, 100 - tail])
    return BootstrapInterval(model.perplexity, float(lo), float(hi), reference.perplexity,
                             model.perplexity / reference.perplexity, float(rlo), float(rhi), samples)


def interpolation_weight(log10_a: np.ndarray, log10_b: np.ndarray, iterations: int = 200, tol: float = 1e-10) -> float:
    """The weight λ of P = λ P_a + (1 - λ) P_b that maximizes the likelihood of the
    tokens (EM; the log-likelihood is concave in λ, so EM finds the optimum).

    Parameters
    ----------
    log10_a, log10_b : float arrays (N,)
        Per-token log10 probabilities of the two models on held-out data.
    """
    pa = 10.0 ** np.asarray(log10_a, np.float64)
    pb = 10.0 ** np.asarray(log10_b, np.float64)
    lam = 0.5
    for _ in range(iterations):
        mix = lam * pa + (1 - lam) * pb
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(mix > 0, lam * pa / np.where(mix > 0, mix, 1.0), 0.5)
        new = float(share.mean())
        if abs(new - lam) < tol:
            return new
        lam = new
    return lam


def interpolate(log10_a: np.ndarray, log10_b: np.ndarray, weight: float) -> np.ndarray:
    """log10 of λ P_a + (1 - λ) P_b per token."""
    with np.errstate(divide="ignore"):
        return np.log10(weight * 10.0 ** np.asarray(log10_a) + (1 - weight) * 10.0 ** np.asarray(log10_b))
