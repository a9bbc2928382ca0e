"""The Transformer's settings: the architecture and the training run, validated on construction.

Kept free of torch so that the command line can take its defaults from here (``--help``
must stay fast) and both are saved inside every checkpoint as plain dicts.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Callable

import numpy as np

from perplex.attention.rare import RARE_BELOW, class_counts, own_classes
from perplex.errors import PerplexError
from perplex.seeding import MAX_SEED

# Sizes beyond this are refused outright: no machine holds them, and up to it every size is an
# exact float, so the memory estimates (perplex.attention.memory) never overflow.
MAX_SIZE = 2**53

Namer = Callable[[str], str]  # field name -> how the message names it ("--d-model", "config.d_model")


def _raise_first_failure(checks: list[tuple[bool, str]]) -> None:
    """Raise the message of the first failed (ok, message) pair (later checks may assume earlier ones)."""
    for ok, message in checks:
        if not ok:
            raise PerplexError(message)


def describe(value) -> str:
    """A value as one short line for a message (a tensor or a long string is not printed whole)."""
    if type(value) is int and abs(value) >= 10**30:
        return f"a number of about {int(value.bit_length() * 0.30103)} digits"
    if value is None or type(value) in (bool, int, float):
        return repr(value)
    if type(value) is str:
        return repr(value) if len(value) <= 40 else repr(value[:37]) + "..."
    if type(value) in (list, tuple) and len(value) <= 4 and all(v is None or type(v) in (bool, int, float) for v in value):
        return describe_short(value)
    return f"a {type(value).__name__}"


def describe_short(items) -> str:
    """A short list or tuple of plain values, as Python writes it (each value shortened)."""
    inner = ", ".join(map(describe, items)) + ("," if type(items) is tuple and len(items) == 1 else "")
    return f"({inner})" if type(items) is tuple else f"[{inner}]"


def _is_number(v) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


# What a saved field of each annotated type must be, and how a refusal says it.
_SAVED_TYPES: dict[str, tuple[Callable[[object], bool], str]] = {
    "int": (lambda v: type(v) is int, "a whole number"),
    "float": (_is_number, "a finite number"),
    "str": (lambda v: type(v) is str, "a string"),
    "bool": (lambda v: type(v) is bool, "true or false"),
    "tuple": (lambda v: type(v) in (list, tuple) and all(type(c) is int for c in v), "a list of whole numbers"),
    "int | None": (lambda v: v is None or type(v) is int, "a whole number or None"),
    "float | None": (lambda v: v is None or _is_number(v), "a finite number or None"),
}


# the cutoffs: None only until validation sizes them, so a file always holds the list
_SAVED_TYPES["tuple | None"] = _SAVED_TYPES["tuple"]


class _Saved:
    """Validation on construction, and the round trip through the plain dicts stored in checkpoints.

    Built from options (``__init__``), a failed check names the command-line option
    (``OPTIONS``); read back from a file (:meth:`from_saved`), it names the file's field.
    """

    OPTIONS: dict[str, str] = {}  # field -> its command-line option (or description)
    OPTIONAL_SAVED: tuple[str, ...] = ()  # fields older files lack (read as None)

    def __post_init__(self):
        self._validate(lambda name: self.OPTIONS.get(name, name))

    def _validate(self, name: Namer) -> None:
        raise NotImplementedError

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        """From a dict this program wrote itself (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def from_saved(cls, d, where: str):
        """From a dict read from a file: every field present, of its type and in range, no
        unknown field; a refusal names the field as ``where.field``."""
        if type(d) is not dict:
            raise PerplexError(f"{where} is {describe(d)}, expected a dictionary of settings")
        names = [f.name for f in fields(cls)]
        d = {**{n: None for n in cls.OPTIONAL_SAVED if n not in d}, **d}
        missing = [n for n in names if n not in d]
        unknown = [k for k in d if k not in names]
        if missing or unknown:
            parts = ([f"lacks {', '.join(missing)}"] if missing else []) + \
                    ([f"has unknown field(s) {', '.join(describe(k) for k in unknown[:3])}"] if unknown else [])
            raise PerplexError(f"{where} {' and '.join(parts)}")
        for f in fields(cls):
            ok, expected = _SAVED_TYPES[f.type]
            if not ok(d[f.name]):
                raise PerplexError(f"{where}.{f.name} is {describe(d[f.name])}, expected {expected}")
        self = cls.__new__(cls)
        self.__dict__.update((n, d[n]) for n in names)
        self._validate(lambda name: f"{where}.{name}")
        return self


def _at_least(value, low: int, label: str) -> tuple[bool, str]:
    return low <= value <= MAX_SIZE, (f"{label} must be at least {low}, got {value}" if value < low else
                                       f"{label} is {describe(value)}, more than any machine can hold; use a smaller value")


@dataclass
class TransformerConfig(_Saved):
    """The architecture (saved inside every checkpoint).

    The defaults are the fast CPU configuration chosen by measurement (see
    README, "Transformer"): small and shallow, with an adaptive softmax
    because the output layer dominates the cost on a CPU.
    """

    vocab_size: int = 10_000
    context: int = 128  # longest sequence the model attends over (positions)
    n_layers: int = 2
    d_model: int = 256
    n_heads: int = 4
    d_ff: int = 0  # 0 = 4 * d_model (GPT)
    dropout: float = 0.15
    positional: str = "learned"  # "learned" (GPT) or "sinusoidal" (Vaswani et al. §3.5)
    output: str = "adaptive"  # "adaptive" (Grave et al. 2017) or "full" softmax
    # adaptive softmax cluster boundaries over the frequency-sorted ids; None: sized from the vocabulary
    # (coverage_cutoffs: the recipes give the training counts, the config alone assumes Zipf's law)
    cutoffs: tuple | None = None
    # the model's own classes: ids 0 .. classes-1 (</s>, <unk> and the words seen at least --rare-below
    # times); the rarer ids share <unk>'s class (perplex.attention.rare).  None: every word its own class
    classes: int | None = None
    div_value: float = 4.0  # tail i has width d_model / div_value^(i+1)
    tie_embeddings: bool = True  # output rows = input embeddings (Press & Wolf 2017)

    OPTIONS = {"vocab_size": "the vocabulary size", "context": "--context", "n_layers": "--layers",
               "d_model": "--d-model", "n_heads": "--heads", "d_ff": "--d-ff", "dropout": "--dropout",
               "positional": "--positional", "output": "--output", "cutoffs": "--cutoffs",
               "classes": "the model's classes (--rare-below)", "div_value": "the adaptive softmax div_value", "tie_embeddings": "--no-tie"}

    OPTIONAL_SAVED = ("classes",)  # added after the first checkpoints: absent means None

    def _validate(self, name: Namer) -> None:
        if self.classes is None:
            self.classes = self.vocab_size
        if self.cutoffs is None and type(self.classes) is int and 2 <= self.classes <= MAX_SIZE:
            self.cutoffs = coverage_cutoffs(1.0 / np.arange(1, self.classes + 1))
        self.cutoffs = tuple(int(c) for c in self.cutoffs or ())
        _raise_first_failure([
            _at_least(self.vocab_size, 2, name("vocab_size")),
            _at_least(self.classes, 2, name("classes")),
            (self.classes <= self.vocab_size,
             f"{name('classes')} ({self.classes}) cannot exceed {name('vocab_size')} ({self.vocab_size})"),
            _at_least(self.context, 1, name("context")),
            _at_least(self.n_layers, 1, name("n_layers")),
            _at_least(self.d_model, 1, name("d_model")),
            _at_least(self.n_heads, 1, name("n_heads")),
            (self.d_ff >= 0, f"{name('d_ff')} must be positive (or 0 for 4 x d-model), got {self.d_ff}"),
            _at_least(self.d_ff, 0, name("d_ff")),
        ])
        if self.d_ff == 0:
            self.d_ff = 4 * self.d_model
        cutoffs = list(self.cutoffs)
        _raise_first_failure([
            (self.d_model % self.n_heads == 0,
             f"{name('n_heads')} {self.n_heads} does not divide {name('d_model')} {self.d_model}; "
             "choose a number of heads that divides it"),
            (1.0 < self.div_value < math.inf, f"{name('div_value')} must exceed 1, got {self.div_value}"),
            (0.0 <= self.dropout < 1.0, f"{name('dropout')} must be in [0, 1), got {self.dropout}"),
            (self.positional in ("learned", "sinusoidal"),
             f"{name('positional')} must be learned or sinusoidal, got {describe(self.positional)}"),
            (self.output in ("adaptive", "full"), f"{name('output')} must be adaptive or full, got {describe(self.output)}"),
            # the full softmax ignores the cutoffs
            (self.output == "full" or valid_cutoffs(cutoffs),
             f"{name('cutoffs')} must be increasing positive word ranks such as 2000,6000, got "
             f"{','.join(map(describe, cutoffs[:6]))}{',...' if len(cutoffs) > 6 else ''}"),
        ])

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cutoffs"] = list(self.cutoffs)
        return d


def sized_config(counts, rare_below: int = RARE_BELOW, cutoffs=None, **fields) -> TransformerConfig:
    """The architecture for a vocabulary of these training counts: the words seen fewer than
    ``rare_below`` times share ``<unk>``'s class, and the output layer's cutoffs (unless given)
    are sized from the classes' counts.  ``fields``: the other settings."""
    classes = own_classes(counts, rare_below)
    cutoffs = cutoffs or coverage_cutoffs(class_counts(counts, classes))
    return TransformerConfig(vocab_size=len(counts), classes=classes, cutoffs=cutoffs, **fields)


def valid_cutoffs(cutoffs) -> bool:
    """The adaptive softmax's cutoffs: a non-empty list of strictly increasing positive word ranks."""
    cutoffs = list(cutoffs)
    return bool(cutoffs) and cutoffs[0] > 0 and cutoffs == sorted(set(cutoffs))


# The share of the training tokens the head, then the head and the first tail, cover.  On the
# Penn Treebank they give its classic cutoffs, 2,000 and 6,000 (86.9% and 96.8% of its tokens).
HEAD_COVERAGE = (0.87, 0.968)


def coverage_cutoffs(counts, coverage=HEAD_COVERAGE) -> tuple[int, ...]:
    """Adaptive-softmax cutoffs sized from the training counts of the ids (frequency-sorted,
    as the vocabulary numbers them): the first rank whose words cover each share of the
    tokens, to two significant digits.  Cutoffs at or past the vocabulary are left out (a
    small vocabulary keeps fewer clusters); at least one remains, so the config is valid.

    >>> coverage_cutoffs([50, 20, 10, 5, 5, 4, 3, 2, 1])
    (5, 7)
    """
    counts = np.asarray(counts, np.float64)
    covered = np.cumsum(counts) / max(counts.sum(), 1e-300)
    ranks = [int(np.searchsorted(covered, share)) + 1 for share in coverage]
    cutoffs = []
    for rank in ranks:
        rank = int(float(f"{rank:.2g}"))  # 2017 -> 2000: round numbers, and the same cutoffs for similar corpora
        if (not cutoffs or rank > cutoffs[-1]) and rank < len(counts):
            cutoffs.append(rank)
    return tuple(cutoffs) or (max(1, len(counts) - 1),)


def cluster_bounds(vocab_size: int, cutoffs) -> list[int]:
    """The adaptive softmax's clusters: cluster j covers ids ``bounds[j] .. bounds[j+1] - 1``
    (the head is cluster 0; cutoffs at or beyond the vocabulary are dropped)."""
    return [0] + [c for c in cutoffs if c < vocab_size] + [vocab_size]


def tail_width(d_model: int, div_value: float, i: int) -> int:
    """Width of the adaptive softmax's tail ``i``: d_model / div_value^(i+1), rounded down, at least 1."""
    try:
        return max(1, int(d_model // div_value ** (i + 1)))
    except OverflowError:  # div_value^(i+1) is beyond a float: as narrow as a tail gets
        return 1


@dataclass
class TrainConfig(_Saved):
    """How to train (saved in the resumable checkpoint)."""

    batch_size: int = 32  # windows per step
    lr: float = 2e-3  # peak learning rate (AdamW)
    min_lr_ratio: float = 0.01  # the cosine decays to lr * min_lr_ratio at the end of the budget
    # The schedule (measured on PTB, 10-minute budget, README): a warm-up over 5% (~50 steps)
    # left the run at test 162; over 15% (~150 steps), 125; then holding the peak and
    # decaying over the last 40% only (warmup-stable-decay), 118.
    warmup: float = 0.15  # share of the budget for the linear warm-up (Adam's early second moments are noisy)
    decay: float = 0.4  # share of the budget, at its end, for the cosine decay; before it the lr stays at its peak
    weight_decay: float = 0.1  # on weight matrices and embeddings, not on biases and LayerNorm gains
    beta2: float = 0.99  # Adam's second-moment decay (0.99 suits small batches better than 0.999)
    grad_clip: float = 1.0  # max global gradient norm
    # The budget: whichever of these ends first.  Steps and epochs give the same run on any machine
    # (on a CPU, for a seed); minutes depend on the machine's speed and load.
    epochs: int | None = None  # stop after this many passes over the training stream
    minutes: float | None = None  # stop after this much training time; with no budget at all, 10
    steps: int | None = None  # stop after this many optimizer steps (batch_size windows each)
    seed: int = 0
    eval_every_minutes: float = 2.0  # score valid (and tracked splits) this often, in training time (minutes budget)
    eval_every_steps: int | None = None  # ... or this often in steps (steps budget; default a fifth of it)
    eval_stride: int = 0  # stride of those evaluations; 0 = context // 2, the final scores' default

    OPTIONS = {"batch_size": "--batch-size", "lr": "--lr", "min_lr_ratio": "the final learning-rate ratio",
               "warmup": "--warmup", "decay": "--decay", "weight_decay": "--weight-decay", "beta2": "Adam's beta2",
               "grad_clip": "the gradient clipping norm", "epochs": "--epochs", "minutes": "--minutes",
               "steps": "--steps", "seed": "--seed", "eval_every_minutes": "--eval-every",
               "eval_every_steps": "--eval-every-steps", "eval_stride": "the evaluation stride"}

    def _validate(self, name: Namer) -> None:
        if self.epochs is None and self.minutes is None and self.steps is None:
            self.minutes = 10.0
        _raise_first_failure([
            _at_least(self.batch_size, 1, name("batch_size")),
            (0 < self.lr < math.inf, f"{name('lr')} must be a positive finite number, got {self.lr}"),
            (0.0 <= self.min_lr_ratio <= 1.0, f"{name('min_lr_ratio')} must be in [0, 1], got {self.min_lr_ratio}"),
            (True, "") if self.epochs is None else _at_least(self.epochs, 1, name("epochs")),
            (self.minutes is None or self.minutes > 0, f"{name('minutes')} must be positive, got {self.minutes}"),
            (True, "") if self.steps is None else _at_least(self.steps, 1, name("steps")),
            (True, "") if self.eval_every_steps is None else _at_least(self.eval_every_steps, 1, name("eval_every_steps")),
            (self.eval_stride >= 0,
             f"{name('eval_stride')} must be 0 (context // 2) or positive, got {self.eval_stride}"),
            (0 <= self.weight_decay < math.inf,
             f"{name('weight_decay')} must be a finite number >= 0, got {self.weight_decay}"),
            (0.0 <= self.beta2 < 1.0, f"{name('beta2')} must be in [0, 1), got {self.beta2}"),
            (0 < self.grad_clip < math.inf, f"{name('grad_clip')} must be positive, got {self.grad_clip}"),
            (0.0 <= self.warmup < 1.0, f"{name('warmup')} is a share of the budget in [0, 1), got {self.warmup}"),
            (0.0 < self.decay <= 1.0, f"{name('decay')} is a share of the budget in (0, 1], got {self.decay}"),
            (self.eval_every_minutes > 0, f"{name('eval_every_minutes')} must be positive, got {self.eval_every_minutes}"),
            (0 <= self.seed <= MAX_SEED,
             f"{name('seed')} must be a whole number from 0 to {MAX_SEED}, got {describe(self.seed)}"),
        ])

    def eval_interval_steps(self) -> int | None:
        """Steps between evaluations under a steps budget (None otherwise): at least five
        points on the curve, the last one at the end."""
        if self.steps is None:
            return None
        return self.eval_every_steps or max(1, self.steps // 5)
