"""Initialising the token embeddings from word vectors (SGNS, GloVe).

The pipeline's step from embeddings to the Transformer: vectors trained on the
same vocabulary are read by the one vectors reader,
:func:`perplex.embeddings.vectors.load_vectors` (word2vec text or binary, or
GloVe's header-less text), and copied into the rows of the words they cover; the
other rows keep their random initialisation.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from perplex.corpus.vocabulary import Vocabulary
from perplex.embeddings.vectors import load_vectors
from perplex.errors import PerplexError

MAX_COMPONENT = 1e6  # trained word vectors have components of order 1 (GloVe, SGNS: below 100)


def embedding_matrix(path: str | os.PathLike, vocab: Vocabulary, d_model: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The vectors of ``path`` laid out by vocabulary id.

    Returns
    -------
    vectors : float32 tensor, shape (|V|, d_model)
        Row i is the vector of ``vocab.tokens[i]`` (zeros where missing).
    found : bool tensor, shape (|V|,)
        Which rows came from the file.

    Raises
    ------
    PerplexError
        The vectors' dimension is not ``d_model``, or they cover no vocabulary word.
    """
    kv = load_vectors(path)
    if kv.vector_size != d_model:
        raise PerplexError(f"{path} has {kv.vector_size}-dimensional vectors but --d-model is {d_model}; "
                           f"use --d-model {kv.vector_size} or vectors of size {d_model}")
    rows = np.fromiter((kv.key_to_index.get(t, -1) for t in vocab.tokens), np.int64, count=len(vocab))
    found = rows >= 0
    if not found.any():
        raise PerplexError(f"{path} has no vector for any of the {len(vocab)} vocabulary words; "
                           "give vectors trained on the same data")
    vectors = np.zeros((len(vocab), d_model), np.float32)
    vectors[found] = kv.vectors[rows[found]]
    _check_magnitude(path, vectors, vocab)
    return torch.from_numpy(vectors), torch.from_numpy(found)


def _check_magnitude(path, vectors: np.ndarray, vocab: Vocabulary) -> None:
    """Refuse nan/inf or absurd values: rescaled together, one such row would wipe out (or
    turn into nan) every other word's initial embedding."""
    largest = np.abs(vectors).max(axis=1)  # nan propagates
    bad = np.flatnonzero(~(largest <= MAX_COMPONENT))
    if bad.size:
        word, value = vocab.tokens[bad[0]], largest[bad[0]]
        what = "nan or inf values" if not np.isfinite(value) else f"a component of {value:.3g}"
        raise PerplexError(f"{path} gives the word {word!r} {what} ({bad.size} word(s) in all); word vectors stay "
                           f"far below {MAX_COMPONENT:g}: the file is corrupt")
