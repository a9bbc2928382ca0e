"""Subcommands embed, similar, analogy, embed-eval and embed-plot (registered by ``cli.py``).

Each handler builds a config from the options, calls one library function and prints;
torch, gensim and matplotlib are imported only inside the handlers.
"""

from __future__ import annotations

from perplex.embeddings.config import MAX_SEED, RARE_WORDS, GloVeConfig, SGNSConfig  # torch-free: the options' defaults are the configs'
from perplex.device import DEVICES
from perplex.embeddings.recipe import BACKENDS, METHODS
from perplex.cli_common import (Formatter, PerplexError, add_data_options, check_outputs, load_data,
                                 non_negative_float, positive_float, positive_int, print_results, progress_enabled,
                                 seed_int)

DEFAULT_VECTORS = "vectors.bin"
METHOD_DEFAULTS = {  # options whose default depends on --method (word2vec's and GloVe's own)
    "sgns": {"window": SGNSConfig.window, "epochs": SGNSConfig.epochs, "lr": SGNSConfig.alpha},
    "glove": {"window": GloVeConfig.window, "epochs": GloVeConfig.epochs, "lr": GloVeConfig.eta},
}
SG, GL = SGNSConfig, GloVeConfig


EMBED_HELP = """\
Train word vectors on the training text (default: the Penn Treebank), write them in
word2vec format (binary, or text for a .txt/.vec name; gensim and our query commands
read both), and score both methods as next-word models on valid/test with eval/.

examples:
  perplex embed                                   SGNS on PTB -> vectors.bin
  perplex embed --method glove --out glove.txt    GloVe, text format
  perplex embed --backend gensim --epochs 15      the same SGNS trained by gensim
  perplex embed --train my.txt --split 80/10/10 --min-count 5 --json
"""


