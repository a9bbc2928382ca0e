"""Interpolated Kneser-Ney, with one discount per order or modified (three per order).

The estimator follows Chen & Goodman (1998) as KenLM's ``lmplz`` implements it,
stage by stage:

1. adjusted counts a(.): the raw count for the highest order and for n-grams
   that start with ``<s>`` (nothing can precede them); otherwise the number of
   distinct words seen to the left, N1+(. w) (the continuation count);
2. discounts per order from the count-of-counts n_k of the adjusted counts
   (Chen & Goodman eq. 26): Y = n1 / (n1 + 2 n2), D_k = k - (k + 1) Y n_(k+1) / n_k
   for k = 1, 2, 3+ (modified) or D = Y (one discount, Ney et al. 1994);
3. u(w | h) = (a(h w) - D(a(h w))) / sum_x a(h x), and the interpolation weight
   gamma(h) = sum_x D(a(h x)) / sum_x a(h x);
4. p(w | h) = u(w | h) + gamma(h) p(w | h'), down to the uniform distribution
   1/|V| over the predictable vocabulary (``</s>`` and ``<unk>`` included,
   ``<s>`` excluded).

The result is a :class:`~lm.backoff.BackoffModel`: listed n-grams carry p and
contexts carry gamma as their backoff weight, which is exactly the ARPA form.
"""

from __future__ import annotations

import warnings

import numpy as np

from perplex.corpus.encoded import EncodedCorpus
from perplex.lm.backoff import BackoffModel
from perplex.lm.trie import NgramTrie

# lmplz --discount_fallback defaults: used when the counts cannot give discounts.
FALLBACK_MODIFIED = (0.5, 1.0, 1.5)
FALLBACK_SINGLE = 0.75


class DiscountWarning(UserWarning):
    """The count-of-counts could not give a discount; a fallback was used."""


def adjusted_counts(trie: NgramTrie) -> list[np.ndarray]:
    """a(.) for every order: raw counts at the top order and after ``<s>``,
    left-continuation counts N1+(. w) elsewhere."""
    N = trie.order
    adjusted = [None] * N
    adjusted[N - 1] = trie.counts[N - 1].astype(np.float64)
    for n in range(N - 1, 0, -1):
        cont = np.bincount(trie.suffix(n + 1), minlength=trie.size(n)).astype(np.float64)
        starts_bos = trie.first_word(n) == trie.bos_id
        adjusted[n - 1] = np.where(starts_bos, trie.counts[n - 1], cont)
    return adjusted


def count_of_counts(a: np.ndarray) -> np.ndarray:
    """n_k = number of n-grams with adjusted count k, for k = 0..4."""
    small = a[a < 5].astype(np.int64)
    return np.bincount(small, minlength=5)[:5]


def discounts_of(n: np.ndarray, order: int, modified: bool = True) -> tuple[np.ndarray, str | None]:
    """[0, D1, D2, D3+] from an order's count-of-counts ``n`` (:func:`count_of_counts`),
    or the fallback and the reason."""
    if not modified:
        if n[1] == 0:
            return np.array([0.0] + [FALLBACK_SINGLE] * 3), f"no {order}-grams with adjusted count 1"
        d = n[1] / (n[1] + 2.0 * n[2])
        return np.array([0.0, d, d, d]), None
    if np.any(n[1:5] == 0):
        k = int(np.flatnonzero(n[1:5] == 0)[0]) + 1
        reason = f"no {order}-grams with adjusted count {k}"
    else:
        y = n[1] / (n[1] + 2.0 * n[2])
        d = np.array([0.0] + [k - (k + 1) * y * n[k + 1] / n[k] for k in (1, 2, 3)])
        bad = [k for k in (1, 2, 3) if not 0.0 <= d[k] <= k]
        if not bad:
            return d, None
        reason = f"{order}-gram discount D{bad[0]}{'+' if bad[0] == 3 else ''}={d[bad[0]]:.4g} is outside [0, {bad[0]}]"
    return np.array([0.0, *FALLBACK_MODIFIED]), reason


def modified_discounts(a: np.ndarray, order: int) -> tuple[np.ndarray, str | None]:
    """[0, D1, D2, D3+] from the adjusted counts ``a`` of one order, or the fallback and the reason."""
    return discounts_of(count_of_counts(a), order, modified=True)


def single_discount(a: np.ndarray, order: int) -> tuple[np.ndarray, str | None]:
    """[0, D, D, D] with D = n1 / (n1 + 2 n2), or the fallback and the reason."""
    return discounts_of(count_of_counts(a), order, modified=False)


