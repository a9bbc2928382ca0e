"""An ``.npz`` archive whose large arrays are written in place, in parallel, by other processes.

:func:`perplex.lm.npz_stream.write_npz` writes an archive front to back from one
process.  A model estimated by many workers (:mod:`perplex.lm.streaming`, on a
Dask cluster above all) is better written by them: every array's length is known
before its data exists, so every byte's place in the file is too.  The
:class:`NpzLayout` of the arrays gives each array's data offset; the workers write
their ranges of entries there (:func:`write_range`) and return the CRC-32 of what
they wrote; :meth:`NpzLayout.finish` then writes the zip headers around the data,
with each array's CRC-32 combined from its ranges' (:func:`crc32_combine`).  The
bytes are those ``write_npz`` writes for the same arrays (tested).

The zip structures follow the ZIP specification (APPNOTE) as CPython's
``zipfile`` writes them for stored entries with ``force_zip64``.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from numpy.lib import format as npy_format

from perplex.fileio import reserve
from perplex.lm.npz_stream import LOCAL_HEADER, ZIP64_EXTRA, aligned_entry

_ZIP64_VERSION = 45  # what a reader needs for the ZIP64 extra fields
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01, the date write_npz gives every entry
_FILE_MODE = 0o600 << 16  # zipfile's default external attributes for an entry written with open("w")
_LIMIT = (1 << 31) - 1  # zipfile.ZIP64_LIMIT


@dataclass
class Member:
    """One array of the archive: where its local header and its data go."""

    name: str
    dtype: np.dtype
    length: int
    header_offset: int  # of the zip local header
    npy_header: bytes  # the .npy header, written just before the data
    extra: bytes  # the local header's alignment padding

    @property
    def data_offset(self) -> int:
        """Where entry 0 of the array is in the file."""
        return self.npy_offset + len(self.npy_header)

    @property
    def npy_offset(self) -> int:
        return self.header_offset + LOCAL_HEADER + len(self.name.encode()) + len(self.extra) + ZIP64_EXTRA

    @property
    def size(self) -> int:
        """The zip entry's size: the .npy header and the data."""
        return len(self.npy_header) + self.length * self.dtype.itemsize


class NpzLayout:
    """The place of every byte of the ``.npz`` of ``arrays``: name -> an array (small: the client
    writes it whole) or (dtype, length) of a 1-D array written in place by others."""

    def __init__(self, arrays: dict):
        self.members: dict[str, Member] = {}
        offset = 0
        for name, value in arrays.items():
            head = io.BytesIO()
            if isinstance(value, np.ndarray):  # the whole .npy as the "header", no data to place
                npy_format.write_array(head, value, allow_pickle=False)
                dtype, length = np.dtype(np.uint8), 0
            else:
                dtype, length = np.dtype(value[0]), int(value[1])
                npy_format.write_array_header_1_0(
                    head, {"descr": npy_format.dtype_to_descr(dtype), "fortran_order": False, "shape": (length,)})
            entry = f"{name}.npy"
            member = Member(entry, dtype, length, offset, head.getvalue(), aligned_entry(entry, offset).extra)
            self.members[name] = member
            offset = member.npy_offset + member.size
        self.data_end = offset

    def allocate(self, fd: int) -> None:
        """Give the open file its final size, the data's disk space reserved (:func:`perplex.fileio.reserve`)."""
        reserve(fd, self.data_end)

    def finish(self, fd: int, crcs: dict) -> None:
        """Write the local headers, the .npy headers and the central directory around the data;
        ``crcs[name]`` is the CRC-32 of the placed array ``name``'s data (without the .npy header)."""
        directory = []
        for name, m in self.members.items():
            crc = crc32_combine(zlib.crc32(m.npy_header), crcs.get(name, 0), m.length * m.dtype.itemsize)
            entry = m.name.encode()
            local = struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", _ZIP64_VERSION, 0, 0, 0, 0, _DOS_DATE, crc,
                                0xFFFFFFFF, 0xFFFFFFFF, len(entry), len(m.extra) + ZIP64_EXTRA)
            zip64 = struct.pack("<HHQQ", 1, 16, m.size, m.size)
            os.pwrite(fd, local + entry + m.extra + zip64 + m.npy_header, m.header_offset)
            directory.append(_central_entry(m, entry, crc))
        tail = b"".join(directory)
        count, size, start = len(directory), len(tail), self.data_end
        if count > 0xFFFF or start > _LIMIT or size > _LIMIT:  # the ZIP64 end records
            tail += struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, _ZIP64_VERSION, _ZIP64_VERSION, 0, 0,
                                count, count, size, start)
            tail += struct.pack("<4sLQL", b"PK\x06\x07", 0, start + size, 1)
            count, size, start = min(count, 0xFFFF), min(size, 0xFFFFFFFF), min(start, 0xFFFFFFFF)
        tail += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, size, start, 0)
        os.pwrite(fd, tail, self.data_end)
        os.ftruncate(fd, self.data_end + len(tail))


def _central_entry(m: Member, entry: bytes, crc: int) -> bytes:
    """The central directory's record of member ``m``."""
    values = []
    if m.size > _LIMIT:
        values += [m.size, m.size]
    if m.header_offset > _LIMIT:
        values.append(m.header_offset)
    extra = (struct.pack(f"<HH{len(values)}Q", 1, 8 * len(values), *values) if values else b"") + m.extra
    sizes = 0xFFFFFFFF if m.size > _LIMIT else m.size
    offset = 0xFFFFFFFF if m.header_offset > _LIMIT else m.header_offset
    return struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", _ZIP64_VERSION, 3, _ZIP64_VERSION, 0, 0, 0, 0, _DOS_DATE,
                       crc, sizes, sizes, len(entry), len(extra), 0, 0, 0, _FILE_MODE, offset) + entry + extra


def write_range(path: str, offset: int, pieces, checksum: bool = True) -> tuple[int, int]:
    """Write the arrays ``pieces`` one after another into the file ``path`` from byte ``offset``
    on; return the CRC-32 (0 without ``checksum``) and the length of the bytes written."""
    crc, done = 0, 0
    fd = os.open(path, os.O_WRONLY)
    try:
        for piece in pieces:
            data = np.ascontiguousarray(piece).data.cast("B")
            while data:  # pwrite may write less than asked
                wrote = os.pwrite(fd, data, offset + done)
                if checksum:
                    crc = zlib.crc32(data[:wrote], crc)
                data, done = data[wrote:], done + wrote
    finally:
        os.close(fd)
    return crc, done


def _gf2_times(matrix: list, vector: int) -> int:
    total, k = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[k]
        vector >>= 1
        k += 1
    return total


def _gf2_square(matrix: list) -> list:
    return [_gf2_times(matrix, row) for row in matrix]


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-32 of A + B from crc1 = CRC-32 of A, crc2 = CRC-32 of B and len2 = len(B)
    (zlib's crc32_combine, which Python's zlib does not offer): appending len2 zero bytes
    to A is a linear map of its CRC over GF(2), applied by repeated squaring.

    >>> crc32_combine(zlib.crc32(b"lang"), zlib.crc32(b"uage"), 4) == zlib.crc32(b"language")
    True
    """
    if len2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << k for k in range(31)]  # one zero bit
    even = _gf2_square(odd)  # two zero bits
    odd = _gf2_square(even)  # four
    while True:
        even = _gf2_square(odd)  # one zero byte, then 4, 16, ...
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2
