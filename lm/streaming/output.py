"""The ARPA file, formatted by the workers part by part, in place.

Formatting numbers and words is the costly part of writing an ARPA file (about a
million lines a second per process), so each part of each order's table is a task.
A first round of tasks measures each part's bytes (the lengths of its numbers' text
and of its words, :func:`perplex.lm.arpa.arpa_line_lengths`, no text made), which
places every part in the file; then each task formats its part straight into its
place, while this process writes only the header and the section heads.  The file is
written once, by the workers: nothing is copied.  A gzipped file cannot be written in
place: there each task formats its part into a file of its own, which this process
compresses in order (:func:`perplex.lm.arpa.write_arpa_sections`).  Either way the
bytes are the in-memory writer's.  The words of a piece of table n come from
contiguous ranges of the lower tables, keys being sorted by context.
"""

from __future__ import annotations

import contextlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from perplex.errors import PerplexError
from perplex.fileio import atomic_path, reserve
from perplex.lm.arpa import ARPA_END, TokenBytes, arpa_header, arpa_line_lengths, arpa_lines, section_head, \
    write_arpa_sections
from perplex.lm.npz_placed import write_range
from perplex.lm.streaming.executor import InBackground, unreachable
from perplex.lm.streaming.workspace import Stacked

ROWS_PER_PIECE = 200_000


@contextlib.contextmanager
def arpa_file_written(path, counts: list[int], columns: dict, vocabulary: list[str], radix: int, order: int,
                      workspace, executor) -> Iterator[Callable[[], None]]:
    """Context: ``executor``'s tasks write the ARPA file of the estimated ``columns`` at ``path``
    in the background.  It yields ``finish()``, which returns once the lines are written (for a
    gzipped file, this process compresses them meanwhile); on exit the file is in place."""
    vocab_file = workspace.path / "vocabulary.txt"
    vocab_file.write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    jobs = _jobs(columns, radix, order)
    shared = [[{k: v for k, v in columns.items() if _needed(k, n, order)} for n, _, _ in jobs],
              [str(vocab_file)] * len(jobs), [radix] * len(jobs), [order] * len(jobs), *zip(*jobs)]
    if str(path).endswith(".gz"):
        with _appended(path, counts, jobs, shared, workspace, executor) as finish:
            yield finish
        return
    workspace.stage = "sizing the ARPA lines"
    sizes = executor.map(part_bytes, *shared)
    offsets, fixed, total = _layout(counts, [n for n, _, _ in jobs], sizes)
    with atomic_path(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY)
        try:
            reserve(fd, total)
            for at, text in fixed:
                os.pwrite(fd, text, at)
        finally:
            os.close(fd)
        formatting = InBackground(executor, arpa_part, *shared, [tmp] * len(jobs), offsets, sizes)

        def finish() -> None:
            workspace.stage = "formatting the ARPA lines"
            formatting.results()

        yield finish
        finish()  # (a no-op when the body has)


def _jobs(columns: dict, radix: int, order: int) -> list[tuple[int, int, int]]:
    """(n, start, stop): the entries of table n a task formats, the parts of the on-disk tables."""
    jobs = [(1, 0, radix)]
    for n in range(2, order + 1):
        keys = columns[f"keys{n}"]
        offsets = keys.offsets if isinstance(keys, Stacked) else [0, len(keys)]
        jobs += [(n, int(a), int(b)) for a, b in zip(offsets[:-1], offsets[1:])]
    return jobs


def _layout(counts: list[int], orders: list[int], sizes: list[int]) -> tuple[list[int], list, int]:
    """Each job's byte offset in the file (``orders[k]``: job k's order, the jobs in file order),
    the fixed texts (header, section heads, end) with their offsets, and the file's size."""
    fixed, offsets = [(0, arpa_header(counts))], []
    at = len(fixed[0][1])
    for n in range(1, len(counts) + 1):  # every section has its head, even one without a job
        fixed.append((at, section_head(n)))
        at += len(fixed[-1][1])
        for m, size in zip(orders, sizes):
            if m == n:
                offsets.append(at)
                at += size
    fixed.append((at, ARPA_END))
    return offsets, fixed, at + len(ARPA_END)


def _needed(name: str, n: int, order: int) -> bool:
    """Whether the order-n lines read the column ``name`` (its probabilities, backoffs and the keys below)."""
    kind, m = name.rstrip("0123456789"), int(name[len(name.rstrip("0123456789")):])
    return (kind == "logp" and m == n) or (kind == "logbo" and m == n < order) or (kind == "keys" and 2 <= m <= n)


