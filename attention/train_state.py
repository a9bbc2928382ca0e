"""Checking a saved training state (a resumable checkpoint's ``train`` entry) before a run
continues from it.

``--resume`` loads the optimizer's moments, the clock, the curve and the random-generator
state; each is checked against the fresh optimizer of the same model, so that a damaged
file is one line naming the entry (``train.optimizer.state[3].exp_avg``) instead of a
traceback at the first step or, worse, a run that silently diverges.
"""

from __future__ import annotations

import json
import math

import torch

from perplex.attention.config import TrainConfig, describe
from perplex.errors import PerplexError

TRAIN_REQUIRED = ("config", "optimizer", "scaler", "step", "epoch", "batch_in_epoch", "train_seconds",
                  "tokens_seen", "best_valid", "history", "torch_rng")
TRAIN_OPTIONAL = ("cuda_rng",)
MAX_MOMENT = 1e4  # bound on AdamW's first moment (the second's is its square)
SCALER_KEYS = ("scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker")


def check_train_state(state, optimizer: torch.optim.Optimizer) -> None:
    """Refuse a training state (a checkpoint's ``train`` entry) that ``optimizer``'s run cannot
    continue from: missing or unknown entries, wrong types, an optimizer state of other shapes,
    non-finite moments, a broken random-generator state or curve.

    Raises PerplexError naming the entry (``train.step``, ``train.optimizer.state[3].exp_avg``).
    """
    if type(state) is not dict:
        raise PerplexError(f"train is {describe(state)}, expected a dictionary")
    missing = [k for k in TRAIN_REQUIRED if k not in state]
    unknown = [k for k in state if k not in TRAIN_REQUIRED + TRAIN_OPTIONAL]
    if missing or unknown:
        raise PerplexError(f"train lacks {', '.join(missing)}" if missing
                           else f"train has unknown entries {', '.join(map(describe, unknown[:3]))}")
    TrainConfig.from_saved(state["config"], "train.config")
    for key in ("step", "epoch", "batch_in_epoch", "tokens_seen"):
        _require(type(state[key]) is int and state[key] >= 0, f"train.{key}", state[key], "a whole number >= 0")
    _require(_number(state["train_seconds"]) and 0 <= state["train_seconds"] < math.inf,
             "train.train_seconds", state["train_seconds"], "a finite number >= 0")
    _require(_number(state["best_valid"]) and state["best_valid"] >= 1,  # a perplexity, inf before any
             "train.best_valid", state["best_valid"], "a perplexity (>= 1, or inf)")
    _check_history(state["history"])
    _check_rng(state["torch_rng"], "train.torch_rng", torch.Generator())
    if "cuda_rng" in state:
        _require(_is_byte_vector(state["cuda_rng"]), "train.cuda_rng", state["cuda_rng"], "a uint8 tensor")
    _check_scaler(state["scaler"])
    _check_optimizer(state["optimizer"], optimizer)


def _number(v) -> bool:
    return type(v) in (int, float) and not math.isnan(v)


def _require(ok: bool, name: str, value, expected: str) -> None:
    if not ok:
        if isinstance(value, torch.Tensor):
            shown = describe(value.item()) if value.dim() == 0 and not value.is_meta else \
                f"a {value.dtype} tensor of shape {tuple(value.shape)}"
        else:
            shown = describe(value)
        raise PerplexError(f"{name} is {shown}, expected {expected}")


def _is_byte_vector(t) -> bool:
    return isinstance(t, torch.Tensor) and t.dtype == torch.uint8 and t.dim() == 1 and t.layout == torch.strided \
        and not t.is_meta


def _check_history(history) -> None:
    try:
        records = json.loads(history) if type(history) is str else None
    except ValueError:
        records = None
    _require(type(records) is list and all(type(r) is dict for r in records), "train.history", history,
             "the training curve as a JSON list of records")


def _check_rng(t, name: str, generator: torch.Generator) -> None:
    _require(_is_byte_vector(t), name, t, "a uint8 tensor")
    try:
        generator.set_state(t)  # a scratch generator: the size is checked, the global one untouched
    except RuntimeError:
        raise PerplexError(f"{name} is not a random-generator state ({t.numel()} bytes)") from None


