"""Saving and loading our own n-gram models (numpy ``.npz``, written atomically).

The file holds the vocabulary, the trie keys and either the backoff tables
(Kneser-Ney, ARPA) or the raw counts (MLE, add-k), plus a small JSON header
with a format version, so a corrupt or foreign file is refused with a clear
message instead of a traceback.
"""

from __future__ import annotations

import io
import json
import lzma
import math
import mmap
import os
import struct
import tokenize
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from perplex.corpus.vocabulary import Vocabulary
from perplex.lm.additive import AdditiveModel
from perplex.lm.backoff import BackoffModel
from perplex.lm.base import NgramModel
from perplex.lm.trie import FENCE_STRIDE, NgramTrie, fence_of
from perplex.lm.mapped import advise, release
from perplex.lm.npz_stream import write_npz
from perplex.lm.validate import check_array, check_counts, check_fence, check_keys, check_log10, check_normalized, ngram_namer, refuse
from perplex.errors import PerplexError
from perplex.fileio import check_input_file
from perplex.resources import check_memory

FORMAT = "perplex-ngram"
# Version 2 stores a fence beside each key table (perplex.lm.trie.fence_of); version 1
# files are read as well (their memory-mapped tables are searched without it).
VERSION = 2
READABLE_VERSIONS = (1, 2)


