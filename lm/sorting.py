"""Sorting int64 keys with their positions, the step every n-gram count rests on.

numpy's ``sort`` of int64 is vectorized (SIMD) but its ``argsort`` is not, and is
3 to 10 times slower; ``np.unique(..., return_inverse=True)`` pays that argsort.
Here each key's position is packed into the low bits of the key, so one ``sort``
gives both the sorted keys and the permutation, ties in position order (stable).
Keys too wide for one pass are sorted in two (low bits, then high bits, as a
least-significant-digit radix sort does); wider ones, or negative ones, fall back
to numpy's stable argsort.  The results are exactly numpy's.
"""

from __future__ import annotations

import numpy as np

# Bits of a packed int64 (its sign bit left clear so that the order is unsigned).
PACKED_BITS = 63


def sort_with_positions(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(keys[perm], perm)`` for the stable ascending permutation ``perm`` of int64 ``keys``."""
    keys = np.asarray(keys, dtype=np.int64)
    n = len(keys)
    if n == 0 or int(keys.min()) < 0:
        perm = np.argsort(keys, kind="stable")
        return keys[perm], perm
    pbits = max(int(n - 1).bit_length(), 1)
    kbits = max(int(keys.max()).bit_length(), 1)
    room = PACKED_BITS - pbits  # bits of key a packed sort carries next to the positions
    mask = (1 << pbits) - 1
    if kbits <= room:
        packed = np.sort((keys << pbits) | np.arange(n, dtype=np.int64))
        return packed >> pbits, packed & mask
    if kbits <= 2 * room:
        low = kbits - room  # the first pass sorts by these low bits, the second by the rest
        packed = np.sort(((keys & ((1 << low) - 1)) << pbits) | np.arange(n, dtype=np.int64))
        first = packed & mask
        high = keys[first] >> low
        high <<= pbits
        high |= np.arange(n, dtype=np.int64)  # ranks of the first pass: ties keep its order
        second = np.sort(high)
        perm = first[second & mask]
        return keys[perm], perm
    perm = np.argsort(keys, kind="stable")
    return keys[perm], perm


def unique_counts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The distinct ``keys`` in increasing order, the number of each key's distinct value
    (``inverse``, as ``np.unique`` gives it), each distinct value's count, and the position of
    its first occurrence."""
    ordered, perm = sort_with_positions(keys)
    starts, counts = value_runs(ordered)
    inverse = np.empty(len(ordered), np.intp)
    inverse[perm] = np.repeat(np.arange(len(starts)), counts)
    return ordered[starts], inverse, counts, perm[starts]


def value_runs(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of equal values of the sorted array ``ordered`` starts, and its length."""
    new = np.empty(len(ordered), bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    return starts, np.diff(np.append(starts, len(ordered)))


__all__ = ["sort_with_positions", "unique_counts", "value_runs"]
