"""The shape every model consumes: one flat id array plus sentence offsets."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Sequence

import numpy as np

from perplex.corpus.vocabulary import Vocabulary


@dataclass(frozen=True)
class EncodedCorpus:
    """Sentences encoded against a vocabulary.

    Sentence ``i`` is ``ids[offsets[i]:offsets[i + 1]]``: its words, then
    ``</s>`` (id 0).  So ``len(ids)`` is N, the number of predicted tokens of
    docs/conventions.md, and ``ids`` is also the continuous token stream the neural
    models train on.

    Attributes
    ----------
    ids : int32 array, shape (N,)
    offsets : int64 array, shape (S + 1,)
    oov : bool array, shape (N,)
        True where the original word was outside the vocabulary (now ``<unk>``).
    sentence_chars : int64 array, shape (S,)
        Characters of each sentence: its original words joined by single
        spaces, plus one newline (the bits-per-character denominator).
    vocab : Vocabulary
    """

    ids: np.ndarray
    offsets: np.ndarray
    oov: np.ndarray
    sentence_chars: np.ndarray
    vocab: Vocabulary

    @property
    def n_chars(self) -> int:
        return int(self.sentence_chars.sum())

    @property
    def n_sentences(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_tokens(self) -> int:
        return len(self.ids)

    def longest_sentence(self) -> int:
        """Tokens of the longest sentence, its ``</s>`` included (0 without sentences): no
        n-gram, training pair or co-occurrence spans more, since sentences are never crossed."""
        return int(np.diff(self.offsets).max()) if self.n_sentences else 0

    def sentence(self, i: int) -> np.ndarray:
        """Ids of sentence ``i``, ending with ``</s>``."""
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    def sentence_index(self) -> np.ndarray:
        """For every token, the index of its sentence (int64, shape (N,))."""
        return np.repeat(np.arange(self.n_sentences), np.diff(self.offsets))

    def subset(self, sentences: Sequence[int] | slice) -> "EncodedCorpus":
        """A new corpus made of some of the sentences (in the order given)."""
        idx = np.arange(self.n_sentences)[sentences]
        lengths = np.diff(self.offsets)[idx]
        offsets = np.zeros(len(idx) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # Token t of the subset comes from old position start(sentence) + (t - new start).
        take = np.repeat(self.offsets[idx] - offsets[:-1], lengths) + np.arange(offsets[-1])
        return EncodedCorpus(self.ids[take], offsets, self.oov[take], self.sentence_chars[idx], self.vocab)


def encode(sentences: Sequence[Sequence[str]], vocab: Vocabulary) -> EncodedCorpus:
    """Encode token lists against ``vocab``: words then ``</s>`` per sentence.

    The work is done by C-level iterators and numpy (no Python loop per token).
    """
    lengths = np.fromiter(map(len, sentences), np.int64, count=len(sentences))
    words = list(chain.from_iterable(sentences))
    word_ids = vocab.ids(words)
    known = np.fromiter(map(vocab.index.__contains__, words), bool, count=len(words))
    n_words = len(words)
    n = n_words + len(sentences)
    # Position of each sentence's </s> in the flat array.
    offsets = np.zeros(len(sentences) + 1, np.int64)
    np.cumsum(lengths + 1, out=offsets[1:])
    is_eos = np.zeros(n, bool)
    is_eos[offsets[1:] - 1] = True
    ids = np.full(n, vocab.eos_id, np.int32)
    ids[~is_eos] = word_ids
    oov = np.zeros(n, bool)
    oov[~is_eos] = ~known
    # Words joined by single spaces plus a newline: sum(len) + (words - 1) + 1,
    # which is sum(len) + words, or 1 for an empty sentence.
    word_chars = np.fromiter(map(len, words), np.int64, count=n_words)
    sentence_of_word = np.repeat(np.arange(len(sentences)), lengths)
    chars = np.bincount(sentence_of_word, weights=word_chars, minlength=len(sentences)).astype(np.int64)
    chars += np.maximum(lengths, 1)
    return EncodedCorpus(ids, offsets, oov, chars, vocab)
