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
    # 0 log 0 = 0: take the log only where p > 0 (numpy's SIMD log, the hot spot
    # when averaging over many full next-word distributions).
    logs = np.log2(p, out=np.zeros_like(p), where=p > 0)
    h = 0.0 - np.einsum("...i,...i->...", np.moveaxis(p, axis, -1), np.moveaxis(logs, axis, -1))  # 0.0 - x: no -0.0
    return float(h) if np.ndim(h) == 0 else h
