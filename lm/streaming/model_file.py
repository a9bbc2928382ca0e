"""The model file (``.npz``), written in place by the workers.

Every array's length is known once the tables are estimated, so every byte's place
in the file is too (:class:`perplex.lm.npz_placed.NpzLayout`).  Each task copies a
range of one on-disk column into its place, and returns the CRC-32 of what it wrote
and, for a key column, the fence of its range (:func:`perplex.lm.trie.fence_of`);
this process then writes the small arrays, the fences and the zip headers.  The tasks
run in the background, after the ARPA formatting tasks submitted before them.  With
``--dask`` the file is written by the cluster's workers: its folder must be one they
reach, as ``--temp-dir`` is.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import numpy as np

from perplex.errors import PerplexError
from perplex.fileio import atomic_path
from perplex.lm.npz_placed import NpzLayout, crc32_combine, write_range
from perplex.lm.streaming.executor import InBackground, unreachable
from perplex.lm.trie import FENCE_STRIDE, fence_of

# Entries of a column one task writes (64 MB of int64), and reads at a time (8 MB).
PLACE_ENTRIES = 1 << 23
PLACE_PIECE = 1 << 20


@contextlib.contextmanager
def model_file_written(path, small: dict, columns: dict, executor) -> Iterator[None]:
    """Context: ``executor``'s tasks write the ``.npz`` of the arrays ``small`` (name -> array,
    written here) and ``columns`` (name -> on-disk column; a ``keysN`` column gets its
    ``fenceN`` array) in the background while the body runs (the client waits for the ARPA
    file meanwhile); on exit the file is complete and atomically in place at ``path``."""
    shapes = {**small, **{name: (column.dtype, len(column)) for name, column in columns.items()}}
    for name, column in columns.items():
        if name.startswith("keys"):
            shapes[f"fence{name[4:]}"] = (np.int64, -(-len(column) // FENCE_STRIDE))
    layout = NpzLayout(shapes)
    with atomic_path(path) as tmp:
        fd = os.open(tmp, os.O_RDWR)
        try:
            layout.allocate(fd)
            jobs = [(name, lo) for name, column in columns.items() for lo in range(0, len(column), PLACE_ENTRIES)]
            tasks = [(columns[name], lo, min(lo + PLACE_ENTRIES, len(columns[name])), tmp,
                      layout.members[name].data_offset + lo * columns[name].dtype.itemsize, name.startswith("keys"))
                     for name, lo in jobs]
            placing = InBackground(executor, place_range, *zip(*tasks)) if tasks else None
            yield
            crcs, fences = {}, {}
            for (name, _), (crc, written, fence) in zip(jobs, placing.results() if placing else []):
                crcs[name] = crc32_combine(crcs.get(name, 0), crc, written)
                fences.setdefault(name, []).append(fence)
            for name in (name for name in columns if name.startswith("keys")):
                fence = np.concatenate(fences.get(name, [np.zeros(0, np.int64)]))
                member = f"fence{name[4:]}"
                crcs[member] = write_range(tmp, layout.members[member].data_offset, [fence])[0]
            layout.finish(fd, crcs)
        finally:
            os.close(fd)


def place_range(column, start: int, stop: int, path: str, offset: int, fenced: bool):
    """Task: write ``column[start:stop]`` into the file ``path`` from byte ``offset``; return
    the CRC-32 and the byte length of what was written, and the range's fence (keys only)."""
    fence = []

    def pieces():
        for lo in range(start, stop, PLACE_PIECE):
            chunk = column.read(lo, min(lo + PLACE_PIECE, stop))
            if fenced:
                fence.append(fence_of(chunk, lo))
            yield chunk

    try:
        crc, written = write_range(path, offset, pieces())
    except FileNotFoundError:
        raise PerplexError(unreachable(path)) from None
    return crc, written, np.concatenate(fence) if fenced else None  # a task holds at least one entry
