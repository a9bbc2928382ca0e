"""One pass over the text: the vocabulary and the padded id stream, on disk.

Words get a provisional id in order of first appearance while the text is
read (a ``defaultdict`` whose factory is a counter: the lookup runs in C), so
the text is read once (``--train`` may be a pipe).  Once every count is known,
the ids are those of :meth:`perplex.corpus.Vocabulary.build` (decreasing
count, ties by first appearance, ``--min-count``/``--max-vocab`` applied) and
the stream is rewritten with them: ``<s>`` (id V), the sentence's words,
``</s>``, for each sentence, as :class:`perplex.lm.trie.PaddedStream` lays it out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import chain, count
from typing import Iterable

import numpy as np

from perplex.corpus.vocabulary import BOS, EOS, UNK, Vocabulary
from perplex.errors import PerplexError
from perplex.lm.streaming.workspace import Column, Workspace

# Provisional ids in the first pass: 0 and 1 mark <s> and </s>, words are 2 + order of appearance.
_BOS_MARK, _EOS_MARK = 0, 1


@dataclass
class TokenStream:
    """The training text as the n-gram counter reads it.

    Attributes
    ----------
    vocab : Vocabulary
    tokens : Column
        int32 ids, ``<s>`` = V before each sentence, ``</s>`` (0) after it.
    n_tokens, n_sentences : int
        N predicted tokens (words and ``</s>``) and S sentences; ``len(tokens)`` is N + S.
    longest : int
        The longest sentence in tokens, ``</s>`` included.
    """

    vocab: Vocabulary
    tokens: Column
    n_tokens: int
    n_sentences: int
    longest: int

    @property
    def bos_id(self) -> int:
        return len(self.vocab)

    def longest_sentence(self) -> int:
        """As :meth:`perplex.corpus.EncodedCorpus.longest_sentence` (the order cap reads it)."""
        return self.longest


def read_token_stream(blocks: Iterable[list], workspace: Workspace, min_count: int = 1,
                      max_vocab: int | None = None, progress=None) -> TokenStream:
    """Encode sentence blocks (lists of token lists) into a :class:`TokenStream`.

    ``progress`` (a tqdm bar counting tokens) is advanced block by block.
    """
    if min_count < 1:
        raise PerplexError(f"--min-count must be at least 1, got {min_count}")
    if max_vocab is not None and max_vocab < 3:
        raise PerplexError(f"--max-vocab must be at least 3 (</s>, <unk> and one word), got {max_vocab}")
    ids_of = defaultdict(count(2).__next__)
    freq = np.zeros(1024, np.int64)
    provisional = workspace.column("provisional.i32", np.int32)
    n_sentences = n_words = longest = 0
    workspace.stage = "reading the training text"
    for sentences in blocks:
        lengths = np.fromiter(map(len, sentences), np.int64, count=len(sentences))
        words = list(chain.from_iterable(sentences))
        ids = np.fromiter(map(ids_of.__getitem__, words), np.int64, count=len(words))
        del words
        if len(ids_of) + 2 > len(freq):
            freq = np.concatenate([freq, np.zeros(max(len(freq), len(ids_of) + 2 - len(freq)), np.int64)])
        freq += np.bincount(ids, minlength=len(freq))
        provisional.append(_padded(ids, lengths))
        n_sentences += len(lengths)
        n_words += len(ids)
        longest = max(longest, int(lengths.max()) + 1)
        if progress is not None:
            progress.update(len(ids) + len(lengths))
        del sentences  # before the next block is read
    for special in (EOS, BOS):
        if special in ids_of:
            raise PerplexError(f"the text contains the reserved token {special}; remove it or rename it")
    vocab, final = _vocabulary(ids_of, freq[: len(ids_of) + 2], n_sentences, min_count, max_vocab)
    workspace.stage = "numbering the vocabulary"
    tokens = workspace.column("tokens.i32", np.int32)
    for _, chunk in provisional.chunks(1 << 24):
        tokens.append(final[chunk])
    provisional.delete()
    return TokenStream(vocab, tokens, n_words + n_sentences, n_sentences, longest)


def _padded(ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``<s> words </s>`` per sentence, in provisional ids."""
    ends = np.cumsum(lengths + 2)
    out = np.empty(int(ends[-1]) if len(ends) else 0, np.int32)
    starts = ends - lengths - 2
    is_word = np.ones(len(out), bool)
    is_word[starts] = False
    is_word[ends - 1] = False
    out[starts] = _BOS_MARK
    out[ends - 1] = _EOS_MARK
    out[is_word] = ids
    return out


def _vocabulary(ids_of: dict, freq: np.ndarray, n_sentences: int, min_count: int,
                max_vocab: int | None) -> tuple[Vocabulary, np.ndarray]:
    """The vocabulary :meth:`Vocabulary.build` makes from these counts (``ids_of``: word ->
    provisional id, ``freq``: count per provisional id), and the map provisional id -> final
    id (``<s>`` -> V, ``</s>`` -> 0, dropped words -> ``<unk>``)."""
    words = list(ids_of)  # in provisional id order
    counts = freq[2:]
    candidates = np.arange(2, len(words) + 2)
    if UNK in ids_of:  # <unk> in the text is the vocabulary's <unk>, never a ranked word
        candidates = candidates[candidates != ids_of[UNK]]
    ranked = candidates[np.lexsort((candidates, -freq[candidates]))]  # by count, ties by first appearance
    ranked = ranked[freq[ranked] >= min_count]
    if max_vocab is not None:
        ranked = ranked[: max_vocab - 2]
    V = len(ranked) + 2
    final = np.full(len(words) + 2, Vocabulary.unk_id, np.int32)
    final[_BOS_MARK], final[_EOS_MARK] = V, Vocabulary.eos_id
    final[ranked] = np.arange(2, V)
    unk_count = int(counts.sum() - freq[ranked].sum())  # <unk> in the text and every dropped word
    tokens = [EOS, UNK] + [words[i - 2] for i in ranked.tolist()]
    return Vocabulary(tokens, [n_sentences, unk_count] + freq[ranked].tolist()), final
