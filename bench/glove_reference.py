"""Run the reference GloVe C code (stanfordnlp/GloVe) on a corpus, for bench_embeddings.py.

The four tools (vocab_count, cooccur, shuffle, glove) are not on PyPI: build them from
https://github.com/stanfordnlp/GloVe (``make``) and pass their folder as ``--glove-bin``.
The corpus is written one sentence per line, so cooccur's windows stop at sentence ends
as ours do.  PTB's literal ``<unk>`` is renamed for the run (vocab_count refuses it, and
glove appends its own ``<unk>``, the mean of the 100 rarest words, which is dropped).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time

RENAMED_UNK = "<raw_unk>"


def _run(cmd: list[str], stdin_path: str, stdout_path: str | None, cwd: str) -> None:
    with open(stdin_path, "rb") as fin, open(stdout_path or os.devnull, "wb") as fout:
        subprocess.run(cmd, stdin=fin, stdout=fout, stderr=subprocess.DEVNULL, cwd=cwd, check=True)


def prepare(bin_dir: str, sentences, window: int, workdir: str, min_count: int = 1) -> dict:
    """Write the corpus, count the vocabulary (words seen ``min_count`` times or more) and the
    co-occurrences once (shared by all seeds)."""
    corpus = os.path.join(workdir, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        for s in sentences:
            f.write(" ".join(RENAMED_UNK if w == "<unk>" else w for w in s) + "\n")
    tool = lambda name: os.path.join(bin_dir, name)  # noqa: E731
    _run([tool("vocab_count"), "-min-count", str(min_count), "-verbose", "0"], corpus, os.path.join(workdir, "vocab.txt"), workdir)
    start = time.perf_counter()
    _run([tool("cooccur"), "-memory", "4.0", "-vocab-file", "vocab.txt", "-verbose", "0", "-window-size", str(window),
          "-symmetric", "1"], corpus, os.path.join(workdir, "cooc.bin"), workdir)
    seconds = time.perf_counter() - start
    nnz = os.path.getsize(os.path.join(workdir, "cooc.bin")) // 16  # (int, int, double) records
    return {"workdir": workdir, "nnz": nnz, "cooccurrence_seconds": seconds}


def train(bin_dir: str, prepared: dict, dim: int, iterations: int, threads: int, seed: int):
    """Shuffle with ``seed``, train; returns (KeyedVectors of W + W~, seconds of glove's run)."""
    from perplex.embeddings.vectors import load_vectors, to_keyed_vectors

    wd = prepared["workdir"]
    _run([os.path.join(bin_dir, "shuffle"), "-memory", "4.0", "-verbose", "0", "-seed", str(seed)],
         os.path.join(wd, "cooc.bin"), os.path.join(wd, "cooc.shuf.bin"), wd)
    start = time.perf_counter()
    subprocess.run([os.path.join(bin_dir, "glove"), "-save-file", "vectors", "-threads", str(threads),
                    "-input-file", "cooc.shuf.bin", "-x-max", "100", "-alpha", "0.75", "-iter", str(iterations),
                    "-vector-size", str(dim), "-binary", "0", "-model", "2", "-vocab-file", "vocab.txt",
                    "-verbose", "0", "-seed", str(seed)],
                   cwd=wd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    kv = load_vectors(os.path.join(wd, "vectors.txt"))  # GloVe's header-less text
    # the last line is glove's own <unk> (an average), not a trained word
    words = ["<unk>" if w == RENAMED_UNK else w for w in kv.index_to_key[:-1]]
    return to_keyed_vectors(words, kv.vectors[:-1]), seconds


def workdir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="perplex-glove-c-")
