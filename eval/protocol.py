"""What a model must offer to be scored: the ``LanguageModel`` protocol."""

from __future__ import annotations

from typing import Iterator, Protocol, runtime_checkable

import numpy as np

from perplex.corpus.encoded import EncodedCorpus
from perplex.corpus.vocabulary import Vocabulary
from perplex.errors import PerplexError


@runtime_checkable
class LanguageModel(Protocol):
    """Anything that scores a corpus token by token.

    Attributes
    ----------
    name : str
        Shown in tables and JSON records.
    vocab : Vocabulary
        The vocabulary the model predicts over; a corpus must be encoded with it.
    """

    name: str
    vocab: Vocabulary

    def log10_probs(self, corpus: EncodedCorpus) -> np.ndarray:
        """log10 P(token | its context) for each of the N tokens of ``corpus``.

        Returns a float64 array of shape (N,), in the order of ``corpus.ids``;
        ``-inf`` where the model gives probability 0.  ``<s>`` is context only.
        """
        ...


@runtime_checkable
class DistributionModel(LanguageModel, Protocol):
    """A model that can also give its whole next-word distribution."""

    def next_distributions(self, corpus: EncodedCorpus, batch_size: int = 1024) -> Iterator[np.ndarray]:
        """Yield arrays of shape (B, |V|): P(. | context) at each token position of
        ``corpus``, in order, batch after batch (rows sum to 1)."""
        ...


def check_vocabulary(model: LanguageModel, corpus: EncodedCorpus) -> None:
    """Refuse to score a corpus encoded with another vocabulary than the model's."""
    if corpus.vocab is not model.vocab and corpus.vocab != model.vocab:
        raise PerplexError(
            f"the data was encoded with a {len(corpus.vocab)}-word vocabulary but model {model.name!r} "
            f"predicts over {len(model.vocab)} words; encode the data with the model's vocabulary"
        )


class UniformModel:
    """P(w | h) = 1/|V|: the reference point (its perplexity is |V|)."""

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab
        self.name = "uniform"

    def log10_probs(self, corpus: EncodedCorpus) -> np.ndarray:
        check_vocabulary(self, corpus)
        return np.full(corpus.n_tokens, -np.log10(len(self.vocab)))

    def next_distributions(self, corpus: EncodedCorpus, batch_size: int = 1024) -> Iterator[np.ndarray]:
        for start in range(0, corpus.n_tokens, batch_size):
            rows = min(batch_size, corpus.n_tokens - start)
            yield np.full((rows, len(self.vocab)), 1.0 / len(self.vocab))
