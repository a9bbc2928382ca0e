"""The ARPA file's lines, formatted by the workers part by part.

Formatting numbers and words is the costly part of writing an ARPA file
(about a million lines a second per process), so each part of each order's
table is formatted by a task into a file of its own; the client writes the file
around them (:func:`perplex.lm.arpa.write_arpa_sections`), appending each part as
soon as its task and those before it are done, while the workers go on formatting
(and then write the model file): the same bytes as the in-memory writer's.  The
words of a piece of table n come from contiguous ranges of the lower tables, keys
being sorted by context.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from perplex.lm.arpa import TokenBytes, arpa_lines
from perplex.lm.streaming.workspace import Stacked

ROWS_PER_PIECE = 200_000


def arpa_tasks(columns: dict, vocabulary: list[str], radix: int, order: int, workspace) -> tuple[list, dict]:
    """The arguments of :func:`arpa_part` for one task per part of each table (as iterables for
    an executor's ``map``), and {n: [(task index, file of its lines), ...]} in file order."""
    vocab_file = workspace.path / "vocabulary.txt"
    vocab_file.write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    jobs = []  # (n, start, stop) ranges of table n, the parts of the on-disk tables
    for n in range(1, order + 1):
        if n == 1:
            jobs.append((1, 0, radix))
            continue
        offsets = columns[f"keys{n}"].offsets if isinstance(columns[f"keys{n}"], Stacked) else [0, len(columns[f"keys{n}"])]
        jobs += [(n, int(a), int(b)) for a, b in zip(offsets[:-1], offsets[1:])]
    needed = [{k: v for k, v in columns.items() if _needed(k, n, order)} for n, _, _ in jobs]
    names = [workspace.path / f"arpa{n}.{k}.txt" for k, (n, _, _) in enumerate(jobs)]
    tasks = [needed, [str(vocab_file)] * len(jobs), [radix] * len(jobs), [order] * len(jobs), *zip(*jobs),
             [str(p) for p in names]]
    files: dict = {n: [] for n in range(1, order + 1)}
    for k, ((n, _, _), path) in enumerate(zip(jobs, names)):
        files[n].append((k, path))
    return tasks, files


def _needed(name: str, n: int, order: int) -> bool:
    """Whether the order-n lines read the column ``name`` (its probabilities, backoffs and the keys below)."""
    kind, m = name.rstrip("0123456789"), int(name[len(name.rstrip("0123456789")):])
    return (kind == "logp" and m == n) or (kind == "logbo" and m == n < order) or (kind == "keys" and 2 <= m <= n)


@lru_cache(maxsize=2)
def _tokens(vocab_file: str) -> TokenBytes:
    return TokenBytes(Path(vocab_file).read_text(encoding="utf-8").split("\n")[:-1])


def arpa_part(columns: dict, vocab_file: str, radix: int, order: int, n: int, start: int, stop: int, out: str) -> str:
    """Task: the ARPA lines of table n's entries ``start:stop`` into the file ``out``."""
    tokens = _tokens(vocab_file)
    with open(out, "wb") as f:
        for lo in range(start, stop, ROWS_PER_PIECE):
            hi = min(lo + ROWS_PER_PIECE, stop)
            if n == 1:
                ids = np.arange(lo, hi)[:, None]
            else:
                ids = ngram_ids(columns, radix, n, columns[f"keys{n}"].read(lo, hi))
            logbo = columns.get(f"logbo{n}") if n < order else None
            f.write(arpa_lines(_read(columns[f"logp{n}"], lo, hi), ids, tokens,
                               None if logbo is None else _read(logbo, lo, hi)))
    return out


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
