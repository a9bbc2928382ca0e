"""Training a :class:`TransformerLM` on the id stream, within a time or epoch budget.

The loop is fetch → forward → backward → clip → step (minGPT's trainer):

* batches are random contiguous windows of the training stream (``</s>``
  between sentences), every token once per epoch (:mod:`attention.windows`);
* AdamW with decoupled weight decay on the matrices only (Loshchilov & Hutter
  2019), a linear warm-up, the peak rate held, then a cosine decay over the
  end of the budget (warmup-stable-decay, Hägele et al. 2024; nanoGPT's ``get_lr``
  is the case ``decay=1``), all as shares of the budget; the budget is ``steps``,
  ``epochs``, ``minutes`` of training time, or whichever ends first;
* the gradient norm is clipped; on CUDA the forward pass runs in mixed precision;
* every ``eval_every_minutes`` of training time (with a steps budget: every
  ``eval_every_steps`` steps, a fifth of the budget by default; with an epoch
  budget alone: after every epoch, so the chosen model does not depend on the clock), and
  at the end, the model is scored on valid; the best model is kept
  (``PATH``), the latest resumable state too (``PATH.last``), and the curve
  goes to a JSON log;
* an interruption (Ctrl-C, or SIGTERM from ``kill`` or a job scheduler) writes
  the resumable state first; ``resume`` continues from it with the same
  windows, dropout masks and schedule.

Training time excludes evaluation and checkpoint writing, so "minutes" means
minutes of optimisation.  With ``steps`` or ``epochs`` the run is reproducible
from ``seed`` on a CPU; with ``minutes`` the number of steps depends on the
machine's speed and load.  Every evaluation scores valid with the window of the
final scores, so the curve's points and the final figure are the same measure.
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from perplex.attention.checkpoint import last_path, load_checkpoint, save_checkpoint
from perplex.attention.config import TrainConfig
from perplex.attention.device import autocast, grad_scaler
from perplex.attention.model import TransformerLM
from perplex.attention.scoring import TransformerScorer
from perplex.attention.train_state import check_train_state
from perplex.attention.windows import epoch_starts, gather_windows, shifted_inputs
from perplex.corpus.encoded import EncodedCorpus
from perplex.corpus.vocabulary import Vocabulary
from perplex.eval.metrics import evaluate
from perplex.errors import PerplexError
from perplex.fileio import atomic_write
from perplex.jsonout import dumps
from perplex.signals import sigterm_as_interrupt


def set_seed(seed: int) -> None:
    """Seed every generator the training touches (minGPT's ``set_seed``)."""
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


# Under a time budget the warm-up also lasts this many steps: on a loaded machine 15% of the
# minutes can hold only ~60 steps, and a warm-up of ~50 steps left PTB at test 162 where
# ~150 gave 125 (README, "Transformer").  Idle, 15% of 10 minutes is ~170 steps: no change.
MIN_WARMUP_STEPS = 150


def learning_rate(config: TrainConfig, progress: float, step: int | None = None) -> float:
    """The learning rate at ``progress`` ∈ [0, 1] through the budget (steps or training time).

    1. warm-up: linear up to lr over the first ``warmup`` share of the budget
       (never below lr / 100, so the first step already moves); under a minutes budget
       alone, also over at least ``MIN_WARMUP_STEPS`` steps (``step``, the steps done);
    2. after the budget: the floor lr * min_lr_ratio;
    3. in between: lr until the last ``decay`` share of the budget, then a cosine decay
       from lr to the floor (``decay`` = 1: the decay starts right after the warm-up).
    """
    rate = _scheduled_rate(config, progress)
    if step is not None and config.warmup > 0 and config.minutes is not None and config.steps is None \
            and config.epochs is None:
        rate = min(rate, config.lr * max(step / MIN_WARMUP_STEPS, 0.01))
    return rate


def _scheduled_rate(config: TrainConfig, progress: float) -> float:
    floor = config.lr * config.min_lr_ratio
    if progress < config.warmup:
        return config.lr * max(progress / config.warmup, 0.01)
    if progress >= 1.0:
        return floor
    start = max(config.warmup, 1.0 - config.decay)
    if progress <= start:
        return config.lr
    decay = (progress - start) / (1.0 - start)
    return floor + 0.5 * (config.lr - floor) * (1.0 + math.cos(math.pi * decay))


def make_optimizer(model: TransformerLM, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on tensors of 2+ dimensions only (nanoGPT's grouping)."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, config.beta2))


class Trainer:
    """Runs the training loop and owns its state (step, clock, best model, curve).

    Parameters
    ----------
    model : TransformerLM
    vocab : Vocabulary
    config : TrainConfig
    device : torch.device
    checkpoint : path, optional
        Best model to ``checkpoint``, resumable state to ``checkpoint.last``.
    log_path : path, optional
        The curve (one record per evaluation) as a JSON list, rewritten at each evaluation.
    progress : bool
        Show a tqdm bar with loss and tokens/s.
    on_step : callable, optional
        Called as ``on_step(trainer)`` after every optimisation step (tests use
        it to simulate an interruption).
    report : bool
        Print one line per evaluation to stderr (for runs logged to a file,
        where no progress bar is shown).
    """

    def __init__(
        self,
        model: TransformerLM,
        vocab: Vocabulary,
        config: TrainConfig,
        device: torch.device,
        checkpoint: str | os.PathLike | None = None,
        log_path: str | os.PathLike | None = None,
        progress: bool = False,
        on_step: Callable[["Trainer"], None] | None = None,
        report: bool = False,
    ):
        self.model, self.vocab, self.config, self.device = model.to(device), vocab, config, device
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.log_path = Path(log_path) if log_path is not None else None
        self.progress, self.on_step, self.report = progress, on_step, report
        self.optimizer = make_optimizer(model, config)
        self.scaler = grad_scaler(device)
        # Training state (all of it goes into the resumable checkpoint).
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.train_seconds = 0.0
        self.tokens_seen = 0
        self.best_valid = math.inf
        self.history: list[dict] = []
        self.best_state: dict | None = None
        # valid scored with the final window at the best point: the final valid figure, not computed twice
        self.best_valid_evaluation = None
        self._loss_sum, self._loss_count = 0.0, 0

    # ----------------------------------------------------------------- budget
    def _steps_per_epoch(self, n_targets: int) -> int:
        windows = max(1, (n_targets - self.model.config.context) // self.model.config.context + 1)
        return math.ceil(windows / self.config.batch_size)

    def progress_fraction(self, n_targets: int) -> float:
        """How far through the budget the run is (the larger of the epoch and time fractions)."""
        parts = []
        if self.config.steps is not None:
            parts.append(self.step / self.config.steps)
        if self.config.epochs is not None:
            parts.append(self.step / (self.config.epochs * self._steps_per_epoch(n_targets)))
        if self.config.minutes is not None:
            parts.append(self.train_seconds / (60.0 * self.config.minutes))
        return min(1.0, max(parts))

    def _done(self) -> bool:
        c = self.config
        return ((c.epochs is not None and self.epoch >= c.epochs)
                or (c.steps is not None and self.step >= c.steps)
                or (c.minutes is not None and self.train_seconds >= 60.0 * c.minutes))

    # ------------------------------------------------------------------ state
    def state_dict(self, rng_state: torch.Tensor | None = None) -> dict:
        """Everything needed to continue the run exactly (the ``train`` entry of a checkpoint)."""
        state = {
            "config": self.config.to_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "train_seconds": self.train_seconds,
            "tokens_seen": self.tokens_seen,
            "best_valid": self.best_valid,
            "history": json.dumps(self.history),
            "torch_rng": torch.get_rng_state() if rng_state is None else rng_state,
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def load_state_dict(self, state: dict, source: str | os.PathLike | None = None) -> None:
        """Continue from a saved training state (after loading the model weights).

        The state is checked first (:func:`check_train_state`); a refusal names ``source``.
        """
        try:
            check_train_state(state, self.optimizer)
        except PerplexError as exc:
            where = f"{source} is a damaged checkpoint" if source is not None else "the training state is damaged"
            raise PerplexError(f"{where}: {exc}; start a new run without --resume") from None
        self.optimizer.load_state_dict(state["optimizer"])
        if state["scaler"]:  # a CPU run saves a disabled scaler's empty state: a GPU run keeps its fresh one
            self.scaler.load_state_dict(state["scaler"])
        for key in ("step", "epoch", "batch_in_epoch", "train_seconds", "tokens_seen", "best_valid"):
            setattr(self, key, state[key])
        self.history = json.loads(state["history"])
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and "cuda_rng" in state:
            try:
                torch.cuda.set_rng_state(state["cuda_rng"], self.device)
            except RuntimeError:
                pass  # a state from another GPU generation: this run's sampling differs, nothing else

    def _save_last(self, rng_state: torch.Tensor | None = None) -> None:
        if self.checkpoint is not None:
            save_checkpoint(last_path(self.checkpoint), self.model, self.vocab, self.state_dict(rng_state))

    # ------------------------------------------------------------- evaluation
    def _evaluate(self, valid: EncodedCorpus | None, track: dict[str, EncodedCorpus]) -> dict:
        c = self.model.config
        # the final scores' window (stride context // 2 unless set), so the curve's last point is the final figure
        stride = min(self.config.eval_stride, c.context) or None
        scorer = TransformerScorer(self.model, self.vocab, stride=stride)
        record = {
            "step": self.step,
            "epoch": round(self.epoch + self.batch_in_epoch / max(1, self._n_batches), 4),
            "minutes": round(self.train_seconds / 60.0, 4),
            "tokens": self.tokens_seen,
            "tokens_per_s": round(self.tokens_seen / max(self.train_seconds, 1e-9), 1),
            "lr": self._lr,
            "train_loss": self._loss_sum / max(self._loss_count, 1),
            "eval_stride": scorer.stride,
        }
        self._loss_sum, self._loss_count = 0.0, 0
        splits = ({"valid": valid} if valid is not None else {}) | dict(track)
        scores = {name: evaluate(scorer, corpus, name) for name, corpus in splits.items()}
        for e in scores.values():
            e.extra["stride"] = scorer.stride
        record.update((f"{name}_perplexity", e.perplexity) for name, e in scores.items())
        improved = valid is None or record["valid_perplexity"] < self.best_valid
        if valid is not None and improved:
            self.best_valid = record["valid_perplexity"]
            self.best_valid_evaluation = scores["valid"]
        if improved:
            self.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in self.model.state_dict().items()})
            if self.checkpoint is not None:
                save_checkpoint(self.checkpoint, self.model, self.vocab)
        record["best"] = improved
        self.history.append(record)
        if self.report:
            scores = ", ".join(f"{k[:-11]} PPL {v:.2f}" for k, v in record.items() if k.endswith("_perplexity"))
            print(f"[{record['minutes']:.2f} min, epoch {record['epoch']:.2f}, step {record['step']}] "
                  f"train loss {record['train_loss']:.3f}, {scores}, {record['tokens_per_s']:,.0f} tokens/s"
                  f"{' (best)' if improved else ''}", file=sys.stderr, flush=True)
        self._save_last()
        if self.log_path is not None:
            with atomic_write(self.log_path, "w") as f:
                f.write(dumps(self.history, indent=1))  # strict JSON: a nan loss is null
        return record

    # ------------------------------------------------------------------- loop
    def fit(
        self,
        train: EncodedCorpus,
        valid: EncodedCorpus | None = None,
        track: dict[str, EncodedCorpus] | None = None,
    ) -> "Trainer":
        """Train until the budget is spent; the model ends with the best weights on valid.

        Parameters
        ----------
        train : EncodedCorpus
            Its ``ids`` are the training stream.
        valid : EncodedCorpus, optional
            Scored at each evaluation; chooses the best checkpoint.
        track : dict of str to EncodedCorpus, optional
            More splits scored at each evaluation (the benchmark's test curve).
        """
        track = track or {}
        c, mc = self.config, self.model.config
        n = train.n_tokens
        if n < 2:
            raise PerplexError(f"the training data has {n} token(s); give at least one sentence with a word")
        check_finite_weights(self.model, "the model's initial weights")
        x = shifted_inputs(train.ids)
        length = min(mc.context, n)
        self._n_batches = self._steps_per_epoch(n)
        self._lr = learning_rate(c, self.progress_fraction(n), self.step)
        next_eval = (math.floor(self.train_seconds / 60.0 / c.eval_every_minutes) + 1) * c.eval_every_minutes * 60.0
        bar = _progress_bar(c, self.progress, self.train_seconds, self.step)
        every_steps = c.eval_interval_steps()
        self.model.train()
        rng_state = torch.get_rng_state()
        with sigterm_as_interrupt():  # SIGTERM as Ctrl-C: a killed run saves its state (perplex.signals)
            try:
                while not self._done():
                    starts = epoch_starts(n, mc.context, c.seed, self.epoch)
                    for b in range(self.batch_in_epoch * c.batch_size, len(starts), c.batch_size):
                        t0 = time.perf_counter()
                        self._lr = learning_rate(c, self.progress_fraction(n), self.step)
                        for group in self.optimizer.param_groups:
                            group["lr"] = self._lr
                        inputs, targets = gather_windows(x, starts[b : b + c.batch_size], length)
                        inputs = torch.from_numpy(inputs).to(self.device, non_blocking=True)
                        targets = torch.from_numpy(targets).to(self.device, non_blocking=True)
                        with autocast(self.device):
                            loss = self.model.loss(inputs, targets)
                        self.scaler.scale(loss).backward()
                        self.scaler.unscale_(self.optimizer)
                        torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip)
                        self.scaler.step(self.optimizer)
                        self.scaler.update()
                        self.optimizer.zero_grad(set_to_none=True)
                        loss_value = loss.item()  # also waits for the GPU, so the clock below is honest
                        dt = time.perf_counter() - t0
                        self.step, self.batch_in_epoch = self.step + 1, self.batch_in_epoch + 1
                        rng_state = torch.get_rng_state()  # where an interrupted next step must restart from
                        self.train_seconds += dt
                        self.tokens_seen += targets.numel()
                        if not math.isfinite(loss_value):  # the weights were finite at the start (checked above)
                            raise PerplexError(f"the training loss became {loss_value} at step {self.step}: the weights "
                                               f"diverged; train again with a lower --lr (this run's is {c.lr})")
                        self._loss_sum += loss_value
                        self._loss_count += 1
                        if bar is not None:
                            bar.update(dt if c.minutes is not None and c.steps is None else 1)
                            bar.set_postfix(loss=f"{loss_value:.3f}", tok_s=f"{self.tokens_seen / self.train_seconds:,.0f}", refresh=False)
                        if self.on_step is not None:
                            self.on_step(self)
                        if self._done():
                            break
                        if every_steps is not None:
                            if self.step % every_steps == 0:
                                self._evaluate(valid, track)
                        elif c.minutes is not None and self.train_seconds >= next_eval:
                            self._evaluate(valid, track)
                            next_eval += c.eval_every_minutes * 60.0
                    else:
                        self.epoch, self.batch_in_epoch = self.epoch + 1, 0
                        if c.minutes is None and every_steps is None and not self._done():
                            self._evaluate(valid, track)  # epoch budget: at epoch ends, so the best model is reproducible
                self._evaluate(valid, track)
            except KeyboardInterrupt:
                if self.checkpoint is not None:
                    self._save_last(rng_state)
                    print(f"\nperplex: training state saved to {last_path(self.checkpoint)}; continue with --resume", file=sys.stderr)
                raise
            finally:
                if bar is not None:
                    bar.close()
        if self.best_state is None and self.checkpoint is not None and self.checkpoint.exists():
            # A resumed run that did not improve on valid: the best model is the one saved before.
            self.best_state = load_checkpoint(self.checkpoint, vocab=self.vocab)[0].state_dict()
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        self.model.eval()
        return self


def check_finite_weights(model: torch.nn.Module, what: str) -> None:
    """Refuse weights holding nan or inf before training (so a nan loss is never blamed on the
    learning rate when the run started from broken weights)."""
    for name, p in model.named_parameters():
        if not torch.isfinite(p.detach()).all():
            raise PerplexError(f"{what} hold nan or inf values (in {name}); the run cannot start from them")


def _progress_bar(config: TrainConfig, enabled: bool, seconds_done: float, steps_done: int):
    if not enabled:
        return None
    from tqdm import tqdm

    if config.steps is not None:
        return tqdm(total=config.steps, initial=steps_done, unit="step", desc="training")
    if config.minutes is not None:
        return tqdm(total=round(min(60 * config.minutes, 1e12)), initial=seconds_done, unit="s", desc="training",
                    bar_format="{l_bar}{bar}| {n:.0f}/{total_fmt}s {postfix}")
    return tqdm(total=None, initial=steps_done, unit="step", desc="training")
