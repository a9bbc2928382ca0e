"""The n-gram subcommands: ``ngram`` (train + evaluate) and ``score`` (an ARPA or saved
model on a test set).  ``generate``, which also samples Transformers, is in
:mod:`perplex.cli_generate`."""

from __future__ import annotations

from perplex.cli_common import (Formatter, add_data_options, check_outputs, load_data, non_negative_float,
                                 positive_int, print_results, progress_enabled)
from perplex.errors import PerplexError

NGRAM_HELP = """\
Train an n-gram model and report its figures on the validation and test sets
(tokens, OOVs, zero-probability tokens, log10 P, cross-entropy, perplexity with
and without OOVs, bits per character). Each sentence contributes its words plus
one </s>; <s> is context only; words outside the training vocabulary are <unk>
(the rules: docs/conventions.md in the perplex repository).

smoothings:
{smoothings}

examples:
  perplex ngram --smoothing kn --order 5 --arpa ptb5.arpa
  perplex ngram --smoothing addk --alpha 0.05 --order 2 --json
  perplex ngram --train corpus.txt --split 80/10/10 --tokenize --lowercase
"""



def register(sub) -> None:
    from perplex.lm import SMOOTHINGS

    listing = "\n".join(f"  {s.name:<8} {s.description}" for s in SMOOTHINGS.values())
    p = sub.add_parser("ngram", help="train and evaluate an n-gram model",
                       description=NGRAM_HELP.format(smoothings=listing), formatter_class=Formatter)
    p.add_argument("--smoothing", choices=list(SMOOTHINGS), default="kn", help="estimator (see above)")
    p.add_argument("--order", type=positive_int, default=3, help="highest n-gram order")
    p.add_argument("--alpha", type=non_negative_float, default=None, help="k for --smoothing addk (default 0.01)")
    p.add_argument("--arpa", metavar="FILE", help="also write the model as an ARPA file (Kneser-Ney models; .gz to compress)")
    p.add_argument("--save", metavar="FILE", help="also save the model (perplex .npz) for 'score' and 'generate'")
    p.add_argument("--entropy", action="store_true",
                   help="also report the mean entropy of the model's predictions (slower: one full distribution per token)")
    p.add_argument("--json", action="store_true", help="print the JSON records of docs/conventions.md instead of a table")
    add_data_options(p)
    p.set_defaults(run=run_ngram)

    s = sub.add_parser("score", help="score an ARPA file or saved model on test data",
                       description="Score an existing model (our ARPA files, KenLM's, SRILM's, or a saved perplex "
                       "model) on test data, with the same figures as 'ngram'. Default data: the Penn Treebank "
                       "valid and test sets.", formatter_class=Formatter)
    add_model_options(s)
    s.add_argument("--test", metavar="FILE", help="test text, one pre-tokenized sentence per line (default: PTB valid and test)")
    s.add_argument("--tokenize", action="store_true", help="the test file is raw text: split and tokenize it")
    s.add_argument("--lowercase", action="store_true", help="lowercase the test text")
    s.add_argument("--entropy", action="store_true", help="also report the mean entropy of the predictions")
    s.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    s.set_defaults(run=run_score)


def add_model_options(p, transformer: bool = False) -> None:
    """--arpa FILE or --model FILE, one of them required (``generate`` also takes checkpoints)."""
    m = p.add_mutually_exclusive_group(required=True)
    m.add_argument("--arpa", metavar="FILE", help="an ARPA file (ours, KenLM's or SRILM's; .gz accepted)")
    m.add_argument("--model", metavar="FILE", help="a model saved with 'ngram --save'"
                   + (" or a Transformer checkpoint" if transformer else ""))


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="order", disable=not progress_enabled(), leave=False)


def run_ngram(args) -> int:
    from perplex.lm import SMOOTHINGS, save_model, write_arpa
    from perplex.lm.recipe import NgramConfig, train_ngram

    config = NgramConfig(args.smoothing, args.order, args.alpha)
    if args.arpa and not SMOOTHINGS[args.smoothing].backoff:
        raise PerplexError("--arpa writes backoff models (kn, mkn, ikn); MLE and add-k are not backoff models, use --save")
    check_outputs(files=[("--arpa", args.arpa), ("--save", args.save)])
    data = load_data(args)
    with _progress(args.order, f"counting {args.order}-grams") as bar:
        run = train_ngram(data, config, progress=bar, prediction_entropy=args.entropy)
    model = run.model
    if args.arpa:
        with _progress(args.order, "writing ARPA") as bar:
            write_arpa(model, args.arpa, progress=bar)
    if args.save:
        save_model(model, args.save)
    sizes = " + ".join(f"{model.trie.size(n):,}" for n in range(1, model.order + 1))
    notes = [f"\ndata: {data.source}; vocabulary {len(data.vocab):,} (</s> and <unk> included)",
             f"model: {model.name}, n-grams per order {sizes}, built in {run.build_seconds:.2f} s"]
    if "discounts" in model.info:
        notes.append("discounts per order: " + "; ".join(
            f"{n}: " + ", ".join(f"{d:.4f}" for d in ds) for n, ds in enumerate(model.info["discounts"], 1)))
    notes += [f"wrote {path}" for path in (args.arpa, args.save) if path]
    if not run.evaluations:
        notes.append("no valid or test data to evaluate")
    print_results(run.evaluations, args.json, notes)
    return 0


def load_any_model(args):
    """The model named by --arpa or --model."""
    from perplex.lm import load_model, read_arpa

    return read_arpa(args.arpa) if args.arpa else load_model(args.model)


def run_score(args) -> int:
    from perplex.corpus import encode, load_ptb, read_sentences
    from perplex.eval import evaluate

    model = load_any_model(args)
    if args.test:
        splits = {"test": read_sentences(args.test, args.tokenize, args.lowercase)}
    else:
        if args.tokenize or args.lowercase:
            raise PerplexError("--tokenize/--lowercase apply to a --test file")
        ptb = load_ptb()
        splits = {"valid": ptb["valid"], "test": ptb["test"]}
    results = [evaluate(model, encode(s, model.vocab), name, prediction_entropy=args.entropy) for name, s in splits.items()]
    print_results(results, args.json, [f"\nmodel: {model.name}, vocabulary {len(model.vocab):,}"])
    return 0
