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
from perplex.lm.mapped import WALK_CHUNK, release, resident_file_bytes, take, unmap_entries
from perplex.lm.sorting import unique_counts
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

# Keys of an unaligned (memory-mapped) table kept in memory to start its binary
# searches: at most this many, and no more than the queries of a call (the top
# levels of their binary searches would read as many entries anyway).
FENCE = 4096
# A saved model stores every FENCE_STRIDE-th key of each table (a 4 KB page of int64 keys).
FENCE_STRIDE = 512


def fence_of(keys: np.ndarray, start: int = 0) -> np.ndarray:
    """The keys at the multiples of :data:`FENCE_STRIDE` of a table (``keys`` holding its
    entries from ``start`` on): what a saved model stores beside each table so that a
    memory-mapped table is searched in about one page per query (:meth:`NgramTrie.search`)."""
    return np.array(keys[-start % FENCE_STRIDE :: FENCE_STRIDE], np.int64)


def _bisect(table: np.ndarray, query: np.ndarray, lo: np.ndarray, hi: np.ndarray, side: str) -> np.ndarray:
    """``np.searchsorted(table, query, side)`` for queries whose answer lies in [lo, hi]:
    a binary search of all queries at once, reading only the entries it probes."""
    last = len(table) - 1
    for _ in range(int((hi - lo).max(initial=0)).bit_length()):
        mid = (lo + hi) >> 1
        value = table[np.minimum(mid, last)]
        right = (value < query) if side == "left" else (value <= query)
        active = lo < hi
        lo = np.where(active & right, mid + 1, lo)
        hi = np.where(active & ~right, mid, hi)
    return lo


