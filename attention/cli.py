"""The ``transformer`` and ``attention`` subcommands (``generate``, which serves n-grams
too, is :mod:`perplex.cli_generate`).

Each handler builds the configs from the options, calls the library and prints;
torch is imported only inside the handlers so ``perplex --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from perplex.attention.config import TrainConfig, TransformerConfig, sized_config
from perplex.attention.rare import RARE_BELOW
from perplex.cli_common import (Formatter, add_data_options, check_outputs, finite_float, load_data, positive_float,
                                 positive_int, print_results, progress_enabled, seed_int)
from perplex.device import DEVICES
from perplex.errors import PerplexError

DEFAULT_CHECKPOINT = "runs/transformer.pt"

TRANSFORMER_HELP = """\
Train a small GPT-style Transformer on the token stream and score it with the shared evaluation.

examples:
  perplex transformer                         10 minutes of training on PTB (the default configuration)
  perplex transformer --minutes 30 --json     a longer run, JSON records
  perplex transformer --steps 1150 --seed 1   a step budget (about 10 idle minutes): the same numbers on any machine
  perplex transformer --resume                continue an interrupted run (runs/transformer.pt.last)
  perplex transformer --eval-only --stride 32 score the saved model with more context per token
  perplex transformer --init-embeddings sgns.vec   start from word vectors (word2vec format)
"""

ATTENTION_HELP = """\
Draw what each attention head of a trained Transformer looks at, for one sentence.

example:
  perplex attention "the stock market fell" --out attention_maps
