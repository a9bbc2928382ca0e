"""Mixed precision on CUDA (the device itself is chosen by :func:`perplex.device.resolve_device`).

On CUDA the matrix products run in bfloat16 under ``torch.autocast`` when the
GPU supports it (Ampere and later), otherwise in float16 with a gradient
scaler; the softmax and the log-probabilities stay in float32 (the output
layer casts to float32 itself).  On a CPU everything is float32.
"""

from __future__ import annotations

import contextlib

import torch


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype on ``device``: bfloat16 or float16 on CUDA, None (float32) on CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device):
    """A context manager running the forward pass in mixed precision on CUDA (no-op on CPU)."""
    dtype = amp_dtype(device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)


def grad_scaler(device: torch.device) -> torch.amp.GradScaler:
    """A gradient scaler, enabled only for float16 (bfloat16 has float32's range)."""
    return torch.amp.GradScaler("cuda", enabled=amp_dtype(device) == torch.float16)
