"""Word vectors on disk: the word2vec text and binary formats, and GloVe's header-less text.

Vectors live in memory as a gensim :class:`~gensim.models.KeyedVectors` (a ``vectors``
matrix, ``index_to_key`` and ``key_to_index``), so anything gensim can do with them a
user can do with ours, and vectors trained elsewhere load into our query commands.

>>> import numpy as np
>>> kv = to_keyed_vectors(["a", "b"], np.eye(2, dtype=np.float32))
>>> save_vectors(kv, "/tmp/perplex-doctest.txt")          # .txt -> text format
>>> load_vectors("/tmp/perplex-doctest.txt").index_to_key
['a', 'b']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from perplex.errors import PerplexError
from perplex.fileio import atomic_write, check_input_file

TEXT_SUFFIXES = (".txt", ".vec", ".text")


def to_keyed_vectors(words: Sequence[str], vectors: np.ndarray):
    """Wrap a (V, d) matrix and its V words as a gensim ``KeyedVectors`` (float32)."""
    from gensim.models import KeyedVectors

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ValueError(f"{len(words)} words need a ({len(words)}, d) matrix, got shape {vectors.shape}")
    if len(set(words)) != len(words):  # gensim would keep both rows but index only one
        raise ValueError("the words of a vectors object must be unique")
    kv = KeyedVectors(vectors.shape[1], count=0, dtype=np.float32)
    kv.add_vectors([str(w) for w in words], vectors)
    return kv


def is_text_path(path: str | os.PathLike) -> bool:
    """Text format for .txt/.vec/.text names, binary word2vec otherwise."""
    return Path(path).suffix.lower() in TEXT_SUFFIXES


def save_vectors(kv, path: str | os.PathLike, binary: bool | None = None) -> None:
    """Write vectors in word2vec format (the C tool's, which gensim reads), atomically.

    Parameters
    ----------
    kv : gensim.models.KeyedVectors
    path : str or PathLike
    binary : bool, optional
        Default: text for ``.txt``/``.vec``/``.text`` names, binary otherwise.

    Notes
    -----
    The layout is gensim's ``save_word2vec_format``: a ``"V d"`` header line, then per
    word either ``word`` + space + d little-endian float32 (binary) or ``word`` and d
    numbers separated by spaces (text; each float32 printed with the shortest repr
    that reads back to the same float32, so a round trip is exact).
    """
    if binary is None:
        binary = not is_text_path(path)
    vectors = np.asarray(kv.vectors, dtype="<f4")
    for word in kv.index_to_key:
        if not word or any(c.isspace() for c in word):
            raise PerplexError(f"cannot save the word {word!r}: word2vec files need words without spaces")
    with atomic_write(path, "wb") as out:
        out.write(f"{len(kv.index_to_key)} {vectors.shape[1]}\n".encode("utf-8"))
        if binary:
            for word, row in zip(kv.index_to_key, vectors):
                out.write(word.encode("utf-8") + b" " + row.tobytes() + b"\n")
        else:
            for word, row in zip(kv.index_to_key, vectors):
                out.write((word + " " + " ".join(map(str, row)) + "\n").encode("utf-8"))


# Reading.  The header is checked against the file's size before anything is allocated,
# every number is parsed and range-checked, and every problem is one line naming the file.
FORMAT_NAMES = {"text": "word2vec text", "binary": "word2vec binary", "glove": "GloVe text"}
FLOAT32_MAX = float(np.finfo(np.float32).max)
MAX_WORD_BYTES = 1 << 16  # binary: no space within this many bytes means the file is not what it claims
PARSE_ROWS = 2048  # text rows converted to numbers at once: bounded temporary memory
_LINE_ENDS = frozenset(b"\r\n")  # binary: what may stand before a word


def _error(path, fmt: str, detail: str) -> PerplexError:
    return PerplexError(f"cannot read vectors from {path} ({FORMAT_NAMES[fmt]} format): {detail}")


def _is_header(fields: list[bytes]) -> bool:
    return len(fields) == 2 and all(f.isdigit() for f in fields)


def _all_numbers(fields: list[bytes]) -> bool:
    try:
        [float(x) for x in fields]
    except ValueError:
        return False
    return bool(fields)


def sniff_format(path: str | os.PathLike) -> str:
    """Guess the format of a vectors file: ``"binary"``, ``"text"`` or ``"glove"``.

    word2vec files open with a ``"V d"`` header; binary ones then hold raw floats,
    text ones a word and numbers per line (a line after the header whose fields after
    the first are all numbers means text).  GloVe's text files have no header: the
    first line is already a word and its numbers.

    Raises
    ------
    PerplexError
        Missing or empty file, a header announcing no vectors, or a first line that
        fits none of the formats.
    """
    p = Path(path)
    check_input_file(p, "vectors file", hint=f"train some with 'perplex embed --out {p}' or name an existing file")
    with open(p, "rb") as f:
        head = f.read(1 << 16)
    if not head.strip():
        raise PerplexError(f"vectors file {p} is empty; train vectors with 'perplex embed --out FILE'")
    first, _, rest = head.partition(b"\n")
    fields = first.split()
    if _is_header(fields):
        if int(fields[0]) < 1 or int(fields[1]) < 1:
            raise PerplexError(f"{p} declares {int(fields[0])} vectors of dimension {int(fields[1])}; nothing to load")
        second = next((line for line in rest.split(b"\n") if line.strip()), b"")
        return "text" if _all_numbers(second.split()[1:]) else "binary"
    fields = next(line for line in head.split(b"\n") if line.strip()).split()  # GloVe: the first non-blank line
    if len(fields) < 2 or not _all_numbers(fields[1:]):
        raise PerplexError(f"{p} is not a vectors file in word2vec (text or binary) or GloVe text format; "
                           "its first line should be 'COUNT DIM' or a word followed by numbers")
    return "glove"


def load_vectors(path: str | os.PathLike):
    """Load word vectors written by perplex, gensim, the word2vec C tool or GloVe.

    Returns
    -------
    gensim.models.KeyedVectors
        ``count`` unique words and a finite float32 (count, dim) matrix, as the header
        (or, for GloVe, the file) says.

    Raises
    ------
    PerplexError
        Missing, empty, truncated or unrecognised file; a header the file's size cannot
        hold; a vector of the wrong length; a value that is not a finite float32; a word
        that is not UTF-8 or appears twice; more memory than available (one line,
        naming the file).
    """
    from perplex.resources import check_memory

    fmt = sniff_format(path)
    p = Path(path)
    if fmt == "glove":
        (count, dim), offset = _glove_shape(p), 0
    else:
        count, dim, offset = _header(p)
        _check_size(p, fmt, count, dim, p.stat().st_size - offset, offset)
    # the matrix, and the copy gensim's KeyedVectors makes of it
    check_memory(2.0 * count * dim * 4, f"loading {p} ({count:,} vectors of dimension {dim:,})")
    read = _read_binary if fmt == "binary" else _read_text
    words, vectors = read(p, fmt, count, dim, offset)
    return to_keyed_vectors(words, vectors)


def _header(path: Path) -> tuple[int, int, int]:
    """(count, dim, length of the header line in bytes) of a word2vec file."""
    with open(path, "rb") as f:
        line = f.readline(1 << 16)
    count, dim = (int(x) for x in line.split())
    return count, dim, len(line)


def _check_size(path: Path, fmt: str, count: int, dim: int, available: int, offset: int) -> None:
    """Refuse a header that the rest of the file is too short to hold.

    A binary vector takes at least 4 dim + 2 bytes (a one-byte word, a space, dim
    float32); a text line at least 2 dim + 2 (a one-character word, dim times a space
    and a digit, a newline; the last newline may be missing)."""
    needed = count * (4 * dim + 2) if fmt == "binary" else count * (2 * dim + 2) - 1
    if available >= needed:
        return
    if available < 4096:
        with open(path, "rb") as f:
            f.seek(offset)
            if not f.read().strip():  # text or binary cannot be told apart here
                raise PerplexError(f"cannot read vectors from {path}: its header announces {count:,} vectors of "
                                   f"dimension {dim:,} but no vector follows it")
    raise _error(path, fmt, f"the header announces {count:,} vectors of dimension {dim:,}, at least {needed:,} bytes, "
                            f"but only {available:,} bytes follow it: the file is truncated or its header is wrong")


def _glove_shape(path: Path) -> tuple[int, int]:
    """(count, dim) of a header-less GloVe file: its non-blank lines, the fields of the first minus its word."""
    count, dim = 0, 0
    with open(path, "rb") as f:
        for line in f:
            if not line.isspace():
                count += 1
                dim = dim or len(line.split()) - 1
    return count, dim


def _word(path: Path, fmt: str, raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _error(path, fmt, f"the word of {where} is not UTF-8 text ({raw[:40]!r})") from None


def _add_word(path: Path, fmt: str, words: list[str], index: dict[str, str], word: str, where: str) -> None:
    """Append ``word``, refusing a second vector for it (which one would a query use?)."""
    if word in index:
        raise _error(path, fmt, f"the word {word!r} has two vectors ({index[word]} and {where})")
    index[word] = where
    words.append(word)


def _to_float32(path: Path, fmt: str, tokens: list[bytes], where: list[str], dim: int) -> np.ndarray:
    """Number tokens of whole rows -> a (rows, dim) float32 array; a token that is no
    number, not finite or beyond float32's range is refused with its line."""
    try:
        values = np.array(tokens, dtype=np.float64).reshape(-1, dim)
    except ValueError:
        k = next(k for k, t in enumerate(tokens) if not _all_numbers([t]))
        raise _error(path, fmt, f"{where[k // dim]} holds {tokens[k][:40].decode('utf-8', 'replace')!r} "
                                "where a number should be") from None
    bad = ~(np.abs(values) <= FLOAT32_MAX)  # also true for nan
    if bad.any():
        r, c = np.argwhere(bad)[0]
        v = values[r, c]
        why = "not a finite number" if not np.isfinite(v) else "beyond float32's range (about 3.4e38)"
        raise _error(path, fmt, f"{where[r]} holds {v}, {why}")
    return values.astype(np.float32)


def _read_text(path: Path, fmt: str, count: int, dim: int, offset: int) -> tuple[list[str], np.ndarray]:
    """Word2vec text (after its header, at ``offset``) or GloVe: a word and ``dim`` numbers per line."""
    words: list[str] = []
    index: dict[str, str] = {}
    out = np.empty((count, dim), np.float32)
    tokens: list[bytes] = []  # numbers of the rows not converted yet
    where: list[str] = []
    with open(path, "rb") as f:
        f.seek(offset)
        for line_no, line in enumerate(f, start=2 if offset else 1):
            parts = line.split()  # ASCII whitespace only: a word may hold other spaces
            if not parts:
                continue
            here = f"line {line_no}"
            if len(words) == count:
                raise _error(path, fmt, f"{here} is vector {count + 1:,}; the header announces {count:,}")
            if len(parts) != dim + 1:
                raise _error(path, fmt, f"{here} has {len(parts) - 1:,} numbers after its word, not {dim:,}")
            _add_word(path, fmt, words, index, _word(path, fmt, parts[0], here), here)
            tokens += parts[1:]
            where.append(here)
            if len(where) == PARSE_ROWS or len(words) == count:
                out[len(words) - len(where) : len(words)] = _to_float32(path, fmt, tokens, where, dim)
                tokens, where = [], []
    if len(words) < count:
        raise _error(path, fmt, f"the file ends after {len(words):,} of the {count:,} vectors its header announces: "
                                "it is truncated or its header is wrong")
    return words, out


def _read_binary(path: Path, fmt: str, count: int, dim: int, offset: int) -> tuple[list[str], np.ndarray]:
    """Word2vec binary: per vector a word, a space and ``dim`` little-endian float32
    (a newline before the word is optional, as in gensim's and the C tool's files)."""
    import mmap

    words: list[str] = []
    index: dict[str, str] = {}
    out = np.empty((count, dim), np.float32)
    row_bytes = 4 * dim
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        size, pos = len(mm), offset
        for i in range(count):
            here = f"vector {i + 1:,}"
            while pos < size and mm[pos] in _LINE_ENDS:
                pos += 1
            end = mm.find(b" ", pos, pos + MAX_WORD_BYTES + 1)
            if end < 0 or end + 1 + row_bytes > size:
                if end < 0 and size - pos > MAX_WORD_BYTES:
                    raise _error(path, fmt, f"{here} has no word ending in a space within {MAX_WORD_BYTES:,} bytes: "
                                            "the file is corrupt")
                raise _error(path, fmt, f"the file ends inside {here} of the {count:,} its header announces: "
                                        "it is truncated or its header is wrong")
            raw = mm[pos:end]
            if not raw or len(raw.split()) != 1:
                raise _error(path, fmt, f"{here} has the word {raw[:40]!r}: empty or holding whitespace, so the file "
                                        "is corrupt")
            _add_word(path, fmt, words, index, _word(path, fmt, raw, here), here)
            out[i] = np.frombuffer(mm[end + 1 : end + 1 + row_bytes], dtype="<f4")
            pos = end + 1 + row_bytes
        extra = size - pos
        if extra and (extra > 16 or mm[pos:].strip()):
            raise _error(path, fmt, f"{extra:,} bytes follow the {count:,} vectors its header announces: "
                                    "the header is wrong or the file is corrupt")
    bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
    if len(bad):
        raise _error(path, fmt, f"vector {bad[0] + 1:,} ({words[bad[0]]!r}) holds nan or inf: the file is corrupt")
    return words, out
