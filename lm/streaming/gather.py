"""``values[index]`` where both are on-disk columns larger than a task's memory: a join by sorting.

Each part of table n needs p(w | h') of its entries' suffixes, indices spread over
the whole of table n - 1's probabilities.  Reading those once per part would make the
reads grow with the square of the text.  Instead, in three rounds of tasks:

1. each part of the index sorts its indices with their positions
   (:func:`perplex.lm.sorting.sort_with_positions`) and cuts them where the parts of
   the values begin;
2. each part of the values, read once, answers the sorted indices that fall in it,
   for every part of the index, into one column;
3. each part of the index puts its answers back in its own order
   (:meth:`Gathered.read`), when it is estimated.

Every column is read a fixed number of times, whatever the number of parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from perplex.lm.sorting import sort_with_positions
from perplex.lm.streaming.workspace import Column, Stacked


@dataclass
class Gathered:
    """``values[index]`` for one part of the index: its positions in sorted order, and for each
    part of the values the answers (Column, start) to the indices in ``cuts[k]:cuts[k + 1]``."""

    positions: Column
    cuts: list
    answers: list
    length: int

    def read(self) -> np.ndarray:
        out = np.empty(self.length, np.float64)
        for k, (column, start) in enumerate(self.answers):
            a, b = self.cuts[k], self.cuts[k + 1]
            if b > a:
                out[self.positions.read(a, b)] = column.read(start, start + b - a)
        return out

    def delete(self) -> None:
        self.positions.delete()


def gather_parts(values: Stacked, indices: list[Column], executor, folder: str, name: str) -> list[Gathered]:
    """``values[index]`` for each column of ``indices``, by the workers; delete the
    :class:`Gathered` and the answers (:func:`delete_answers`) once read."""
    J = len(indices)
    bounds = values.offsets.tolist()
    requests = executor.map(sort_requests, indices, [bounds] * J, [folder] * J, [f"{name}.request{j}" for j in range(J)])
    K = len(values.parts)
    asked = [[(sorted_index, cuts[k], cuts[k + 1]) for sorted_index, _, cuts in requests] for k in range(K)]
    answered = executor.map(answer_requests, values.parts, bounds[:-1], asked, [folder] * K,
                            [f"{name}.answers{k}" for k in range(K)])
    for sorted_index, _, _ in requests:
        sorted_index.delete()
    return [Gathered(positions, cuts, [(column, starts[j]) for column, starts in answered], len(index))
            for j, ((_, positions, cuts), index) in enumerate(zip(requests, indices))]


def delete_answers(gathered: list[Gathered]) -> None:
    for g in gathered:
        g.delete()
    for column, _ in gathered[0].answers if gathered else []:
        column.delete()


def sort_requests(index: Column, bounds: list[int], folder: str, name: str) -> tuple[Column, Column, list[int]]:
    """Task: the indices of one part in increasing order and their positions in it, and where
    each part of the values (``bounds``: their first entries, then the end) begins among them."""
    ordered, positions = sort_with_positions(index.read())
    sorted_index = Column.create(Path(folder) / f"{name}.i8", np.int64)
    sorted_index.append(ordered)
    kept = Column.create(Path(folder) / f"{name}.positions.i8", np.int64)
    kept.append(positions)
    return sorted_index, kept, np.searchsorted(ordered, bounds).tolist()


def answer_requests(part: Column, offset: int, asked: list, folder: str, name: str) -> tuple[Column, list[int]]:
    """Task: one part of the values (entries ``offset`` on), read once, answers each part of
    the index's sorted indices that fall in it (``asked``: (Column, start, stop) each), one
    after another in one column; returns it and where each part's answers start."""
    values = part.read()
    out = Column.create(Path(folder) / f"{name}.f8", np.float64)
    starts = []
    for sorted_index, a, b in asked:
        starts.append(len(out))
        if b > a:
            out.append(values[sorted_index.read(a, b) - offset])
    return out, starts
