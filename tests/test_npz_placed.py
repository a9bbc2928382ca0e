"""An .npz written in place, range by range, by other processes (perplex.lm.npz_placed) is the
archive perplex.lm.npz_stream.write_npz writes for the same arrays, byte for byte, ZIP64
records included; CRC-32s of ranges combine into the CRC-32 of the whole."""

import json
import os
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import given, strategies as st

from perplex.errors import PerplexError
from perplex.lm import npz_placed
from perplex.lm.npz_placed import NpzLayout, crc32_combine, write_range
from perplex.lm.npz_stream import write_npz
from perplex.lm.streaming.model_file import place_range


@given(st.binary(max_size=300), st.binary(max_size=300))
def test_crc32_of_two_parts_combines_into_the_crc32_of_both(a, b):
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_crc32_combine_over_long_parts():
    rng = np.random.default_rng(1)
    a, b = rng.bytes(100_000), rng.bytes(1 << 20)
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def _arrays(rng):
    return {"header": np.array(json.dumps({"order": 3})), "vocab": np.array(["<unk>", "the", "l'été"]),
            "keys2": np.sort(rng.integers(0, 1 << 40, 5003)), "logp2": rng.random(5003).astype(np.float32),
            "empty": np.zeros(0, np.int64), "fence2": rng.integers(0, 9, 11)}


@pytest.mark.parametrize("zip64", [False, True])
def test_an_archive_written_range_by_range_is_write_npz_s_archive(tmp_path, monkeypatch, zip64):
    if zip64:  # every size and offset above the limit: the ZIP64 fields and end records in both writers
        monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 1000)
        monkeypatch.setattr(npz_placed, "_LIMIT", 1000)
    arrays = _arrays(np.random.default_rng(2))
    write_npz(tmp_path / "whole.npz", arrays)
    small = ("header", "vocab")
    layout = NpzLayout({k: v if k in small else (v.dtype, len(v)) for k, v in arrays.items()})
    path = tmp_path / "placed.npz"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    layout.allocate(fd)
    crcs = {}
    for name, values in reversed(list(arrays.items())):  # any order, in ranges of 777 entries
        if name not in small:
            for lo in range(0, len(values), 777):
                crc, written = write_range(str(path), layout.members[name].data_offset + lo * values.itemsize,
                                           [values[lo : lo + 300], values[lo + 300 : lo + 777]])
                crcs[name] = crc32_combine(crcs.get(name, 0), crc, written)
    layout.finish(fd, crcs)
    os.close(fd)
    assert path.read_bytes() == (tmp_path / "whole.npz").read_bytes()
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None  # every CRC-32 checked
    with np.load(path) as back:
        assert all(np.array_equal(back[k], v) for k, v in arrays.items())


def test_a_worker_that_cannot_reach_the_file_says_where_it_must_be(tmp_path):
    class Column:
        dtype = np.dtype(np.int64)

        def read(self, lo, hi):
            return np.arange(lo, hi)

    with pytest.raises(PerplexError, match="folder every worker reaches"):
        place_range(Column(), 0, 10, str(tmp_path / "elsewhere" / "model.npz"), 0, True)
