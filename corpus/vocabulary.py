"""A vocabulary fixed on training data.

Ids follow one rule everywhere in perplex: ``</s>`` is 0, ``<unk>`` is 1, and
the other words follow by decreasing training count (ties by first
appearance), so the ids are ready for a frequency-sorted adaptive softmax.
``<s>`` is context only and never predicted (docs/conventions.md), so it is not a
vocabulary entry; the n-gram models give it the id ``len(vocab)``.

>>> v = Vocabulary.build([["a", "b", "a"], ["c"]], min_count=2)
>>> v.tokens, len(v), v.id("zebra") == v.unk_id
(['</s>', '<unk>', 'a'], 3, True)
"""

from __future__ import annotations

from collections import Counter
from itertools import chain, repeat
from typing import Iterable, Sequence

import numpy as np

from perplex.errors import PerplexError

EOS = "</s>"
UNK = "<unk>"
BOS = "<s>"


class Vocabulary:
    """Token <-> id mapping with counts from the training data.

    Attributes
    ----------
    tokens : list of str
        ``tokens[i]`` is the token with id ``i``.
    counts : numpy.ndarray of int64
        Training count of each token (``</s>`` counts sentences).
    """

    eos_id = 0
    unk_id = 1

    def __init__(self, tokens: Sequence[str], counts: Sequence[int] | None = None):
        tokens = list(tokens)
        if tokens[:2] != [EOS, UNK]:
            raise PerplexError(f"a vocabulary starts with {EOS} and {UNK}, got {tokens[:2]}")
        if BOS in tokens:
            raise PerplexError(f"{BOS} is context only and cannot be a vocabulary word")
        self.tokens = tokens
        self.index = {t: i for i, t in enumerate(tokens)}
        if len(self.index) != len(tokens):
            raise PerplexError("a vocabulary cannot list the same token twice")
        self.counts = np.zeros(len(tokens), np.int64) if counts is None else np.asarray(counts, np.int64)

    @classmethod
    def build(
        cls, sentences: Iterable[Sequence[str]], min_count: int = 1, max_vocab: int | None = None
    ) -> "Vocabulary":
        """Count training sentences and keep the words seen at least ``min_count`` times.

        Parameters
        ----------
        sentences : iterable of token lists
        min_count : int
            Words seen fewer times map to ``<unk>`` (their counts go to ``<unk>``).
        max_vocab : int, optional
            Keep at most this many entries in all, ``</s>`` and ``<unk>`` included.
        """
        if min_count < 1:
            raise PerplexError(f"--min-count must be at least 1, got {min_count}")
        if max_vocab is not None and max_vocab < 3:
            raise PerplexError(f"--max-vocab must be at least 3 (</s>, <unk> and one word), got {max_vocab}")
        sentences = list(sentences)
        counts = Counter(chain.from_iterable(sentences))  # C-accelerated counting
        for special in (EOS, BOS):
            if special in counts:
                raise PerplexError(f"the text contains the reserved token {special}; remove it or rename it")
        unk_count = counts.pop(UNK, 0)
        # most_common sorts by count, ties in first-seen order: deterministic.
        ranked = [(w, c) for w, c in counts.most_common() if c >= min_count]
        if max_vocab is not None:
            ranked = ranked[: max_vocab - 2]
        kept = {w for w, _ in ranked}
        unk_count += sum(c for w, c in counts.items() if w not in kept)
        tokens = [EOS, UNK] + [w for w, _ in ranked]
        freq = [len(sentences), unk_count] + [c for _, c in ranked]
        return cls(tokens, freq)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def id(self, token: str) -> int:
        """The id of ``token``; ``unk_id`` if it is not in the vocabulary."""
        return self.index.get(token, self.unk_id)

    def ids(self, tokens: Sequence[str]) -> np.ndarray:
        """Ids of many tokens as int32, unknown ones as ``unk_id`` (C-level map, no Python loop)."""
        return np.fromiter(map(self.index.get, tokens, repeat(self.unk_id)), np.int32, count=len(tokens))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens)"
