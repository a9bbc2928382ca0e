"""Exact sampling that draws through the model's own structure, many sentences at once.

:mod:`perplex.lm.sampling` builds each whole next-word distribution (|V| numbers
per sentence and word); here a word costs a few binary searches instead:

* A backoff model (Kneser-Ney, ARPA) at a history whose longest listed context
  is c: with probability sum_w p(c w) a listed continuation w of c, drawn in
  proportion to p(c w) (one ``searchsorted`` in the cumulative table of the
  order); otherwise the shorter context c' is drawn from, *excluding the words
  listed after c*, by rejection (a row whose word is listed after c draws again
  from c').  For a normalized model the remaining mass 1 - sum_w p(c w) is
  bo(c) (1 - sum_{w listed} p(w | c')), so rejection gives exactly
  bo(c) p(w | c') to each unlisted w.  The unigram level is a cumulative table
  and ``searchsorted``.  Rows that keep being rejected (a context that lists
  nearly all the words its shorter context likes) are drawn from the exact
  conditional distribution after :data:`MAX_ROUNDS` rounds, so a step always ends.
* An additive model (MLE, add-k): (c(h w) + k) / (c(h) + k |V|) is the mixture
  "a listed continuation of h in proportion to its count" (weight
  c(h) / (c(h) + k |V|)) and "a uniform word" (the rest); h is the whole
  history cut at ``<s>``, as in :mod:`perplex.lm.additive` (no backing off:
  an unseen h gives the uniform word, or an error for MLE).

Each step loops over the model's orders and over rejection rounds, never over
sentences or tokens.  All draws come from one seeded ``numpy`` Generator, so the
same seed gives the same sentences.

An in-memory model precomputes whole-table arrays once (each context's children
range, cumulative weights, suffix links).  An out-of-core one (memory-mapped from a
large file, :attr:`NgramTrie.out_of_core <perplex.lm.trie.NgramTrie>`) gathers the
children of the step's contexts instead and finds the next states by search: it
reads only the pages those touch, at a few times the cost per word, and draws the
same words up to the rounding of the cumulative sums (exactly the same for
additive models, whose weights are integer counts).
"""

from __future__ import annotations

import numpy as np

from perplex.errors import PerplexError
from perplex.lm.additive import AdditiveModel
from perplex.lm.backoff import BackoffModel
from perplex.lm.base import NgramModel, gather_ranges
from perplex.lm.trie import BEFORE_START, UNSEEN

# Rejection rounds before the rows still drawing get an exact conditional draw
# from their whole (|V|-wide) distribution.
MAX_ROUNDS = 32
# Sentences drawn together (per step: a few int64/float64 arrays of this size).
FAST_BATCH = 1 << 18


