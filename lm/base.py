"""What every n-gram model shares: the vocabulary, the trie, and the
"state" of a history (KenLM's idea: the indices of its suffixes in each table)."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from perplex.corpus.encoded import EncodedCorpus
from perplex.corpus.vocabulary import Vocabulary
from perplex.eval.protocol import check_vocabulary
from perplex.lm.trie import BEFORE_START, NgramTrie, PaddedStream
from perplex.resources import check_memory


def gather_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flatten the index ranges [lo[k], hi[k]): (which range, index) per element.

    >>> gather_ranges(np.array([5, 0]), np.array([7, 1]))
    (array([0, 0, 1]), array([5, 6, 0]))
    """
    lengths = hi - lo
    which = np.repeat(np.arange(len(lo)), lengths)
    starts = np.cumsum(lengths) - lengths
    return which, np.repeat(lo - starts, lengths) + np.arange(lengths.sum())


# A memory-mapped model scores a long text in parts of this many tokens (what bounds
# the per-token arrays of a part: about 16 bytes per order and token).  Within a part
# each table is read in the order of its entries and its pages unmapped behind the
# reads (:func:`perplex.lm.mapped.take`); after a part, whatever else stays mapped is
# unmapped (:func:`perplex.lm.mapped.release`) once more than MAPPED_RESIDENT_BYTES of
# files are mapped in the process (each fault maps up to 16 pages, or a whole large
# folio of a freshly written or read-ahead file, up to 2 MB).
MAPPED_BATCH_TOKENS = 1 << 18
MAPPED_RESIDENT_BYTES = 128 << 20


def sentence_batches(corpus: EncodedCorpus, tokens: int) -> Iterator[EncodedCorpus]:
    """``corpus`` cut between sentences into parts of about ``tokens`` tokens (a longer
    sentence is a part of its own)."""
    starts = np.searchsorted(corpus.offsets, np.arange(0, corpus.n_tokens, tokens), "right") - 1
    bounds = np.append(np.unique(starts), corpus.n_sentences)
    for a, b in zip(bounds[:-1], bounds[1:]):
        yield corpus.subset(slice(int(a), int(b)))


# Entries gathered at once by :func:`range_sums` (a few arrays of this many int64/float64).
RANGE_CHUNK = 1 << 20


