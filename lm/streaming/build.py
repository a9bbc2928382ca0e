"""The streaming estimator end to end: text -> ids -> counts -> model file (and ARPA).

Every stage works in pieces that fit the memory budget and keeps the rest in
a private folder under ``--temp-dir`` (:class:`~.workspace.Workspace`), which
is removed on every exit.  The model file is written as a stream in the
layout :func:`perplex.lm.save_model` writes, then opened with
:func:`perplex.lm.load_model` for scoring, so the model a caller gets is
read from disk, pages as needed.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from perplex.errors import PerplexError
from perplex.lm.base import NgramModel
from perplex.lm.kneser_ney import model_info, model_name
from perplex.lm.recipe import NgramConfig
from perplex.lm.smoothing import resolve
from perplex.lm.storage import FORMAT, VERSION, load_model
from perplex.lm.streaming.count import count_ngrams
from perplex.lm.streaming.estimate import estimate_streaming_kn
from perplex.lm.streaming.executor import make_executor
from perplex.lm.streaming.model_file import model_file_written
from perplex.lm.streaming.output import arpa_file_written
from perplex.lm.streaming.tokens import TextPieces, read_token_pieces, read_token_stream
from perplex.lm.streaming.workspace import Workspace
from perplex.lm.trie import useful_order

# The smallest --memory the streaming path accepts: a chunk must hold a few
# thousand sentences for sorting in runs to pay, and the merge a block of each run.
MIN_BUDGET = 4 << 20


@dataclass
class StreamingStats:
    """What the streaming build measured: for the notes ``ngram`` prints."""

    n_tokens: int
    order: int
    sizes: list
    info: dict
    where: str = "this process"  # what ran the tasks
    stage_seconds: dict = field(default_factory=dict)  # wall seconds per stage (reading, counting n-grams, ...)


@contextlib.contextmanager
def build_on_disk(text: Iterable[list] | TextPieces, config: NgramConfig, *, budget: int, temp_dir: str | os.PathLike,
                  save: str | os.PathLike | None = None, arpa: str | os.PathLike | None = None,
                  min_count: int = 1, max_vocab: int | None = None, bar=None, workers: int = 1,
                  dask: str | None = None) -> Iterator[tuple[NgramModel, StreamingStats]]:
    """Estimate ``config``'s model within about ``budget`` bytes from ``text``: sentence blocks
    (read here, in order) or :class:`~.tokens.TextPieces` (byte ranges read by the tasks).

    Yields the model (read back from the file written to ``save``, or to the
    workspace when ``save`` is None, which is removed on exit) and its
    :class:`StreamingStats`.  ``bar(description, total, unit)`` makes progress bars.
    The counting, merging and estimating tasks run in this process, in ``workers``
    processes sharing the budget, or on the Dask scheduler at address ``dask``
    (whose workers must reach ``temp_dir``).
    """
    entry, alpha = resolve(config.smoothing, config.alpha)
    workspace = Workspace(temp_dir)
    executor = make_executor(workers, dask)
    # Exits run backwards: the workers stop before their folder is removed.
    with workspace as ws, contextlib.closing(executor), ws.writing():
        if isinstance(text, TextPieces):
            progress = bar("reading the text", text.size, "B") if bar else None
            stream = read_token_pieces(text, ws, executor, min_count, max_vocab, progress)
        else:
            progress = bar("reading the text", None, "tok") if bar else None
            stream = read_token_stream(text, ws, min_count, max_vocab, progress)
        if progress is not None:
            progress.close()
        order = useful_order(stream, config.order)
        counted = count_ngrams(stream, order, ws, budget, executor, bar)
        sizes = [counted.size(n) for n in range(1, order + 1)]
        if entry.backoff:
            modified = entry.name != "ikn"
            columns, discounts, fallbacks = estimate_streaming_kn(counted, ws, budget, executor, modified, bar)
            info = model_info(discounts, fallbacks)
            header = {"kind": "backoff", "name": model_name(order, modified), "smoothing": "kn" if modified else "ikn",
                      "info": info, "alpha": None}
        else:
            alpha = {"mle": 0.0, "laplace": 1.0}.get(entry.name, alpha)
            info = {"alpha": alpha}
            columns = {"counts1": counted.unigram_counts}
            for n in range(2, order + 1):
                columns[f"keys{n}"] = counted.tables[n].columns["keys"]
                columns[f"counts{n}"] = counted.tables[n].columns["counts"]
            header = {"kind": "additive", "name": "", "smoothing": entry.name, "info": info, "alpha": alpha}
        ws.stage = "writing the model"
        path = save if save is not None else ws.path / "model.npz"
        header = {"format": FORMAT, "version": VERSION, "order": order, **header}
        small = {"header": np.array(json.dumps(header)), "vocab": np.array(stream.vocab.tokens),
                 "vocab_counts": stream.vocab.counts}
        names = [f"{kind}{n}" for n in range(1, order + 1) for kind in ("keys", "logp", "logbo", "counts")]
        small.update({name: columns[name] for name in names if isinstance(columns.get(name), np.ndarray)})
        on_disk = {name: columns[name] for name in names if name in columns and name not in small}
        # The workers write the ARPA file, then the model file; this process waits for both.
        arpa_output = (arpa_file_written(arpa, sizes, columns, stream.vocab.tokens, counted.radix, order, ws, executor)
                       if arpa is not None else contextlib.nullcontext(lambda: None))
        with _output(arpa), arpa_output as arpa_written:
            with _output(save), model_file_written(path, small, on_disk, executor):
                with _output(arpa):
                    arpa_written()
                ws.stage = "writing the model"
        ws.stage = "opening the model"
        stats = StreamingStats(stream.n_tokens, order, sizes, info, executor.where, ws.seconds)
        del counted, columns
        model = load_model(path)
        ws.stage = "scoring"
        yield model, stats


@contextlib.contextmanager
def _output(path):
    """A failed write of an output file is one line naming it (not the temp folder; no
    conversion for None, the temp folder's own files)."""
    if path is None:
        yield
        return
    try:
        yield
    except OSError as exc:
        raise PerplexError(f"cannot write {path}: {exc.strerror or exc}") from None


__all__ = ["build_on_disk", "StreamingStats", "MIN_BUDGET"]
