"""Maximum likelihood and additive (Laplace, Lidstone / add-k) n-gram models.

p(w | h) = (c(h w) + alpha) / (c(h) + alpha |V|)

with h the previous ``order - 1`` tokens, cut at the sentence's ``<s>`` (the
first word of a sentence is predicted from ``<s>`` alone), c(h) = sum_x c(h x),
and |V| the predictable vocabulary (``</s>`` and ``<unk>`` included).
alpha = 1 is Laplace, 0 < alpha is Lidstone, alpha = 0 is MLE.

MLE gives unseen events probability 0 (the evaluation counts them and reports
an infinite perplexity) and has no distribution at all after an unseen
history: there every word gets 0, as in NLTK's ``MLE``.
"""

from __future__ import annotations

import numpy as np

from perplex.corpus.encoded import EncodedCorpus
from perplex.corpus.vocabulary import Vocabulary
from perplex.lm.base import NgramModel, gather_ranges, range_sums
from perplex.lm.mapped import take
from perplex.lm.trie import BEFORE_START, NgramTrie
from perplex.errors import PerplexError


class AdditiveModel(NgramModel):
    """Add-alpha smoothing of raw n-gram counts (alpha = 0: MLE)."""

    def __init__(self, vocab: Vocabulary, trie: NgramTrie, alpha: float):
        if not np.isfinite(alpha) or alpha < 0:
            raise PerplexError(f"--alpha must be a number >= 0 (0 is MLE, 1 is Laplace), got {alpha}")
        order = trie.order
        self.alpha = float(alpha)
        self.smoothing = "mle" if alpha == 0 else "laplace" if alpha == 1 else "addk"
        label = {"mle": "MLE", "laplace": "Laplace"}.get(self.smoothing, f"add-{alpha:g}")
        super().__init__(vocab, trie, f"{label} {order}-gram")
        self._context_total: dict[int, np.ndarray] = {}
        self.info = {"alpha": self.alpha}

    def context_totals(self, m: int, ctx: np.ndarray) -> np.ndarray:
        """c(h) = sum_x c(h x), as float64, for the order-``m`` contexts ``ctx`` (indices in
        table m, all >= 0); m = 0 is the empty context (the unigram model), c = N.

        An in-memory trie sums every context's children once (one ``bincount`` over the
        table, cached); an out-of-core one sums the children of the contexts asked about
        (the same numbers: sums of integer counts are exact).
        """
        ctx = np.asarray(ctx, np.int64)
        counts = self.trie.counts
        if m == 0:
            return np.full(ctx.shape, float(counts[0].sum()))
        if not self.trie.out_of_core:
            if m not in self._context_total:
                self._context_total[m] = np.bincount(self.trie.parent(m + 1), weights=counts[m],
                                                     minlength=self.trie.size(m))
            return self._context_total[m][ctx]
        unique, inverse = np.unique(ctx, return_inverse=True)
        lo, hi = self.trie.child_ranges(m + 1, unique)
        return range_sums(counts[m], lo, hi)[inverse.reshape(ctx.shape)]

    def _prob(self, c_hw: np.ndarray, c_h: np.ndarray) -> np.ndarray:
        V = len(self.vocab)
        num = c_hw + self.alpha
        den = c_h + self.alpha * V
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)

    def _log10_probs(self, corpus: EncodedCorpus) -> np.ndarray:
        stream, pos, pred = self.stream_positions(corpus)
        # The n-gram used at each position: the full order, or shorter at sentence start.
        k = np.minimum(stream.depth[pred], self.order)
        c_hw = np.zeros(len(pred))
        c_h = np.zeros(len(pred))
        for n in np.unique(k):
            sel = np.flatnonzero(k == n)
            c_hw[sel] = _take(self.trie.counts[n - 1], pos[n - 1][pred[sel]])
            if n == 1:
                c_h[sel] = self.context_totals(0, 0)
            else:
                ctx = pos[n - 2][pred[sel] - 1]
                seen = ctx >= 0  # an unseen context has c(h) = 0
                c_h[sel[seen]] = self.context_totals(n - 1, ctx[seen])
        with np.errstate(divide="ignore"):
            return np.log10(self._prob(c_hw, c_h))

    def distributions(self, states: np.ndarray) -> np.ndarray:
        V = len(self.vocab)
        B = len(states)
        if self.order == 1:
            return np.tile(self._prob(self.trie.counts[0][:V].astype(float), self.context_totals(0, [0])), (B, 1))
        # Longest available context (cut at <s>) and its index; positions share
        # contexts a lot, so build each distinct (length, context) row once.
        length = (states != BEFORE_START).sum(axis=1)
        ctx = states[np.arange(B), length - 1]
        pairs, inverse = np.unique(np.stack([length, ctx], axis=1), axis=0, return_inverse=True)
        if len(pairs) < B:
            return self._rows(pairs[:, 0], pairs[:, 1])[inverse.ravel()]
        return self._rows(length, ctx)

    def _rows(self, length: np.ndarray, ctx: np.ndarray) -> np.ndarray:
        """P(. | the order-``length`` context ``ctx``) for each pair (ctx < 0: unseen)."""
        V = len(self.vocab)
        B = len(ctx)
        groups = [(m, np.flatnonzero((length == m) & (ctx >= 0))) for m in np.unique(length)]
        c_h = np.zeros(B)  # an unseen context has c(h) = 0
        for m, rows in groups:
            c_h[rows] = self.context_totals(m, ctx[rows])
        probs = np.repeat(self._prob(np.zeros(B), c_h)[:, None], V, axis=1)
        for m, rows in groups:
            if len(rows) == 0:
                continue
            lo, hi = self.trie.child_ranges(m + 1, ctx[rows])
            which, entry = gather_ranges(lo, hi)
            r = rows[which]
            probs[r, self.trie.word_of(m + 1, entry)] = self._prob(self.trie.counts[m][entry].astype(float), c_h[r])
        return probs


def _take(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values[index] as floats, 0 where the index is negative (an unseen n-gram or context;
    the table itself may be empty)."""
    out = np.zeros(len(index))
    seen = index >= 0
    out[seen] = take(values, index[seen])
    return out
