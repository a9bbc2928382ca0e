"""Fuzzing the vectors reader: structure-aware mutations of small valid files.

Each example writes a small valid word2vec text, word2vec binary or GloVe file, applies
a few mutations that keep most of its structure (drop, duplicate or swap lines or
vectors, put nan / inf / huge / malformed numbers in, change the header's counts,
flip, insert or cut bytes), and loads it.  Whatever the damage, ``load_vectors`` must
end in exactly one of two ways: a PerplexError, or vectors that are finite float32 of
the shape the file announces, with unique words.  An untouched file reads back exactly.
"""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perplex.embeddings.vectors import load_vectors
from perplex.errors import PerplexError

FUZZ = settings(derandomize=True, deadline=None, max_examples=200, suppress_health_check=list(HealthCheck))
BAD_NUMBERS = [b"nan", b"inf", b"-inf", b"1e39", b"-1e300", b"1e-400", b"0x1p3", b"", b"abc", b"1.5.2", b"--1",
               b"3.4028235e38", b"\xff", b"1_0"]
BAD_FLOATS = [float("nan"), float("inf"), float("-inf"), 3.4028235e38, -1e-45]
WORD_POOL = ["the", "of", "a", "café", "東京", "x", "y2", "<unk>", "</s>", "naïve"]


@st.composite
def vectors(draw):
    """(words, float32 matrix) of 1-5 unique words and dimension 1-4."""
    n = draw(st.integers(1, 5))
    dim = draw(st.integers(1, 4))
    words = draw(st.lists(st.sampled_from(WORD_POOL), min_size=n, max_size=n, unique=True))
    values = draw(st.lists(st.floats(-1e6, 1e6, width=32), min_size=n * dim, max_size=n * dim))
    return words, np.array(values, np.float32).reshape(n, dim)


def text_lines(words, matrix) -> list[bytes]:
    return [(w + " " + " ".join(repr(float(x)) for x in row)).encode() for w, row in zip(words, matrix)]


# -- mutations of lines (text, GloVe) and of entries (binary) ------------------------------

def _reordered(items: list, kind: str, i: int, j: int) -> list:
    """The edits of whole entries both mutations make: drop entry i, duplicate it at j, or swap i and j."""
    items = list(items)
    if kind == "drop":
        del items[i]
    elif kind == "duplicate":
        items.insert(j, items[i])
    else:
        items[i], items[j] = items[j], items[i]
    return items


REORDERINGS = ("drop", "duplicate", "swap")


@st.composite
def line_mutation(draw, lines: list[bytes]):
    """One structure-aware change to a list of vector lines."""
    if not lines:
        return lines
    kind = draw(st.sampled_from([*REORDERINGS, "number", "extra field", "blank"]))
    i = draw(st.integers(0, len(lines) - 1))
    j = draw(st.integers(0, len(lines) - 1))
    if kind in REORDERINGS:
        return _reordered(lines, kind, i, j)
    lines = list(lines)
    if kind == "number":
        fields = lines[i].split(b" ")
        k = draw(st.integers(1, max(1, len(fields) - 1)))
        fields[min(k, len(fields) - 1)] = draw(st.sampled_from(BAD_NUMBERS))
        lines[i] = b" ".join(fields)
    elif kind == "extra field":
        lines[i] += b" " + draw(st.sampled_from([b"0", b"1e3", b"word"]))
    else:
        lines.insert(i, draw(st.sampled_from([b"", b"  ", b"\t"])))
    return lines


@st.composite
def entry_mutation(draw, entries: list[tuple[bytes, list[float]]]):
    """One change to the (word, vector) entries of a binary file."""
    if not entries:
        return entries
    kind = draw(st.sampled_from([*REORDERINGS, "value", "word"]))
    i = draw(st.integers(0, len(entries) - 1))
    j = draw(st.integers(0, len(entries) - 1))
    if kind in REORDERINGS:
        return _reordered(entries, kind, i, j)
    entries = list(entries)
    if kind == "value":
        word, vec = entries[i]
        vec = list(vec)
        vec[draw(st.integers(0, len(vec) - 1))] = draw(st.sampled_from(BAD_FLOATS))
        entries[i] = (word, vec)
    else:
        entries[i] = (draw(st.sampled_from([b"", b"a b", b"\xff\xfe", b"x\ny", b"ok"])), entries[i][1])
    return entries