def register(sub) -> None:
    p = sub.add_parser("embed", help="train SGNS or GloVe word vectors", description=EMBED_HELP,
                       formatter_class=Formatter)
    add_data_options(p)
    g = p.add_argument_group("training")
    g.add_argument("--method", choices=METHODS, default="sgns",
                   help="skip-gram with negative sampling (Mikolov et al. 2013) or GloVe (Pennington et al. 2014)")
    g.add_argument("--out", metavar="FILE", default=DEFAULT_VECTORS,
                   help="where to write the vectors (word2vec binary; text for .txt/.vec)")
    g.add_argument("--dim", type=positive_int, default=SG.dim, help="vector dimension")
    g.add_argument("--window", type=positive_int, default=None,
                   help="context window (default 5 for sgns, the largest of the dynamic windows; 10 for glove)")
    g.add_argument("--negative", type=positive_int, default=SG.negative, help="sgns: noise words per pair")
    g.add_argument("--share-negatives", type=positive_int, default=SG.share_negatives, metavar="C",
                   help="sgns: consecutive centre words that draw their noise words together, which halves the "
                        "arithmetic (every pair keeps its own K noise terms; 1 = one draw per centre)")
    g.add_argument("--batch-size", type=positive_int, default=SG.batch_size, metavar="N",
                   help="sgns: centre words per update and worker; larger is faster but their summed updates are "
                        "staler (1024 trained 1.6x as fast on ptb-raw, with SimLex-999 0.017 lower)")
    g.add_argument("--sample", type=non_negative_float, default=SG.sample,
                   help="sgns: subsampling threshold (0 = off)")
    g.add_argument("--epochs", type=positive_int, default=None, help="passes over the data (default 5 sgns, 25 glove)")
    g.add_argument("--lr", type=positive_float, default=None,
                   help="sgns: starting learning rate, decayed linearly (0.025); glove: AdaGrad eta (0.05)")
    g.add_argument("--x-max", type=positive_float, default=GL.x_max, help="glove: f(x) = min(1, (x/x_max)^alpha)")
    g.add_argument("--alpha", type=positive_float, default=GL.alpha, help="glove: the exponent of f")
    g.add_argument("--eos-pairs", choices=("one-sided", "both", "none"), default=GL.eos_pairs,
                   help="glove: the pairs of </s> with the words beside it. one-sided: only </s> learns from them, "
                        "so the words learn from exactly glove.c's X and the next-word model gets its </s>; both: the "
                        "words learn from them too (a better next-word model, SimLex 0.004 lower); none: glove.c's X")
    g.add_argument("--adagrad", choices=("row", "element"), default=GL.adagrad,
                   help="glove: one AdaGrad sum per vector and bias (fast, same vectors) or per coordinate (glove.c)")
    g.add_argument("--no-compile", action="store_true",
                   help="glove: run the update as plain torch calls instead of compiling it with torch.compile "
                        "(which needs a C++ compiler and takes 5-20 s the first time, cached on disk, and "
                        "makes an epoch about 1.7x faster)")
    g.add_argument("--rare-words", choices=RARE_WORDS, default=SG.rare_words,
                   help="the words below --min-count (or beyond --max-vocab). drop: deleted from the training "
                        "stream before the windows are drawn, as word2vec, gensim and GloVe's cooccur do; the "
                        "next-word model gives <unk> their share of the tokens. unk: trained as one <unk> word")
    g.add_argument("--seed", type=seed_int, default=SG.seed, help=f"random seed (0 .. {MAX_SEED})")
    g.add_argument("--workers", type=positive_int, default=SG.workers,
                   help="Hogwild training processes (threads where fork is missing; 1 = deterministic result for a seed)")
    g.add_argument("--backend", choices=BACKENDS, default="torch",
                   help="sgns only: our torch trainer, or gensim's Word2Vec with the same settings")
    g.add_argument("--device", choices=DEVICES, default="auto", help="torch device (auto: CUDA when present)")
    g.add_argument("--no-eval", action="store_true", help="skip scoring the vectors as next-word models")
    g.add_argument("--json", action="store_true", help="print the evaluation records as JSON (docs/conventions.md)")
    p.set_defaults(run=run_embed)

    p = sub.add_parser("similar", help="nearest neighbours of a word by cosine", formatter_class=Formatter,
                       description="The words closest to WORD by cosine similarity.\n\n"
                                   "example:\n  perplex similar money --vectors vectors.bin")
    p.add_argument("word")
    _add_vectors_option(p)
    p.add_argument("--topn", type=positive_int, default=10, help="how many neighbours")
    p.add_argument("--json", action="store_true", help="print [[word, cosine], ...] as JSON")
    p.set_defaults(run=run_similar)

    p = sub.add_parser("analogy", help="A - B + C: analogy queries", formatter_class=Formatter,
                       description="The words nearest to A - B + C, the three query words excluded.\n\n"
                                   "example:\n  perplex analogy king man woman --method 3cosmul")
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.add_argument("c", metavar="C")
    _add_vectors_option(p)
    p.add_argument("--method", choices=("3cosadd", "3cosmul"), default="3cosadd",
                   help="3CosAdd (Mikolov et al. 2013) or 3CosMul (Levy & Goldberg 2014)")
    p.add_argument("--topn", type=positive_int, default=5, help="how many answers")
    p.add_argument("--json", action="store_true", help="print [[word, score], ...] as JSON")
    p.set_defaults(run=run_analogy)

    p = sub.add_parser("embed-eval", help="Google analogies, WordSim353, SimLex-999", formatter_class=Formatter,
                       description="Score word vectors on the standard sets shipped with gensim: Google analogies "
                                   "(accuracy over covered questions), WordSim353 and SimLex-999 (Spearman).\n\n"
                                   "example:\n  perplex embed-eval vectors.bin --json")
    p.add_argument("vectors", metavar="VECTORS", help="word2vec text/binary or GloVe text file")
    p.add_argument("--method", choices=("3cosadd", "3cosmul"), default="3cosadd", help="analogy method")
    p.add_argument("--json", action="store_true",
                   help="one JSON object (analogy_accuracy, analogy_covered, ws353_spearman, simlex_spearman, ...)")
    p.set_defaults(run=run_eval)

    p = sub.add_parser("embed-plot", help="2-D PCA map of word vectors (PNG)", formatter_class=Formatter,
                       description="Draw chosen words, or the most frequent ones, at their 2-D PCA coordinates.\n\n"
                                   "example:\n  perplex embed-plot vectors.bin --words king,queen,man,woman")
    p.add_argument("vectors", metavar="VECTORS", help="word2vec text/binary or GloVe text file")
    p.add_argument("--words", help="comma-separated words to draw (default: the most frequent)")
    p.add_argument("--top", type=positive_int, default=80, help="how many frequent words without --words")
    p.add_argument("--out", metavar="FILE", default="embeddings.png", help="PNG file to write")
    p.set_defaults(run=run_plot)


def _add_vectors_option(p) -> None:
    p.add_argument("--vectors", metavar="FILE", default=DEFAULT_VECTORS,
                   help="word2vec text/binary or GloVe text file (e.g. from 'perplex embed')")


def _load(path: str):
    from perplex.embeddings.vectors import load_vectors

    return load_vectors(path)


