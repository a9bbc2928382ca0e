"""Results cached by data and settings, so a second report run is fast.

Each step stores its evaluations (figures, per-sentence and per-token log10
probabilities) under a key hashed from the data's ids and the step's settings;
files are written atomically.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import numpy as np

from perplex.corpus.datasets import Splits
from perplex.eval.metrics import FIGURES, OPTIONAL_FIGURES, Evaluation
from perplex.fileio import atomic_write



def fingerprint(data: Splits) -> str:
    """A short hash of the vocabulary and every split's ids."""
    h = hashlib.sha256("\n".join(data.vocab.tokens).encode())
    for name in sorted(data.corpora):
        h.update(name.encode())
        h.update(data.corpora[name].ids.tobytes())
        h.update(data.corpora[name].offsets.tobytes())
    return h.hexdigest()[:16]


def _number(v):
    if isinstance(v, str) and v in ("inf", "-inf", "nan"):
        return float(v)
    return v


class ResultCache:
    """Evaluations (and small JSON extras) per (step, settings)."""

    def __init__(self, folder: Path, data: Splits):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.data_key = fingerprint(data)

    def path(self, step: str, settings: dict) -> Path:
        blob = json.dumps({"data": self.data_key, "step": step, "settings": settings}, sort_keys=True)
        return self.folder / f"{step}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}.npz"

    def get_or_compute(self, step: str, settings: dict, compute: Callable[[], tuple[list[Evaluation], dict]],
                       artifact: Path | None = None) -> tuple[list[Evaluation], dict, bool]:
        """(evaluations, extra, was_cached) for this step and settings.

        ``artifact`` is a file ``compute`` writes beside its results (vectors, a checkpoint):
        an entry whose artifact is gone is computed again.
        """
        path = self.path(step, settings)
        if path.exists() and (artifact is None or Path(artifact).exists()):
            try:
                return (*self._load(path), True)
            except (OSError, ValueError, KeyError):
                pass  # an unreadable cache entry is recomputed
        evaluations, extra = compute()
        self._save(path, evaluations, extra)
        return evaluations, extra, False

    @staticmethod
    def _save(path: Path, evaluations: list[Evaluation], extra: dict) -> None:
        meta = {"records": [e.figures() | {"extra": e.extra} for e in evaluations],
                "extra": extra}
        arrays = {"meta": np.array(json.dumps(meta, default=float))}
        for i, e in enumerate(evaluations):
            arrays[f"s{i}"] = e.sentence_log10
            arrays[f"n{i}"] = e.sentence_tokens
            arrays[f"t{i}"] = e.token_log10
        with atomic_write(path, "wb") as f:
            np.savez(f, **arrays)

    @staticmethod
    def _load(path: Path) -> tuple[list[Evaluation], dict]:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            out = []
            for i, rec in enumerate(meta["records"]):
                fields = {k: _number(rec[k]) for k in FIGURES + OPTIONAL_FIGURES if k in rec}
                out.append(Evaluation(**fields, sentence_log10=z[f"s{i}"], sentence_tokens=z[f"n{i}"],
                                      token_log10=z[f"t{i}"], extra=rec.get("extra", {})))
        return out, meta["extra"]
