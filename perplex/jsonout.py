"""Strict JSON for every ``--json`` output.

``json.dumps`` writes a float nan or inf as the bare words ``NaN`` and ``Infinity``,
which are not JSON: strict parsers (JavaScript's ``JSON.parse``, ``jq``, Go, Rust's
serde) reject the whole document.  :func:`dumps` converts first, then writes with
``allow_nan=False``, so nothing non-standard can slip through:

* nan (a figure with nothing to compute it from) becomes ``null``;
* +-inf becomes the string ``"inf"`` / ``"-inf"``, as the evaluation records write an
  infinite perplexity (docs/conventions.md, section 7);
* numpy scalars and arrays become plain numbers and lists.

>>> dumps({"accuracy": float("nan"), "perplexity": float("inf"), "n": 3})
'{"accuracy": null, "perplexity": "inf", "n": 3}'
>>> loads_strict('{"x": NaN}')
Traceback (most recent call last):
...
ValueError: not strict JSON: NaN
"""

from __future__ import annotations

import json
import math
from typing import Any


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced (nan -> None, +-inf -> "inf"/"-inf")
    and numpy types turned into Python ones, through dicts, lists and tuples."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist") and type(value).__module__ == "numpy":  # numpy scalar or array
        return json_safe(value.tolist())
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return value


def dumps(value: Any, **kwargs) -> str:
    """``json.dumps`` of :func:`json_safe` (``value``), refusing any NaN or Infinity left."""
    return json.dumps(json_safe(value), allow_nan=False, **kwargs)


def _refuse_constant(name: str):
    raise ValueError(f"not strict JSON: {name}")


def loads_strict(text: str) -> Any:
    """``json.loads`` that rejects ``NaN``, ``Infinity`` and ``-Infinity`` as a strict parser does."""
    return json.loads(text, parse_constant=_refuse_constant)


__all__ = ["json_safe", "dumps", "loads_strict"]
