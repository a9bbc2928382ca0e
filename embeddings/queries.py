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
    """The (V, d) float32 matrix with every row scaled to length 1 (zero rows stay 0)."""
    v = np.asarray(kv.vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return v / norms


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

    Returns
    -------
    list of (word, cosine) pairs, best first.
    """
    unit = unit_vectors(kv)
    i = word_index(kv, word)
    scores = unit @ unit[i]  # (V, d) x (d,) -> (V,)
    scores[i] = -np.inf
    return [(kv.index_to_key[j], float(scores[j])) for j in _top(scores, topn)]


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
    row are set to -inf so they are never the answer.
    """
    if method not in ANALOGY_METHODS:
        raise PerplexError(f"unknown analogy method {method!r}; choose one of {', '.join(ANALOGY_METHODS)}")
    cos_a, cos_b, cos_c = unit[a] @ unit.T, unit[b] @ unit.T, unit[c] @ unit.T  # each (Q, V)
    if method == "3cosadd":
        scores = cos_b - cos_a + cos_c
    else:
        scores = ((cos_b + 1) / 2) * ((cos_c + 1) / 2) / ((cos_a + 1) / 2 + epsilon)
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
    list of (word, score) pairs, best first, the three query words excluded.

    Raises
    ------
    PerplexError
        A query word out of vocabulary, or an unknown method.
    """
    unit = unit_vectors(kv)
    ia, im, ip = (np.array([word_index(kv, w)]) for w in (a, minus, plus))
    scores = analogy_scores(unit, im, ia, ip, method)[0]
    return [(kv.index_to_key[j], float(scores[j])) for j in _top(scores, topn)]