def save_model(model: NgramModel, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path`` (atomically: temporary file, then rename)."""
    trie = model.trie
    kind = "backoff" if isinstance(model, BackoffModel) else "additive"
    header = {
        "format": FORMAT, "version": VERSION, "kind": kind, "order": model.order,
        "name": model.name, "smoothing": model.smoothing, "info": model.info,
        "alpha": getattr(model, "alpha", None),
    }
    arrays = {
        "header": np.array(json.dumps(header)),
        "vocab": np.array(model.vocab.tokens),
        "vocab_counts": model.vocab.counts,
    }
    for n in range(2, model.order + 1):
        arrays[f"keys{n}"] = trie.keys[n - 1]
        arrays[f"fence{n}"] = fence_of(trie.keys[n - 1])
    for n in range(1, model.order + 1):
        if kind == "backoff":
            arrays[f"logp{n}"] = model.logp[n - 1]
            if n < model.order:
                arrays[f"logbo{n}"] = model.logbo[n - 1]
        else:
            arrays[f"counts{n}"] = trie.counts[n - 1]
    write_npz(path, arrays)


# Files up to this size get the complete checks of :mod:`perplex.lm.validate`: every
# key, value and count, every context's distribution summed, every entry's CRC.  They
# read each page of the file (about 2 seconds per 100 MB on a 2-core machine, what
# loading took before memory-mapping), which a model that fits in memory can afford.
# A larger file, possibly larger than the memory, gets the structural and sampled
# checks instead, so that opening it reads only the pages they touch.
FULL_CHECK_BYTES = 256 * 2**20


def load_model(path: str | os.PathLike, full_check: bool | None = None) -> NgramModel:
    """Read a model written by :func:`save_model`, memory-mapped: each array of the
    ``.npz`` (stored uncompressed) is an ``np.memmap`` of the file, so a model larger
    than the memory opens at once and scoring reads only the pages it needs.

    Readers validate what they read.  With ``full_check`` (the default for files of at
    most :data:`FULL_CHECK_BYTES`) every array is checked against the header before a
    model is built (types, lengths, sorted in-range keys, finite log10 values <= 0,
    consistent counts), each entry's CRC-32 is verified, then every next-word
    distribution is checked to sum to 1 (:mod:`perplex.lm.validate`).  Without it
    (the default for larger files) the checks are those that need not read the whole
    file: the zip and ``.npy`` headers, the array names, dtypes and lengths against the
    header and each other, the first and last keys, and at a deterministic sample of
    entries and contexts the sorted keys, the values, the counts and the sums of the
    distributions; damage elsewhere (a flipped byte, say) is not seen, and the model's
    trie is ``out_of_core`` (no whole-table arrays are built from it; the kernel is told
    to read no pages ahead while the checks probe the file).  Unaligned key
    tables of a fully checked file are copied into memory (numpy would copy them at
    every search), and a compressed ``.npz`` (``np.savez_compressed``) is read into
    memory as before.  The file must not change while the model is in use.

    Raises
    ------
    PerplexError
        Missing file, not a perplex n-gram model, a corrupt/truncated file, or
        one whose values cannot be a model; one line naming the file and the problem.
    """
    path = Path(path)
    check_input_file(path, "model file")
    unreadable = (f"{path} is not a readable perplex n-gram model (corrupt, truncated or another format); "
                  "retrain it with 'perplex ngram --save', or give an ARPA file with --arpa")
    try:
        entries = _npz_entries(path)
        mapped = all(entry.stored for entry in entries.values())
        if full_check is None:
            full_check = not mapped or path.stat().st_size <= FULL_CHECK_BYTES
        header = json.loads(str(_read_small(path, entries["header"])[()]))
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise KeyError("format")
        if header.get("version") not in READABLE_VERSIONS or isinstance(header.get("version"), bool):
            raise PerplexError(f"{path} is a version {header.get('version')!r} model; this perplex reads versions "
                               f"{' and '.join(map(str, READABLE_VERSIONS))}")
        where = f"corrupt model file {path}"
        names = _array_names(header, where, len(entries))
        if set(entries) != names | {"header"}:
            extra = sorted(set(entries) - names - {"header"})
            missing = sorted(names - set(entries))
            refuse(where, f"an order-{header['order']} {header['kind']} model holds arrays {sorted(names)}; "
                          f"this file lacks {missing} and has {extra} besides")
        for name in names:
            if entries[name].fortran_order:
                refuse(where, f"the array {name} is stored in Fortran order; a model's arrays are 1-D, in C order")
        if mapped:
            if full_check:
                _check_crcs(path, entries)
            arrays = {name: _map(path, entries[name]) for name in names}
        else:
            arrays = _read_in_memory(path, entries, names)
    except PerplexError:
        raise
    except _UNREADABLE:
        raise PerplexError(unreadable) from None
    out_of_core = mapped and not full_check
    if out_of_core:  # the sampled checks probe scattered pages: no read-ahead around them
        advise(arrays.values(), getattr(mmap, "MADV_RANDOM", None))
    model = _build(header, arrays, where, sample=not full_check)
    model.trie.out_of_core = out_of_core
    if mapped:
        model.trie.mapped = [a for a in arrays.values() if isinstance(a, np.memmap)]
    check_normalized(model, where, sample=not full_check)
    if out_of_core:  # scoring a text probes many pages close together: the kernel's default
        advise(arrays.values(), getattr(mmap, "MADV_NORMAL", None))
    model.trie.release_pages()  # what the checks touched
    model.smoothing = header["smoothing"]
    model.info = header.get("info", {})
    return model


# What zipfile, numpy and json raise on damaged bytes (a flipped flag bit in a zip
# header gives "encrypted" RuntimeErrors or NotImplementedErrors).
_UNREADABLE = (KeyError, ValueError, OSError, EOFError, MemoryError, RuntimeError, NotImplementedError,
               zipfile.BadZipFile, json.JSONDecodeError, zlib.error, lzma.LZMAError, struct.error,
               tokenize.TokenError)  # numpy's parse of a damaged .npy header


@dataclass
class _Entry:
    """One array of an ``.npz``: its zip entry and ``.npy`` header."""

    info: zipfile.ZipInfo
    stored: bool  # uncompressed (ZIP_STORED): the data can be memory-mapped
    dtype: np.dtype
    shape: tuple
    fortran_order: bool
    start: int  # in the file, of the entry's first byte (stored entries)
    offset: int  # in the file, of the array's first byte (stored entries)


# A zip local file header: signature, version, flags, method, time, date, CRC-32,
# sizes, then the lengths of the name and of the extra field that follow it.
_LOCAL_HEADER = struct.Struct("<4sHHHHHLLLHH")
# Bytes read to parse a stored entry's .npy header (numpy refuses headers over 10,000).
_NPY_HEADER_MAX = 1 << 16
# Central-directory flag bits zipfile refuses to read (encryption, patched or strongly encrypted data).
_REFUSED_FLAGS = 0x1 | 0x20 | 0x40


def _npz_entries(path: Path) -> dict[str, _Entry]:
    """The arrays of the ``.npz`` by name, each ``.npy`` header read and its declared size
    checked against the stored bytes (a corrupt header could otherwise ask numpy for
    terabytes before a read fails).  A stored entry's data offset comes from its local
    header (30 bytes, its name, its own extra field), not from the central directory."""
    entries = {}
    size = path.stat().st_size
    with zipfile.ZipFile(path) as z, open(path, "rb") as raw:
        for info in z.infolist():
            stored = info.compress_type == zipfile.ZIP_STORED
            if not stored:
                with z.open(info) as f:
                    entry = _npy_header(f, info, stored, 0)  # offsets unused: read in memory
            else:
                if info.flag_bits & _REFUSED_FLAGS:
                    raise RuntimeError(f"{info.filename}: encrypted or patched zip entry")
                raw.seek(info.header_offset)
                fields = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
                signature, flags, name_length, extra_length = fields[0], fields[2], fields[9], fields[10]
                name = raw.read(name_length).decode("utf-8" if flags & 0x800 else "cp437")
                if signature != b"PK\x03\x04" or name != info.orig_filename:
                    raise zipfile.BadZipFile(f"{info.filename}: bad local file header")
                start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
                if info.compress_size != info.file_size or start + info.file_size > size:
                    raise zipfile.BadZipFile(f"{info.filename}: the entry runs past the end of the file")
                raw.seek(start)  # the .npy header, read within the entry's bytes (as zipfile would)
                entry = _npy_header(io.BytesIO(raw.read(min(info.file_size, _NPY_HEADER_MAX))), info, stored, start)
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            entries[name] = entry
    return entries


def _npy_header(f, info: zipfile.ZipInfo, stored: bool, start: int) -> _Entry:
    """The ``.npy`` header at the start of ``f`` (the entry's bytes; ``start``: their
    offset in the file, for a stored entry)."""
    version = npy_format.read_magic(f)
    if version == (1, 0):
        shape, fortran_order, dtype = npy_format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran_order, dtype = npy_format.read_array_header_2_0(f)
    else:
        raise ValueError(f"npy format {version}")
    header_bytes = f.tell()
    if (dtype.hasobject or any(d < 0 for d in shape)
            or header_bytes + math.prod(shape) * dtype.itemsize != info.file_size):
        raise ValueError(f"{info.filename}: the declared shape does not match the stored bytes")
    return _Entry(info, stored, dtype, shape, fortran_order, start, start + header_bytes)


def _read_small(path: Path, entry: _Entry) -> np.ndarray:
    """An array read into memory (the header; a compressed entry)."""
    if not entry.stored:
        with zipfile.ZipFile(path) as z, z.open(entry.info) as f:
            return npy_format.read_array(f, allow_pickle=False)
    with open(path, "rb") as f:
        f.seek(entry.offset)
        data = f.read(math.prod(entry.shape) * entry.dtype.itemsize)
    return np.frombuffer(data, entry.dtype).reshape(entry.shape).copy()


def _map(path: Path, entry: _Entry) -> np.ndarray:
    """A stored array, memory-mapped read-only (an empty one is an in-memory empty array:
    mmap cannot map 0 bytes)."""
    if math.prod(entry.shape) == 0:
        return np.empty(entry.shape, entry.dtype)
    return np.memmap(path, entry.dtype, mode="r", offset=entry.offset, shape=entry.shape)


def _check_crcs(path: Path, entries: dict) -> None:
    """Each stored entry's bytes against its CRC-32 (what zipfile checks on a full read)."""
    chunk = 1 << 24
    with open(path, "rb") as f:
        for entry in entries.values():
            info = entry.info
            f.seek(entry.start)
            crc, left = 0, info.file_size
            while left:
                data = f.read(min(chunk, left))
                if not data:
                    raise EOFError(info.filename)
                crc = zlib.crc32(data, crc)
                left -= len(data)
            if crc != info.CRC:
                raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")


def _read_in_memory(path: Path, entries: dict, names: set) -> dict:
    """The arrays of a compressed ``.npz``, read whole (they cannot be memory-mapped)."""
    need = sum(math.prod(entries[name].shape) * entries[name].dtype.itemsize for name in names)
    check_memory(need, f"reading the compressed model file {path}",
                 "save it again with 'perplex ngram --save' (uncompressed files are memory-mapped)")
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in names}