@lru_cache(maxsize=2)
def _tokens(vocab_file: str) -> TokenBytes:
    return TokenBytes(Path(vocab_file).read_text(encoding="utf-8").split("\n")[:-1])


def _pieces(columns: dict, radix: int, order: int, n: int, start: int, stop: int):
    """(log10 p, word ids, log10 backoff or None) of table n's entries start:stop, piece by piece."""
    logbo = columns.get(f"logbo{n}") if n < order else None
    for lo in range(start, stop, ROWS_PER_PIECE):
        hi = min(lo + ROWS_PER_PIECE, stop)
        ids = np.arange(lo, hi)[:, None] if n == 1 else ngram_ids(columns, radix, n, columns[f"keys{n}"].read(lo, hi))
        yield _read(columns[f"logp{n}"], lo, hi), ids, None if logbo is None else _read(logbo, lo, hi)


def part_bytes(columns: dict, vocab_file: str, radix: int, order: int, n: int, start: int, stop: int) -> int:
    """Task: the bytes of the ARPA lines of table n's entries ``start:stop``."""
    tokens = _tokens(vocab_file)
    return sum(int(arpa_line_lengths(logp, tokens.joined_length(ids), logbo).sum())
               for logp, ids, logbo in _pieces(columns, radix, order, n, start, stop))


def arpa_part(columns: dict, vocab_file: str, radix: int, order: int, n: int, start: int, stop: int, out: str,
              offset: int | None = None, size: int | None = None) -> int:
    """Task: the ARPA lines of table n's entries ``start:stop`` into the file ``out``: a new
    file, or from byte ``offset`` of an existing one, where they must take ``size`` bytes."""
    tokens = _tokens(vocab_file)
    lines = (arpa_lines(logp, ids, tokens, logbo) for logp, ids, logbo in _pieces(columns, radix, order, n, start, stop))
    if offset is None:
        with open(out, "wb") as f:
            return sum(f.write(text) for text in lines)
    try:
        _, written = write_range(out, offset, (np.frombuffer(text, np.uint8) for text in lines), checksum=False)
    except FileNotFoundError:
        raise PerplexError(unreachable(out)) from None
    if written != size:  # the sizing and the formatting disagree: never leave a file with a gap or overlap
        raise PerplexError(f"internal error: the ARPA lines of {n}-grams {start}:{stop} took {written} bytes, "
                           f"{size} were placed")
    return written


@contextlib.contextmanager
def _appended(path, counts: list[int], jobs: list, shared: list, workspace, executor) -> Iterator[Callable[[], None]]:
    """The gzipped file: the tasks format the parts into files, which ``finish`` compresses in order."""
    names = [str(workspace.path / f"arpa{n}.{k}.txt") for k, (n, _, _) in enumerate(jobs)]
    formatting = InBackground(executor, arpa_part, *shared, names)
    files: dict = {n: [] for n in range(1, len(counts) + 1)}
    for k, ((n, _, _), name) in enumerate(zip(jobs, names)):
        files[n].append((k, Path(name)))

    def section(n: int):
        """The files of a section as their tasks finish, each removed once appended (when the
        writer asks for the next): the disk holds the lines about once."""
        for task, f in files[n]:
            if not formatting.ready(task):
                workspace.stage = "formatting the ARPA lines"
                formatting.wait(task)
            workspace.stage = "writing the ARPA file"
            yield f
            f.unlink()

    yield lambda: write_arpa_sections(path, counts, section)
    formatting.results()


def _read(values, start: int, stop: int) -> np.ndarray:
    return values[start:stop] if isinstance(values, np.ndarray) else values.read(start, stop)


def ngram_ids(columns: dict, radix: int, n: int, keys: np.ndarray) -> np.ndarray:
    """Word ids (k, n) of order-n keys, walking down the contexts' tables."""
    words = [keys % radix]
    parent = keys // radix
    for m in range(n - 1, 1, -1):
        lo = int(parent[0])  # parents are sorted: one contiguous range of table m
        lower = columns[f"keys{m}"].read(lo, int(parent[-1]) + 1)[parent - lo]
        words.append(lower % radix)
        parent = lower // radix
    words.append(parent)
    return np.stack(words[::-1], axis=1)
