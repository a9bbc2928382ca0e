"""Writing a numpy ``.npz`` archive array by array, piece by piece.

``np.savez`` needs every array in memory; a model estimated on disk
(:mod:`perplex.lm.streaming`) has arrays larger than memory.  This writer puts
the same archive together from pieces: a stored (uncompressed) zip entry
``NAME.npy`` per array, with the ``.npy`` header written first from the known
dtype and length, then the data as it comes.  ``np.load`` reads the result as
it reads ``np.savez``'s, and each array's data starts at a multiple of 64 bytes
in the file, so that :func:`perplex.lm.load_model` maps aligned arrays.
"""

from __future__ import annotations

import os
import struct
import zipfile
from typing import Iterable

import numpy as np
from numpy.lib import format as npy_format

from perplex.fileio import atomic_write


class Pieces:
    """A 1-D array given as its dtype, its length and an iterable of consecutive pieces."""

    def __init__(self, dtype, length: int, pieces: Iterable[np.ndarray]):
        self.dtype = np.dtype(dtype)
        self.length = int(length)
        self.pieces = pieces


def write_npz(path: str | os.PathLike, arrays: dict) -> None:
    """Write ``arrays`` (name -> ndarray or :class:`Pieces`) as an ``.npz`` archive, atomically."""
    with atomic_write(path, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        for name, value in arrays.items():
            with z.open(_aligned_entry(f"{name}.npy", raw.tell()), "w", force_zip64=True) as f:
                if isinstance(value, np.ndarray):
                    npy_format.write_array(f, value, allow_pickle=False)
                    continue
                npy_format.write_array_header_1_0(
                    f, {"descr": npy_format.dtype_to_descr(value.dtype), "fortran_order": False, "shape": (value.length,)})
                written = 0
                for piece in value.pieces:
                    piece = np.ascontiguousarray(piece, value.dtype)
                    f.write(piece.tobytes())
                    written += len(piece)
                if written != value.length:  # a bug, never a user's error: the archive would be corrupt
                    raise AssertionError(f"{name}: {written} entries written, {value.length} announced")


# Array data starts at a multiple of this in the file, so that memory-mapped arrays are
# aligned (numpy's searchsorted copies an unaligned table at every call).
ALIGN = 64
# A zip local header: 30 fixed bytes, the name, the extra field (ours, then the 20-byte
# ZIP64 one that force_zip64 adds); the .npy header is itself a multiple of 64 bytes.
_LOCAL_HEADER, _ZIP64_EXTRA = 30, 20
_PADDING_ID = 0x7070  # an extra-field id no reader knows: readers skip it


def _aligned_entry(name: str, offset: int) -> zipfile.ZipInfo:
    """A stored entry whose data, written from file position ``offset``, starts aligned:
    its local header's extra field is padded to the next multiple of :data:`ALIGN`."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    pad = -(offset + _LOCAL_HEADER + len(name.encode()) + _ZIP64_EXTRA) % ALIGN
    if 0 < pad < 4:  # an extra-field record is at least its 4-byte id and length
        pad += ALIGN
    if pad:
        info.extra = struct.pack("<HH", _PADDING_ID, pad - 4) + bytes(pad - 4)
    return info
