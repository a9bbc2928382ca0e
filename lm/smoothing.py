"""The one registry of smoothings: what ``--smoothing`` accepts, how tables name each
estimator, and the function that estimates it from counted n-grams."""

from __future__ import annotations

from dataclasses import dataclass

from perplex.corpus.encoded import EncodedCorpus
from perplex.errors import PerplexError
from perplex.lm.additive import AdditiveModel
from perplex.lm.base import NgramModel
from perplex.lm.kneser_ney import estimate_kneser_ney
from perplex.lm.trie import NgramTrie

DEFAULT_ALPHA = 0.01  # add-k's k when none is given


@dataclass(frozen=True)
class Smoothing:
    """One ``--smoothing`` value.

    Attributes
    ----------
    name : str
        The option value.
    label : str
        How tables name the estimator ("modified Kneser-Ney").
    description : str
        One line for ``--help``.
    backoff : bool
        A backoff model, which an ARPA file can hold (the Kneser-Ney family).
    """

    name: str
    label: str
    description: str
    backoff: bool = False


SMOOTHINGS = {s.name: s for s in [
    Smoothing("mle", "MLE", "maximum likelihood: unseen events get probability 0"),
    Smoothing("laplace", "Laplace (add-1)", "add-one (Laplace)"),
    Smoothing("addk", "add-k", f"add-k / Lidstone with --alpha K (default {DEFAULT_ALPHA:g})"),
    Smoothing("kn", "modified Kneser-Ney", "interpolated modified Kneser-Ney (Chen & Goodman; KenLM's lmplz)", True),
    Smoothing("mkn", "modified Kneser-Ney", "the same as kn", True),
    Smoothing("ikn", "Kneser-Ney (one discount)", "interpolated Kneser-Ney with one discount per order", True),
]}


def resolve(name: str, alpha: float | None = None) -> tuple[Smoothing, float | None]:
    """The registry entry of ``name`` and the k of add-k (None for the others), checked
    before any counting: one-line errors name the choices or the bad ``alpha``."""
    try:
        entry = SMOOTHINGS[name]
    except KeyError:
        raise PerplexError(f"unknown smoothing {name!r}; choose one of {', '.join(SMOOTHINGS)}") from None
    if alpha is not None and entry.name != "addk":
        raise PerplexError(f"--alpha applies to --smoothing addk only (got --smoothing {name})")
    if entry.name != "addk":
        return entry, None
    k = DEFAULT_ALPHA if alpha is None else alpha
    if not k > 0:
        raise PerplexError(f"--alpha must be > 0 for add-k (0 would be MLE), got {k}")
    return entry, k


def estimate(corpus: EncodedCorpus, trie: NgramTrie, name: str, alpha: float | None = None) -> NgramModel:
    """The ``name`` model of the n-grams counted in ``trie`` (from ``corpus``).

    ``alpha`` is add-k's k (only for ``addk``; default :data:`DEFAULT_ALPHA`).
    """
    entry, k = resolve(name, alpha)
    if entry.backoff:
        return estimate_kneser_ney(corpus, trie.order, modified=entry.name != "ikn", trie=trie)
    return AdditiveModel(corpus.vocab, trie, {"mle": 0.0, "laplace": 1.0}.get(entry.name, k))
