"""Checkpoint files: the model, its vocabulary and (optionally) the training state.

A checkpoint is one ``torch.save`` dictionary written through
:func:`perplex.fileio.atomic_write` (never half-written) and read back with
``weights_only=True`` (no arbitrary code runs on load)::

    format   "perplex-transformer"        version  1
    config   TransformerConfig as a dict  vocab    tokens (id order) and counts
    model    state_dict                   train    optimizer, step, clock, RNG, curve (resumable files only)

Reading checks every entry before anything is built from it (:func:`read_checkpoint`), so a
damaged or hand-edited file is one line naming the file and the entry (``config.d_model``,
``model['ln_f.bias']``), never a traceback or a model that predicts nan.

Training writes two files: ``PATH`` (the best model on valid: what
``generate``, ``attention`` and ``--eval-only`` load) and ``PATH.last``
(the latest state, with the optimizer: what ``--resume`` continues).
"""

from __future__ import annotations

import io
import math
import os
import warnings
import zipfile
from pathlib import Path

import torch

from perplex.attention.config import cluster_bounds, describe, tail_width
from perplex.attention.memory import loading_bytes
from perplex.attention.model import TransformerConfig, TransformerLM
from perplex.corpus.vocabulary import BOS, EOS, UNK, Vocabulary
from perplex.errors import PerplexError
from perplex.fileio import atomic_write, check_input_file
from perplex.resources import check_memory

FORMAT = "perplex-transformer"
VERSION = 1
ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive
REQUIRED = ("format", "version", "config", "vocab", "vocab_counts", "model")
OPTIONAL = ("train",)
# No trained weight comes near this; a larger one means a damaged file (and can overflow to inf).
MAX_WEIGHT = 1e4
INTEGER_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


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
    """The raw checkpoint dictionary, checked before anything is built from it.

    Everything but the training state (see :func:`perplex.attention.train_state.check_train_state`)
    is checked: the format, the config (every field, its type and range), the vocabulary,
    and the weights (exactly the config's tensors and shapes, floating point, finite).

    Raises
    ------
    PerplexError
        Missing file, or a file that is not an intact perplex Transformer checkpoint
        (one line naming the file and the entry at fault).
    """
    p = Path(path)
    check_input_file(p, "checkpoint", hint=f"train one with 'perplex transformer --checkpoint {p}'")
    try:
        with warnings.catch_warnings():  # a damaged pickle can warn (odd protocol) before it fails: one line only
            warnings.simplefilter("ignore")
            state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged zip/pickle
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise PerplexError(f"{p} is not a readable perplex Transformer checkpoint (corrupt or another format: {reason}); retrain or give the right file") from None
    if type(state) is not dict or type(state.get("format")) is not str or state["format"] != FORMAT:
        raise PerplexError(f"{p} is not a perplex Transformer checkpoint; give a file written by 'perplex transformer'")
    version = state.get("version")
    if type(version) is not int or version != VERSION:
        raise PerplexError(f"{p} has checkpoint version {describe(version)}, this perplex reads version {VERSION}; retrain the model")
    try:
        check_contents(state)
    except PerplexError as exc:
        raise PerplexError(f"{p} is a damaged checkpoint: {exc}; retrain the model or give an intact file") from None
    return state


def check_contents(state: dict) -> TransformerConfig:
    """Check a checkpoint's entries (see :func:`read_checkpoint`); returns its config.

    Raises PerplexError naming the entry (``config.d_model``, ``vocab[3]``, ``model['ln_f.bias']``).
    """
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise PerplexError(f"it lacks {', '.join(missing)}")
    unknown = [k for k in state if k not in REQUIRED + OPTIONAL]
    if unknown:
        raise PerplexError(f"it has unknown entries {', '.join(describe(k) for k in unknown[:3])}")
    config = TransformerConfig.from_saved(state["config"], "config")
    _check_vocab(state["vocab"], state["vocab_counts"], config.vocab_size)
    _check_weights(state["model"], config)
    if "train" in state and type(state["train"]) is not dict:
        raise PerplexError(f"train is {describe(state['train'])}, expected a dictionary")
    return config


def _check_vocab(tokens, counts, vocab_size: int) -> None:
    if type(tokens) is not list:
        raise PerplexError(f"vocab is {describe(tokens)}, expected a list of words")
    for i, token in enumerate(tokens):
        if type(token) is not str or not token:
            raise PerplexError(f"vocab[{i}] is {describe(token)}, expected a non-empty string")
    if len(tokens) != vocab_size:
        raise PerplexError(f"vocab has {len(tokens)} words but config.vocab_size is {vocab_size}")
    if tokens[:2] != [EOS, UNK]:
        raise PerplexError(f"vocab starts with {describe(tokens[0])}, {describe(tokens[1])}, not {EOS}, {UNK}")
    if BOS in tokens:
        raise PerplexError(f"vocab lists {BOS}, which is context only")
    if len(set(tokens)) != len(tokens):
        seen = set()
        twice = next(t for t in tokens if t in seen or seen.add(t))
        raise PerplexError(f"vocab lists {describe(twice)} twice")
    if not isinstance(counts, torch.Tensor) or counts.dtype not in INTEGER_DTYPES or counts.dim() != 1 \
            or counts.layout != torch.strided or counts.is_meta:
        raise PerplexError(f"vocab_counts is {_show_tensor(counts)}, expected a 1-d tensor of whole numbers")
    if counts.numel() != len(tokens):
        raise PerplexError(f"vocab_counts has {counts.numel()} counts for {len(tokens)} words")
    if counts.numel() and counts.min() < 0:
        raise PerplexError(f"vocab_counts has a negative count ({int(counts.min())})")


