"""Kneser-Ney estimation in passes over the on-disk tables, with the in-memory formulas.

The arithmetic is that of :func:`perplex.lm.kneser_ney.estimate_kneser_ney`
(the same functions: :func:`~perplex.lm.kneser_ney.context_weights`,
:func:`~perplex.lm.kneser_ney.interpolate`, ...), applied to pieces:

* continuation counts N1+(. w): a count of each order-n entry's suffix over
  table n + 1, done over ranges of table n that fit the budget;
* a context's weight sums over its continuations, which are contiguous in
  the next table (keys are sorted by context): chunks are cut between
  contexts, so each sum runs over the same numbers in the same order as
  ``np.bincount`` over the whole table does;
* p(w | h') of the shorter context is gathered from the lower order's
  probabilities, held whole when they fit half the budget, else read in ranges.

The result is bit-identical to the in-memory model.
"""

from __future__ import annotations

import numpy as np

from perplex.lm.kneser_ney import (choose_discounts, context_weights, count_of_counts, discount_values,
                                   interpolate, unigram_probs)
from perplex.lm.streaming.count import CountedTables
from perplex.lm.streaming.workspace import Column, Workspace, piece

# Bytes per table entry while a chunk is estimated (keys, parents, counts, discounts,
# suffixes, gathered probabilities, results).
BYTES_PER_ENTRY = 96


