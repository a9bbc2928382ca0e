"""Counting every order's n-grams from the on-disk id stream, chunk by chunk.

The tables are exactly those of :meth:`perplex.lm.trie.NgramTrie.count`: an
order-n n-gram is keyed ``parent * (V + 1) + word``, ``parent`` being the
index of its first n - 1 words in table n - 1.  Order by order:

1. each chunk of whole sentences gives the key of the n-gram ending at each
   position (from the stream of order n - 1 indices), and its distinct keys
   with their counts become a sorted run on disk (:mod:`~.runs`);
2. the runs are merged into the order's table;
3. the merge's maps turn each chunk's local numbers into table indices: the
   stream of order-n indices that the next order's keys are built from.

Each table entry also keeps its suffix (the index of its last n - 1 words, the
order n - 1 index at the same position) and whether it starts with ``<s>``:
what Kneser-Ney's continuation counts need, with no search in another table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from perplex.errors import PerplexError
from perplex.lm.streaming.runs import BYTES_PER_ENTRY, Table, merge_runs
from perplex.lm.streaming.tokens import TokenStream
from perplex.lm.streaming.workspace import Column, Workspace, piece
from perplex.lm.trie import BEFORE_START

# Peak bytes per stream position while a chunk is counted (ids, indices, depth,
# keys, np.unique's sort, inverse, run fields): the chunk size is the budget over this.
BYTES_PER_POSITION = 112


@dataclass
class CountedTables:
    """Every order's table on disk (order 1 in memory: it is dense, V + 1 counts)."""

    order: int
    radix: int
    unigram_counts: np.ndarray
    tables: dict = field(default_factory=dict)  # n >= 2 -> Table (keys, counts, suffix, bos)

    def size(self, n: int) -> int:
        return self.radix if n == 1 else len(self.tables[n])


def sentence_chunks(tokens: Column, bos_id: int, size: int) -> list[tuple[int, int]]:
    """[start, stop) ranges of whole sentences of at most ``size`` positions (``size`` must
    exceed the longest sentence with its ``<s>``, so that a sentence always starts within reach)."""
    chunks, start, total = [], 0, len(tokens)
    while start < total:
        stop = start + size
        if stop < total:
            starts = np.flatnonzero(tokens.read(start + 1, stop + 1) == bos_id)
            stop = start + 1 + int(starts[-1])  # the last sentence start in (start, start + size]
        chunks.append((start, min(stop, total)))
        start = stop
    return chunks


def depth_of(tokens: np.ndarray, bos_id: int) -> np.ndarray:
    """Tokens from the sentence's ``<s>`` up to each position (1 at ``<s>``); the chunk starts with ``<s>``."""
    starts = np.flatnonzero(tokens == bos_id)
    lengths = np.diff(np.append(starts, len(tokens)))
    return np.arange(len(tokens)) - np.repeat(starts, lengths) + 1


def count_ngrams(stream: TokenStream, order: int, workspace: Workspace, budget: int, bar=None) -> CountedTables:
    """Count orders 1..``order`` of ``stream`` within about ``budget`` bytes of memory.

    ``bar`` (a callable ``bar(description, total)`` returning a tqdm-like bar) shows each order's progress.
    """
    V = len(stream.vocab)
    radix, bos = V + 1, V
    tokens = stream.tokens
    chunks = sentence_chunks(tokens, bos, max(budget // BYTES_PER_POSITION, stream.longest + 2))
    unigrams = np.zeros(radix, np.int64)
    for a, b in chunks:
        tok = tokens.read(a, b)
        unigrams += np.bincount(tok[tok != bos], minlength=radix)
    counted = CountedTables(order, radix, unigrams)
    prev: Column | None = None  # order n - 1 indices per position (order 1: the ids themselves)
    for n in range(2, order + 1):
        if counted.size(n - 1) * radix >= 2**63:
            raise PerplexError(f"{counted.size(n - 1):,} distinct {n - 1}-grams and {V:,} words are too many for "
                               f"64-bit {n}-gram keys; lower --order or --max-vocab")
        workspace.stage = f"counting {n}-grams"
        progress = bar(f"counting {n}-grams", len(tokens)) if bar else None
        runs, inverses = [], []
        for r, (a, b) in enumerate(chunks):
            tok = tokens.read(a, b).astype(np.int64)
            idx = tok if prev is None else prev.read(a, b)
            depth = depth_of(tok, bos)
            at = np.flatnonzero(depth >= n)
            keys, inverse, counts = np.unique(idx[at - 1] * radix + tok[at], return_inverse=True, return_counts=True)
            where = np.empty(len(keys), np.int64)
            where[inverse] = at  # one occurrence of each n-gram: its suffix and start are those of every one
            run = Table(workspace, f"run{n}.{r}")
            run.append(keys=keys, counts=counts, suffix=idx[where], bos=depth[where] == n)
            runs.append(run)
            if n < order:
                inverses.append(workspace.column(f"inverse{n}.{r}", np.int32))
                inverses[-1].append(inverse.ravel())
            if progress is not None:
                progress.update(b - a)
                progress.set_postfix_str(f"disk {_disk(workspace)}")
        table = Table(workspace, f"table{n}")
        maps = [workspace.column(f"map{n}.{r}", np.int64) for r in range(len(runs))]
        workspace.stage = f"merging the sorted runs of {n}-grams"
        merge_runs(runs, table, maps, piece(budget, 4 * BYTES_PER_ENTRY))
        for run in runs:
            run.delete()
        counted.tables[n] = table
        if n < order:
            nxt = workspace.column(f"index{n}.i64", np.int64)
            for (a, b), m, inv in zip(chunks, maps, inverses):
                depth = depth_of(tokens.read(a, b), bos)
                idx = np.full(b - a, BEFORE_START, np.int64)
                idx[depth >= n] = m.read()[inv.read()]
                nxt.append(idx)
                inv.delete()
            if prev is not None:
                prev.delete()
            prev = nxt
        for m in maps:
            m.delete()
        if progress is not None:
            progress.close()
    if prev is not None:
        prev.delete()
    return counted


def _disk(workspace: Workspace) -> str:
    from perplex.resources import format_bytes

    return format_bytes(workspace.disk_used())
