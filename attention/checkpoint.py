"""Checkpoint files: the model, its vocabulary and (optionally) the training state.

A checkpoint is one ``torch.save`` dictionary written through
:func:`perplex.fileio.atomic_write` (never half-written) and read back with
``weights_only=True`` (no arbitrary code runs on load)::

    format   "perplex-transformer"        version  1
    config   TransformerConfig as a dict  vocab    tokens (id order) and counts
    model    state_dict                   train    optimizer, step, clock, RNG, curve (resumable files only)

Training writes two files: ``PATH`` (the best model on valid: what
``generate``, ``attention`` and ``--eval-only`` load) and ``PATH.last``
(the latest state, with the optimizer: what ``--resume`` continues).
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import torch

from perplex.attention.model import TransformerConfig, TransformerLM
from perplex.corpus.vocabulary import Vocabulary
from perplex.errors import PerplexError
from perplex.fileio import atomic_write

FORMAT = "perplex-transformer"
VERSION = 1
ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive


def last_path(path: str | os.PathLike) -> Path:
    """Where the resumable latest state of the checkpoint ``path`` lives."""
    return Path(f"{path}.last")


def save_checkpoint(path: str | os.PathLike, model: TransformerLM, vocab: Vocabulary, train: dict | None = None) -> None:
    """Write ``model`` (weights on CPU), ``vocab`` and an optional training state atomically."""
    state = {
        "format": FORMAT,
        "version": VERSION,
        "config": model.config.to_dict(),
        "vocab": list(vocab.tokens),
        "vocab_counts": torch.as_tensor(vocab.counts),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    if train is not None:
        state["train"] = train
    buffer = io.BytesIO()
    torch.save(state, buffer)
    with atomic_write(path, "wb") as f:
        f.write(buffer.getbuffer())


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The raw checkpoint dictionary, checked for format and completeness.

    Raises
    ------
    PerplexError
        Missing file, or a file that is not an intact perplex Transformer checkpoint.
    """
    p = Path(path)
    if not p.is_file():
        raise PerplexError(f"checkpoint not found: {p}; train one with 'perplex transformer --checkpoint {p}'")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged zip/pickle
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise PerplexError(f"{p} is not a readable perplex Transformer checkpoint (corrupt or another format: {reason}); retrain or give the right file") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise PerplexError(f"{p} is not a perplex Transformer checkpoint; give a file written by 'perplex transformer'")
    if state.get("version") != VERSION:
        raise PerplexError(f"{p} has checkpoint version {state.get('version')!r}, this perplex reads version {VERSION}; retrain the model")
    missing = [k for k in ("config", "vocab", "vocab_counts", "model") if k not in state]
    if missing:
        raise PerplexError(f"{p} is an incomplete checkpoint (missing {', '.join(missing)}); retrain the model")
    return state


def load_checkpoint(
    path: str | os.PathLike, vocab: Vocabulary | None = None, device: torch.device | str = "cpu"
) -> tuple[TransformerLM, Vocabulary, dict]:
    """Rebuild the model saved in ``path``.

    Parameters
    ----------
    vocab : Vocabulary, optional
        The vocabulary of the data the model will be used on; a checkpoint
        trained with another vocabulary is refused.

    Returns
    -------
    model : TransformerLM (in eval mode, on ``device``)
    vocab : Vocabulary (the checkpoint's)
    state : dict (the raw checkpoint, with the training state under "train" if saved)
    """
    state = read_checkpoint(path)
    saved_vocab = Vocabulary(state["vocab"], state["vocab_counts"].numpy())
    if vocab is not None and saved_vocab != vocab:
        raise PerplexError(
            f"{path} was trained with a different vocabulary ({len(saved_vocab)} words, not the {len(vocab)} words "
            "of this data); evaluate it on data built the same way (same --train, --min-count, --max-vocab) or retrain"
        )
    config = TransformerConfig.from_dict(state["config"])
    model = TransformerLM(config)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise PerplexError(f"{path} has weights that do not fit its own configuration (corrupt checkpoint: {str(exc).splitlines()[0][:120]}); retrain the model") from None
    return model.to(device).eval(), saved_vocab, state


def is_checkpoint(path: str | os.PathLike) -> bool:
    """True if ``path`` looks like a Transformer checkpoint rather than another model file.

    ``torch.save`` writes a zip archive holding ``<name>/data.pkl``; an ARPA
    file is text and a numpy ``.npz`` is a zip of ``.npy`` entries, so both
    are False, as is a missing file.  A zip too damaged to list counts as a
    checkpoint, so that loading it says what is wrong.
    """
    try:
        with open(path, "rb") as f:
            if f.read(4) != ZIP_MAGIC:
                return False
    except OSError:
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name == "data.pkl" or name.endswith("/data.pkl") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return True
