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
from perplex.fileio import atomic_write

TEXT_SUFFIXES = (".txt", ".vec", ".text")


def to_keyed_vectors(words: Sequence[str], vectors: np.ndarray):
    """Wrap a (V, d) matrix and its V words as a gensim ``KeyedVectors`` (float32)."""
    from gensim.models import KeyedVectors

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ValueError(f"{len(words)} words need a ({len(words)}, d) matrix, got shape {vectors.shape}")
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


def sniff_format(path: str | os.PathLike) -> str:
    """Guess the format of a vectors file: ``"binary"``, ``"text"`` or ``"glove"``.

    word2vec files open with a ``"V d"`` header; binary ones then hold raw floats,
    text ones a word and d numbers per line.  GloVe's text files have no header: the
    first line is already a word and its numbers.

    Raises
    ------
    PerplexError
        Missing or empty file, or a first line that fits none of the formats.
    """
    p = Path(path)
    if not p.is_file():
        raise PerplexError(f"vectors file not found: {p}; train some with 'perplex embed --out {p}' "
                           "or name an existing file")
    with open(p, "rb") as f:
        head = f.read(1 << 16)
    if not head.strip():
        raise PerplexError(f"vectors file {p} is empty; train vectors with 'perplex embed --out FILE'")
    first, _, rest = head.partition(b"\n")
    fields = first.split()
    bad = PerplexError(
        f"{p} is not a vectors file in word2vec (text or binary) or GloVe text format; "
        "its first line should be 'COUNT DIM' or a word followed by numbers"
    )
    if len(fields) == 2 and all(f.isdigit() for f in fields):
        dim = int(fields[1])
        if int(fields[0]) < 1 or dim < 1:
            raise PerplexError(f"{p} declares {fields[0]} vectors of dimension {fields[1]}; nothing to load")
        second = rest.split(b"\n", 1)[0]
        try:
            numbers = second.decode("utf-8").split()[1:]
            [float(x) for x in numbers]
            return "text" if len(numbers) == dim else "binary"
        except (UnicodeDecodeError, ValueError):
            return "binary"
    try:
        [float(x) for x in fields[1:]]
    except ValueError:
        raise bad from None
    if len(fields) < 2:
        raise bad
    return "glove"


def load_vectors(path: str | os.PathLike):
    """Load word vectors written by perplex, gensim, the word2vec C tool or GloVe.

    Returns
    -------
    gensim.models.KeyedVectors

    Raises
    ------
    PerplexError
        Missing, empty, truncated or unrecognised file (one line, naming the file).
    """
    from gensim.models import KeyedVectors

    fmt = sniff_format(path)
    try:
        kv = KeyedVectors.load_word2vec_format(
            str(path), binary=fmt == "binary", no_header=fmt == "glove", unicode_errors="strict"
        )
    except (ValueError, EOFError, UnicodeDecodeError, IndexError, OSError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PerplexError(
            f"cannot read vectors from {path} ({fmt} format): the file is truncated or corrupt ({detail[:120]})"
        ) from None
    if not np.all(np.isfinite(kv.vectors)):
        raise PerplexError(f"{path} contains non-finite numbers (nan or inf); the vectors are corrupt")
    return kv