def _show_tensor(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return describe(value)


def expected_shapes(c: TransformerConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor ``TransformerLM(c).state_dict()`` holds, without building it
    (tests check it against the model)."""
    V, d, ff = c.classes, c.d_model, c.d_ff  # rows: the model's classes (rare words share one)
    shapes = {"tok_emb.weight": (V, d)}
    if c.positional == "learned":
        shapes["pos_enc.table.weight"] = (c.context, d)
    block = {"ln_1.weight": (d,), "ln_1.bias": (d,), "attn.in_proj.weight": (3 * d, d), "attn.in_proj.bias": (3 * d,),
             "attn.out_proj.weight": (d, d), "attn.out_proj.bias": (d,), "ln_2.weight": (d,), "ln_2.bias": (d,),
             "ff.fc.weight": (ff, d), "ff.fc.bias": (ff,), "ff.proj.weight": (d, ff), "ff.proj.bias": (d,)}
    for i in range(c.n_layers):
        shapes.update((f"blocks.{i}.{name}", shape) for name, shape in block.items())
    shapes |= {"ln_f.weight": (d,), "ln_f.bias": (d,)}
    if c.output == "full":
        shapes |= {} if c.tie_embeddings else {"output.weight": (V, d)}
        shapes["output.bias"] = (V,)
        return shapes
    bounds = cluster_bounds(V, c.cutoffs)
    shortlist, tails = bounds[1], len(bounds) - 2
    shapes |= {} if c.tie_embeddings else {"output.head_words": (shortlist, d)}
    shapes |= {"output.head_clusters": (tails, d), "output.head_bias": (shortlist + tails,)}
    for i in range(tails):
        width = tail_width(d, c.div_value, i)
        shapes |= {f"output.tails.{i}.0.weight": (width, d), f"output.tails.{i}.1.weight": (bounds[i + 2] - bounds[i + 1], width)}
    return shapes


def _check_weights(weights, config: TransformerConfig) -> None:
    """Exactly the config's tensors, of its shapes, floating point, finite and of a trained
    model's magnitude (a corrupt file can hold 1e38, which overflows to inf in the forward pass)."""
    if type(weights) is not dict or not all(type(k) is str for k in weights):
        raise PerplexError(f"model is {describe(weights)}, expected a dictionary of named tensors")
    # each layer and each adaptive tail has its own tensors: a config asking for more than the file
    # holds is refused before listing the names of that many
    tails = len(cluster_bounds(config.classes, config.cutoffs)) - 2 if config.output == "adaptive" else 0
    if config.n_layers + tails > len(weights):
        raise PerplexError(f"its config asks for {config.n_layers} layers and {tails} adaptive tails "
                           f"but model holds only {len(weights)} tensors")
    shapes = expected_shapes(config)
    missing = [k for k in shapes if k not in weights]
    unknown = [k for k in weights if k not in shapes]
    if missing or unknown:
        what = f"lacks {', '.join(missing[:3])}" if missing else f"has unexpected {', '.join(map(describe, unknown[:3]))}"
        raise PerplexError(f"model {what}{' ...' if len(missing or unknown) > 3 else ''} for its config")
    for name, shape in shapes.items():
        t = weights[name]
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.layout != torch.strided or t.is_meta:
            raise PerplexError(f"model[{name!r}] is {_show_tensor(t)}, expected floating-point weights")
        if tuple(t.shape) != shape:
            raise PerplexError(f"model[{name!r}] has shape {tuple(t.shape)}, its config needs {shape}")
        largest = t.detach().abs().amax().item() if t.numel() else 0.0  # nan propagates
        if not largest <= MAX_WEIGHT:
            kind = "nan or inf values" if not math.isfinite(largest) else f"a weight of {largest:.3g}"
            raise PerplexError(f"model[{name!r}] holds {kind} (trained weights stay below {MAX_WEIGHT:g})")


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
            "of this data); evaluate it on data built the same way (the same training text, minimum count and "
            "vocabulary cap) or retrain"
        )
    config = TransformerConfig.from_saved(state["config"], "config")
    check_memory(loading_bytes(config), f"loading {path} ({config.n_layers} layers, d_model {config.d_model}, "
                                        f"context {config.context}, {config.vocab_size:,} words)")
    model = TransformerLM(config, saved_vocab.counts)
    model.load_state_dict(state["model"])  # read_checkpoint checked every name and shape
    model = model.to(device).eval()
    _check_predictions(model, path)
    return model, saved_vocab, state


@torch.no_grad()
def _check_predictions(model: TransformerLM, path) -> None:
    """Refuse a model whose next-word distributions are not finite on a probe sentence
    (weights each within range can still combine into an overflow)."""
    c = model.config
    probe = torch.arange(min(c.context, 16), device=next(model.parameters()).device)[None] % c.vocab_size
    if not torch.isfinite(model.log_prob(probe)).all():
        raise PerplexError(f"{path} is a damaged checkpoint: its weights give nan or inf probabilities; "
                           "retrain the model or give an intact file")


def is_checkpoint(path: str | os.PathLike) -> bool:
    """True if ``path`` looks like a Transformer checkpoint rather than another model file.

    ``torch.save`` writes a zip archive holding ``<name>/data.pkl``; an ARPA
    file is text and a numpy ``.npz`` is a zip of ``.npy`` entries, so both
    are False, as is a missing file.  A zip too damaged to list counts as a
    checkpoint, so that loading it says what is wrong.
    """
    if not os.path.isfile(path):  # a device such as /dev/zero would be read forever
        return False
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
