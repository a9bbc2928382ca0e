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

import math
import shutil
from dataclasses import dataclass, field

import numpy as np

from perplex.errors import PerplexError
from perplex.resources import format_bytes
from perplex.lm.streaming.runs import MERGE_BYTES_PER_ENTRY, Table, count_chunk, index_chunk, key_bounds, merge_part
from perplex.lm.streaming.tokens import TokenStream
from perplex.lm.streaming.workspace import Column, Workspace

# Disk a run holds at its peak: per n-gram occurrence of orders 2..N (the distinct ones
# in runs, tables and the estimation's columns; PTB and make_corpus.py text, order 5:
# 20-30) and per position of the padded text (ids, index streams, run numbers).
DISK_BYTES_PER_OCCURRENCE = 32
DISK_BYTES_PER_POSITION = 28
# Peak bytes per stream position while a chunk is counted (ids, indices, depth,
# keys, np.unique's sort, inverse, run fields): the chunk size is a task's budget over this.
BYTES_PER_POSITION = 112


@dataclass
class CountedTables:
    """Every order's table on disk (order 1 in memory: it is dense, V + 1 counts).

    ``parts[n]`` are table n's parts in key order and ``contexts[n][j]`` the range
    [lo, hi) of order n - 1 contexts whose continuations part j holds.
    """

    order: int
    radix: int
    unigram_counts: np.ndarray
    tables: dict = field(default_factory=dict)
    parts: dict = field(default_factory=dict)
    contexts: dict = field(default_factory=dict)

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


def count_ngrams(stream: TokenStream, order: int, workspace: Workspace, budget: int, executor, bar=None) -> CountedTables:
    """Count orders 1..``order`` of ``stream``, each task within ``executor.task_budget(budget)`` bytes.

    ``bar`` (a callable ``bar(description, total)`` returning a tqdm-like bar) shows each order's progress.
    """
    V = len(stream.vocab)
    radix, bos = V + 1, V
    tokens = stream.tokens
    task_budget = executor.task_budget(budget)
    # Chunks as large as a task's budget allows, in a number the workers share evenly.
    n_chunks = math.ceil(len(tokens) / max(task_budget // BYTES_PER_POSITION, 1))
    n_chunks = math.ceil(max(n_chunks, 1) / executor.workers) * executor.workers
    chunks = sentence_chunks(tokens, bos, math.ceil(len(tokens) / n_chunks) + stream.longest + 2)
    unigrams = np.zeros(radix, np.int64)
    occurrences = 0.0  # n-grams of orders 2..order in the text, repeats included
    for a, b in chunks:
        tok = tokens.read(a, b)
        unigrams += np.bincount(tok[tok != bos], minlength=radix)
        s = np.diff(np.append(np.flatnonzero(tok == bos), len(tok))).astype(np.float64)  # <s>, words, </s>
        m = np.minimum(float(order), s)
        occurrences += float(((m - 1) * (2 * s - m) / 2).sum())
    workspace.need = check_disk(workspace, occurrences, len(tokens), order, stream.n_tokens)
    counted = CountedTables(order, radix, unigrams)
    folder = str(workspace.path)
    starts, stops = [a for a, _ in chunks], [b for _, b in chunks]
    K = len(chunks)
    prev = [None] * K  # each chunk's order n - 1 indices (order 1: the ids themselves)
    for n in range(2, order + 1):
        if counted.size(n - 1) * radix >= 2**63:
            raise PerplexError(f"{counted.size(n - 1):,} distinct {n - 1}-grams and {V:,} words are too many for "
                               f"64-bit {n}-gram keys; lower --order or --max-vocab")
        progress = bar(f"counting {n}-grams", len(tokens)) if bar else None
        workspace.stage = f"counting {n}-grams"
        counted_runs = executor.map(count_chunk, [tokens] * K, starts, stops, prev, [n] * K, [radix] * K,
                                    [folder] * K, [f"run{n}.{r}" for r in range(K)], [n < order] * K,
                                    done=lambda r: _advance(progress, workspace, stops[r] - starts[r]))
        runs = [run for run, _ in counted_runs]
        workspace.stage = f"merging the sorted runs of {n}-grams"
        entries = sum(len(run) for run in runs)
        bounds = key_bounds(runs, radix, max(executor.workers, math.ceil(entries * MERGE_BYTES_PER_ENTRY / task_budget)))
        P = len(bounds) - 1
        merged = executor.map(merge_part, [runs] * P, bounds[:-1].tolist(), bounds[1:].tolist(), [folder] * P,
                              [f"table{n}.{j}" for j in range(P)])
        for run in runs:
            run.delete()
        parts = [part for part, _ in merged]
        counted.parts[n], counted.tables[n] = parts, Table.stack(parts)
        context_bounds = (bounds // radix).tolist()
        context_bounds[-1] = counted.size(n - 1)
        counted.contexts[n] = list(zip(context_bounds[:-1], context_bounds[1:]))
        if n < order:
            workspace.stage = f"numbering the {n}-grams of the text"
            offsets = np.cumsum([0] + [len(p) for p in parts])[:-1]
            maps = [[m[r] for _, m in merged] for r in range(K)]
            nxt = executor.map(index_chunk, [tokens] * K, starts, stops, [n] * K, [radix] * K,
                               [inv for _, inv in counted_runs], maps, [offsets] * K, [folder] * K,
                               [f"index{n}.{r}" for r in range(K)])
            for r in range(K):
                counted_runs[r][1].delete()
                if prev[r] is not None:
                    prev[r].delete()
            prev = nxt
        for _, m in merged:
            for _, col in m:
                col.delete()
        if progress is not None:
            progress.close()
    for col in prev:
        if col is not None:
            col.delete()
    return counted


def check_disk(workspace: Workspace, occurrences: float, positions: int, order: int, n_tokens: int) -> float:
    """Refuse a run whose files would not fit in --temp-dir; the estimate (bytes) otherwise."""
    need = DISK_BYTES_PER_OCCURRENCE * occurrences + DISK_BYTES_PER_POSITION * positions
    free = shutil.disk_usage(workspace.path).free + workspace.disk_used()
    if need > free:
        raise PerplexError(f"an order-{order} model of {n_tokens:,} training tokens needs about {format_bytes(need)} "
                           f"in --temp-dir {workspace.temp_dir} for its sorted n-grams, which has {format_bytes(free)} "
                           "free; give --temp-dir a folder on a larger disk, or lower --order")
    return need


def _advance(progress, workspace: Workspace, positions: int) -> None:
    """Move a stage's bar by the positions a task did, with the disk the run holds."""
    if progress is not None:
        progress.update(positions)
        progress.set_postfix_str(f"disk {format_bytes(workspace.disk_used())}")
