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
from perplex.lm.sampling import sample_sentences
from perplex.lm.storage import load_model, save_model
from perplex.lm.trie import NgramTrie
from perplex.errors import PerplexError

# --smoothing names; "kn" is modified Kneser-Ney (what KenLM's lmplz estimates).
SMOOTHINGS = {
    "mle": "maximum likelihood: unseen events get probability 0",
    "laplace": "add-one (Laplace)",
    "addk": "add-k / Lidstone with --alpha K",
    "kn": "interpolated modified Kneser-Ney (Chen & Goodman; KenLM lmplz)",
    "mkn": "the same as kn",
    "ikn": "interpolated Kneser-Ney with one discount per order",
}


def train(corpus: EncodedCorpus, smoothing: str = "kn", order: int = 3, alpha: float | None = None,
          progress=None) -> NgramModel:
    """Estimate an n-gram model on ``corpus``.

    Parameters
    ----------
    smoothing : str
        One of :data:`SMOOTHINGS`.
    order : int
        Highest n-gram order, at least 1.
    alpha : float, optional
        The k of add-k (only for ``addk``; default 0.01).
    """
    if smoothing not in SMOOTHINGS:
        raise PerplexError(f"unknown smoothing {smoothing!r}; choose one of {', '.join(SMOOTHINGS)}")
    if not isinstance(order, int) or order < 1:
        raise PerplexError(f"the order must be a whole number >= 1, got {order!r}")
    if alpha is not None and smoothing != "addk":
        raise PerplexError(f"--alpha applies to --smoothing addk only (got --smoothing {smoothing})")
    trie = NgramTrie.count(corpus, order, progress)
    if smoothing in ("kn", "mkn", "ikn"):
        return estimate_kneser_ney(corpus, order, modified=smoothing != "ikn", trie=trie)
    k = {"mle": 0.0, "laplace": 1.0}.get(smoothing, 0.01 if alpha is None else alpha)
    if smoothing == "addk" and k <= 0:
        raise PerplexError(f"--alpha must be > 0 for add-k (0 would be MLE), got {k}")
    return AdditiveModel(corpus.vocab, trie, k)


__all__ = [
    "SMOOTHINGS", "train", "NgramModel", "BackoffModel", "AdditiveModel", "NgramTrie",
    "estimate_kneser_ney", "DiscountWarning", "read_arpa", "write_arpa", "save_model", "load_model",
    "sample_sentences",
]
