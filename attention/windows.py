"""Cutting the id stream into model-sized windows, for training and for scoring.

The model reads ``x = [</s>] + ids``: input position t holds the token before
target t, so target t (= ``ids[t]``) is predicted from ``x[s : t + 1]`` for a
window starting at s.

Training (:func:`epoch_starts`): each epoch cuts the stream into
non-overlapping windows of ``context`` tokens from a random offset, in a random
order, so every training token is a target once per epoch::

    x:  </s> w0 w1 w2 w3 w4 w5 w6 w7 w8 ...
         |--window a--|--window b--|        offset 0 (another epoch: another offset)

Scoring (:func:`sliding_windows`): every target is predicted exactly once.
The first window scores all its targets; each next window moves ``stride``
tokens and scores only the targets not yet scored, so every target after the
first window sees at least ``context - stride`` earlier tokens::

    targets:  0 1 2 3 4 5 6 7 8 9        context 4, stride 2
    window 0: [0 1 2 3]                  scores 0-3
    window 1:     [2 3 4 5]              scores 4-5 (context ≥ 2)
    window 2:         [4 5 6 7]          scores 6-7
    window 3:             [6 7 8 9]      scores 8-9
"""

from __future__ import annotations

import numpy as np


def shifted_inputs(ids: np.ndarray) -> np.ndarray:
    """``[</s>] + ids`` as int64, shape (N + 1,): the model's input stream."""
    x = np.empty(len(ids) + 1, np.int64)
    x[0] = 0  # </s>: the text starts after a sentence boundary
    x[1:] = ids
    return x


def epoch_starts(n_targets: int, context: int, seed: int, epoch: int) -> np.ndarray:
    """Start positions of the training windows of one epoch, in training order.

    Deterministic in (seed, epoch), so a resumed run draws the same windows.

    Returns
    -------
    int64 array, shape (W,)
        Window w has inputs ``x[s : s + context]`` and targets ``x[s + 1 : s + context + 1]``.
    """
    rng = np.random.default_rng([seed, epoch])
    context = min(context, n_targets)
    offset = int(rng.integers(0, context)) if n_targets > context else 0
    starts = np.arange(offset, n_targets - context + 1, context, dtype=np.int64)
    if len(starts) == 0:
        starts = np.zeros(1, np.int64)
    return rng.permutation(starts)


def gather_windows(x: np.ndarray, starts: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of the windows starting at ``starts``: two int64 (W, length) arrays."""
    rows = x[starts[:, None] + np.arange(length + 1)]  # (W, length + 1)
    return rows[:, :-1], rows[:, 1:]


def sliding_windows(n_targets: int, context: int, stride: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Plan the scoring windows so that every target is predicted exactly once.

    Returns
    -------
    starts : int64 array, shape (W,)
        Window w covers targets ``starts[w] .. starts[w] + length - 1``.
    first : int64 array, shape (W,)
        Window w scores its positions ``first[w] .. length - 1`` (0 for the first window).
    length : int
        ``min(context, n_targets)``: every window has this length.
    """
    if stride < 1 or stride > context:
        raise ValueError(f"stride must be in 1..context, got {stride}")
    length = min(context, n_targets)
    ends = np.unique(np.minimum(np.arange(length, n_targets + stride, stride, dtype=np.int64), n_targets))
    starts = ends - length
    scored_from = np.concatenate([[0], ends[:-1]])  # the first target each window scores
    return starts, scored_from - starts, length
