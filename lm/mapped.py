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
