"""The backoff form of an n-gram model, as an ARPA file stores it.

p(w | h) = p(h w)                 if the n-gram "h w" is listed,
         = bo(h) * p(w | h')      otherwise (h' drops h's first word; bo = 1
                                  when h itself is not listed).

Interpolated Kneser-Ney is exactly this form once every listed n-gram carries
its interpolated probability and every context its interpolation weight, so
our estimators produce a :class:`BackoffModel`, the ARPA reader produces one,
and both are scored by the same vectorized code.
"""

from __future__ import annotations

import numpy as np

from perplex.corpus.encoded import EncodedCorpus
from perplex.corpus.vocabulary import Vocabulary
from perplex.lm.base import NgramModel, gather_ranges
from perplex.lm.mapped import take
from perplex.lm.trie import NgramTrie


class BackoffModel(NgramModel):
    """Log10 probabilities and backoff weights over an :class:`NgramTrie`.

    Attributes
    ----------
    logp : list of float64 arrays
        ``logp[n - 1][i]`` = log10 p of the i-th order-n n-gram (order 1 has V + 1
        entries; the ``<s>`` entry is never used).
    logbo : list of float64 arrays
        ``logbo[n - 1][i]`` = log10 backoff weight of the i-th order-n n-gram as a
        context, for n < order (0 for n-grams that are never a context).
    """

    smoothing = "backoff"

    def __init__(self, vocab: Vocabulary, trie: NgramTrie, logp: list, logbo: list, name: str | None = None):
        super().__init__(vocab, trie, name)
        self.logp = logp
        self.logbo = logbo

    def _log10_probs(self, corpus: EncodedCorpus) -> np.ndarray:
        """log10 P of each token: longest listed n-gram plus the backoffs of the longer contexts."""
        _, pos, pred = self.stream_positions(corpus)
        result = np.zeros(len(pred))
        done = np.zeros(len(pred), bool)
        for n in range(self.order, 0, -1):
            idx = pos[n - 1][pred]
            hit = ~done & (idx >= 0)
            result[hit] += take(self.logp[n - 1], idx[hit])
            done |= hit
            if n > 1:
                # Not listed at order n: pay the backoff of the length-(n-1) context, if listed.
                ctx = pos[n - 2][pred - 1]
                miss = ~done & (ctx >= 0)
                result[miss] += take(self.logbo[n - 2], ctx[miss])
        return result

    def distributions(self, states: np.ndarray) -> np.ndarray:
        """P(. | history) for each state, shape (B, |V|), built from the unigram
        distribution by scaling with each listed context's backoff and
        overwriting its listed continuations."""
        V = len(self.vocab)
        unigram = 10.0 ** self.logp[0][:V]
        if self.order == 1:
            return np.tile(unigram, (len(states), 1))
        # Order 2 is where contexts (single words) have thousands of continuations
        # and repeat most: build those rows once per distinct previous word.
        prev, inverse = np.unique(states[:, 0], return_inverse=True)
        probs = self._extend(np.tile(unigram, (len(prev), 1)), prev, 2)[inverse.ravel()]
        for n in range(3, self.order + 1):
            probs = self._extend(probs, states[:, n - 2], n)
        return probs

    def _extend(self, probs: np.ndarray, ctx: np.ndarray, n: int) -> np.ndarray:
        """Turn rows of P(. | h') into P(. | h), h being the order-(n-1) context ``ctx``
        (rows whose context is not listed stay as they are).  Only the contexts' own
        entries are read (their backoffs, their children's words and probabilities)."""
        rows = np.flatnonzero(ctx >= 0)
        if len(rows):
            scale = np.ones(len(probs))
            scale[rows] = 10.0 ** self.logbo[n - 2][ctx[rows]]
            probs *= scale[:, None]  # in place, row by row: cheaper than a fancy-indexed update
            lo, hi = self.trie.child_ranges(n, ctx[rows])
            which, entry = gather_ranges(lo, hi)
            probs[rows[which], self.trie.word_of(n, entry)] = 10.0 ** self.logp[n - 1][entry]
        return probs

    def _linear(self) -> tuple[list, list]:
        """Probabilities and backoff weights out of log10, whole tables, computed once: for
        the structural sampler of an in-memory model (the query paths above compute
        ``10 ** logp`` on the entries they gather, the same numbers)."""
        if getattr(self, "_linear_cache", None) is None:
            self._linear_cache = ([10.0**lp for lp in self.logp], [10.0**lb for lb in self.logbo])
        return self._linear_cache
