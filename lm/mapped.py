"""Kernel hints for the memory-mapped arrays of a saved model (np.memmap's mmap objects).

A memory-mapped model reads its pages from the file as they are touched, and they
stay mapped in the process until told otherwise: scoring a long text would
then count most of the file in the process's resident memory, though the kernel
holds those pages in its page cache anyway (clean file pages, which it can drop
and read again).  :func:`release` unmaps them; the next touch maps them again
from the page cache (or the disk), so the numbers never change.
"""

from __future__ import annotations

import mmap
import os

import numpy as np


def advise(arrays, advice: int | None) -> None:
    """Give the kernel ``advice`` (an ``mmap.MADV_*`` value) for each memory-mapped array
    (arrays read into memory, and systems without that advice, are left as they are).

    Around a page fault Linux reads ahead a window (128 KB by default, 8 MB on some
    virtual disks) unless told the access is random: right for a few scattered probes
    (opening a file: a sampled check reads a page, not megabytes), wrong for the many
    nearby probes of scoring a text (page-by-page reads were 30 times slower on an
    800 MB table, cold)."""
    if advice is None:
        return
    for array in arrays:
        mapping = getattr(array, "_mmap", None)  # np.memmap's mmap object
        if mapping is not None and hasattr(mapping, "madvise"):
            try:
                mapping.madvise(advice)
            except (OSError, ValueError):
                pass


def release(arrays) -> None:
    """Unmap the pages of the memory-mapped arrays from this process (they stay in the
    kernel's page cache): its resident memory no longer holds what earlier work touched."""
    advise(arrays, getattr(mmap, "MADV_DONTNEED", None))


def resident_file_bytes() -> int | None:
    """Bytes of files (and shared memory) mapped in this process's resident memory, from
    ``/proc/self/statm``; None where that cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[2]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


# Entries a walk (:func:`take`) reads between two unmappings: a fault maps up to 16
# pages (Linux's fault-around), so at most 4096 * 64 KB = 256 MB are mapped at a time.
WALK_CHUNK = 4096


def unmap_entries(array, first: int, last: int) -> None:
    """Unmap the whole pages holding ``array[first:last]`` (the page of ``array[last]``,
    which the next chunk of a walk may read, stays)."""
    mapping = getattr(array, "_mmap", None)
    if mapping is None or not hasattr(mapping, "madvise") or last <= first:
        return
    page = mmap.PAGESIZE
    base = np.frombuffer(mapping, np.uint8).ctypes.data  # where the mapping starts
    start = array.ctypes.data - base + first * array.itemsize
    stop = array.ctypes.data - base + last * array.itemsize
    start, stop = start - start % page, stop - stop % page
    if stop > start:
        try:
            mapping.madvise(mmap.MADV_DONTNEED, start, stop - start)
        except (OSError, ValueError):
            pass


def take(array: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``array[index]``.  A memory-mapped array is read in the order of its entries,
    :data:`WALK_CHUNK` of them at a time, each chunk's pages unmapped once read: every
    page is faulted in once and few stay mapped, however many entries are read (reading
    in the order asked would fault the pages of a large table again and again)."""
    index = np.asarray(index, np.int64)
    if not isinstance(array, np.memmap) or len(index) == 0:
        return array[index]
    sort = None if bool((index[1:] >= index[:-1]).all()) else np.argsort(index, kind="stable")
    ordered = index if sort is None else index[sort]
    values = np.empty(len(index), array.dtype)
    for a in range(0, len(ordered), WALK_CHUNK):
        part = ordered[a : a + WALK_CHUNK]
        values[a : a + len(part)] = array[part]
        unmap_entries(array, int(part[0]), int(part[-1]))
    if sort is None:
        return values
    out = np.empty_like(values)
    out[sort] = values
    return out
