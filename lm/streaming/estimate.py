"""Kneser-Ney estimation in passes over the on-disk tables, with the in-memory formulas.

The arithmetic is that of :func:`perplex.lm.kneser_ney.estimate_kneser_ney`
(the same functions: :func:`~perplex.lm.kneser_ney.context_weights`,
:func:`~perplex.lm.kneser_ney.interpolate`, ...), applied to the parts of
each table (:mod:`~.runs`), one task per part:

* continuation counts N1+(. w): each part of table n + 1 sorts its suffixes
  (indices into table n) and cuts them where the parts of table n begin; each
  part of table n then counts its entries in its slice of every sorted part, so
  the suffixes are read twice whatever the number of parts (a shuffle);
* a context's weight sums over its continuations, which are contiguous and
  in one part; inside a part, pieces are cut between contexts, so each sum
  runs over the same numbers in the same order as ``np.bincount`` over the
  whole table does;
* p(w | h') of the shorter context is gathered for the whole part first, from the
  lower order's probabilities held whole when they fit a quarter of a task's budget,
  else by a join by sorting (:mod:`~.gather`).

The result is bit-identical to the in-memory model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from perplex.lm.kneser_ney import (choose_discounts, context_weights, count_of_counts, discount_values,
                                   interpolate, unigram_probs)
from perplex.lm.sorting import value_runs
from perplex.lm.streaming.count import CountedTables
from perplex.lm.streaming.gather import Gathered, delete_answers, gather_parts
from perplex.lm.streaming.runs import Table
from perplex.lm.streaming.workspace import Column, Stacked, Workspace, piece

# Bytes per table entry while a piece is estimated (keys, parents, counts, discounts,
# the contexts' sums spread to their entries, interpolation temporaries, results);
# pieces get half a task's budget, the lower order's probabilities a quarter.
BYTES_PER_ENTRY = 128


def estimate_streaming_kn(counted: CountedTables, workspace: Workspace, budget: int, executor, modified: bool = True,
                          bar=None) -> tuple[dict, list, list]:
    """The model's arrays as columns named as in the saved model (``logp1``, ``keys2``, ``logbo1``, ...),
    with the discounts and the fallbacks used (see :func:`perplex.lm.kneser_ney.choose_discounts`)."""
    N, radix = counted.order, counted.radix
    bos = radix - 1
    task_budget = executor.task_budget(budget)
    folder = str(workspace.path)
    workspace.stage = "counting the continuations"
    a1 = counted.unigram_counts.astype(np.float64)
    if N > 1:
        cont = _count_values(counted.tables[2].columns["suffix"], 0, radix, task_budget)
        a1 = np.where(np.arange(radix) == bos, counted.unigram_counts, cont).astype(np.float64)
    coc = [count_of_counts(a1)]
    adjusted = {}
    for n in range(2, N + 1):
        parts = counted.parts[n]
        P = len(parts)
        offsets = np.cumsum([0] + [len(p) for p in parts])
        slices = [None] * P  # per part of table n: (sorted suffixes, start, stop) of each part above
        if n < N:
            above = counted.parts[n + 1]
            runs = executor.map(sorted_suffixes, [p.columns["suffix"] for p in above], [offsets.tolist()] * len(above),
                                [folder] * len(above), [f"suffixes{n + 1}.{k}" for k in range(len(above))])
            slices = [[(col, cuts[j], cuts[j + 1]) for col, cuts in runs if cuts[j + 1] > cuts[j]] for j in range(P)]
        results = executor.map(adjusted_part, parts, offsets[:-1].tolist(), slices, [task_budget] * P,
                               [folder] * P, [f"adjusted{n}.{j}" for j in range(P)])
        if n < N:
            for col, _ in runs:
                col.delete()
        adjusted[n] = [col for col, _ in results]
        coc.append(sum((c for _, c in results), np.zeros(5, np.int64)))
    for n in range(2, N + 1):
        for part in counted.parts[n]:
            part.columns["bos"].delete()
    discounts, fallbacks = choose_discounts(coc, modified)

    a1[bos] = 0.0  # <s> is never predicted
    lower = unigram_probs(a1, discount_values(discounts[0], a1), bos)
    with np.errstate(divide="ignore"):
        logp1 = np.log10(lower)
    logp1[bos] = -99.0  # the ARPA convention for <s>: context only
    columns = {"logp1": logp1}
    for n in range(2, N + 1):
        workspace.stage = f"estimating {n}-gram probabilities"
        parts = counted.parts[n]
        P = len(parts)
        progress = bar(f"estimating {n}-grams", len(counted.tables[n])) if bar else None
        whole = isinstance(lower, np.ndarray) or len(lower) * 8 <= task_budget // 4
        lowers = [lower] * P if whole else gather_parts(lower, [p.columns["suffix"] for p in parts], executor, folder,
                                                        f"lower{n}")
        results = executor.map(
            estimate_part, parts, adjusted[n], [discounts[n - 1]] * P, counted.contexts[n], lowers, [radix] * P,
            [n < N] * P, [task_budget] * P, [folder] * P, [f"{n}.{j}" for j in range(P)],
            done=lambda j: progress.update(len(parts[j])) if progress is not None else None)
        for col in adjusted[n]:
            if col is not None:
                col.delete()
        if not whole:
            delete_answers(lowers)
        if isinstance(lower, Column):
            lower.delete()
        columns[f"logp{n}"] = Stacked([r[0] for r in results])
        columns[f"logbo{n - 1}"] = Stacked([r[1] for r in results])
        columns[f"keys{n}"] = counted.tables[n].columns["keys"]
        lower = Stacked([r[2] for r in results]) if n < N else None
        if progress is not None:
            progress.close()
    return columns, discounts, fallbacks


def sorted_suffixes(suffix: Column, bounds: list[int], folder: str, name: str) -> tuple[Column, list[int]]:
    """Task: the suffixes of one part of table n + 1 (indices into table n) in increasing
    order, and where each part of table n begins among them (``bounds``: the parts' first
    entries, then table n's size)."""
    values = np.sort(suffix.read())
    out = Column.create(Path(folder) / f"{name}.i8", np.int64)
    out.append(values)
    return out, np.searchsorted(values, bounds).tolist()


def adjusted_part(part: Table, offset: int, above: list | None, budget: int, folder: str,
                  name: str) -> tuple[Column | None, np.ndarray]:
    """a(.) of one part of table n (entries ``offset`` on), and its count-of-counts.

    ``above`` is this part's slice of every part of table n + 1's sorted suffixes,
    (Column, start, stop) (None at the top order, where a is the raw count).
    """
    if above is None:
        coc = np.zeros(5, np.int64)
        for _, c in part.columns["counts"].chunks(piece(budget, 16)):
            coc += count_of_counts(c.astype(np.float64))
        return None, coc
    cont = np.zeros(len(part), np.int64)
    for col, start, stop in above:
        for lo in range(start, stop, piece(budget, 32)):
            values = col.read(lo, min(lo + piece(budget, 32), stop))
            first, counts = value_runs(values)  # sorted: one run per distinct suffix
            cont[values[first] - offset] += counts
    fields = part.read(0, len(part))
    a = np.where(fields["bos"].astype(bool), fields["counts"], cont).astype(np.float64)
    col = Column.create(Path(folder) / f"{name}.f8", np.float64)
    col.append(a)
    return col, count_of_counts(a)


def estimate_part(part: Table, adjusted: Column | None, d: np.ndarray, contexts: tuple, lower, radix: int,
                  keep_probs: bool, budget: int, folder: str, name: str) -> tuple[Column, Column, Column | None]:
    """log10 p of one part of table n, log10 gamma of its contexts (order n - 1 indices
    ``contexts[0]`` to ``contexts[1]``), and p itself when the next order needs it."""
    first_context, end_context = contexts
    folder = Path(folder)
    logp = Column.create(folder / f"logp{name}.f8", np.float64)
    logbo = Column.create(folder / f"logbo{name}.f8", np.float64)
    probs = Column.create(folder / f"p{name}.f8", np.float64) if keep_probs else None
    # p(w | h') of every entry of the part
    lower_probs = lower.read() if isinstance(lower, Gathered) else gather(lower, part.columns["suffix"], budget // 4)
    done = first_context  # contexts whose weight is written
    size = max(piece(budget // 2, BYTES_PER_ENTRY), radix)  # a context has fewer than radix continuations
    for start, stop, keys in _context_pieces(part.columns["keys"], radix, size):
        parent = keys // radix
        first = int(parent[0])
        local = parent - first
        a = part.columns["counts"].read(start, stop).astype(np.float64) if adjusted is None else adjusted.read(start, stop)
        dn = discount_values(d, a)
        denom, gamma = context_weights(local, a, dn, int(local[-1]) + 1)
        logbo.append(np.zeros(first - done))  # contexts with no continuation: gamma 1
        logbo.append(np.log10(gamma))
        done = first + len(gamma)
        p = interpolate(a, dn, denom[local], gamma[local], lower_probs[start:stop])
        with np.errstate(divide="ignore"):
            logp.append(np.log10(p))
        if probs is not None:
            probs.append(p)
    logbo.append(np.zeros(end_context - done))
    return logp, logbo, probs


def _count_values(values: Column, lo: int, hi: int, budget: int) -> np.ndarray:
    """How many entries of ``values`` equal each of lo..hi-1."""
    out = np.zeros(hi - lo, np.int64)
    for _, v in values.chunks(piece(budget, 32)):
        v = v[(v >= lo) & (v < hi)] - lo
        out += np.bincount(v, minlength=hi - lo)
    return out


def _context_pieces(keys: Column, radix: int, size: int):
    """(start, stop, keys) pieces of a part, each ending where a context's continuations end."""
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


def gather(values, index: Column, budget: int) -> np.ndarray:
    """``values[index]`` for every entry of the column ``index``, in memory: ``values`` an
    array, or a column that fits a task's memory, read whole."""
    whole = values if isinstance(values, np.ndarray) else values.read()
    out = np.empty(len(index), np.float64)
    for start, idx in index.chunks(piece(budget, 8)):
        out[start : start + len(idx)] = whole[idx]
    return out