def choose_discounts(count_of_counts_per_order: list, modified: bool) -> tuple[list, list]:
    """Every order's discounts from its count-of-counts, and the fallbacks used
    (warned as one :class:`DiscountWarning`, readable even for a 50-gram)."""
    discounts, fallbacks = [], []
    for n, counts in enumerate(count_of_counts_per_order, 1):
        d, reason = discounts_of(counts, n, modified)
        discounts.append(d)
        if reason:
            fallbacks.append(f"{reason}: using D1={d[1]:g} D2={d[2]:g} D3+={d[3]:g} for order {n}")
    if fallbacks:
        order = len(count_of_counts_per_order)
        if len(fallbacks) > 3:
            fallbacks = fallbacks[:2] + [f"the same for {len(fallbacks) - 2} more orders up to {order}"]
        warnings.warn(
            "Kneser-Ney discounts could not be estimated from the counts (small or repetitive data?); "
            + "; ".join(fallbacks), DiscountWarning, stacklevel=3,
        )
    return discounts, fallbacks


def discount_values(d: np.ndarray, a: np.ndarray) -> np.ndarray:
    """D(a) for adjusted counts ``a`` (one order's discounts ``d`` = [0, D1, D2, D3+])."""
    return d[np.minimum(a, 3).astype(np.int64)]


def unigram_probs(a1: np.ndarray, d1: np.ndarray, bos_id: int) -> np.ndarray:
    """p(w) = (a(w) - D(a(w))) / sum a + gamma / V: the unigram level, interpolated with the
    uniform distribution over the V predictable words (``a1`` has ``<s>``'s entry, set to 0)."""
    V = len(a1) - 1
    total = a1.sum()
    gamma0 = d1.sum() / total
    p = (a1 - d1) / total + gamma0 / V
    p[bos_id] = 0.0
    return p


def context_weights(parent: np.ndarray, a: np.ndarray, d: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """sum_x a(h x) and gamma(h) = sum_x D(a(h x)) / sum_x a(h x) for contexts 0..size-1
    (``parent``: each n-gram's context; a context with no continuation gets gamma 1)."""
    denom = np.bincount(parent, weights=a, minlength=size)
    mass = np.bincount(parent, weights=d, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        gamma = np.where(denom > 0, mass / denom, 1.0)  # contexts with no continuation back off freely
    return denom, gamma


def interpolate(a: np.ndarray, d: np.ndarray, denom: np.ndarray, gamma: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """p(w | h) = (a(h w) - D) / sum_x a(h x) + gamma(h) p(w | h'), each argument given per n-gram."""
    return (a - d) / denom + gamma * lower


def estimate_kneser_ney(
    corpus: EncodedCorpus, order: int, modified: bool = True, trie: NgramTrie | None = None, progress=None
) -> BackoffModel:
    """Estimate an interpolated (modified) Kneser-Ney model of ``order`` on ``corpus``.

    Parameters
    ----------
    corpus : EncodedCorpus
        Training data; its vocabulary is the model's.
    order : int
        Highest n-gram order (>= 1).
    modified : bool
        Three discounts per order (Chen & Goodman) or one (Kneser & Ney).
    trie : NgramTrie, optional
        Counts already made for this corpus and order.

    Warns
    -----
    DiscountWarning
        When an order's count-of-counts give no valid discount (small or
        repetitive data); the message names the fallback discounts used.
    """
    trie = trie or NgramTrie.count(corpus, order, progress)
    order = trie.order  # counting lowers an order above the longest sentence
    a = adjusted_counts(trie)
    discounts, fallbacks = choose_discounts([count_of_counts(an) for an in a], modified)
    a1 = a[0].copy()
    a1[trie.bos_id] = 0.0  # <s> is never predicted
    probs = [unigram_probs(a1, discount_values(discounts[0], a1), trie.bos_id)]
    gammas = []
    for n in range(2, order + 1):
        parent = trie.parent(n)
        an = a[n - 1]
        dn = discount_values(discounts[n - 1], an)
        denom, gamma = context_weights(parent, an, dn, trie.size(n - 1))
        probs.append(interpolate(an, dn, denom[parent], gamma[parent], probs[n - 2][trie.suffix(n)]))
        gammas.append(gamma)
    with np.errstate(divide="ignore"):
        logp = [np.log10(p) for p in probs]
    logp[0][trie.bos_id] = -99.0  # the ARPA convention for <s>: context only
    logbo = [np.log10(g) for g in gammas]
    model = BackoffModel(corpus.vocab, trie, logp, logbo, model_name(order, modified))
    model.smoothing = "kn" if modified else "ikn"
    model.info = model_info(discounts, fallbacks)
    return model


def model_name(order: int, modified: bool) -> str:
    return f"{'modified Kneser-Ney' if modified else 'Kneser-Ney'} {order}-gram"


def model_info(discounts: list, fallbacks: list) -> dict:
    """What a Kneser-Ney model records of its estimation (saved with it, printed by ``ngram``)."""
    return {"discounts": [d[1:].tolist() for d in discounts], "discount_fallbacks": fallbacks}