def _check_scaler(scaler) -> None:
    _require(type(scaler) is dict, "train.scaler", scaler, "a dictionary")
    if not scaler:  # a disabled scaler (CPU, bfloat16) saves nothing
        return
    for key in SCALER_KEYS:
        value = scaler.get(key)
        _require(_number(value) and math.isfinite(value) and value >= 0, f"train.scaler.{key}", value,
                 "a finite number >= 0")
    _require(scaler["scale"] > 0, "train.scaler.scale", scaler["scale"], "a positive number")


def _check_optimizer(saved, optimizer: torch.optim.Optimizer) -> None:
    """The saved AdamW state against the fresh one of the same model: the same groups of the
    same parameters, sane hyperparameters, moments of the parameters' shapes."""
    _require(type(saved) is dict and set(saved) == {"state", "param_groups"}, "train.optimizer", saved,
             "an optimizer state (state and param_groups)")
    groups, fresh = saved["param_groups"], optimizer.state_dict()["param_groups"]
    _require(type(groups) is list and len(groups) == len(fresh), "train.optimizer.param_groups", groups,
             f"a list of {len(fresh)} parameter groups")
    for i, (group, ref) in enumerate(zip(groups, fresh)):
        _check_group(group, ref, f"train.optimizer.param_groups[{i}]")
    shapes = [tuple(p.shape) for g in optimizer.param_groups for p in g["params"]]
    states = saved["state"]
    _require(type(states) is dict, "train.optimizer.state", states, "a dictionary")
    for key, entry in states.items():
        _require(type(key) is int and 0 <= key < len(shapes), "a key of train.optimizer.state", key,
                 f"a parameter index below {len(shapes)}")
        _check_moments(entry, shapes[key], f"train.optimizer.state[{key}]")


def _check_group(group, ref: dict, name: str) -> None:
    """Every hyperparameter but the learning rate (set at every step) is the fresh group's: the
    weight decay and betas the saved TrainConfig gives, the same switches (amsgrad, maximize...)."""
    _require(type(group) is dict, name, group, "a dictionary")
    _require(_same(group.get("params"), ref["params"]), f"{name}.params", group.get("params"),
             f"the {len(ref['params'])} parameter indices of this model's group")
    _require(_number(group.get("lr")) and 0 <= group["lr"] < math.inf, f"{name}.lr", group.get("lr"),
             "a finite number >= 0")
    missing = [k for k in ("weight_decay", "eps", "betas") if k not in group]
    if missing:
        raise PerplexError(f"{name} lacks {', '.join(missing)}")
    for key, value in ref.items():
        # torch fills in the switches an older torch did not save
        if key not in ("params", "lr") and key in group and not _same(group[key], value):
            raise PerplexError(f"{name}.{key} is {describe(group[key])}, but this run's is {describe(value)}")


def _same(saved, ref) -> bool:
    """Equal plain values (a tuple saved as a list, an int for a float, count as the same); never
    compares a tensor (whose ``==`` is not a bool)."""
    if type(ref) in (list, tuple):
        return type(saved) in (list, tuple) and len(saved) == len(ref) and all(map(_same, saved, ref))
    if type(ref) in (int, float) and type(saved) in (int, float):
        return saved == ref
    return type(saved) is type(ref) and saved == ref


def _check_moments(entry, shape: tuple, name: str) -> None:
    _require(type(entry) is dict and set(entry) == {"step", "exp_avg", "exp_avg_sq"}, name, entry,
             "AdamW's step, exp_avg and exp_avg_sq")
    step = entry["step"]  # a float tensor (torch >= 1.12) or a number
    tensor_step = isinstance(step, torch.Tensor) and step.numel() == 1 and step.is_floating_point() and not step.is_meta
    step_value = step.item() if tensor_step else step
    _require(_number(step_value) and 0 <= step_value < math.inf, f"{name}.step", step, "a finite number >= 0")
    # Clipped gradients (norm grad_clip, 1 by default) keep the moments far below these bounds;
    # larger finite ones would still overflow float32 in the next update.
    for key, low, high in (("exp_avg", -MAX_MOMENT, MAX_MOMENT), ("exp_avg_sq", 0.0, MAX_MOMENT**2)):
        t = entry[key]
        _require(isinstance(t, torch.Tensor) and t.is_floating_point() and t.layout == torch.strided
                 and not t.is_meta and tuple(t.shape) == shape, f"{name}.{key}", t, f"a float tensor of shape {shape}")
        if t.numel() and not (low <= t.min().item() and t.max().item() <= high):  # nan fails both
            raise PerplexError(f"{name}.{key} holds values outside [{low:g}, {high:g}] (nan, inf or corrupt)")
