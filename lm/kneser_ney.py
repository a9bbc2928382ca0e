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


def modified_discounts(a: np.ndarray, order: int) -> tuple[np.ndarray, str | None]:
    """[0, D1, D2, D3+] from the count-of-counts, or the fallback and the reason."""
    n = count_of_counts(a)
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


def single_discount(a: np.ndarray, order: int) -> tuple[np.ndarray, str | None]:
    """[0, D, D, D] with D = n1 / (n1 + 2 n2), or the fallback and the reason."""
    n = count_of_counts(a)
    if n[1] == 0:
        return np.array([0.0] + [FALLBACK_SINGLE] * 3), f"no {order}-grams with adjusted count 1"
    d = n[1] / (n[1] + 2.0 * n[2])
    return np.array([0.0, d, d, d]), None


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
    V = len(corpus.vocab)
    a = adjusted_counts(trie)
    discount_fn = modified_discounts if modified else single_discount
    discounts, fallbacks = [], []
    for n in range(1, order + 1):
        d, reason = discount_fn(a[n - 1], n)
        discounts.append(d)
        if reason:
            fallbacks.append(f"{reason}: using D1={d[1]:g} D2={d[2]:g} D3+={d[3]:g} for order {n}")
    if fallbacks:
        if len(fallbacks) > 3:  # one readable line even for a 50-gram on a small file
            fallbacks = fallbacks[:2] + [f"the same for {len(fallbacks) - 2} more orders up to {order}"]
        warnings.warn(
            "Kneser-Ney discounts could not be estimated from the counts (small or repetitive data?); "
            + "; ".join(fallbacks), DiscountWarning, stacklevel=2,
        )

    def discount_of(n: int, counts: np.ndarray) -> np.ndarray:
        return discounts[n - 1][np.minimum(counts, 3).astype(np.int64)]

    # Unigrams: interpolate with the uniform distribution over the V predictable words.
    a1 = a[0].copy()
    a1[trie.bos_id] = 0.0  # <s> is never predicted
    d1 = discount_of(1, a1)
    total = a1.sum()
    gamma0 = d1.sum() / total
    p = (a1 - d1) / total + gamma0 / V
    p[trie.bos_id] = 0.0
    probs = [p]
    gammas = []
    for n in range(2, order + 1):
        parent = trie.parent(n)
        an = a[n - 1]
        dn = discount_of(n, an)
        denom = np.bincount(parent, weights=an, minlength=trie.size(n - 1))
        mass = np.bincount(parent, weights=dn, minlength=trie.size(n - 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            gamma = np.where(denom > 0, mass / denom, 1.0)  # contexts with no continuation back off freely
        u = (an - dn) / denom[parent]
        probs.append(u + gamma[parent] * probs[n - 2][trie.suffix(n)])
        gammas.append(gamma)
    with np.errstate(divide="ignore"):
        logp = [np.log10(p) for p in probs]
    logp[0][trie.bos_id] = -99.0  # the ARPA convention for <s>: context only
    logbo = [np.log10(g) for g in gammas]
    name = f"{'modified Kneser-Ney' if modified else 'Kneser-Ney'} {order}-gram"
    model = BackoffModel(corpus.vocab, trie, logp, logbo, name)
    model.smoothing = "kn" if modified else "ikn"
    model.info = {
        "discounts": [d[1:].tolist() for d in discounts],
        "discount_fallbacks": fallbacks,
    }
    return model
