"""Saving and loading our own n-gram models (numpy ``.npz``, written atomically).

The file holds the vocabulary, the trie keys and either the backoff tables
(Kneser-Ney, ARPA) or the raw counts (MLE, add-k), plus a small JSON header
with a format version, so a corrupt or foreign file is refused with a clear
message instead of a traceback.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from perplex.corpus.vocabulary import Vocabulary
from perplex.lm.additive import AdditiveModel
from perplex.lm.backoff import BackoffModel
from perplex.lm.base import NgramModel
from perplex.lm.trie import NgramTrie
from perplex.errors import PerplexError
from perplex.fileio import atomic_write

FORMAT = "perplex-ngram"
VERSION = 1


def save_model(model: NgramModel, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path`` (atomically: temporary file, then rename)."""
    trie = model.trie
    kind = "backoff" if isinstance(model, BackoffModel) else "additive"
    header = {
        "format": FORMAT, "version": VERSION, "kind": kind, "order": model.order,
        "name": model.name, "smoothing": model.smoothing, "info": model.info,
        "alpha": getattr(model, "alpha", None),
    }
    arrays = {
        "header": np.array(json.dumps(header)),
        "vocab": np.array(model.vocab.tokens),
        "vocab_counts": model.vocab.counts,
    }
    for n in range(2, model.order + 1):
        arrays[f"keys{n}"] = trie.keys[n - 1]
    for n in range(1, model.order + 1):
        if kind == "backoff":
            arrays[f"logp{n}"] = model.logp[n - 1]
            if n < model.order:
                arrays[f"logbo{n}"] = model.logbo[n - 1]
        else:
            arrays[f"counts{n}"] = trie.counts[n - 1]
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)


def load_model(path: str | os.PathLike) -> NgramModel:
    """Read a model written by :func:`save_model`.

    Raises
    ------
    PerplexError
        Missing file, not a perplex n-gram model, or a corrupt/truncated file.
    """
    path = Path(path)
    if not path.exists():
        raise PerplexError(f"model file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            if header.get("format") != FORMAT:
                raise KeyError("format")
            if header.get("version") != VERSION:
                raise PerplexError(f"{path} is a version {header.get('version')} model; this perplex reads version {VERSION}")
            order = int(header["order"])
            vocab = Vocabulary(data["vocab"].tolist(), data["vocab_counts"])
            keys = [None] + [data[f"keys{n}"] for n in range(2, order + 1)]
            if header["kind"] == "backoff":
                logp = [data[f"logp{n}"] for n in range(1, order + 1)]
                logbo = [data[f"logbo{n}"] for n in range(1, order)]
                model = BackoffModel(vocab, NgramTrie(order, len(vocab), keys), logp, logbo, header["name"])
            else:
                counts = [data[f"counts{n}"] for n in range(1, order + 1)]
                trie = NgramTrie(order, len(vocab), keys, counts)
                model = AdditiveModel(vocab, trie, float(header["alpha"]))
    except PerplexError:
        raise
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile, json.JSONDecodeError):
        raise PerplexError(
            f"{path} is not a readable perplex n-gram model (corrupt, truncated or another format); "
            "retrain it with 'cli.py ngram --save', or give an ARPA file with --arpa"
        ) from None
    model.smoothing = header["smoothing"]
    model.info = header.get("info", {})
    return model


def is_model_file(path: str | os.PathLike) -> bool:
    """True if ``path`` looks like a perplex n-gram model (a zip with our header)."""
    try:
        with zipfile.ZipFile(path) as z:
            return "header.npy" in z.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
