"""Queries on word vectors: nearest neighbours and analogies, as batched matrix products.

Everything works on the unit-normalised matrix, so a dot product is a cosine
(as gensim's ``most_similar``).  Nothing here changes the vectors object.

>>> import numpy as np
>>> from perplex.embeddings.vectors import to_keyed_vectors
>>> kv = to_keyed_vectors(["x", "y", "z"], np.array([[1, 0], [1, 0.1], [0, 1]], np.float32))
>>> [w for w, _ in most_similar(kv, "x", topn=2)]
['y', 'z']
"""

from __future__ import annotations

import numpy as np

from perplex.errors import PerplexError

# Levy & Goldberg (2014), "Linguistic Regularities in Sparse and Explicit Word
# Representations", eq. 4: epsilon keeps 3CosMul's denominator away from 0.
COSMUL_EPSILON = 1e-3
ANALOGY_METHODS = ("3cosadd", "3cosmul")


def unit_vectors(kv) -> np.ndarray:
    """The (V, d) float32 matrix with every row scaled to length 1 (zero rows stay 0).

    The norms are taken in float64: squares of float32 values above ~1.8e19 would
    overflow to inf and turn such a row into zeros."""
    v = np.asarray(kv.vectors, dtype=np.float32)
    norms = np.linalg.norm(v.astype(np.float64), axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (v / norms).astype(np.float32)


def zero_rows(unit: np.ndarray) -> np.ndarray:
    """Bool (V,): the rows that are all zeros.  Their cosine with anything is undefined,
    so they are never an answer and a query about them is refused."""
    return ~unit.any(axis=1)


def _zero_vector_error(word: str, consequence: str) -> PerplexError:
    return PerplexError(f"the vector of {word!r} is all zeros: it has no direction, so {consequence}")


def word_index(kv, word: str) -> int:
    """Row of ``word``: the exact key, else its lowercase form.

    Raises
    ------
    PerplexError
        If neither is in the vocabulary (the message names the word).
    """
    for key in (word, word.lower()):
        idx = kv.key_to_index.get(key)
        if idx is not None:
            return idx
    raise PerplexError(
        f"word {word!r} is not in the vocabulary of these vectors ({len(kv.index_to_key):,} words); "
        "pick another word or train on a text that contains it"
    )


def _top(scores: np.ndarray, topn: int) -> np.ndarray:
    """Indices of the ``topn`` largest scores, best first (argpartition, then sort)."""
    topn = min(topn, int(np.isfinite(scores).sum()))
    if topn <= 0:
        return np.zeros(0, np.int64)
    part = np.argpartition(-scores, topn - 1)[:topn]
    return part[np.argsort(-scores[part], kind="stable")]


def most_similar(kv, word: str, topn: int = 10) -> list[tuple[str, float]]:
    """The ``topn`` words with the highest cosine similarity to ``word`` (itself excluded).

    Words whose vector is all zeros are never neighbours (their cosine is undefined);
    fewer than ``topn`` pairs come back when fewer words are left.

    Returns
    -------
    list of (word, cosine) pairs, best first.

    Raises
    ------
    PerplexError
        ``word`` out of vocabulary, with an all-zero vector, or alone in the vocabulary.
    """
    unit = unit_vectors(kv)
    i = word_index(kv, word)
    zero = zero_rows(unit)
    if zero[i]:
        raise _zero_vector_error(kv.index_to_key[i], "it has no neighbours")
    rows, cosines = nearest(unit, zero, np.array([i]), topn)
    if not len(rows[0]):
        raise PerplexError(_nothing_left(kv, zero, f"{kv.index_to_key[i]!r} has no neighbours"))
    return [(kv.index_to_key[j], float(c)) for j, c in zip(rows[0], cosines[0])]


def nearest(unit: np.ndarray, zero: np.ndarray, rows: np.ndarray, topn: int,
            block: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """The neighbours of many words at once, as :func:`most_similar` picks them.

    ``unit`` is :func:`unit_vectors`' matrix and ``zero`` its all-zero rows (never
    neighbours); each of ``rows`` (row indices of non-zero vectors) gets its ``topn``
    other rows with the highest cosine, best first.  Returns (indices, cosines), both
    shape (len(rows), k), k = ``topn`` or the number of candidates when fewer.  Scored
    ``block`` rows at a time, so memory stays (block, V).
    """
    candidates = int((~zero).sum()) - 1  # every non-zero word but the query itself
    k = max(min(topn, candidates), 0)
    indices = np.zeros((len(rows), k), np.int64)
    cosines = np.zeros((len(rows), k), np.float32)
    for start in range(0, len(rows) if k else 0, block):
        r = np.asarray(rows[start:start + block])
        scores = unit[r] @ unit.T  # (b, d) x (d, V) -> (b, V)
        scores[:, zero] = -np.inf
        scores[np.arange(len(r)), r] = -np.inf
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
        best = np.take_along_axis(part, order, axis=1)
        indices[start:start + len(r)] = best
        cosines[start:start + len(r)] = np.take_along_axis(scores, best, axis=1)
    return indices, cosines


def _nothing_left(kv, zero: np.ndarray, consequence: str) -> str:
    """Why no candidate answer is left, in one sentence."""
    n = len(kv.index_to_key)
    if n == 1:
        return f"these vectors hold a single word, so {consequence}"
    if zero.any():
        return f"every word of these vectors ({n:,}) outside the query has an all-zero vector, so {consequence}"
    return f"these vectors hold only {n:,} words, all in the query, so {consequence}"


def analogy_scores(unit: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray, method: str = "3cosadd",
                   epsilon: float = COSMUL_EPSILON) -> np.ndarray:
    """Scores of every word as the answer of a : b :: c : ?, for a batch of questions.

    Parameters
    ----------
    unit : float32 array, shape (V, d)
        Unit-length vectors (:func:`unit_vectors`).
    a, b, c : int arrays, shape (Q,)
        Rows of the question words.
    method : {"3cosadd", "3cosmul"}
        3CosAdd: cos(d, b) - cos(d, a) + cos(d, c) (Mikolov et al. 2013).
        3CosMul: cos'(d, b) cos'(d, c) / (cos'(d, a) + 0.001) with
        cos' = (cos + 1) / 2 in [0, 1] (Levy & Goldberg 2014).
    epsilon : float
        3CosMul's epsilon: 0.001 as in the paper (gensim's ``most_similar_cosmul``
        uses 1e-6).

    Returns
    -------
    float32 array, shape (Q, V): higher is better; the three question words of each
    row, and every word with an all-zero vector, are set to -inf so they are never the
    answer.
    """
    if method not in ANALOGY_METHODS:
        raise PerplexError(f"unknown analogy method {method!r}; choose one of {', '.join(ANALOGY_METHODS)}")
    cos_a, cos_b, cos_c = unit[a] @ unit.T, unit[b] @ unit.T, unit[c] @ unit.T  # each (Q, V)
    if method == "3cosadd":
        scores = cos_b - cos_a + cos_c
    else:
        scores = ((cos_b + 1) / 2) * ((cos_c + 1) / 2) / ((cos_a + 1) / 2 + epsilon)
    scores[:, zero_rows(unit)] = -np.inf  # cosines with a zero vector are undefined: never an answer
    rows = np.arange(len(a))
    for q in (a, b, c):
        scores[rows, q] = -np.inf
    return scores


def analogy(kv, a: str, minus: str, plus: str, method: str = "3cosadd", topn: int = 5) -> list[tuple[str, float]]:
    """The words nearest to ``a - minus + plus`` (``king man woman`` asks king - man + woman).

    In the a : b :: c : ? notation of :func:`analogy_scores` this is the question
    ``minus : a :: plus : ?`` (man : king :: woman : ?), so with 3CosAdd the answer d
    maximises cos(d, a) - cos(d, minus) + cos(d, plus).

    Returns
    -------
    list of (word, score) pairs, best first, the three query words (and words with
    all-zero vectors) excluded.

    Raises
    ------
    PerplexError
        A query word out of vocabulary or with an all-zero vector, a 3CosAdd query whose
        unit vectors cancel out, no candidate word left, or an unknown method.
    """
    unit = unit_vectors(kv)
    words = (a, minus, plus)
    rows = [word_index(kv, w) for w in words]
    zero = zero_rows(unit)
    for r in rows:
        if zero[r]:
            raise _zero_vector_error(kv.index_to_key[r], "it cannot take part in an analogy")
    query = f"{a} - {minus} + {plus}"
    if method == "3cosadd" and np.linalg.norm(unit[rows[0]] - unit[rows[1]] + unit[rows[2]]) < 1e-6:
        raise PerplexError(f"the unit vectors of {query} add up to zero: the query has no direction, so no answer")
    ia, im, ip = (np.array([r]) for r in rows)
    scores = analogy_scores(unit, im, ia, ip, method)[0]
    if not np.isfinite(scores).any():
        raise PerplexError(_nothing_left(kv, zero, f"no word is left to answer {query}"))
    return [(kv.index_to_key[j], float(scores[j])) for j in _top(scores, topn)]