def _array_names(header: dict, where: str, stored: int) -> set[str]:
    """The arrays an order-N model of the header's kind holds (after checking the header's
    fields); ``stored`` is the number of arrays in the file, which bounds N."""
    kind, order = header.get("kind"), header.get("order")
    if kind not in ("backoff", "additive"):
        refuse(where, f"the header's kind is {kind!r}, not 'backoff' or 'additive'")
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        refuse(where, f"the header's order is {order!r}, not a whole number >= 1")
    if order > stored:  # each order has at least one array
        refuse(where, f"the header's order is {order:,}, but the file holds only {stored} arrays")
    for field in ("name", "smoothing"):
        if not isinstance(header.get(field), str):
            refuse(where, f"the header's {field} is {header.get(field)!r}, not a string")
    if not isinstance(header.get("info", {}), dict):
        refuse(where, "the header's info is not a JSON object")
    if kind == "additive":
        alpha = header.get("alpha")
        if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not math.isfinite(alpha) or alpha < 0:
            refuse(where, f"the header's alpha is {alpha!r}, not a finite number >= 0")
    names = {"vocab", "vocab_counts"} | {f"keys{n}" for n in range(2, order + 1)}
    if header["version"] >= 2:
        names |= {f"fence{n}" for n in range(2, order + 1)}
    if kind == "backoff":
        return names | {f"logp{n}" for n in range(1, order + 1)} | {f"logbo{n}" for n in range(1, order)}
    return names | {f"counts{n}" for n in range(1, order + 1)}


