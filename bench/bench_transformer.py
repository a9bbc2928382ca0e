#!/usr/bin/env python3
"""Benchmark of the Transformer language model on the Penn Treebank.

Two parts, in one run:

1. speed: training steps of the default configuration, timed after a burn-in,
   with three output layers side by side: our adaptive softmax (the default),
   PyTorch's ``nn.AdaptiveLogSoftmaxWithLoss`` (the peer) and a full softmax.
   For each: tokens/s, ms per step, and the share of the step spent in the
   output layer (its forward + backward timed alone on the same hidden states).
2. quality: the default configuration trained for ``--minutes`` of training
   time, with valid and test scored every ``--eval-every`` minutes (the curve
   of test perplexity against training minutes), then the best model on valid
   scored on all 82,430 test tokens with a sliding window, next to the
   Kneser-Ney 5-gram reference (KenLM: 141.186).

    python bench/bench_transformer.py --minutes 10
    python bench/bench_transformer.py --minutes 30 --json runs/transformer30.json
    python bench/bench_transformer.py --speed-only
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from perplex.attention.device import autocast
from perplex.device import resolve_device
from perplex.attention.config import sized_config
from perplex.attention.model import TransformerConfig, TransformerLM
from perplex.attention.scoring import TransformerScorer
from perplex.attention.train import TrainConfig, Trainer, make_optimizer, set_seed
from perplex.attention.windows import epoch_starts, gather_windows, shifted_inputs
from perplex.corpus import load_splits
from perplex.eval import evaluate
from perplex.fileio import atomic_write

KENLM_5GRAM_TEST_PPL = 141.186  # modified Kneser-Ney 5-gram, KenLM lmplz, same ids (issue 4)
PUBLISHED = "published PTB test perplexities: KN 5-gram 141.2, small LSTM ~114, medium LSTM with dropout ~82"


class TorchAdaptive(nn.Module):
    """The peer: PyTorch's adaptive softmax behind our output-layer interface (untied head)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.asm = nn.AdaptiveLogSoftmaxWithLoss(config.d_model, config.vocab_size, list(config.cutoffs),
                                                 div_value=config.div_value, head_bias=True)

    def target_log_prob(self, h, targets, embedding):
        return self.asm(h.float(), targets).output

    def log_prob(self, h, embedding):
        return self.asm.log_prob(h.float())


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


class StepTimer:
    """Times training steps of one model, and its output layer's forward + backward alone."""

    def __init__(self, model, x, context, batch_size, device):
        self.model, self.x, self.context, self.batch_size, self.device = model, x, context, batch_size, device
        self.optimizer = make_optimizer(model, TrainConfig(batch_size=batch_size))
        self.starts = epoch_starts(len(x) - 1, context, 0, 0)
        self.i = 0
        self.step_times, self.output_times = [], []

    def step(self, record: bool = True) -> None:
        model, device = self.model, self.device
        model.train()
        s = self.starts[self.i * self.batch_size: (self.i + 1) * self.batch_size]
        self.i += 1
        inp, tgt = (torch.from_numpy(a).to(device) for a in gather_windows(self.x, s, self.context))
        _sync(device)
        t0 = time.perf_counter()
        with autocast(device):
            loss = model.loss(inp, tgt)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        _sync(device)
        t1 = time.perf_counter()
        # The output layer alone, on hidden states of the same shape.
        with torch.no_grad(), autocast(device):
            h, _ = model.hidden(inp)
        h = h.detach().reshape(-1, h.size(-1)).requires_grad_(True)
        _sync(device)
        t2 = time.perf_counter()
        with autocast(device):
            out_loss = -model.output.target_log_prob(h, tgt.reshape(-1), model.tok_emb.weight).mean()
        out_loss.backward()
        _sync(device)
        t3 = time.perf_counter()
        model.zero_grad(set_to_none=True)
        if record:
            self.step_times.append(t1 - t0)
            self.output_times.append(t3 - t2)


