"""Saving and loading our own n-gram models (numpy ``.npz``, written atomically).

The file holds the vocabulary, the trie keys and either the backoff tables
(Kneser-Ney, ARPA) or the raw counts (MLE, add-k), plus a small JSON header
with a format version, so a corrupt or foreign file is refused with a clear
message instead of a traceback.
"""

from __future__ import annotations

import json
import lzma
import math
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from perplex.corpus.vocabulary import Vocabulary
from perplex.lm.additive import AdditiveModel
from perplex.lm.backoff import BackoffModel
from perplex.lm.base import NgramModel
from perplex.lm.trie import NgramTrie
from perplex.lm.validate import check_array, check_counts, check_keys, check_log10, check_normalized, ngram_namer, refuse
from perplex.errors import PerplexError
from perplex.fileio import atomic_write, check_input_file

FORMAT = "perplex-ngram"
VERSION = 1


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
    for n in range(1, model.order + 1):
        if kind == "backoff":
            arrays[f"logp{n}"] = model.logp[n - 1]
            if n < model.order:
                arrays[f"logbo{n}"] = model.logbo[n - 1]
        else:
            arrays[f"counts{n}"] = trie.counts[n - 1]
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)


def load_model(path: str | os.PathLike) -> NgramModel:
    """Read a model written by :func:`save_model`.

    Every array is checked against the header before a model is built (types,
    lengths, sorted in-range keys, finite log10 values <= 0, consistent counts),
    then the next-word distributions are checked to sum to 1
    (:mod:`perplex.lm.validate`).

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
        _check_array_sizes(path)
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"][()]))
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise KeyError("format")
            if header.get("version") != VERSION:
                raise PerplexError(f"{path} is a version {header.get('version')!r} model; this perplex reads version {VERSION}")
            where = f"corrupt model file {path}"
            names = _array_names(header, where, len(data.files))
            if set(data.files) != names | {"header"}:
                extra = sorted(set(data.files) - names - {"header"})
                missing = sorted(names - set(data.files))
                refuse(where, f"an order-{header['order']} {header['kind']} model holds arrays {sorted(names)}; "
                              f"this file lacks {missing} and has {extra} besides")
            arrays = {name: data[name] for name in names}
    except PerplexError:
        raise
    except _UNREADABLE:
        raise PerplexError(unreadable) from None
    model = _build(header, arrays, where)
    check_normalized(model, where)
    model.smoothing = header["smoothing"]
    model.info = header.get("info", {})
    return model


# What zipfile, numpy and json raise on damaged bytes (a flipped flag bit in a zip
# header gives "encrypted" RuntimeErrors or NotImplementedErrors).
_UNREADABLE = (KeyError, ValueError, OSError, EOFError, MemoryError, RuntimeError, NotImplementedError,
               zipfile.BadZipFile, json.JSONDecodeError, zlib.error, lzma.LZMAError, struct.error)


def _check_array_sizes(path: Path) -> None:
    """Refuse an archive whose arrays declare more data than they hold (a corrupt
    .npy header could otherwise ask numpy for terabytes before the read fails)."""
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            with z.open(info) as f:
                version = npy_format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = npy_format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, _, dtype = npy_format.read_array_header_2_0(f)
                else:
                    raise ValueError(f"npy format {version}")
                if dtype.hasobject or f.tell() + math.prod(shape) * dtype.itemsize != info.file_size:
                    raise ValueError(f"{info.filename}: the declared shape does not match the stored bytes")


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
    if kind == "backoff":
        return names | {f"logp{n}" for n in range(1, order + 1)} | {f"logbo{n}" for n in range(1, order)}
    return names | {f"counts{n}" for n in range(1, order + 1)}


def _build(header: dict, arrays: dict, where: str) -> NgramModel:
    """The model of the header's kind, each array checked before it is used."""
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
        trie.keys.append(check_keys(where, n, arrays[f"keys{n}"], trie.size(n - 1), V, ngram_namer(trie, tokens, n - 1)))
    name_of = lambda n: ngram_namer(trie, tokens, n)  # noqa: E731
    if header["kind"] == "backoff":
        logp, logbo = [], []
        for n in range(1, order + 1):
            logp.append(check_array(where, f"the {n}-gram log10 probabilities", arrays[f"logp{n}"], "f", trie.size(n)))
            check_log10(where, logp[-1], n, name_of(n))
            if n < order:
                logbo.append(check_array(where, f"the {n}-gram log10 backoffs", arrays[f"logbo{n}"], "f", trie.size(n)))
                check_log10(where, logbo[-1], n, name_of(n), backoff=True)
        return BackoffModel(vocab, trie, logp, logbo, header["name"])
    trie.counts = [check_array(where, f"the {n}-gram counts", arrays[f"counts{n}"], "iu", trie.size(n)).astype(np.int64)
                   for n in range(1, order + 1)]
    check_counts(where, trie, trie.counts, name_of, vocab.eos_id)
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