def range_sums(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``values[lo[k]:hi[k]].sum()`` for each k, as float64, reading only those ranges and
    holding about :data:`RANGE_CHUNK` of their entries at a time (exact for integer
    values whose sums stay below 2**53, whatever the order of the additions).

    >>> range_sums(np.array([1, 2, 3, 4]), np.array([0, 3, 2]), np.array([2, 4, 2])).tolist()
    [3.0, 4.0, 0.0]
    """
    lo, hi = np.asarray(lo, np.int64), np.asarray(hi, np.int64)
    lengths = hi - lo
    out = np.zeros(len(lo))
    ends = np.cumsum(lengths)
    start = 0
    while start < len(lo):
        stop = max(start + 1, int(np.searchsorted(ends, ends[start] - lengths[start] + RANGE_CHUNK, "right")))
        if lengths[start] > RANGE_CHUNK:  # one long range, slice by slice
            out[start] = sum(values[a : min(a + RANGE_CHUNK, hi[start])].sum(dtype=np.float64)
                             for a in range(lo[start], hi[start], RANGE_CHUNK))
        else:
            which, entry = gather_ranges(lo[start:stop], hi[start:stop])
            out[start:stop] = np.bincount(which, weights=values[entry], minlength=stop - start)
        start = stop
    return out


class NgramModel:
    """Base class: subclasses define ``_log10_probs`` (of a corpus whose vocabulary is checked) and ``distributions``.

    A *state* is an int64 array of shape (B, order - 1): column ``m - 1`` holds
    the index (in table ``m``) of the last ``m`` tokens of the history, or a
    negative value when that n-gram is unseen (``UNSEEN``) or would reach back
    past ``<s>`` (``BEFORE_START``).
    """

    smoothing = "?"

    def __init__(self, vocab: Vocabulary, trie: NgramTrie, name: str | None = None):
        self.vocab = vocab
        self.trie = trie
        self.order = trie.order
        self.name = name or f"{self.smoothing} {self.order}-gram"
        self.info: dict = {}

    # ------------------------------------------------------------- protocol
    def log10_probs(self, corpus: EncodedCorpus) -> np.ndarray:
        """log10 P of each of the N tokens of ``corpus`` (its ``</s>`` included), float64 (N,).

        A memory-mapped model scores the text part by part and unmaps the pages each
        part touched, so that its resident memory stays small however long the text
        (the same numbers)."""
        check_vocabulary(self, corpus)
        if not self.trie.mapped or corpus.n_tokens <= MAPPED_BATCH_TOKENS:
            return self._log10_probs(corpus)
        parts = []
        for part in sentence_batches(corpus, MAPPED_BATCH_TOKENS):
            parts.append(self._log10_probs(part))
            self.trie.release_pages(MAPPED_RESIDENT_BYTES)
        return np.concatenate(parts)

    def _log10_probs(self, corpus: EncodedCorpus) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def distributions(self, states: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """P(. | history) for each state: float64 array (B, |V|)."""
        raise NotImplementedError

    def next_distributions(self, corpus: EncodedCorpus, batch_size: int = 1024) -> Iterator[np.ndarray]:
        """Yield P(. | context) for every token of ``corpus``, batch by batch (rows sum to 1)."""
        check_vocabulary(self, corpus)
        states = self.corpus_states(corpus)
        for start in range(0, len(states), batch_size):
            yield self.distributions(states[start : start + batch_size])
            self.trie.release_pages(MAPPED_RESIDENT_BYTES)

    # --------------------------------------------------------------- states
    def stream_positions(self, corpus: EncodedCorpus):
        """The padded stream, the per-order indices at every position, and the
        stream positions of the N predicted tokens."""
        # One index array per order over the whole stream, and as much again for
        # the states built from them: refuse a huge order before allocating.
        tokens = corpus.n_tokens + corpus.n_sentences
        check_memory(16.0 * self.order * tokens, f"scoring {corpus.n_tokens:,} tokens with an order-{self.order} model",
                     "score a smaller test set")
        stream = PaddedStream.of(corpus, self.trie.bos_id)
        return stream, self.trie.positions(stream), np.flatnonzero(stream.predicted)

    def corpus_states(self, corpus: EncodedCorpus) -> np.ndarray:
        """The state before each of the N tokens of ``corpus``: shape (N, order - 1)."""
        _, pos, pred = self.stream_positions(corpus)
        if self.order == 1:
            return np.zeros((len(pred), 0), np.int64)
        # The history of the token at stream position p ends at p - 1.
        return np.stack([pos[m - 1][pred - 1] for m in range(1, self.order)], axis=1)

    def initial_state(self, batch: int) -> np.ndarray:
        """The state right after ``<s>``."""
        state = np.full((batch, max(self.order - 1, 0)), BEFORE_START, np.int64)
        if self.order > 1:
            state[:, 0] = self.trie.bos_id
        return state

    def advance(self, states: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """The states after appending ``tokens`` (one per row) to the histories."""
        new = np.empty_like(states)
        if self.order > 1:
            new[:, 0] = tokens
            for m in range(2, self.order):
                prev = states[:, m - 2]
                found = self.trie.lookup(m, np.maximum(prev, 0), tokens)
                new[:, m - 1] = np.where(prev == BEFORE_START, BEFORE_START, np.where(prev >= 0, found, -1))
        return new

    def __repr__(self) -> str:
        sizes = ", ".join(f"{self.trie.size(n):,}" for n in range(1, self.order + 1))
        return f"<{type(self).__name__} {self.name!r}: n-grams per order {sizes}>"
