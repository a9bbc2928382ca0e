"""A 2-D PCA map of word vectors, saved as PNG."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from perplex.embeddings.queries import unit_vectors, word_index, zero_rows
from perplex.errors import PerplexError
from perplex.fileio import atomic_write

SPECIAL = {"</s>", "<unk>", "<s>", "N", "$"}  # markers rather than words in PTB


def pick_words(kv, words: Sequence[str] | None = None, top: int = 80) -> list[str]:
    """The words to draw: the given ones (each must be in the vocabulary, with a non-zero
    vector) or the ``top`` most frequent entries, skipping markers such as ``</s>`` and
    ``<unk>`` and words whose vector is all zeros (they have no direction to draw)."""
    zero = zero_rows(np.asarray(kv.vectors))
    if words:
        rows = [word_index(kv, w) for w in words]
        for r in rows:
            if zero[r]:
                raise PerplexError(f"the vector of {kv.index_to_key[r]!r} is all zeros: it has no direction, "
                                   "so no place on the map; leave it out of --words")
        return [kv.index_to_key[r] for r in rows]
    return [w for i, w in enumerate(kv.index_to_key) if w not in SPECIAL and not zero[i]][:top]


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """Project rows onto their first two principal components (scikit-learn), shape (n, 2)."""
    from sklearn.decomposition import PCA

    if len(vectors) < 2:
        raise PerplexError(f"a PCA map needs at least 2 words (with non-zero vectors), got {len(vectors)}")
    if not np.ptp(vectors, axis=0).any():  # no variance: every principal direction is arbitrary
        raise PerplexError(f"the {len(vectors)} words to draw all have the same direction: a PCA map of them "
                           "would be one point")
    return PCA(n_components=2, random_state=0).fit_transform(vectors)


def plot_words(kv, path: str | os.PathLike, words: Sequence[str] | None = None, top: int = 80,
               title: str | None = None) -> list[str]:
    """Draw the chosen words at their PCA coordinates (of the unit vectors) into a PNG file.

    Returns
    -------
    list of str: the words drawn.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = pick_words(kv, words, top)
    unit = unit_vectors(kv)
    xy = pca_2d(unit[[kv.key_to_index[w] for w in chosen]])
    fig, ax = plt.subplots(figsize=(10, 8), dpi=120)
    ax.scatter(xy[:, 0], xy[:, 1], s=8, color="tab:blue")
    for (x, y), w in zip(xy, chosen):
        ax.annotate(w, (x, y), fontsize=8, xytext=(2, 2), textcoords="offset points")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(title or f"PCA of {len(chosen)} word vectors")
    fig.tight_layout()
    with atomic_write(path, "wb") as out:
        fig.savefig(out, format="png")
    plt.close(fig)
    return chosen
