"""Printing evaluations: an aligned table for people, JSON records for scripts."""

from __future__ import annotations

import math
from typing import Sequence

from perplex.eval.metrics import FIGURES, OPTIONAL_FIGURES, Evaluation
from perplex.jsonout import dumps


def _fmt(v, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if math.isinf(v):
            return "inf"
        if math.isnan(v):
            return "nan"
        return f"{v:,.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


# How the table shows each figure of FIGURES and OPTIONAL_FIGURES: (header, decimals).
HEADERS = {
    "model": ("model", None),
    "split": ("split", None),
    "tokens": ("tokens", None),
    "oovs": ("OOVs", None),
    "zero_prob_tokens": ("P=0", None),
    "log10_prob": ("log10 P", 1),
    "cross_entropy_bits": ("H (bits)", 4),
    "perplexity": ("PPL", 3),
    "perplexity_excl_oov": ("PPL excl. OOV", 3),
    "bits_per_char": ("bits/char", 4),
    "prediction_entropy_bits": ("mean pred. H", 4),
}
COLUMNS = [(key, *HEADERS[key]) for key in FIGURES + OPTIONAL_FIGURES]


def format_table(results: Sequence[Evaluation]) -> str:
    """An aligned plain-text table, one row per evaluation (columns with no
    value in any row are left out)."""
    cols = [c for c in COLUMNS if any(getattr(r, c[0]) is not None for r in results)]
    rows = [[c[1] for c in cols]]
    for r in results:
        rows.append([_fmt(getattr(r, key), digits) if digits else _fmt(getattr(r, key)) for key, _, digits in cols])
    widths = [max(len(row[i]) for row in rows) for i in range(len(cols))]
    lines = []
    for j, row in enumerate(rows):
        cells = [cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def to_json(results: Sequence[Evaluation]) -> str:
    """One JSON list, one object per evaluated split (docs/conventions.md keys), strict
    JSON: no bare NaN or Infinity (:mod:`perplex.jsonout`)."""
    return dumps([r.record() for r in results], indent=2)
