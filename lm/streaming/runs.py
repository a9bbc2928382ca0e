"""Sorted runs of n-grams on disk and their merge into one table.

A *run* is what one chunk of the text gives: its distinct n-gram keys in
increasing order (see :mod:`perplex.lm.trie` for the key), each with its count
and with fields that are the same at every occurrence of the n-gram (its
suffix's index, whether it starts with ``<s>``).  :func:`merge_runs` merges
any number of runs into the table of the order, summing counts, and records
for every entry of every run its index in the table (the *map* that turns a
chunk's local n-gram numbers into table indices).

The merge is vectorized: it holds a block of each run, takes every key up to
the smallest last key among the blocks that do not end their run (no later
block can hold a smaller one), and sorts those together; at least one block
is used up at each step.
"""

from __future__ import annotations

import numpy as np

from perplex.lm.streaming.workspace import Column, Workspace

# Fields of an n-gram run/table and their dtypes; "counts" are summed by the merge,
# the others are equal at every occurrence of a key and kept once.
FIELDS = {"keys": np.int64, "counts": np.int64, "suffix": np.int64, "bos": np.uint8}
BYTES_PER_ENTRY = sum(np.dtype(t).itemsize for t in FIELDS.values())


class Table:
    """Columns of equal length, one per field (a run, or the merged table of an order)."""

    def __init__(self, workspace: Workspace, name: str, fields=FIELDS):
        self.name = name
        self.columns = {f: workspace.column(f"{name}.{f}", t) for f, t in fields.items()}

    def __len__(self) -> int:
        return len(self.columns["keys"])

    def append(self, **values: np.ndarray) -> None:
        for f, col in self.columns.items():
            col.append(values[f])

    def read(self, start: int, stop: int) -> dict:
        return {f: col.read(start, stop) for f, col in self.columns.items()}

    def delete(self) -> None:
        for col in self.columns.values():
            col.delete()


def merge_runs(runs: list[Table], out: Table, maps: list[Column], buffer_entries: int) -> None:
    """Merge sorted ``runs`` into ``out``; ``maps[r]`` gets the table index of each entry of run r.

    ``buffer_entries`` bounds the entries held at once over all runs' blocks.
    """
    K = len(runs)
    block = max(1, buffer_entries // max(K, 1))
    pos = [0] * K  # entries of each run consumed
    buf: list[dict | None] = [None] * K  # the unconsumed part of each run's current block
    emitted = 0
    while True:
        for r in range(K):
            if (buf[r] is None or not len(buf[r]["keys"])) and pos[r] < len(runs[r]):
                buf[r] = runs[r].read(pos[r], pos[r] + block)
        live = [r for r in range(K) if buf[r] is not None and len(buf[r]["keys"])]
        if not live:
            return
        bounds = [buf[r]["keys"][-1] for r in live if pos[r] + len(buf[r]["keys"]) < len(runs[r])]
        take = {}
        for r in live:
            keys = buf[r]["keys"]
            take[r] = len(keys) if not bounds else int(np.searchsorted(keys, min(bounds), side="right"))
        parts = [r for r in live if take[r]]
        merged = {f: np.concatenate([buf[r][f][: take[r]] for r in parts]) for f in out.columns}
        perm = np.argsort(merged["keys"], kind="stable")  # concatenated sorted runs: timsort merges them
        keys = merged["keys"][perm]
        new = np.ones(len(keys), bool)
        new[1:] = keys[1:] != keys[:-1]
        starts = np.flatnonzero(new)
        index = np.empty(len(keys), np.int64)
        index[perm] = np.cumsum(new) - 1 + emitted
        values = {f: merged[f][perm][starts] for f in out.columns if f != "counts"}
        values["counts"] = np.add.reduceat(merged["counts"][perm], starts)
        out.append(**values)
        emitted += len(starts)
        at = 0
        for r in parts:
            maps[r].append(index[at : at + take[r]])
            at += take[r]
            pos[r] += take[r]
            buf[r] = {f: v[take[r]:] for f, v in buf[r].items()}
