"""Initialising the token embeddings from word vectors (SGNS, GloVe) in word2vec format.

The pipeline's step from embeddings to the Transformer: vectors trained on
the same vocabulary are read with gensim (``KeyedVectors.load_word2vec_format``,
text or binary) and copied into the rows of the words they cover; the other
rows keep their random initialisation.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from perplex.corpus.vocabulary import Vocabulary
from perplex.errors import PerplexError


def read_word2vec(path: str | os.PathLike):
    """Read word2vec-format vectors (text or binary, detected) with gensim.

    Raises
    ------
    PerplexError
        Missing, empty or unreadable file.
    """
    from gensim.models import KeyedVectors

    p = Path(path)
    if not p.is_file():
        raise PerplexError(f"vectors file not found: {p}; give vectors in word2vec format (text or binary)")
    if p.stat().st_size == 0:
        raise PerplexError(f"{p} is empty; give vectors in word2vec format (text or binary)")
    errors = []
    for binary in (False, True):
        try:
            return KeyedVectors.load_word2vec_format(str(p), binary=binary)
        except Exception as exc:  # gensim raises ValueError, UnicodeDecodeError, EOFError, ...
            errors.append(f"{type(exc).__name__}")
    raise PerplexError(f"{p} is not a word2vec-format vectors file (text or binary: {', '.join(errors)}); "
                       "save vectors with KeyedVectors.save_word2vec_format")


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
    kv = read_word2vec(path)
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
    return torch.from_numpy(vectors), torch.from_numpy(found)