def _walk_bisect(table: np.ndarray, query: np.ndarray, lo: np.ndarray, hi: np.ndarray, side: str) -> np.ndarray:
    """:func:`_bisect`; on a memory-mapped table, a chunk of :data:`WALK_CHUNK` queries at a
    time in table order, unmapping each chunk's pages once searched (as :func:`take` does)."""
    if not isinstance(table, np.memmap) or query.size == 0:
        return _bisect(table, query, lo, hi, side)
    sort = np.argsort(lo, kind="stable")
    out = np.empty(query.size, np.int64)
    for a in range(0, query.size, WALK_CHUNK):
        part = sort[a : a + WALK_CHUNK]
        out[part] = _bisect(table, query[part], lo[part], hi[part], side)
        unmap_entries(table, int(lo[part[0]]), int(hi[part].max()))
    return out


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
    out_of_core : bool
        True for tables memory-mapped from a file too large to be read whole
        (:func:`perplex.lm.load_model`): nothing may then build an array over a whole
        table.  The query methods (:meth:`lookup`, :meth:`child_ranges`,
        :meth:`positions`, :meth:`index`, the ``*_of`` methods, :meth:`ngram_ids`) never
        do; :meth:`parent`, :meth:`last_word`, :meth:`suffix` and :meth:`first_word`
        build (and cache) whole-table arrays, for the estimators and the full checks of
        in-memory tables.  The models and samplers read this flag to choose their paths.
    """

    def __init__(self, order: int, vocab_size: int, keys: list, counts: list | None = None):
        self.order = order
        self.vocab_size = vocab_size
        self.radix = vocab_size + 1
        self.bos_id = vocab_size
        self.keys = keys
        self.counts = counts
        self.out_of_core = False
        self.mapped: list = []  # the memory-mapped arrays behind this model (perplex.lm.load_model)
        self._suffix: dict[int, np.ndarray] = {}
        self._parent: dict[int, np.ndarray] = {}
        self._word: dict[int, np.ndarray] = {}
        self._fence: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.fences: dict[int, np.ndarray] = {}  # order -> fence_of(keys), set by perplex.lm.load_model

    # ------------------------------------------------------------------ build
    @classmethod
    def count(cls, corpus: EncodedCorpus, order: int, progress=None) -> "NgramTrie":
        """Count every n-gram of orders 1..``order`` in ``corpus`` (one ``<s>`` per sentence).

        Each order is one sort (:func:`~perplex.lm.sorting.unique_counts`) of int64 keys built from the previous
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
            table, inverse, cnt, _ = unique_counts(key)
            keys.append(table)
            counts.append(cnt.astype(np.int64))
            idx = np.full(len(tokens), BEFORE_START, np.int64)
            idx[valid] = inverse
            prev = idx
            if progress is not None:
                progress.update(1)
        return cls(order, V, keys, counts)

    def release_pages(self, above: int = 0) -> None:
        """Unmap the pages of the model's memory-mapped arrays from the process
        (:func:`perplex.lm.mapped.release`) when more than ``above`` bytes of files are
        mapped in its resident memory (or that is unknown); nothing to do for tables in memory."""
        if self.mapped:
            resident = resident_file_bytes()
            if resident is None or resident > above:
                release(self.mapped)

    # ---------------------------------------------------------------- queries
    def size(self, n: int) -> int:
        """Number of n-grams of order ``n`` (order 1: V + 1, ``<s>`` included)."""
        return self.radix if n == 1 else len(self.keys[n - 1])

    # Whole-table arrays (cached): for the estimators and the full checks, which read
    # every n-gram anyway.  Query paths use the per-entry methods below instead.
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

    # Per-entry queries: computed on the entries asked about only, so that a
    # memory-mapped table is read where it is needed (the same numbers as the
    # whole-table arrays above, entry for entry).
    def parent_of(self, n: int, entry: np.ndarray) -> np.ndarray:
        """``parent(n)[entry]``, from those entries' keys only."""
        return self.keys[n - 1][np.asarray(entry, np.int64)] // self.radix

    def word_of(self, n: int, entry: np.ndarray) -> np.ndarray:
        """``last_word(n)[entry]``, from those entries' keys only."""
        entry = np.asarray(entry, np.int64)
        return entry.copy() if n == 1 else self.keys[n - 1][entry] % self.radix

    def suffix_of(self, n: int, entry: np.ndarray) -> np.ndarray:
        """``suffix(n)[entry]``: index in table ``n - 1`` of the last ``n - 1`` words of the
        given order-``n`` n-grams (``UNSEEN`` where not listed), by one search per order."""
        chain = [np.asarray(entry, np.int64)]  # chain[j]: the prefix of order n - j
        for m in range(n, 2, -1):
            chain.append(self.parent_of(m, chain[-1]))
        suffix = self.word_of(2, chain[-1])  # of the order-2 prefixes
        for m in range(3, n + 1):  # suffix(w1..wm) = (suffix of w1..w(m-1), then wm)
            suffix = self.lookup(m - 1, suffix, self.word_of(m, chain[n - m]))
        return suffix

    def search(self, n: int, query: np.ndarray, side: str = "left") -> np.ndarray:
        """``np.searchsorted(keys[n - 1], query, side)``.

        A memory-mapped table with a stored fence (every :data:`FENCE_STRIDE`-th key,
        :func:`fence_of`, held in memory) is searched by a vectorized binary search
        within the block of keys each query falls in: about one page of the file per
        query, where a binary search over the whole table would touch a dozen.  numpy
        copies a haystack that is not aligned (as an ``.npz`` entry memory-mapped at an
        odd offset may be) on every call; such a table is searched the same way after a
        fence of evenly spaced keys (cached; up to :data:`FENCE` of them, as many as the
        queries) has narrowed each query's range.
        """
        table = self.keys[n - 1]
        query = np.asarray(query, np.int64)
        if len(table) == 0 or query.size == 0:
            return np.zeros(query.shape, np.int64)
        if n in self.fences:
            # The answer of a query lies in ((r - 1) * stride, r * stride], r its place among the fence keys.
            r = np.searchsorted(self.fences[n], query, side)
            lo = np.maximum((r - 1) * FENCE_STRIDE + 1, 0)
            return _walk_bisect(table, query, lo, np.minimum(r * FENCE_STRIDE, len(table)), side)
        if table.flags.aligned and table.dtype == np.int64:
            return np.searchsorted(table, query, side)
        want = min(FENCE, len(table), query.size)
        if n not in self._fence or len(self._fence[n][0]) < want:
            at = np.unique(np.linspace(0, len(table) - 1, want).astype(np.int64))
            self._fence[n] = (at, np.array(table[at], np.int64))
        at, fence = self._fence[n]
        # The answer of a query lies in [at[r - 1] + 1, at[r]], r its place among the fence keys.
        r = np.searchsorted(fence, query, side)
        return _bisect(table, query, np.concatenate([[0], at + 1])[r], np.append(at, len(table))[r], side)

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
        pos[order] = self.search(n, q[order])
        pos = np.minimum(pos, len(table) - 1)
        hit = take(table, pos) == q
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
        parent = np.asarray(parent, np.int64)
        lo = self.search(n, parent * self.radix)
        hi = self.search(n, (parent + 1) * self.radix)
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
            cols.append(self.word_of(m, cur))
            cur = self.parent_of(m, cur)
        cols.append(cur)  # order-1 index is the word id
        return np.stack(cols[::-1], axis=1)
