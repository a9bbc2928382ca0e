"""The Transformer's settings: the architecture and the training run, validated on construction.

Kept free of torch so that the command line can take its defaults from here (``--help``
must stay fast) and both are saved inside every checkpoint as plain dicts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from perplex.errors import PerplexError


def _raise_first_failure(checks: list[tuple[bool, str]]) -> None:
    for ok, message in checks:
        if not ok:
            raise PerplexError(message)


class _Saved:
    """Round trip through the plain dicts stored in checkpoints (unknown keys are ignored)."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


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
    cutoffs: tuple = (2000, 6000)  # adaptive softmax cluster boundaries over the frequency-sorted ids
    div_value: float = 4.0  # tail i has width d_model / div_value^(i+1)
    tie_embeddings: bool = True  # output rows = input embeddings (Press & Wolf 2017)

    def __post_init__(self):
        self.cutoffs = tuple(int(c) for c in self.cutoffs)
        if self.d_ff == 0:
            self.d_ff = 4 * self.d_model
        checks = [
            (self.vocab_size >= 2, f"vocabulary size must be at least 2, got {self.vocab_size}"),
            (self.context >= 1, f"--context must be at least 1, got {self.context}"),
            (self.n_layers >= 1, f"--layers must be at least 1, got {self.n_layers}"),
            (self.d_model >= 1 and self.n_heads >= 1, f"--d-model and --heads must be positive, got {self.d_model} and {self.n_heads}"),
            (self.d_model % max(self.n_heads, 1) == 0,
             f"--heads {self.n_heads} does not divide --d-model {self.d_model}; choose a number of heads that divides it"),
            (self.d_ff >= 1, f"--d-ff must be positive (or 0 for 4 x d-model), got {self.d_ff}"),
            (self.div_value > 1.0, f"the adaptive softmax div_value must exceed 1, got {self.div_value}"),
            (0.0 <= self.dropout < 1.0, f"--dropout must be in [0, 1), got {self.dropout}"),
            (self.positional in ("learned", "sinusoidal"), f"--positional must be learned or sinusoidal, got {self.positional!r}"),
            (self.output in ("adaptive", "full"), f"--output must be adaptive or full, got {self.output!r}"),
        ]
        _raise_first_failure(checks)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cutoffs"] = list(self.cutoffs)
        return d


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

    def __post_init__(self):
        if self.epochs is None and self.minutes is None and self.steps is None:
            self.minutes = 10.0
        checks = [
            (self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}"),
            (self.lr > 0, f"--lr must be positive, got {self.lr}"),
            (self.epochs is None or self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}"),
            (self.minutes is None or self.minutes > 0, f"--minutes must be positive, got {self.minutes}"),
            (self.steps is None or self.steps >= 1, f"--steps must be at least 1, got {self.steps}"),
            (self.eval_every_steps is None or self.eval_every_steps >= 1,
             f"--eval-every-steps must be at least 1, got {self.eval_every_steps}"),
            (self.eval_stride >= 0, f"the evaluation stride must be 0 (context // 2) or positive, got {self.eval_stride}"),
            (self.weight_decay >= 0, f"--weight-decay must be at least 0, got {self.weight_decay}"),
            (self.grad_clip > 0, f"the gradient clipping norm must be positive, got {self.grad_clip}"),
            (0.0 <= self.warmup < 1.0, f"--warmup is a share of the budget in [0, 1), got {self.warmup}"),
            (0.0 < self.decay <= 1.0, f"--decay is a share of the budget in (0, 1], got {self.decay}"),
            (self.eval_every_minutes > 0, f"--eval-every must be positive, got {self.eval_every_minutes}"),
        ]
        _raise_first_failure(checks)

    def eval_interval_steps(self) -> int | None:
        """Steps between evaluations under a steps budget (None otherwise): at least five
        points on the curve, the last one at the end."""
        if self.steps is None:
            return None
        return self.eval_every_steps or max(1, self.steps // 5)