"""



def _cutoffs(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected increasing word ranks such as 2000,6000, got {text!r}") from None
    return values


# The options' defaults are the configs' field defaults (attention.config does not import torch).
ARCH, RUN = TransformerConfig, TrainConfig


def register(sub) -> None:
    p = sub.add_parser("transformer", help="train and evaluate a small Transformer language model",
                       description=TRANSFORMER_HELP, formatter_class=Formatter)
    add_data_options(p)
    m = p.add_argument_group("model")
    m.add_argument("--layers", type=positive_int, default=ARCH.n_layers, help="Transformer blocks")
    m.add_argument("--d-model", type=positive_int, default=ARCH.d_model, help="width of the hidden states")
    m.add_argument("--heads", type=positive_int, default=ARCH.n_heads, help="attention heads (must divide --d-model)")
    m.add_argument("--context", type=positive_int, default=None,
                   help=f"tokens of context: the model's positions when training (default {ARCH.context}); "
                        "with --eval-only the evaluation window (at most the model's)")
    m.add_argument("--dropout", type=finite_float, default=ARCH.dropout, help="dropout on embeddings, attention and residuals")
    m.add_argument("--d-ff", type=int, default=ARCH.d_ff, help="feed-forward width (0 = 4 x d-model)")
    m.add_argument("--positional", choices=["learned", "sinusoidal"], default=ARCH.positional, help="positional encoding")
    m.add_argument("--output", choices=["adaptive", "full"], default=ARCH.output,
                   help="output layer: adaptive softmax (fast on CPU) or full softmax")
    m.add_argument("--cutoffs", type=_cutoffs, default=None,
                   help="adaptive softmax cluster boundaries over the frequency-sorted ids (default: the ranks "
                        "whose words cover 87%% and 96.8%% of the training tokens, to two digits: 2000,6000 on "
                        "the Penn Treebank)")
    m.add_argument("--rare-below", type=positive_int, default=RARE_BELOW, metavar="K",
                   help="words seen fewer than K times in training share <unk>'s class: one embedding and one "
                        "output entry, the class's probability split among its words by their training counts "
                        "(the rest, by absolute discounting, to <unk>); the scores stay over the whole "
                        "vocabulary. 1: every word its own class")
    m.add_argument("--no-tie", action="store_true", help="do not tie the output rows to the input embeddings")
    m.add_argument("--init-embeddings", metavar="VECTORS",
                   help="initialise the token embeddings from word2vec-format vectors (text or binary; "
                        "their size must equal --d-model)")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=positive_int, default=None, help="passes over the training stream")
    t.add_argument("--minutes", type=positive_float, default=None,
                   help="training-time budget (default 10 when neither --epochs nor --steps is given; with several "
                        "budgets, whichever ends first)")
    t.add_argument("--steps", type=positive_int, default=None,
                   help="optimizer-step budget (--batch-size windows per step): the same run on any machine, "
                        "however loaded, for a seed (on a CPU)")
    t.add_argument("--batch-size", type=positive_int, default=RUN.batch_size, help="windows per step")
    t.add_argument("--lr", type=positive_float, default=RUN.lr, help="peak AdamW learning rate")
    t.add_argument("--warmup", type=finite_float, default=RUN.warmup,
                   help="share of the budget for the linear warm-up (default %(default)s)")
    t.add_argument("--decay", type=finite_float, default=RUN.decay,
                   help="share of the budget, at its end, for the cosine decay to 1%% of --lr; before it the "
                        "learning rate stays at its peak (default %(default)s; 1 = cosine right after the warm-up)")
    t.add_argument("--weight-decay", type=finite_float, default=RUN.weight_decay, help="AdamW weight decay on matrices")
    t.add_argument("--eval-every", type=positive_float, default=RUN.eval_every_minutes,
                   help="score valid every this many training minutes (with --epochs alone: after every epoch)")
    t.add_argument("--eval-every-steps", type=positive_int, default=None, metavar="K",
                   help="with --steps: score valid every K steps (default a fifth of --steps)")
    t.add_argument("--seed", type=seed_int, default=RUN.seed, help="random seed (runs with --epochs repeat exactly on a CPU)")
    t.add_argument("--device", choices=DEVICES, default="auto",
                   help="where to train and score (CUDA runs in mixed precision)")
    f = p.add_argument_group("files")
    f.add_argument("--checkpoint", metavar="FILE", default=DEFAULT_CHECKPOINT,
                   help="best model on valid; the resumable latest state goes to FILE.last")
    f.add_argument("--resume", action="store_true", help="continue the interrupted run saved in FILE.last")
    f.add_argument("--eval-only", action="store_true", help="do not train: score the model saved in --checkpoint")
    f.add_argument("--log", metavar="FILE", default=None, help="JSON log of the training curve (default: FILE.log.json)")
    e = p.add_argument_group("evaluation")
    e.add_argument("--stride", type=positive_int, default=None,
                   help="sliding-window stride of every score, the training curve's and the final ones "
                        "(default context/2): every token is predicted once, with at least context - stride "
                        "tokens of context")
    e.add_argument("--prediction-entropy", action="store_true",
                   help="also report the mean entropy of the predicted distributions (one full distribution per token)")
    e.add_argument("--json", action="store_true", help="print JSON records (docs/conventions.md) instead of a table")
    p.set_defaults(run=run_transformer)

    a = sub.add_parser("attention", help="heatmaps and entropies of a Transformer's attention heads",
                       description=ATTENTION_HELP, formatter_class=Formatter)
    a.add_argument("sentence", help="the words to look at (quoted)")
    a.add_argument("--model", metavar="FILE", default=DEFAULT_CHECKPOINT, help="a checkpoint from 'transformer'")
    a.add_argument("--out", metavar="DIR", default="attention_maps", help="folder for the PNG heatmaps (one per head)")
    a.add_argument("--device", choices=DEVICES, default="auto", help="where the model runs (auto: CUDA when present)")
    a.add_argument("--json", action="store_true", help="print the per-head entropies as JSON")
    a.set_defaults(run=run_attention)


def build_configs(args, vocab) -> tuple[TransformerConfig, TrainConfig]:
    """The architecture and the training run the options describe (the rare words' shared
    class and the output layer's cutoffs, unless given, sized from the vocabulary's training counts)."""
    model = sized_config(
        vocab.counts, args.rare_below, args.cutoffs, context=args.context or ARCH.context, n_layers=args.layers,
        d_model=args.d_model, n_heads=args.heads, d_ff=args.d_ff, dropout=args.dropout, positional=args.positional,
        output=args.output, tie_embeddings=not args.no_tie,
    )
    train = TrainConfig(
        batch_size=args.batch_size, lr=args.lr, warmup=args.warmup, decay=args.decay, weight_decay=args.weight_decay,
        epochs=args.epochs, minutes=args.minutes, steps=args.steps, seed=args.seed,
        eval_every_minutes=args.eval_every, eval_every_steps=args.eval_every_steps,
    )
    return model, train


def check_training_memory(c: TransformerConfig, batch_size: int, n_tokens: int) -> None:
    """Refuse, naming the options, a model and batch this machine cannot train."""
    from perplex.attention.memory import training_bytes
    from perplex.resources import check_memory

    what = (f"--d-model {c.d_model} --layers {c.n_layers} --heads {c.n_heads} --d-ff {c.d_ff} --context {c.context} "
            f"--batch-size {batch_size} over {c.vocab_size:,} words")
    check_memory(training_bytes(c, batch_size, n_tokens), f"a Transformer with {what}",
                 "lower --d-model, --layers, --d-ff, --context or --batch-size")


def run_transformer(args) -> int:
    from perplex.attention.checkpoint import load_checkpoint
    from perplex.attention.recipe import score_transformer, train_transformer
    from perplex.attention.scoring import window_stride
    from perplex.device import resolve_device

    log = args.log or f"{args.checkpoint}.log.json"
    if not args.eval_only:  # before the data is read and the model trained, not after
        check_outputs(files=[("--checkpoint", args.checkpoint), ("--checkpoint (its .last file)", f"{args.checkpoint}.last"),
                             ("--log", log)], make_folders=True)
    splits = load_data(args)
    if args.eval_only:
        model, _, _ = load_checkpoint(args.checkpoint, vocab=splits.vocab, device=resolve_device(args.device))
        run = score_transformer(model, splits, context=args.context, stride=args.stride,
                                prediction_entropy=args.prediction_entropy)
    else:
        model_config, train_config = build_configs(args, splits.vocab)
        if not args.resume:  # a resumed run's sizes are its checkpoint's, checked when it is read
            check_training_memory(model_config, train_config.batch_size, splits.train.n_tokens)
            window_stride(model_config.context, args.stride)  # a bad --stride fails now, not after training
        run = train_transformer(splits, model_config, train_config, device=args.device, checkpoint=args.checkpoint,
                                log=log, init_embeddings=args.init_embeddings, resume=args.resume,
                                progress=progress_enabled(), stride=args.stride,
                                prediction_entropy=args.prediction_entropy)
        if run.initialized_words:
            found, total = run.initialized_words
            print(f"embeddings: {found:,} of {total:,} words initialised from {args.init_embeddings}", file=sys.stderr)
    if not run.evaluations:
        raise PerplexError("there is no valid or test data to score; give --test FILE or --split")
    model, scorer = run.model, run.scorer
    device = next(model.parameters()).device
    extra = run.training(splits.train.n_tokens) | {"context": scorer.context, "stride": scorer.stride,
                                                    "parameters": model.n_parameters(), "device": str(device)}
    for result in run.evaluations:
        result.extra.update(extra)
    c = model.config
    notes = [
        f"evaluation: {scorer.describe()}",
        f"model: {c.n_layers} layers, d_model {c.d_model}, {c.n_heads} heads, {c.output} softmax, "
        f"{model.n_parameters():,} parameters, on {device}; checkpoint {args.checkpoint}",
    ]
    if "train_minutes" in extra:
        notes.append(f"training: {extra['steps']:,} steps, {extra['train_minutes']:.2f} min, {extra['epochs']:.2f} "
                     f"epochs, {extra['tokens_per_s']:,.0f} tokens/s; curve in {log}")
    print_results(run.evaluations, args.json, notes)
    return 0


def run_attention(args) -> int:
    from perplex.attention.checkpoint import load_checkpoint
    from perplex.attention.heatmap import attention_maps, draw_heatmaps
    from perplex.device import resolve_device
    from perplex.jsonout import dumps

    check_outputs(folders=[("--out", args.out)])
    model, vocab, _ = load_checkpoint(args.model, device=resolve_device(args.device))
    maps = attention_maps(model, vocab, args.sentence)
    paths = draw_heatmaps(maps, args.out)
    records = maps.records()
    for record, path in zip(records, paths):
        record["png"] = str(path)
    if args.json:
        print(dumps(records, indent=2))
        return 0
    print(f"positions: {' '.join(maps.tokens)}")
    print(f"{'layer':>5}  {'head':>4}  {'mean row entropy (bits)':>23}  png")
    for r in records:
        print(f"{r['layer']:>5}  {r['head']:>4}  {r['mean_entropy_bits']:>23.3f}  {r['png']}")
    print(f"(uniform attention over the visible positions would give {records[0]['uniform_entropy_bits']:.3f} bits; "
          "0 = each position attends to a single token)")
    return 0