def _build(header: dict, arrays: dict, where: str, sample: bool = False) -> NgramModel:
    """The model of the header's kind, each array checked before it is used (``sample``:
    the order-1 arrays whole, the others by :mod:`perplex.lm.validate`'s sampled checks)."""
    order = header["order"]
    tokens = check_array(where, "the vocabulary", arrays["vocab"], "U").tolist()
    # Tokens come from whitespace-split text: none is empty or holds whitespace.
    if len(tokens) < 2 or " ".join(tokens).split() != tokens:
        refuse(where, "the vocabulary has an empty token, one with whitespace, or fewer than 2 tokens")
    V = len(tokens)
    counts = check_array(where, "the vocabulary counts", arrays["vocab_counts"], "iu", V)
    if np.any(counts < 0):
        refuse(where, "the vocabulary counts hold a negative number")
    try:
        vocab = Vocabulary(tokens, counts)
    except PerplexError as exc:
        refuse(where, str(exc))
    trie = NgramTrie(order, V, [None])
    for n in range(2, order + 1):
        keys = check_keys(where, n, arrays[f"keys{n}"], trie.size(n - 1), V, ngram_namer(trie, tokens, n - 1), sample)
        # A fully checked (small) file's key tables are read whole anyway: one that is not
        # aligned is copied into memory, as numpy would copy it at every search otherwise.
        trie.keys.append(keys if sample or keys.flags.aligned else np.array(keys))
        if f"fence{n}" in arrays:
            trie.fences[n] = check_fence(where, n, arrays[f"fence{n}"], keys, FENCE_STRIDE, sample)
        release(arrays.values())  # what the order's checks touched (a fault may map a whole large folio)
    name_of = lambda n: ngram_namer(trie, tokens, n)  # noqa: E731
    if header["kind"] == "backoff":
        logp, logbo = [], []
        for n in range(1, order + 1):
            logp.append(check_array(where, f"the {n}-gram log10 probabilities", arrays[f"logp{n}"], "f", trie.size(n)))
            check_log10(where, logp[-1], n, name_of(n), sample=sample and n > 1)
            if n < order:
                logbo.append(check_array(where, f"the {n}-gram log10 backoffs", arrays[f"logbo{n}"], "f", trie.size(n)))
                check_log10(where, logbo[-1], n, name_of(n), backoff=True, sample=sample and n > 1)
            release(arrays.values())
        return BackoffModel(vocab, trie, logp, logbo, header["name"])
    trie.counts = [check_array(where, f"the {n}-gram counts", arrays[f"counts{n}"], "iu", trie.size(n))
                   .astype(np.int64, copy=False) for n in range(1, order + 1)]
    check_counts(where, trie, trie.counts, name_of, vocab.eos_id, sample)
    return AdditiveModel(vocab, trie, float(header["alpha"]))


def is_model_file(path: str | os.PathLike) -> bool:
    """True if ``path`` looks like a perplex n-gram model (a zip with our header)."""
    if not os.path.isfile(path):  # a device such as /dev/zero would be read forever
        return False
    try:
        with zipfile.ZipFile(path) as z:
            return "header.npy" in z.namelist()
    except _UNREADABLE:
        return False