def speed(splits, device, steps, batch_size, burn_in=2):
    """The three output layers timed in turns (one step each per round), so that a
    machine whose load changes during the run affects all three alike."""
    x = shifted_inputs(splits.train.ids)
    labels = ("adaptive (ours, tied head)", "adaptive (torch peer, untied)", "full softmax (tied)")
    timers = []
    for label in labels:
        set_seed(0)
        base = TransformerConfig(vocab_size=len(splits.vocab), output="full" if label.startswith("full") else "adaptive")
        model = TransformerLM(base)
        if "peer" in label:
            model.output = TorchAdaptive(base)
        timers.append(StepTimer(model.to(device), x, base.context, batch_size, device))
    for r in range(burn_in + steps):
        for timer in timers:
            timer.step(record=r >= burn_in)
    rows = []
    for label, t in zip(labels, timers):
        step_s, out_s = float(np.median(t.step_times)), float(np.median(t.output_times))
        rows.append({"output_layer": label, "parameters": t.model.n_parameters(), "ms_per_step": 1000 * step_s,
                     "tokens_per_s": batch_size * t.context / step_s, "output_ms": 1000 * out_s,
                     "output_share": out_s / step_s})
    return rows


def print_speed(rows, device):
    print(f"\n== speed: default model (d_model 256, 2 layers, 4 heads, context 128), batch 32 x 128 tokens, "
          f"{device}, {torch.get_num_threads()} threads ==")
    print(f"{'output layer':<31} {'params':>10} {'ms/step':>9} {'tokens/s':>9} {'output ms':>10} {'output share':>13}")
    for r in rows:
        print(f"{r['output_layer']:<31} {r['parameters']:>10,} {r['ms_per_step']:>9.1f} {r['tokens_per_s']:>9,.0f} "
              f"{r['output_ms']:>10.1f} {r['output_share']:>12.1%}")
    ours, peer, full = rows
    print(f"ratio tokens/s: ours / torch adaptive = {ours['tokens_per_s'] / peer['tokens_per_s']:.2f}x, "
          f"ours / full softmax = {ours['tokens_per_s'] / full['tokens_per_s']:.2f}x")


def model_config(splits, args) -> TransformerConfig:
    """The default configuration (rare words' class and cutoffs from the counts, as the
    command's), with the overrides given on the command line."""
    overrides = {"n_layers": args.layers, "d_model": args.d_model, "n_heads": args.heads, "dropout": args.dropout,
                 "output": args.output}
    kw = {k: v for k, v in overrides.items() if v is not None}
    if args.no_tie:
        kw["tie_embeddings"] = False
    return sized_config(splits.vocab.counts, **kw)


def quality(splits, device, args):
    set_seed(args.seed)
    model = TransformerLM(model_config(splits, args), splits.vocab.counts)
    train_kw = {k: v for k, v in (("batch_size", args.batch_size), ("lr", args.lr)) if v is not None}
    config = TrainConfig(minutes=args.minutes, seed=args.seed, eval_every_minutes=args.eval_every,
                         eval_stride=args.stride, **train_kw)
    Path(args.checkpoint).parent.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(model, splits.vocab, config, device, args.checkpoint, f"{args.checkpoint}.log.json",
                      progress=sys.stderr.isatty(), report=not sys.stderr.isatty())
    wall = time.perf_counter()
    trainer.fit(splits.train, splits.corpora["valid"], track={"test": splits.corpora["test"]})
    wall = time.perf_counter() - wall
    finals = {}
    for stride in sorted({args.stride, model.config.context}):
        scorer = TransformerScorer(trainer.model, splits.vocab, stride=stride)
        finals[stride] = evaluate(scorer, splits.corpora["test"], "test")
    return trainer, finals, wall