def estimate_streaming_kn(counted: CountedTables, workspace: Workspace, budget: int, modified: bool = True,
                          bar=None) -> tuple[dict, list, list]:
    """The model's arrays as columns named as in the saved model (``logp1``, ``keys2``, ``logbo1``, ...),
    with the discounts and the fallbacks used (see :func:`perplex.lm.kneser_ney.choose_discounts`)."""
    N, radix = counted.order, counted.radix
    bos = radix - 1
    adjusted = _adjusted_counts(counted, workspace, budget, bar)
    coc = [np.zeros(5, np.int64) for _ in range(N)]
    coc[0] = count_of_counts(adjusted[1])
    for n in range(2, N + 1):
        for _, a in adjusted[n].chunks(piece(budget, 16)):
            coc[n - 1] += count_of_counts(a)
    discounts, fallbacks = choose_discounts(coc, modified)

    a1 = adjusted[1].copy()
    a1[bos] = 0.0  # <s> is never predicted
    lower = unigram_probs(a1, discount_values(discounts[0], a1), bos)
    columns = {"logp1": _log10(workspace, "logp1", lower)}
    columns["logp1"].write_at(bos, np.array([-99.0]))  # the ARPA convention for <s>: context only
    for n in range(2, N + 1):
        workspace.stage = f"estimating {n}-gram probabilities"
        table = counted.tables[n]
        progress = bar(f"estimating {n}-grams", len(table)) if bar else None
        gather = _Gather(lower, budget // 2)
        logp = workspace.column(f"logp{n}.f8", np.float64)
        logbo = workspace.column(f"logbo{n - 1}.f8", np.float64)
        probs = workspace.column(f"p{n}.f8", np.float64) if n < N else None
        done = 0  # contexts of table n - 1 whose weight is written
        size = max(budget // (2 * BYTES_PER_ENTRY), radix)  # a context has fewer than radix continuations
        for start, stop, keys in _context_chunks(table.columns["keys"], radix, size):
            parent = keys // radix
            first = int(parent[0])
            local = parent - first
            a = adjusted[n].read(start, stop)
            d = discount_values(discounts[n - 1], a)
            denom, gamma = context_weights(local, a, d, int(local[-1]) + 1)
            logbo.append(np.zeros(first - done))  # contexts with no continuation: gamma 1
            logbo.append(np.log10(gamma))
            done = first + len(gamma)
            p = interpolate(a, d, denom[local], gamma[local], gather(table.columns["suffix"].read(start, stop)))
            with np.errstate(divide="ignore"):
                logp.append(np.log10(p))
            if probs is not None:
                probs.append(p)
            if progress is not None:
                progress.update(stop - start)
        logbo.append(np.zeros(counted.size(n - 1) - done))
        columns[f"logp{n}"], columns[f"logbo{n - 1}"] = logp, logbo
        columns[f"keys{n}"] = table.columns["keys"]
        adjusted[n].delete()
        if isinstance(lower, Column):
            lower.delete()
        lower = probs
        if progress is not None:
            progress.close()
    return columns, discounts, fallbacks


def _log10(workspace: Workspace, name: str, values: np.ndarray) -> Column:
    col = workspace.column(f"{name}.f8", np.float64)
    with np.errstate(divide="ignore"):
        col.append(np.log10(values))
    return col


def _adjusted_counts(counted: CountedTables, workspace: Workspace, budget: int, bar) -> dict:
    """a(.) per order (see :func:`perplex.lm.kneser_ney.adjusted_counts`): order 1 in memory,
    the others as float64 columns."""
    N, radix = counted.order, counted.radix
    if N == 1:
        return {1: counted.unigram_counts.astype(np.float64)}
    adjusted = {N: _as_float(workspace, f"adjusted{N}", counted.tables[N].columns["counts"], budget)}
    cont = _count_values(counted.tables[2].columns["suffix"], 0, radix, budget)
    starts_bos = np.arange(radix) == radix - 1
    adjusted[1] = np.where(starts_bos, counted.unigram_counts, cont).astype(np.float64)
    for n in range(2, N):
        workspace.stage = f"counting the continuations of {n}-grams"
        table, suffix = counted.tables[n], counted.tables[n + 1].columns["suffix"]
        col = workspace.column(f"adjusted{n}.f8", np.float64)
        part = piece(budget, 24)  # the range of table n counted per pass over table n + 1
        for lo in range(0, len(table), part):
            hi = min(lo + part, len(table))
            cont = _count_values(suffix, lo, hi, budget)
            fields = table.read(lo, hi)
            col.append(np.where(fields["bos"].astype(bool), fields["counts"], cont).astype(np.float64))
        adjusted[n] = col
    for n in range(2, N + 1):  # raw counts and start flags are used up; suffixes stay (for the probabilities)
        counted.tables[n].columns["bos"].delete()
    return adjusted


def _count_values(values: Column, lo: int, hi: int, budget: int) -> np.ndarray:
    """How many entries of ``values`` equal each of lo..hi-1."""
    out = np.zeros(hi - lo, np.int64)
    for _, v in values.chunks(piece(budget, 32)):
        v = v[(v >= lo) & (v < hi)] - lo
        out += np.bincount(v, minlength=hi - lo)
    return out


def _as_float(workspace: Workspace, name: str, counts: Column, budget: int) -> Column:
    col = workspace.column(f"{name}.f8", np.float64)
    for _, c in counts.chunks(piece(budget, 16)):
        col.append(c.astype(np.float64))
    return col


def _context_chunks(keys: Column, radix: int, size: int):
    """(start, stop, keys) pieces of a table, each ending where a context's continuations end."""
    start, total = 0, len(keys)
    while start < total:
        stop = min(start + size, total)
        chunk = keys.read(start, stop)
        if stop < total:
            parent = chunk // radix
            cut = int(np.searchsorted(parent, parent[-1]))  # the last context may go on in the next piece
            stop, chunk = start + cut, chunk[:cut]
        yield start, stop, chunk
        start = stop


class _Gather:
    """values[index] from an array, or from a column held whole when it fits ``budget``
    bytes and read range by range otherwise."""

    def __init__(self, values, budget: int):
        self.column = values if isinstance(values, Column) else None
        self.whole = None if self.column is not None and len(values) * 8 > budget else (
            values if self.column is None else values.read())
        self.part = piece(budget, 8)

    def __call__(self, index: np.ndarray) -> np.ndarray:
        if self.whole is not None:
            return self.whole[index]
        out = np.empty(len(index), np.float64)
        for lo in range(0, len(self.column), self.part):
            sel = np.flatnonzero((index >= lo) & (index < lo + self.part))
            if len(sel):
                out[sel] = self.column.read(lo, lo + self.part)[index[sel] - lo]
        return out
