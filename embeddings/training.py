"""What both trainers share: the input check and the progress bar."""

from __future__ import annotations

import numpy as np

from perplex.errors import PerplexError


def check_trainable(ids: np.ndarray, window: int) -> None:
    """Refuse a stream too short to hold one full window."""
    if len(ids) < window + 1:
        raise PerplexError(
            f"the training text has {len(ids)} tokens (</s> included), fewer than --window {window} + 1; "
            "give more text or a smaller --window"
        )


def progress_bar(total: float, enabled: bool, unit: str = "word"):
    """A tqdm bar counting ``unit``s, with their rate per second (None when disabled)."""
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, unit_scale=True, dynamic_ncols=True, leave=False)
