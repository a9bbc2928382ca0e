"""The n-gram subcommands: ``ngram`` (train + evaluate), ``score`` (an ARPA or
saved model on a test set) and ``generate`` (sample sentences)."""

from __future__ import annotations

import os
import time

from perplex.cli_common import (Formatter, add_data_options, load_data, non_negative_float, positive_int,
                                 print_results, progress_enabled)
from perplex.errors import PerplexError

NGRAM_HELP = """\
Train an n-gram model and report its figures on the validation and test sets
(tokens, OOVs, zero-probability tokens, log10 P, cross-entropy, perplexity with
and without OOVs, bits per character). Each sentence contributes its words plus
one </s>; <s> is context only; words outside the training vocabulary are <unk>
(the rules: docs/conventions.md in the perplex repository).

smoothings:
  mle      maximum likelihood; unseen events get P = 0 (counted, perplexity inf)
  laplace  add-one
  addk     add-k / Lidstone with --alpha K (default 0.01)
  kn       interpolated modified Kneser-Ney (Chen & Goodman), as KenLM's lmplz
  mkn      the same as kn
  ikn      interpolated Kneser-Ney with one discount per order

examples:
  perplex ngram --smoothing kn --order 5 --arpa ptb5.arpa
  perplex ngram --smoothing addk --alpha 0.05 --order 2 --json
  perplex ngram --train corpus.txt --split 80/10/10 --tokenize --lowercase
"""



def register(sub) -> None:
    from perplex.lm import SMOOTHINGS

    p = sub.add_parser("ngram", help="train and evaluate an n-gram model", description=NGRAM_HELP,
                       formatter_class=Formatter)
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

    g = sub.add_parser("generate", help="sample text from a model (n-gram or Transformer)",
                       description="Sample sentences from an n-gram model (ARPA file or saved perplex model), or "
                       "continue a prompt with a Transformer checkpoint ('transformer' command); both use the "
                       "temperature and top-k options.", formatter_class=Formatter)
    add_model_options(g, transformer=True)
    g.add_argument("-n", "--num", type=positive_int, default=5, help="how many samples")
    g.add_argument("--seed", type=int, default=None, help="random seed (same seed, same samples)")
    g.add_argument("--max-len", type=positive_int, default=50, help="stop a sample after this many words")
    g.add_argument("--prompt", default="", help="words every sample starts with (a Transformer needs one)")
    g.add_argument("--temperature", type=float, default=1.0,
                   help="sharpen (<1) or flatten (>1) the distributions; 0 is greedy for a Transformer")
    g.add_argument("--top-k", type=positive_int, default=None, help="sample only among the k most likely words")
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="where a Transformer runs")
    g.set_defaults(run=run_generate)


def add_model_options(p, transformer: bool = False) -> None:
    m = p.add_mutually_exclusive_group(required=True)
    m.add_argument("--arpa", metavar="FILE", help="an ARPA file (ours, KenLM's or SRILM's; .gz accepted)")
    m.add_argument("--model", metavar="FILE", help="a model saved with 'ngram --save'"
                   + (" or a Transformer checkpoint" if transformer else ""))


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="order", disable=not progress_enabled(), leave=False)


def run_ngram(args) -> int:
    from perplex.eval import evaluate
    from perplex.lm import save_model, train, write_arpa

    if args.arpa and args.smoothing not in ("kn", "mkn", "ikn"):
        raise PerplexError("--arpa writes backoff models (kn, mkn, ikn); MLE and add-k are not backoff models, use --save")
    for target in (args.arpa, args.save):
        if target and not os.path.isdir(os.path.dirname(os.path.abspath(target))):
            raise PerplexError(f"cannot write {target}: its folder does not exist")
    data = load_data(args)
    started = time.perf_counter()
    with _progress(args.order, f"counting {args.order}-grams") as bar:
        model = train(data.train, args.smoothing, args.order, args.alpha, progress=bar)
    build_s = time.perf_counter() - started
    results = []
    for split in data.eval_names():
        r = evaluate(model, data.corpora[split], split, prediction_entropy=args.entropy)
        r.extra.update({"order": args.order, "smoothing": args.smoothing, "build_seconds": round(build_s, 3)})
        results.append(r)
    if args.arpa:
        with _progress(args.order, "writing ARPA") as bar:
            write_arpa(model, args.arpa, progress=bar)
    if args.save:
        save_model(model, args.save)
    sizes = " + ".join(f"{model.trie.size(n):,}" for n in range(1, model.order + 1))
    notes = [f"\ndata: {data.source}; vocabulary {len(data.vocab):,} (</s> and <unk> included)",
             f"model: {model.name}, n-grams per order {sizes}, built in {build_s:.2f} s"]
    if "discounts" in model.info:
        notes.append("discounts per order: " + "; ".join(
            f"{n}: " + ", ".join(f"{d:.4f}" for d in ds) for n, ds in enumerate(model.info["discounts"], 1)))
    notes += [f"wrote {path}" for path in (args.arpa, args.save) if path]
    if not results:
        notes.append("no valid or test data to evaluate")
    print_results(results, args.json, notes)
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


def run_generate(args) -> int:
    from perplex.lm import sample_sentences
    from perplex.lm.storage import is_model_file

    if args.model and not is_model_file(args.model):
        from perplex.attention.generate import generate_from_checkpoint, is_checkpoint

        if is_checkpoint(args.model):
            seed = 0 if args.seed is None else args.seed
            for i in range(args.num):
                text = generate_from_checkpoint(args.model, args.prompt, args.max_len, args.temperature,
                                                args.top_k, seed + i, args.device)
                # One sample per line, as for n-grams: sentence ends show as </s>.
                print(" ".join(f"{args.prompt} {text}".replace("\n", " </s> ").split()))
            return 0
    model = load_any_model(args)
    prompt = args.prompt.split()
    for words in sample_sentences(model, args.num, args.seed, args.max_len, prompt, args.temperature, args.top_k):
        print(" ".join(words))
    return 0
