"""n-gram storage as sorted integer arrays: one table per order, KenLM's trie in numpy.

Order 1 is dense: the index of a unigram is its word id, and ``<s>`` has id
``V`` (one past the predictable vocabulary), so there are ``V + 1`` unigrams.
An n-gram of order ``n >= 2`` is the pair (index of its first ``n - 1`` words
in table ``n - 1``, last word) folded into one int64 key
``parent * (V + 1) + word``; each table is the sorted array of its keys, so the
children of a context form one contiguous range (a CSR ``indptr``) and a batch
of look-ups is one ``np.searchsorted``.

>>> import numpy as np
>>> from perplex.corpus import Vocabulary, encode
>>> vocab = Vocabulary.build([["a", "b"], ["a", "a"]])
>>> trie = NgramTrie.count(encode([["a", "b"], ["a", "a"]], vocab), order=2)
>>> a, b = vocab.id("a"), vocab.id("b")
>>> found = trie.lookup(2, np.array([a, a]), np.array([b, a]))   # "a b" and "a a"
>>> trie.size(2), trie.counts[1][found].tolist(), trie.ngram_ids(2, found).tolist() == [[a, b], [a, a]]
(5, [1, 1], True)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from perplex.corpus.encoded import EncodedCorpus
from perplex.resources import check_memory

# Index values in position arrays: the n-gram is not in the table, or it would
# reach back past the sentence's <s> (so it cannot exist at all).
UNSEEN = -1
BEFORE_START = -2


@dataclass
class PaddedStream:
    """A corpus with one ``<s>`` before each sentence, as the n-gram models see it.

    Attributes
    ----------
    tokens : int64 array (N + S,)
        ``<s>`` (id V), the sentence's words, ``</s>``, for each sentence.
    depth : int64 array (N + S,)
        Tokens from the sentence's ``<s>`` up to and including this one (1 at ``<s>``).
    predicted : bool array (N + S,)
        False at the ``<s>`` positions; the True positions are, in order, the N
        tokens of the corpus.
    """

    tokens: np.ndarray
    depth: np.ndarray
    predicted: np.ndarray

    @classmethod
    def of(cls, corpus: EncodedCorpus, bos_id: int) -> "PaddedStream":
        lengths = np.diff(corpus.offsets)
        n_sent = len(lengths)
        bos_pos = corpus.offsets[:-1] + np.arange(n_sent)
        total = corpus.n_tokens + n_sent
        tokens = np.empty(total, np.int64)
        predicted = np.ones(total, bool)
        predicted[bos_pos] = False
        tokens[bos_pos] = bos_id
        tokens[predicted] = corpus.ids
        depth = np.arange(total) - np.repeat(bos_pos, lengths + 1) + 1
        return cls(tokens, depth, predicted)


# Peak memory of counting and estimating, per n-gram occurrence of the training
# text (keys, counts, the estimator's per-n-gram arrays; measured on PTB, orders
# 5 and 10: 38 and 57 bytes) and per token of the padded stream (per-order temporaries).
BYTES_PER_OCCURRENCE = 48
BYTES_PER_TOKEN = 64


def longest_ngram(corpus: EncodedCorpus) -> int:
    """The longest n-gram the corpus holds: its longest sentence with ``<s>`` and ``</s>``."""
    return corpus.longest_sentence() + 1


def useful_order(corpus: EncodedCorpus, order: int) -> int:
    """``order``, or :func:`longest_ngram` with a warning when ``order`` is above it.

    Higher orders add no n-gram (their tables are empty), and no probability
    changes: a longer context is never listed, so it backs off (or, for add-k and
    MLE, counts as unseen) exactly as the longest one does.  Capping keeps
    ``--order 10000000`` from building millions of empty tables.
    """
    longest = longest_ngram(corpus)
    if order <= longest:
        return order
    warnings.warn(f"order {order} is above the longest n-gram of the training text ({longest} tokens: its longest "
                  f"sentence with <s> and </s>); a {longest}-gram model has the same probabilities, so that is "
                  "what is built", stacklevel=3)
    return longest


def ngram_occurrences(corpus: EncodedCorpus, order: int) -> float:
    """n-grams of orders 2..``order`` in the corpus, repeats included (a float: it can be huge).

    A sentence of s stream tokens (``<s>``, words, ``</s>``) holds s - n + 1
    n-grams of order n <= s, so sum_{n=2}^{m} (s - n + 1) = (m - 1)(2s - m) / 2
    with m = min(order, s).
    """
    s = np.diff(corpus.offsets).astype(np.float64) + 1
    m = np.minimum(float(order), s)
    return float(((m - 1) * (2 * s - m) / 2).sum())


def check_counting_memory(corpus: EncodedCorpus, order: int) -> None:
    """Refuse (before allocating) an order whose tables would not fit in memory."""
    tokens = corpus.n_tokens + corpus.n_sentences
    need = BYTES_PER_OCCURRENCE * ngram_occurrences(corpus, order) + BYTES_PER_TOKEN * tokens
    check_memory(need, f"an order-{order} n-gram model of {corpus.n_tokens:,} training tokens",
                 "lower --order (or split the text into sentences, one per line)")


class NgramTrie:
    """Sorted key tables for orders 1..N, with raw counts when built from text.

    Attributes
    ----------
    order : int
    vocab_size : int
        V, the predictable words; ``<s>`` is id V and the key radix is V + 1.
    keys : list of int64 arrays
        ``keys[n - 1]`` for order ``n >= 2`` (``keys[0]`` is None: order 1 is dense).
    counts : list of int64 arrays or None
        Raw counts per order (unigram counts have length V + 1, ``<s>`` counts 0).
    """

    def __init__(self, order: int, vocab_size: int, keys: list, counts: list | None = None):
        self.order = order
        self.vocab_size = vocab_size
        self.radix = vocab_size + 1
        self.bos_id = vocab_size
        self.keys = keys
        self.counts = counts
        self._suffix: dict[int, np.ndarray] = {}
        self._parent: dict[int, np.ndarray] = {}
        self._word: dict[int, np.ndarray] = {}

    # ------------------------------------------------------------------ build
    @classmethod
    def count(cls, corpus: EncodedCorpus, order: int, progress=None) -> "NgramTrie":
        """Count every n-gram of orders 1..``order`` in ``corpus`` (one ``<s>`` per sentence).

        Each order is one ``np.unique`` over int64 keys built from the previous
        order's per-position indices: no Python loop over tokens or n-grams.
        An order above :func:`useful_order` is lowered to it (with a warning):
        the tables and the probabilities are the same.
        """
        order = useful_order(corpus, order)
        check_counting_memory(corpus, order)
        V = len(corpus.vocab)
        stream = PaddedStream.of(corpus, V)
        radix = V + 1
        tokens = stream.tokens
        counts = [np.bincount(tokens[stream.predicted], minlength=radix).astype(np.int64)]
        keys: list = [None]
        prev = tokens  # index of the (n-1)-gram ending at each position
        for n in range(2, order + 1):
            valid = np.flatnonzero(stream.depth >= n)
            key = prev[valid - 1] * radix + tokens[valid]
            table, inverse, cnt = np.unique(key, return_inverse=True, return_counts=True)
            keys.append(table)
            counts.append(cnt.astype(np.int64))
            idx = np.full(len(tokens), BEFORE_START, np.int64)
            idx[valid] = inverse
            prev = idx
            if progress is not None:
                progress.update(1)
        return cls(order, V, keys, counts)

    # ---------------------------------------------------------------- queries
    def size(self, n: int) -> int:
        """Number of n-grams of order ``n`` (order 1: V + 1, ``<s>`` included)."""
        return self.radix if n == 1 else len(self.keys[n - 1])

    def parent(self, n: int) -> np.ndarray:
        """Index in table ``n - 1`` of each order-``n`` n-gram's first ``n - 1`` words (cached)."""
        if n not in self._parent:
            self._parent[n] = self.keys[n - 1] // self.radix
        return self._parent[n]

    def last_word(self, n: int) -> np.ndarray:
        """Last word id of each order-``n`` n-gram (cached)."""
        if n not in self._word:
            self._word[n] = self.keys[n - 1] % self.radix if n > 1 else np.arange(self.radix)
        return self._word[n]

    def suffix(self, n: int) -> np.ndarray:
        """Index in table ``n - 1`` of each order-``n`` n-gram's last ``n - 1`` words."""
        # Bottom-up from the highest cached order (a loop, not recursion: orders
        # can run into the thousands): suffix(w1..wn) = (suffix of the parent w1..w(n-1), then wn).
        m = max([k for k in self._suffix if k <= n], default=1)
        for k in range(m + 1, n + 1):
            if k == 2:
                self._suffix[k] = self.last_word(2)
            else:
                self._suffix[k] = self.lookup(k - 1, self._suffix[k - 1][self.parent(k)], self.last_word(k))
        return self._suffix[n]

    def first_word(self, n: int) -> np.ndarray:
        """First word of each order-``n`` n-gram."""
        first = np.arange(self.radix)
        for m in range(2, n + 1):
            first = first[self.parent(m)]
        return first

    def lookup(self, n: int, parent: np.ndarray, word: np.ndarray) -> np.ndarray:
        """Index of the order-``n`` n-gram (``parent`` n-gram, ``word``); ``UNSEEN``
        where absent and where ``parent`` is negative (itself absent)."""
        parent = np.asarray(parent, np.int64)
        word = np.asarray(word, np.int64)
        if n == 1:
            return word.copy()
        table = self.keys[n - 1]
        out = np.full(parent.shape, UNSEEN, np.int64)
        ask = np.flatnonzero(parent >= 0)  # an absent parent has no children
        if len(ask) == 0 or len(table) == 0:
            return out
        q = parent[ask] * self.radix + word[ask]
        # Sorted queries let the binary searches reuse each other's bounds and
        # walk the table in memory order: several times faster on big tables.
        order = np.argsort(q)
        pos = np.empty(len(q), np.int64)
        pos[order] = np.searchsorted(table, q[order])
        pos = np.minimum(pos, len(table) - 1)
        hit = table[pos] == q
        out[ask[hit]] = pos[hit]
        return out

    def index(self, words: np.ndarray) -> np.ndarray:
        """Index of each row of ``words`` (k, n), an n-gram, in table n; ``UNSEEN`` where not listed."""
        idx = np.array(words[:, 0], np.int64)
        for c in range(1, words.shape[1]):
            idx = self.lookup(c + 1, idx, words[:, c])
        return idx

    def child_ranges(self, n: int, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[lo, hi) ranges in table ``n`` of the children of the given order-``n - 1`` indices."""
        table = self.keys[n - 1]
        parent = np.asarray(parent, np.int64)
        lo = np.searchsorted(table, parent * self.radix)
        hi = np.searchsorted(table, (parent + 1) * self.radix)
        return lo, hi

    def positions(self, stream: PaddedStream) -> list[np.ndarray]:
        """For each order n, the index of the n-gram ending at every stream position.

        ``UNSEEN`` where that n-gram is not in the table, ``BEFORE_START`` where
        it would reach past the sentence's ``<s>``.
        """
        tokens = stream.tokens
        out = [tokens.copy()]
        for n in range(2, self.order + 1):
            idx = np.full(len(tokens), BEFORE_START, np.int64)
            valid = np.flatnonzero(stream.depth >= n)
            idx[valid] = self.lookup(n, out[-1][valid - 1], tokens[valid])
            out.append(idx)
        return out

    def ngram_ids(self, n: int, index=None) -> np.ndarray:
        """Word ids of order-``n`` n-grams as an int64 array of shape (k, n).

        ``index`` selects n-grams (default: all of the table, in table order).
        """
        index = np.arange(self.size(n)) if index is None else np.atleast_1d(np.asarray(index, np.int64))
        cols = []
        cur = index
        for m in range(n, 1, -1):
            cols.append(self.last_word(m)[cur])
            cur = self.parent(m)[cur]
        cols.append(cur)  # order-1 index is the word id
        return np.stack(cols[::-1], axis=1)
