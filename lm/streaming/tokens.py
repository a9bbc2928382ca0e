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
from pathlib import Path
from typing import Iterable

import numpy as np

from perplex.corpus.vocabulary import BOS, EOS, UNK, Vocabulary
from perplex.errors import PerplexError
from perplex.corpus.stream import check_pieces_hold_text, piece_sentences
from perplex.lm.streaming.workspace import Column, Stacked, Workspace

# Provisional ids in the first pass: 0 and 1 mark <s> and </s>, words are 2 + order of appearance.
_BOS_MARK, _EOS_MARK = 0, 1


@dataclass
class TextPieces:
    """A training text given as byte ranges that tasks read on their own (regular files)."""

    pieces: list  # (path, start, stop), see perplex.corpus.stream.byte_pieces
    lowercase: bool = False

    @property
    def size(self) -> int:
        return sum(stop - start for _, start, stop in self.pieces)


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


class _Numbering:
    """Provisional ids in order of first appearance, counts, sentence figures."""

    def __init__(self):
        self.ids_of = defaultdict(count(2).__next__)
        self.freq = np.zeros(1024, np.int64)
        self.n_sentences = self.n_words = self.longest = 0

    def add(self, ids: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Count provisional ids (``weights``: their counts, when they come counted)."""
        if len(self.ids_of) + 2 > len(self.freq):
            self.freq = np.concatenate([self.freq, np.zeros(max(len(self.freq), len(self.ids_of) + 2 - len(self.freq)),
                                                            np.int64)])
        self.freq += np.bincount(ids, weights, minlength=len(self.freq)).astype(np.int64)

    def encode(self, sentences: list) -> np.ndarray:
        """The padded provisional ids of sentences (``<s> words </s>`` each)."""
        lengths = np.fromiter(map(len, sentences), np.int64, count=len(sentences))
        words = list(chain.from_iterable(sentences))
        ids = np.fromiter(map(self.ids_of.__getitem__, words), np.int64, count=len(words))
        del words
        self.add(ids)
        self.n_sentences += len(lengths)
        self.n_words += len(ids)
        self.longest = max(self.longest, int(lengths.max()) + 1) if len(lengths) else self.longest
        return _padded(ids, lengths)

    def counts(self) -> np.ndarray:
        return self.freq[: len(self.ids_of) + 2]


def _check_options(min_count: int, max_vocab: int | None) -> None:
    if min_count < 1:
        raise PerplexError(f"--min-count must be at least 1, got {min_count}")
    if max_vocab is not None and max_vocab < 3:
        raise PerplexError(f"--max-vocab must be at least 3 (</s>, <unk> and one word), got {max_vocab}")


def read_token_stream(blocks: Iterable[list], workspace: Workspace, min_count: int = 1,
                      max_vocab: int | None = None, progress=None) -> TokenStream:
    """Encode sentence blocks (lists of token lists) into a :class:`TokenStream`, in this process.

    ``progress`` (a tqdm bar counting tokens) is advanced block by block.
    """
    _check_options(min_count, max_vocab)
    numbering = _Numbering()
    provisional = workspace.column("provisional.i32", np.int32)
    workspace.stage = "reading the training text"
    for sentences in blocks:
        provisional.append(numbering.encode(sentences))
        if progress is not None:
            progress.update(sum(map(len, sentences)) + len(sentences))
        del sentences  # before the next block is read
    vocab, final = _final_ids(numbering, min_count, max_vocab)
    workspace.stage = "numbering the vocabulary"
    tokens = workspace.column("tokens.i32", np.int32)
    for _, chunk in provisional.chunks(1 << 24):
        tokens.append(final[chunk])
    provisional.delete()
    return TokenStream(vocab, tokens, numbering.n_words + numbering.n_sentences, numbering.n_sentences,
                       numbering.longest)


def read_token_pieces(text: "TextPieces", workspace: Workspace, executor, min_count: int = 1,
                      max_vocab: int | None = None, progress=None) -> TokenStream:
    """Encode the byte ranges of :func:`perplex.corpus.stream.byte_pieces` into a :class:`TokenStream`,
    one task per piece: each numbers its own words; their numberings are then joined in piece
    order (so first appearances are the text's) and each piece is renumbered by a task.
    ``progress`` (a tqdm bar counting bytes) is advanced piece by piece."""
    _check_options(min_count, max_vocab)
    workspace.stage = "reading the training text"
    folder = str(workspace.path)
    pieces = text.pieces
    K = len(pieces)
    encoded = executor.map(encode_piece, *zip(*pieces), [text.lowercase] * K, [folder] * K,
                           [f"piece{k}.i32" for k in range(K)],
                           done=lambda k: progress.update(pieces[k][2] - pieces[k][1]) if progress is not None else None)
    numbering = _Numbering()
    local_to_global = []
    for words, freq, n_sentences, n_words, longest, _ in encoded:
        ids = np.fromiter(map(numbering.ids_of.__getitem__, words), np.int64, count=len(words))
        numbering.add(ids, freq[2:])
        local_to_global.append(ids)
        numbering.n_sentences += n_sentences
        numbering.n_words += n_words
        numbering.longest = max(numbering.longest, longest)
    check_pieces_hold_text(pieces, [e[3] for e in encoded])
    vocab, final = _final_ids(numbering, min_count, max_vocab)
    workspace.stage = "numbering the vocabulary"
    luts = [np.concatenate([final[:2], final[ids]]) for ids in local_to_global]
    columns = executor.map(renumber_piece, [e[-1] for e in encoded], luts, [folder] * K,
                           [f"tokens{k}.i32" for k in range(K)])
    return TokenStream(vocab, Stacked(columns), numbering.n_words + numbering.n_sentences, numbering.n_sentences,
                       numbering.longest)


def encode_piece(path, start: int, stop: int, lowercase: bool, folder: str, name: str):
    """Task: one piece's words in order of first appearance, their counts, its sentence
    figures and its padded ids in that numbering (a Column)."""
    numbering = _Numbering()
    column = Column.create(Path(folder) / name, np.int32)
    column.append(numbering.encode(piece_sentences(path, start, stop, lowercase)))
    return (list(numbering.ids_of), numbering.counts(), numbering.n_sentences, numbering.n_words,
            numbering.longest, column)


def renumber_piece(column: Column, lut: np.ndarray, folder: str, name: str) -> Column:
    """Task: a piece's ids in the vocabulary's numbering (``lut``: local id -> final id)."""
    out = Column.create(Path(folder) / name, np.int32)
    for _, chunk in column.chunks(1 << 22):
        out.append(lut[chunk])
    column.delete()
    return out


def _final_ids(numbering: _Numbering, min_count: int, max_vocab: int | None):
    for special in (EOS, BOS):
        if special in numbering.ids_of:
            raise PerplexError(f"the text contains the reserved token {special}; remove it or rename it")
    return _vocabulary(numbering.ids_of, numbering.counts(), numbering.n_sentences, min_count, max_vocab)


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
