"""Writing a numpy ``.npz`` archive whose arrays start aligned in the file.

``np.savez`` writes each array's data wherever the zip headers end; this writer
pads each stored (uncompressed) entry's local header so that the data starts at a
multiple of 64 bytes, so that :func:`perplex.lm.load_model` maps aligned arrays.
``np.load`` reads the result as it reads ``np.savez``'s.  The on-disk estimator's
workers write the same layout in place (:mod:`perplex.lm.npz_placed`).
"""

from __future__ import annotations

import os
import struct
import zipfile

import numpy as np
from numpy.lib import format as npy_format

from perplex.fileio import atomic_write


def write_npz(path: str | os.PathLike, arrays: dict) -> None:
    """Write ``arrays`` (name -> ndarray) as an ``.npz`` archive, atomically, each array's
    data aligned (:data:`ALIGN`)."""
    with atomic_write(path, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        for name, value in arrays.items():
            with z.open(aligned_entry(f"{name}.npy", raw.tell()), "w", force_zip64=True) as f:
                npy_format.write_array(f, value, allow_pickle=False)


# Array data starts at a multiple of this in the file, so that memory-mapped arrays are
# aligned (numpy's searchsorted copies an unaligned table at every call).
ALIGN = 64
# A zip local header: 30 fixed bytes, the name, the extra field (ours, then the 20-byte
# ZIP64 one that force_zip64 adds); the .npy header is itself a multiple of 64 bytes.
LOCAL_HEADER, ZIP64_EXTRA = 30, 20
_PADDING_ID = 0x7070  # an extra-field id no reader knows: readers skip it


def aligned_entry(name: str, offset: int) -> zipfile.ZipInfo:
    """A stored entry whose data, written from file position ``offset``, starts aligned:
    its local header's extra field is padded to the next multiple of :data:`ALIGN`."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    pad = -(offset + LOCAL_HEADER + len(name.encode()) + ZIP64_EXTRA) % ALIGN
    if 0 < pad < 4:  # an extra-field record is at least its 4-byte id and length
        pad += ALIGN
    if pad:
        info.extra = struct.pack("<HH", _PADDING_ID, pad - 4) + bytes(pad - 4)
    return info