def build_config(args):
    """The trainer's config the options describe (--window, --epochs and --lr default by method)."""
    from perplex.device import resolve_device

    defaults = METHOD_DEFAULTS[args.method]
    window = args.window or defaults["window"]
    epochs = args.epochs or defaults["epochs"]
    lr = args.lr or defaults["lr"]
    device = str(resolve_device(args.device))
    if args.method == "glove":
        if args.backend != "torch":
            raise PerplexError("--backend gensim trains skip-gram only; use it with --method sgns")
        return GloVeConfig(dim=args.dim, window=window, epochs=epochs, x_max=args.x_max, alpha=args.alpha,
                           eta=lr, adagrad=args.adagrad, eos_pairs=args.eos_pairs, compile=not args.no_compile,
                           rare_words=args.rare_words, seed=args.seed, workers=args.workers, device=device)
    return SGNSConfig(dim=args.dim, window=window, negative=args.negative, share_negatives=args.share_negatives,
                      sample=args.sample, epochs=epochs, alpha=lr, rare_words=args.rare_words, seed=args.seed,
                      workers=args.workers, batch_size=args.batch_size, device=device)


def run_embed(args) -> int:
    import sys

    from perplex.embeddings.recipe import train_embeddings
    from perplex.embeddings.vectors import save_vectors

    check_outputs(files=[("--out", args.out or None)])  # a bad --out fails now, not after training
    splits = load_data(args, need_evaluation=False)  # vectors need no test set
    run = train_embeddings(splits, args.method, args.backend, build_config(args), progress=progress_enabled(),
                           score=not args.no_eval)
    trainer = run.trainer
    if args.out:
        save_vectors(trainer.keyed_vectors(), args.out)
    if hasattr(trainer, "words_per_second_"):
        speed = f"{trainer.words_per_second_:,.0f} tokens/s"
    else:
        speed = f"{trainer.seconds_per_epoch_:.2f} s/epoch over {trainer.nnz_:,} non-zeros"
        if trainer.compile_seconds_ >= 0.05:
            speed += f", after {trainer.compile_seconds_:.1f} s compiling the update"
    notes = [f"{run.name}: trained on {splits.train.n_tokens:,} tokens of {splits.source} "
             f"(|V| = {len(splits.vocab):,}) in {trainer.seconds_:.1f} s, {speed}"]
    if args.out:
        notes.append(f"vectors written to {args.out}")
    if run.evaluations:
        if run.temperature_fitted_on:
            notes.append(f"temperature {run.temperature:.4f}, fitted on {run.temperature_fitted_on} "
                         "(the only parameter fitted there)")
        else:
            notes.append("temperature 1 (no valid data to fit it on)")
        notes.append("P(w | previous token) from the trained parameters: "
                     + ("P_n(w) exp(v_c.u_w / T)" if args.method == "sgns" else "exp((w_c.w~_w + b~_w) / T)"))
    elif not args.no_eval:
        notes.append("no valid/test data: give --test FILE or --split 80/10/10 to score the vectors as a language model")
    if args.json:
        print_results(run.evaluations, True)
        for note in notes:
            print(note, file=sys.stderr)
        return 0
    if run.evaluations:
        print_results(run.evaluations, False, notes)
    else:
        print("\n".join(notes))
    return 0


def _print_pairs(pairs, as_json: bool) -> None:
    from perplex.jsonout import dumps

    if as_json:
        print(dumps([[w, s] for w, s in pairs]))
        return
    width = max((len(w) for w, _ in pairs), default=0)
    for w, s in pairs:
        print(f"{w:<{width}}  {s:.4f}")


def run_similar(args) -> int:
    from perplex.embeddings.queries import most_similar

    _print_pairs(most_similar(_load(args.vectors), args.word, args.topn), args.json)
    return 0


def run_analogy(args) -> int:
    from perplex.embeddings.queries import analogy

    _print_pairs(analogy(_load(args.vectors), args.a, args.b, args.c, args.method, args.topn), args.json)
    return 0


def run_eval(args) -> int:
    from perplex.embeddings.evaluation import check_covered, evaluate_all
    from perplex.jsonout import dumps

    scores = evaluate_all(_load(args.vectors), args.method)
    check_covered(scores, args.vectors)
    if args.json:
        print(dumps(scores.record(), indent=2))
    else:
        print(scores.format())
    return 0


def run_plot(args) -> int:
    from perplex.embeddings.plot import plot_words

    check_outputs(files=[("--out", args.out)])
    words = [w for w in args.words.split(",") if w] if args.words else None
    drawn = plot_words(_load(args.vectors), args.out, words, args.top, title=f"PCA of {args.vectors}")
    print(f"{len(drawn)} words drawn to {args.out}")
    return 0
