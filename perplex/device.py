"""Where torch runs: ``--device auto|cpu|cuda`` for every command that trains or scores.

The one resolver shared by the embeddings and the Transformer, so that ``auto`` and a
missing GPU mean the same thing everywhere.  torch is imported on call: the command line
and the n-gram models never load it.
"""

from __future__ import annotations

from perplex.errors import PerplexError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str):
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is an error.

    Returns
    -------
    torch.device
    """
    import torch

    if name not in DEVICES:
        raise PerplexError(f"--device must be one of {', '.join(DEVICES)}, got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise PerplexError("--device cuda was asked for but PyTorch sees no CUDA GPU; use --device cpu or auto")
    return torch.device(name)