class _Tables:
    """Per-order CSR views of the trie, whole tables (an in-memory model): children of each
    context, their cumulative weights, the last word of each n-gram."""

    def __init__(self, model: NgramModel, weights: list):
        trie = model.trie
        self.indptr = {}  # n -> for each order-(n-1) context, its children's range in table n
        self.cum = {}  # n -> cumulative weights of table n, with a leading 0
        self.words = {}  # n -> last word of each order-n n-gram
        for n in range(2, model.order + 1):
            self.indptr[n] = trie.search(n, np.arange(trie.size(n - 1) + 1, dtype=np.int64) * trie.radix)
            self.cum[n] = np.concatenate([np.zeros(1, weights[n - 1].dtype), np.cumsum(weights[n - 1])])
            self.words[n] = trie.last_word(n)

    def children(self, n: int, ctx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[lo, hi) of each context's children in table n."""
        return self.indptr[n][ctx], self.indptr[n][ctx + 1]

    def word(self, n: int, entry: np.ndarray) -> np.ndarray:
        return self.words[n][entry]

    def mass(self, n: int, ctx: np.ndarray) -> np.ndarray:
        """Total weight of each context's children."""
        return self.cum[n][self.indptr[n][ctx + 1]] - self.cum[n][self.indptr[n][ctx]]

    def pick(self, n: int, ctx: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The child of each context whose cumulative range holds ``target`` (offset from the range start)."""
        lo, hi = self.children(n, ctx)
        cum = self.cum[n]
        e = np.searchsorted(cum, cum[lo] + target, side="right") - 1
        return np.clip(e, lo, hi - 1)

    def draw(self, n: int, ctx: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For uniform numbers ``u``: whether each row takes a listed child of its context
        (``u`` below the children's mass, at most 1), and the children taken."""
        take = u < np.minimum(self.mass(n, ctx), 1.0)
        return take, self.pick(n, ctx[take], u[take])


class _LocalTables(_Tables):
    """The same queries for an out-of-core model, computed on the children of the contexts
    asked about (gathered per call) instead of whole-table arrays: the cumulative weights
    run over those children only, so a backoff model's draws can differ from the
    whole-table ones where rounding moves a boundary (integer counts give the same draws)."""

    def __init__(self, model: NgramModel, weight):
        self.trie = model.trie
        self.weight = weight  # (n, entries) -> their weights

    def children(self, n: int, ctx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.trie.child_ranges(n, ctx)

    def word(self, n: int, entry: np.ndarray) -> np.ndarray:
        return self.trie.word_of(n, entry)

    def _cumulative(self, n: int, ctx: np.ndarray):
        """Cumulative weights of the distinct contexts' children laid end to end (leading 0),
        and for each row: its children's [start, end) there and their first index in table n."""
        unique, inverse = np.unique(ctx, return_inverse=True)
        lo, hi = self.children(n, unique)
        _, entry = gather_ranges(lo, hi)
        weights = self.weight(n, entry)
        cum = np.concatenate([np.zeros(1, weights.dtype), np.cumsum(weights)])
        end = np.cumsum(hi - lo)
        inverse = inverse.ravel()
        return cum, (end - (hi - lo))[inverse], end[inverse], lo[inverse]

    def mass(self, n: int, ctx: np.ndarray) -> np.ndarray:
        cum, start, end, _ = self._cumulative(n, ctx)
        return cum[end] - cum[start]

    def pick(self, n: int, ctx: np.ndarray, target: np.ndarray) -> np.ndarray:
        cum, start, end, lo = self._cumulative(n, ctx)
        e = np.searchsorted(cum, cum[start] + target, side="right") - 1
        return lo + np.clip(e, start, end - 1) - start

    def draw(self, n: int, ctx: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cum, start, end, lo = self._cumulative(n, ctx)
        take = u < np.minimum(cum[end] - cum[start], 1.0)
        start, end, lo = start[take], end[take], lo[take]
        e = np.searchsorted(cum, cum[start] + u[take], side="right") - 1
        return take, lo + np.clip(e, start, end - 1) - start


class BackoffSampler:
    """Exact next-word draws from a :class:`BackoffModel` (see the module docstring)."""

    def __init__(self, model: BackoffModel):
        self.model = model
        self.order = model.order
        self.V = len(model.vocab)
        self.unigram_cum = np.cumsum(10.0 ** model.logp[0][: self.V])
        if model.trie.out_of_core:
            # Children gathered per draw; no suffix links (they span whole tables): the
            # rejection checks search every listed longer context, and the next state
            # is searched order by order (the same words and states for a closed model).
            self.tables = _LocalTables(model, lambda n, entry: 10.0 ** model.logp[n - 1][entry])
            self.suffix = {}
            self.closed = False
            return
        p, _ = model._linear()
        self.tables = _Tables(model, p)
        # Suffix links (index of an n-gram's last n - 1 words): with them a drawn
        # n-gram gives the whole next state, and when every suffix is listed (any
        # model estimated from counts) a word listed after a context is listed
        # after all its suffixes too, so one rejection check per word suffices.
        self.suffix = {n: model.trie.suffix(n) for n in range(3, self.order + 1)}
        self.closed = all(bool((s >= 0).all()) for s in self.suffix.values())

    def _unigram(self, u: np.ndarray) -> np.ndarray:
        cum = self.unigram_cum
        return np.minimum(np.searchsorted(cum, u * cum[-1], side="right"), self.V - 1)

    def step(self, state: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One word id per row of ``state``, and the states after them."""
        B, order = len(state), self.order
        if order == 1:
            return self._unigram(rng.random(B)), state
        T = self.tables
        # listed[n]: the order-(n-1) context of level n is listed; level 1 (unigram) always is.
        listed = {n: state[:, n - 2] >= 0 for n in range(2, order + 1)}
        # below[:, n]: the highest listed level under n (n = 2 .. order + 1); top = below[:, order + 1].
        below = np.empty((B, order + 2), np.int64)
        below[:, 2] = 1
        for n in range(2, order + 1):
            below[:, n + 1] = np.where(listed[n], n, below[:, n])
        lev = below[:, order + 1].copy()  # the level each row draws at next
        out = np.full(B, -1, np.int64)
        out_level = np.zeros(B, np.int64)  # the level each word came from (0: an exact fallback draw)
        out_entry = np.zeros(B, np.int64)  # its index in that level's table
        pending = np.arange(B)
        rounds = 0
        while len(pending):
            rounds += 1
            cur = lev[pending]
            w = np.full(len(pending), -1, np.int64)
            wl = np.zeros(len(pending), np.int64)  # the level a word was drawn at
            we = np.zeros(len(pending), np.int64)
            if rounds <= MAX_ROUNDS:
                for n in range(order, 1, -1):  # top down: a row that backs off draws again lower
                    sel = np.flatnonzero(cur == n)
                    if not len(sel):
                        continue
                    ctx = state[pending[sel], n - 2]
                    take, e = T.draw(n, ctx, rng.random(len(sel)))
                    t = sel[take]
                    w[t], we[t], wl[t] = T.word(n, e), e, n
                    nt = sel[~take]
                    cur[nt] = below[pending[nt], n]
                sel = np.flatnonzero(wl == 0)  # all at level 1 now
                w[sel] = self._unigram(rng.random(len(sel)))
                wl[sel] = 1
                level = wl
            else:
                level = self._exact(state, pending, cur, w, rng)
                wl = np.zeros(len(pending), np.int64)  # state rebuilt by search below
            # A word drawn at level m must not be listed after any listed context
            # above m (the backoff branches it went through): the first one it is
            # listed in rejects it, and the row draws again under that level.
            ok = np.ones(len(pending), bool)
            todo = np.ones(len(pending), bool)  # not yet known to pass every check
            for k in range(2, order + 1):
                chk = np.flatnonzero(todo & (level < k))
                if not len(chk):
                    continue
                chk = chk[listed[k][pending[chk]]]
                if not len(chk):
                    continue
                rows = pending[chk]
                found = self.model.trie.lookup(k, state[rows, k - 2], w[chk]) >= 0
                rej = chk[found]
                ok[rej] = todo[rej] = False
                lev[pending[rej]] = below[pending[rej], k]
                if self.closed:  # not listed after this context: neither after the longer ones
                    todo[chk] = False
            acc = pending[ok]
            out[acc], out_level[acc], out_entry[acc] = w[ok], wl[ok], we[ok]
            pending = pending[~ok]
            if rounds > MAX_ROUNDS + 1000:  # pragma: no cover - only a broken model gets here
                raise PerplexError(f"{self.model.name}: could not draw a word after {rounds} rounds; the model's "
                                   "probabilities do not add up")
        return out, self._advance(state, out, out_level, out_entry)

    def _advance(self, state, words, level, entry) -> np.ndarray:
        """The next states.  A word drawn at level m >= 2 is the listed m-gram ``entry``: the
        shorter columns follow its suffix links; a longer n-gram is not listed (the checks
        said so), so those columns are UNSEEN (BEFORE_START stays).  Without suffix links
        (a model whose suffixes are not all listed) or for fallback draws: a search per order."""
        if not self.closed:
            return self.model.advance(state, words)
        order = self.order
        new = np.where(state == BEFORE_START, BEFORE_START, UNSEEN)
        new = np.concatenate([words[:, None], new[:, :-1]], axis=1)
        for m in range(2, order + 1):
            sel = np.flatnonzero(level == m)
            if not len(sel):
                continue
            idx = entry[sel]
            for col in range(m - 1, 0, -1):  # column col holds the last col + 1 words
                if col <= order - 2:
                    new[sel, col] = idx
                if col > 1:
                    idx = self.suffix[col + 1][idx]
        slow = np.flatnonzero(level == 0)
        if len(slow):
            new[slow] = self.model.advance(state[slow], words[slow])
        return new

    def _exact(self, state, pending, cur, w, rng) -> np.ndarray:
        """Draw each pending row directly from P(. | level cur) without the words listed at the
        level above (what the rejection loop would produce), as a word of that level."""
        model, order = self.model, self.order
        rows = pending
        trunc = state[rows].copy()
        # Level j uses columns 0 .. j - 2: hide the longer contexts.
        cols = np.arange(order - 1)[None, :]
        trunc[cols >= (cur[:, None] - 1)] = UNSEEN
        probs = model.distributions(trunc)
        # k: the next listed level above cur (the one whose listed words are excluded).
        k = np.full(len(rows), order + 1)
        for n in range(order, 1, -1):
            k = np.where((n > cur) & (state[rows, n - 2] >= 0), n, k)
        for n in range(2, order + 1):
            sel = np.flatnonzero(k == n)
            if len(sel):
                ctx = state[rows[sel], n - 2]
                which, entry = gather_ranges(*self.tables.children(n, ctx))
                probs[sel[which], self.tables.word(n, entry)] = 0.0
        empty = probs.sum(axis=1) <= 0
        if empty.any():  # only rounding left mass outside the listed words: draw among them
            full = state[rows[empty]].copy()
            full[cols >= (k[empty][:, None] - 1)] = UNSEEN
            probs[empty] = model.distributions(full)
        cdf = np.cumsum(probs, axis=1)
        u = rng.random(len(rows))[:, None] * cdf[:, -1:]
        w[:] = np.minimum((cdf < u).sum(axis=1), self.V - 1)
        return np.minimum(k, order)  # checked like a word of level k


class AdditiveSampler:
    """Exact next-word draws from an :class:`AdditiveModel` (MLE, Laplace, add-k)."""

    def __init__(self, model: AdditiveModel):
        self.model = model
        self.order = model.order
        self.V = len(model.vocab)
        self.alpha = model.alpha
        counts = model.trie.counts
        self.tables = (_LocalTables(model, lambda n, entry: counts[n - 1][entry]) if model.trie.out_of_core
                       else _Tables(model, counts))
        self.unigram_cum = np.concatenate([[0], np.cumsum(counts[0][: self.V])])

    def step(self, state: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One word id per row of ``state``, and the states after them."""
        words = self.draw(state, rng)
        return words, self.model.advance(state, words)

    def draw(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        B, V, T = len(state), self.V, self.tables
        u = rng.random(B)
        out = np.empty(B, np.int64)
        if self.order == 1:
            c_h = np.full(B, float(self.unigram_cum[-1]))
        else:
            length = (state != BEFORE_START).sum(axis=1)
            ctx = state[np.arange(B), length - 1]
            c_h = np.zeros(B)
            seen = np.flatnonzero(ctx >= 0)
            for m in np.unique(length[seen]):
                sel = seen[length[seen] == m]
                c_h[sel] = self.model.context_totals(m, ctx[sel])
        den = c_h + self.alpha * V
        if np.any(den <= 0):
            raise PerplexError(f"{self.model.name} gives no probability to any word after this history (MLE after "
                               "an unseen context); try a smoothed model")
        x = u * den  # in [0, c(h)): the listed continuation holding x; above: uniform
        take = x < c_h
        rest = np.flatnonzero(~take)
        out[rest] = np.minimum(((x[rest] - c_h[rest]) / max(self.alpha, 1e-300)).astype(np.int64), V - 1)
        t = np.flatnonzero(take)
        r = np.minimum(np.floor(x[t]), c_h[t] - 1).astype(np.int64)
        if self.order == 1:
            out[t] = np.minimum(np.searchsorted(self.unigram_cum, r, side="right") - 1, V - 1)
        else:
            lt = length[t]
            for m in np.unique(lt):
                sel = t[lt == m]
                e = T.pick(m + 1, ctx[sel], r[lt == m])
                out[sel] = T.word(m + 1, e)
        return out


def fast_sampler(model: NgramModel):
    """The exact structural sampler for ``model``, or None when there is none for its kind."""
    if isinstance(model, BackoffModel):
        return BackoffSampler(model)
    if isinstance(model, AdditiveModel):
        return AdditiveSampler(model)
    return None