def print_quality(trainer, finals, wall, args):
    c, t = trainer.model.config, trainer.config
    print(f"\n== quality: {args.minutes:g} training minutes ({wall / 60:.1f} min wall clock with evaluations), "
          f"seed {args.seed} ==")
    print(f"model: {c.n_layers} layers, d_model {c.d_model}, {c.n_heads} heads, context {c.context}, dropout {c.dropout}, "
          f"{c.output} softmax{' (tied)' if c.tie_embeddings else ''}, {trainer.model.n_parameters():,} parameters; "
          f"AdamW lr {t.lr}, batch {t.batch_size}, warm-up {t.warmup:.0%}, peak until {1 - t.decay:.0%}, then cosine to {t.min_lr_ratio} x lr")
    print(f"{'minutes':>7} {'epochs':>6} {'tokens/s':>9} {'train loss':>10} {'valid PPL':>10} {'test PPL':>9}")
    for r in trainer.history:
        print(f"{r['minutes']:>7.2f} {r['epoch']:>6.2f} {r['tokens_per_s']:>9,.0f} {r['train_loss']:>10.3f} "
              f"{r['valid_perplexity']:>10.2f} {r['test_perplexity']:>9.2f}{'  *' if r['best'] else ''}")
    print(f"(* best on valid so far; curve points use a sliding window with stride {trainer.history[-1]['eval_stride']})")
    print("\nbest model on valid, all test tokens:")
    for stride, r in finals.items():
        print(f"  context {trainer.model.config.context}, stride {stride:>3}: {r.tokens:,} tokens, "
              f"test perplexity {r.perplexity:.2f} (excl. OOV {r.perplexity_excl_oov:.2f}), {r.bits_per_char:.4f} bits/char")
    best = min(r.perplexity for r in finals.values())
    print(f"reference: Kneser-Ney 5-gram (KenLM) {KENLM_5GRAM_TEST_PPL}; ratio ours / 5-gram = "
          f"{best / KENLM_5GRAM_TEST_PPL:.3f} ({'beats' if best < KENLM_5GRAM_TEST_PPL else 'does not beat'} the 5-gram)")
    print(PUBLISHED)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0, help="training-time budget of the quality run")
    p.add_argument("--eval-every", type=float, default=2.0, help="training minutes between curve points")
    p.add_argument("--stride", type=int, default=64, help="sliding-window stride of the test scores")
    p.add_argument("--speed-steps", type=int, default=10, help="timed steps per output layer (after 2 burn-in steps; the layers take turns)")
    p.add_argument("--speed-only", action="store_true", help="skip the quality run")
    p.add_argument("--skip-speed", action="store_true", help="skip the speed comparison")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", default="runs/bench_transformer.pt", help="where the quality run's model goes")
    p.add_argument("--json", metavar="FILE", help="also write every figure (speed rows, curve, test records) as JSON to FILE")
    v = p.add_argument_group("variants of the quality run (default: the default configuration)")
    v.add_argument("--layers", type=int)
    v.add_argument("--d-model", type=int)
    v.add_argument("--heads", type=int)
    v.add_argument("--dropout", type=float)
    v.add_argument("--output", choices=["adaptive", "full"])
    v.add_argument("--no-tie", action="store_true")
    v.add_argument("--batch-size", type=int)
    v.add_argument("--lr", type=float)
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    splits = load_splits()
    print(f"Penn Treebank: |V| = {len(splits.vocab):,}, train {splits.train.n_tokens:,} tokens, "
          f"test {splits.corpora['test'].n_tokens:,} tokens; device {device}, torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs visible, {torch.get_num_threads()} torch threads", flush=True)
    out = {"device": str(device), "threads": torch.get_num_threads()}
    if not args.skip_speed:
        rows = speed(splits, device, args.speed_steps, 32)
        print_speed(rows, device)
        out["speed"] = rows
    if not args.speed_only:
        trainer, finals, wall = quality(splits, device, args)
        print_quality(trainer, finals, wall, args)
        out["curve"] = trainer.history
        out["test"] = [r.record() | {"context": trainer.model.config.context, "stride": s} for s, r in finals.items()]
        out["kenlm_5gram_test_perplexity"] = KENLM_5GRAM_TEST_PPL
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(args.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
