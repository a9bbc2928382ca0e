"""n-gram language models: MLE, Laplace / add-k, Kneser-Ney and modified Kneser-Ney.

A tour on a toy corpus (every model is a :class:`eval.LanguageModel`):

>>> from perplex.corpus import Vocabulary, encode
>>> from perplex.eval import evaluate
>>> from perplex.lm import train
>>> sents = [["the", "cat", "sat"], ["the", "dog", "sat"]]
>>> data = encode(sents, Vocabulary.build(sents))
>>> model = train(data, "kn", order=2)
>>> model.name
'modified Kneser-Ney 2-gram'
>>> round(float(model.distributions(model.initial_state(1)).sum()), 12)
1.0
"""

from __future__ import annotations

from perplex.corpus.encoded import EncodedCorpus
from perplex.lm.additive import AdditiveModel
from perplex.lm.arpa import read_arpa, write_arpa
from perplex.lm.backoff import BackoffModel
from perplex.lm.base import NgramModel
from perplex.lm.kneser_ney import DiscountWarning, estimate_kneser_ney
from perplex.lm.recipe import NgramConfig
from perplex.lm.sampling import sample_sentences
from perplex.lm.smoothing import SMOOTHINGS, Smoothing, estimate
from perplex.lm.storage import load_model, save_model
from perplex.lm.trie import NgramTrie


def train(corpus: EncodedCorpus, smoothing: str = "kn", order: int = 3, alpha: float | None = None,
          progress=None) -> NgramModel:
    """Count the n-grams of ``corpus`` up to ``order`` and estimate an n-gram model.

    Parameters
    ----------
    smoothing : str
        One of :data:`SMOOTHINGS`.
    order : int
        Highest n-gram order, at least 1.
    alpha : float, optional
        The k of add-k (only for ``addk``; default 0.01).
    progress : tqdm bar, optional
        Advanced once per order counted.
    """
    NgramConfig(smoothing, order, alpha)  # bad options fail before any counting
    return estimate(corpus, NgramTrie.count(corpus, order, progress), smoothing, alpha)


__all__ = [
    "SMOOTHINGS", "Smoothing", "estimate", "train", "NgramModel", "BackoffModel", "AdditiveModel", "NgramTrie",
    "estimate_kneser_ney", "DiscountWarning", "read_arpa", "write_arpa", "save_model", "load_model",
    "sample_sentences",
]
