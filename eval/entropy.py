"""Shannon entropy in bits, for any distribution: a model's prediction, a unigram
distribution, an attention row."""

from __future__ import annotations

import numpy as np


def entropy(p, axis: int = -1) -> np.ndarray | float:
    """H(P) = -sum P(w) log2 P(w), in bits, along ``axis``.

    0 * log 0 is taken as 0.  Works on numpy arrays and on torch tensors (which
    are converted to numpy).

    >>> float(entropy([0.5, 0.5])), float(entropy([1.0, 0.0])), float(entropy(np.full(8, 1 / 8)))
    (1.0, 0.0, 3.0)
    """
    if hasattr(p, "detach"):  # torch tensor
        p = p.detach().cpu().double().numpy()
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    h = terms.sum(axis=axis)
    return float(h) if np.ndim(h) == 0 else h