@st.composite
def header_mutation(draw, count: int, dim: int) -> bytes:
    if draw(st.integers(0, 2)):  # most mutated files keep their header, so that some still load
        return b"%d %d" % (count, dim)
    count = draw(st.sampled_from([0, count - 1, count + 1, 10**12, 2**64]))
    dim = draw(st.sampled_from([dim, 0, dim - 1, dim + 1, 10**9]))
    return f"{max(count, 0)} {max(dim, 0)}".encode()


@st.composite
def byte_mutation(draw, data: bytes) -> bytes:
    """Flip, insert or cut bytes anywhere."""
    if not data:
        return data
    kind = draw(st.sampled_from(["flip", "insert", "truncate"]))
    i = draw(st.integers(0, len(data) - 1))
    if kind == "flip":
        return data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :]
    if kind == "insert":
        return data[:i] + draw(st.binary(min_size=1, max_size=6)) + data[i:]
    return data[:i]


# -- files ----------------------------------------------------------------------------

@st.composite
def text_file(draw, glove: bool):
    words, matrix = draw(vectors())
    lines = text_lines(words, matrix)
    mutated = draw(st.integers(0, 3))
    for _ in range(mutated):
        lines = draw(line_mutation(lines))
    header = [] if glove else [draw(header_mutation(*matrix.shape)) if mutated else b"%d %d" % matrix.shape]
    data = b"\n".join(header + lines) + draw(st.sampled_from([b"\n", b"", b"\r\n"]))
    if mutated and draw(st.booleans()):
        data = draw(byte_mutation(data))
    return data, (words, matrix) if not mutated else None


@st.composite
def binary_file(draw):
    words, matrix = draw(vectors())
    entries = [(w.encode(), row.tolist()) for w, row in zip(words, matrix)]
    mutated = draw(st.integers(0, 3))
    for _ in range(mutated):
        entries = draw(entry_mutation(entries))
    header = draw(header_mutation(*matrix.shape)) if mutated else b"%d %d" % matrix.shape
    newline = draw(st.sampled_from([b"\n", b""]))  # gensim writes none, the C tool one
    data = header + b"\n" + b"".join(w + b" " + struct.pack(f"<{len(v)}f", *v) + newline for w, v in entries)
    if mutated and draw(st.booleans()):
        data = draw(byte_mutation(data))
    return data, (words, matrix) if not mutated else None


def announced_shape(data: bytes) -> tuple[int, int]:
    """(count, dim) as the file states it: its header, or for GloVe its non-blank lines
    and the fields of the first one."""
    first = data.split(b"\n", 1)[0].split()
    if len(first) == 2 and all(f.isdigit() for f in first):
        return int(first[0]), int(first[1])
    lines = [line for line in data.split(b"\n") if line.strip()]
    return len(lines), len(lines[0].split()) - 1


def check(data: bytes, original, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            kv = load_vectors(path)
        except PerplexError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc), str(exc)
            assert original is None, f"a valid file was refused: {exc}"
            return
    assert kv.vectors.dtype == np.float32 and np.isfinite(kv.vectors).all()
    assert kv.vectors.shape == announced_shape(data)
    assert len(set(kv.index_to_key)) == len(kv.index_to_key) == len(kv.key_to_index)
    if original is not None:
        assert kv.index_to_key == original[0]
        np.testing.assert_array_equal(kv.vectors, original[1])


@FUZZ
@given(text_file(glove=False))
def test_fuzz_word2vec_text(example):
    check(*example, ".txt")


@FUZZ
@given(text_file(glove=True))
def test_fuzz_glove_text(example):
    check(*example, ".txt")


@FUZZ
@given(binary_file())
def test_fuzz_word2vec_binary(example):
    check(*example, ".bin")
