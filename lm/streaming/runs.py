"""Sorted runs of n-grams, and their merge into an order's table by key ranges.

A *run* is what one chunk of the text gives (:func:`count_chunk`): its
distinct n-gram keys in increasing order (the key of :mod:`perplex.lm.trie`),
each with its count and with what is the same at every occurrence of the
n-gram: its suffix's index (the order n - 1 index at the same position) and
whether it starts with ``<s>``.

The table of the order is the merge of all runs.  It is built in *parts*, key
ranges cut at context boundaries (:func:`key_bounds`), each merged by its own
task from the matching slice of every run (:func:`merge_part`), so parts can
be merged in parallel and a context's continuations all lie in one part.  A
part also records, for each run, the part-local index of each of its entries:
with the parts' offsets, :func:`index_chunk` turns a chunk's local n-gram
numbers into table indices, the stream the next order's keys are built from.
Every function here is a task: paths and numbers in, files and small results out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from perplex.lm.sorting import unique_counts
from perplex.lm.streaming.workspace import Column, Stacked
from perplex.lm.trie import BEFORE_START

# Fields of an n-gram run/table and their dtypes; "counts" are summed by the merge,
# the others are equal at every occurrence of a key and kept once.
FIELDS = {"keys": np.int64, "counts": np.int64, "suffix": np.int64, "bos": np.uint8}
# Peak bytes per run entry while a part is merged (fields read, concatenated, sorted, indexed).
MERGE_BYTES_PER_ENTRY = 96
# Keys above every real key (the last part's upper bound).
NO_KEY = np.iinfo(np.int64).max
# Keys sampled from each run per part wanted, to place the parts' bounds.
SAMPLES_PER_PART = 64


class Table:
    """Columns of equal length, one per field (a run, a part of a table, or a whole table)."""

    def __init__(self, columns: dict):
        self.columns = columns

    @classmethod
    def create(cls, folder: str | Path, name: str, fields=FIELDS) -> "Table":
        return cls({f: Column.create(Path(folder) / f"{name}.{f}", t) for f, t in fields.items()})

    @classmethod
    def stack(cls, parts: list["Table"]) -> "Table":
        """The parts read as one table, in order."""
        return cls({f: Stacked([p.columns[f] for p in parts]) for f in parts[0].columns})

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


def depth_of(tokens: np.ndarray, bos_id: int) -> np.ndarray:
    """Tokens from the sentence's ``<s>`` up to each position (1 at ``<s>``); the chunk starts with ``<s>``."""
    starts = np.flatnonzero(tokens == bos_id)
    lengths = np.diff(np.append(starts, len(tokens)))
    return np.arange(len(tokens)) - np.repeat(starts, lengths) + 1


def count_chunk(tokens: Column, start: int, stop: int, prev: Column | None, n: int, radix: int,
                folder: str, name: str, keep_inverse: bool) -> tuple[Table, Column | None]:
    """The sorted run of the order-``n`` n-grams of positions ``start:stop`` (whole sentences).

    ``prev`` holds the chunk's order n - 1 indices (None at order 2: the ids are
    the order-1 indices).  With ``keep_inverse``, the run number of the n-gram
    at each position that has one is kept too, for :func:`index_chunk`.
    """
    tok = tokens.read(start, stop).astype(np.int64)
    idx = tok if prev is None else prev.read()
    depth = depth_of(tok, radix - 1)
    at = np.flatnonzero(depth >= n)
    keys, inverse, counts, first = unique_counts(idx[at - 1] * radix + tok[at])
    where = at[first]  # one occurrence of each n-gram: its suffix and start are those of every one
    run = Table.create(folder, name)
    run.append(keys=keys, counts=counts, suffix=idx[where], bos=depth[where] == n)
    if not keep_inverse:
        return run, None
    inv = Column.create(Path(folder) / f"{name}.inverse", np.int32 if len(keys) < 2**31 else np.int64)
    inv.append(inverse.ravel())
    return run, inv


def key_bounds(runs: list[Table], radix: int, parts: int) -> np.ndarray:
    """Bounds of about ``parts`` key ranges holding similar numbers of run entries, each
    starting at a context boundary (a multiple of ``radix``): [0, b1, ..., NO_KEY]."""
    samples = []
    for run in runs:
        keys = run.columns["keys"]
        if len(keys):
            at = np.unique(np.linspace(0, len(keys) - 1, SAMPLES_PER_PART * parts).astype(np.int64))
            mapped = np.memmap(keys.path, np.int64, mode="r", shape=(len(keys),))
            samples.append(np.array(mapped[at]))
            del mapped
    if not samples or parts <= 1:
        return np.array([0, NO_KEY], np.int64)
    samples = np.sort(np.concatenate(samples))
    cuts = samples[(np.arange(1, parts) * len(samples)) // parts] // radix * radix
    return np.unique(np.concatenate([[0], cuts[cuts > 0], [NO_KEY]]))


def merge_part(runs: list[Table], lo: int, hi: int, folder: str, name: str) -> tuple[Table, list]:
    """Merge the keys in [lo, hi) of every run into one part of the table.

    Returns the part and, per run, (first entry of the run's slice, Column of the
    part-local index of each entry of the slice).
    """
    slices = []
    for run in runs:
        keys = run.columns["keys"]
        if len(keys):
            mapped = np.memmap(keys.path, np.int64, mode="r", shape=(len(keys),))
            a, b = (int(i) for i in np.searchsorted(mapped, [lo, hi]))
            del mapped
        else:
            a = b = 0
        slices.append((a, b))
    merged = {f: np.concatenate([run.columns[f].read(a, b) for run, (a, b) in zip(runs, slices)]) for f in FIELDS}
    perm = np.argsort(merged["keys"], kind="stable")  # concatenated sorted runs: timsort merges them
    keys = merged["keys"][perm]
    new = np.ones(len(keys), bool)
    new[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(new)
    local = np.empty(len(keys), np.int64)
    local[perm] = np.cumsum(new) - 1
    part = Table.create(folder, name)
    values = {f: merged[f][perm][starts] for f in FIELDS if f != "counts"}
    values["counts"] = np.add.reduceat(merged["counts"][perm], starts) if len(keys) else merged["counts"]
    part.append(**values)
    maps, at = [], 0
    for r, (a, b) in enumerate(slices):
        col = Column.create(Path(folder) / f"{name}.map{r}", np.int64)
        col.append(local[at : at + b - a])
        maps.append((a, col))
        at += b - a
    return part, maps


def index_chunk(tokens: Column, start: int, stop: int, n: int, radix: int, inverse: Column, maps: list,
                offsets: np.ndarray, folder: str, name: str) -> Column:
    """The table index of the order-``n`` n-gram ending at each position of ``start:stop``
    (``BEFORE_START`` where the sentence is shorter), from the chunk's run numbers and the
    parts' maps of its run (``maps[j]``: (first entry, Column), ``offsets[j]``: part j's start)."""
    table_index = np.concatenate([col.read() + offsets[j] for j, (_, col) in enumerate(maps)])
    depth = depth_of(tokens.read(start, stop), radix - 1)
    idx = np.full(stop - start, BEFORE_START, np.int64)
    idx[depth >= n] = table_index[inverse.read()]
    out = Column.create(Path(folder) / name, np.int64)
    out.append(idx)
    return out
