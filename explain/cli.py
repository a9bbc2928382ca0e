"""``perplex explain TOPIC ...``: a number of the course, worked out on the learner's input.

The topic modules (listed in ``TOPIC_MODULES``) are library code: each computes a
:class:`~perplex.explain.worked.Worked` from plain arguments and knows nothing of argparse.
This module is their command line: for each topic module, ``TOPIC_PARSERS`` holds the
function that adds its subparsers to ``perplex explain`` (with the common options and
:class:`~perplex.cli_common.Formatter`'s help) and sets ``explain`` to a function
``args -> Worked``; :func:`run_explain` prints the result in the chosen format.
"""

from __future__ import annotations

import argparse

from perplex.cli_common import Formatter, Parser, add_data_options
from perplex.errors import PerplexError

# The topics registered, in order (tests register one alone); heavy imports stay inside functions.
TOPIC_MODULES: list[str] = ["perplex.explain.elementary", "perplex.explain.ngram", "perplex.explain.perplexity",
                           "perplex.explain.attention", "perplex.explain.vectors"]

EXPLAIN_HELP = """\
Show how a number comes about: every term of the computation, with the model's own numbers,
as a course writes it on the board.  --format md or latex gives text to paste into notes
and slides; --lang fr writes the prose in French.

examples:
  perplex explain softmax 2 1 0.1                                  the stable softmax, step by step
  perplex explain entropy 0.5 0.25 0.25 --lang fr                  each -p log2 p term, in French
  perplex explain ngram "the stock market fell" --smoothing kn     Kneser-Ney: counts, discounts, gamma, lower orders
  perplex explain attention --toy --format latex                   Q=[1,0], K1=[1,0], K2=[0,1]: (0.731, 0.269)
  perplex explain analogy king man woman --vectors vectors.bin     3CosAdd and 3CosMul, every cosine

run 'perplex explain TOPIC --help' for a topic's options.
"""


def common_options() -> argparse.ArgumentParser:
    """The options every topic takes: the output format and the language of the prose."""
    from perplex.explain.worked import FORMATS, LANGUAGES

    common = argparse.ArgumentParser(add_help=False)
    out = common.add_argument_group("output")
    out.add_argument("--format", choices=FORMATS, default="text",
                     help="text (aligned, for the terminal), md (Markdown), latex (align* blocks) or json")
    out.add_argument("--json", action="store_const", const="json", dest="format",
                     help="the same as --format json: the structured numbers")
    out.add_argument("--lang", choices=LANGUAGES, default="en", help="language of the prose (the numbers are the same)")
    return common


def register(sub) -> None:
    p = sub.add_parser("explain", help="show every step of a computation (n-grams, attention, vectors, entropy)",
                       description=EXPLAIN_HELP, formatter_class=Formatter)
    topics = p.add_subparsers(dest="topic", metavar="TOPIC", parser_class=Parser)
    topics.required = True
    common = common_options()
    for name in TOPIC_MODULES:
        TOPIC_PARSERS[name](topics, common)
    p.set_defaults(run=run_explain)


def run_explain(args) -> int:
    from perplex.explain.worked import render

    print(render(args.explain(args), args.format))
    return 0


def topic(topics, common, name: str, help: str, description: str, explain) -> argparse.ArgumentParser:
    """``perplex explain NAME``: the common options, ``description`` as written (its line
    breaks kept), meaningful defaults in the help, and ``explain`` (args -> Worked) to run."""
    p = topics.add_parser(name, parents=[common], help=help, description=description, formatter_class=Formatter)
    p.set_defaults(explain=explain)
    return p


# --- softmax, entropy, cosine ------------------------------------------------------------------

def add_elementary(topics, common) -> None:
    from perplex.explain.elementary import cosine_worked, entropy_worked, parse_numbers, parse_vector, softmax_worked

    p = topic(topics, common, "softmax", "softmax of scores: exponentials, their sum, each share", """\
Softmax of the scores given, step by step (the stable form: the largest score is
subtracted first).

examples:
  perplex explain softmax 2 1 0.1
  perplex explain softmax 1 0 --lang fr --format latex
""", lambda a: softmax_worked(parse_numbers(a.scores, "softmax"), a.lang))
    p.add_argument("scores", nargs="+", metavar="SCORE", help="numbers (logits)")

    p = topic(topics, common, "entropy", "entropy of a distribution, term by term, in bits", """\
Entropy H = -sum p log2 p of the probabilities given, each term written out, against
log2 of the number of outcomes.

examples:
  perplex explain entropy 0.5 0.25 0.25
  perplex explain entropy 2 1 1 --normalize
""", lambda a: entropy_worked(parse_numbers(a.probs, "entropy"), a.lang, a.normalize))
    p.add_argument("probs", nargs="+", metavar="P", help="probabilities (>= 0, summing to 1)")
    p.add_argument("--normalize", action="store_true", help="divide the numbers by their sum first (counts are fine)")

    p = topic(topics, common, "cosine", "cosine of two vectors: dot product, lengths, ratio", """\
Cosine similarity of two vectors written as comma-separated numbers.

examples:
  perplex explain cosine 1,0 0.6,0.8
  perplex explain cosine -- -1,2 3,1     (-- before a vector that starts with -)
""", lambda a: cosine_worked(parse_vector(a.u, "u"), parse_vector(a.v, "v"), a.lang))
    p.add_argument("u", metavar="U", help="first vector, e.g. 1,0")
    p.add_argument("v", metavar="V", help="second vector, e.g. 0.6,0.8")


# --- n-gram models: ngram, perplexity ----------------------------------------------------------

def add_model_arguments(p) -> None:
    """The model and data options of ``perplex ngram`` (same names and meanings), or ``--arpa FILE``.

    Defaults of None tell what was given (--arpa refuses the others).  No --valid/--test/--split:
    the text explained is the sentence given."""
    from perplex.lm import SMOOTHINGS

    m = p.add_argument_group("model", "A model trained here, as 'perplex ngram' trains it, or an ARPA file.")
    m.add_argument("--smoothing", metavar="NAME", default=None,
                   help=f"estimator: {', '.join(SMOOTHINGS)} (default: kn); see 'perplex ngram --help'")
    m.add_argument("--order", type=int, default=None, help="highest n-gram order (default: 3)")
    m.add_argument("--alpha", type=float, default=None, help="k for --smoothing addk (default 0.01)")
    m.add_argument("--arpa", metavar="FILE", help="explain this ARPA file's model (KenLM's, SRILM's, ours) instead")
    add_data_options(p, evaluation=False, note="--tokenize and --lowercase apply to the text explained too.")


def build_model(args):
    """The model the options describe: read from --arpa, or trained as ``perplex ngram`` trains it."""
    from perplex.corpus import load_splits
    from perplex.lm import read_arpa, train
    from perplex.lm.recipe import NgramConfig

    if args.arpa:
        if args.smoothing or args.order is not None or args.alpha is not None or args.train:
            raise PerplexError("--arpa explains the file's own model; leave out --smoothing, --order, --alpha "
                               "and --train")
        return read_arpa(args.arpa)
    # perplex ngram's own checks (smoothing name, order >= 1, alpha), before any data is read
    config = NgramConfig(args.smoothing or "kn", 3 if args.order is None else args.order, args.alpha)
    data = load_splits(args.train, tokenize=args.tokenize, lowercase=args.lowercase, min_count=args.min_count,
                       max_vocab=args.max_vocab, need_evaluation=False)
    return train(data.train, config.smoothing, config.order, config.alpha)


def add_ngram(topics, common) -> None:
    from perplex.explain.ngram import explain_sentence, sentence_words

    def explain(args):
        return explain_sentence(build_model(args), sentence_words(args.sentence, args.tokenize, args.lowercase),
                                args.lang)

    p = topic(topics, common, "ngram", "each word's n-gram probability, term by term, and the sentence's perplexity",
              """\
The probability an n-gram model gives each word of SENTENCE (and </s>), worked out from
the model's counts: the (c + α) / (c(h) + α|V|) fraction for MLE and add-k; for
Kneser-Ney the adjusted counts, the discount chosen, γ(h) and the lower order it is
interpolated with, down to the uniform term; for an ARPA file the backoff terms. Then
log10 P, the cross-entropy and the perplexity of the sentence (docs/conventions.md).

examples:
  perplex explain ngram "the stock market fell" --smoothing kn --order 3
  perplex explain ngram "the stock market fell" --smoothing laplace --order 2 --lang fr
  perplex explain ngram "the stock market fell" --arpa ptb3.arpa --format md
""", explain)
    p.add_argument("sentence", metavar="SENTENCE", help="the words, separated by spaces (<s> and </s> are added)")
    add_model_arguments(p)


def add_perplexity(topics, common) -> None:
    from perplex.explain.ngram import sentence_words
    from perplex.explain.perplexity import explain_perplexity

    def explain(args):
        sentences = [sentence_words(s, args.tokenize, args.lowercase) for s in args.text]
        return explain_perplexity(build_model(args), sentences, args.lang)

    p = topic(topics, common, "perplexity", "an n-gram model's perplexity on a short text, token by token", """\
For each token of the text (each SENTENCE argument is one sentence; </s> ends each): its
probability, its surprise -log2 P and the entropy of the model's whole predicted
distribution; then the mean surprise (the cross-entropy H) and the perplexity 2^H, next
to the mean entropy. The model options are those of 'perplex explain ngram'.

examples:
  perplex explain perplexity "the stock market fell" --order 2
  perplex explain perplexity "prices rose" "the market fell" --smoothing addk --lang fr
""", explain)
    p.add_argument("text", nargs="+", metavar="SENTENCE", help="one sentence per argument, words separated by spaces")
    add_model_arguments(p)


# --- one attention head ------------------------------------------------------------------------

def add_attention(topics, common) -> None:
    from perplex.attention.cli import DEFAULT_CHECKPOINT  # the file 'perplex transformer' writes
    from perplex.explain.attention import DEFAULT_DIMS, explain_checkpoint, explain_toy

    model_options = {"sentence": "SENTENCE", "model": "--model", "layer": "--layer", "head": "--head",
                     "position": "--position", "dims": "--dims"}

    def explain(args):
        if args.toy:
            given = [name for key, name in model_options.items() if getattr(args, key) is not None]
            if given:  # the toy is a fixed 2-d example: say so rather than ignore them
                raise PerplexError(f"--toy is the fixed 2-dimensional example; leave out {', '.join(given)} "
                                   "(they are for a trained model's head)")
            return explain_toy(args.lang)
        if not args.sentence:
            raise PerplexError("give a sentence, e.g. perplex explain attention \"the stock market fell\", "
                               "or --toy for the example by hand")
        # the sentence is in the title: a < in it stays text in Markdown
        def given(value, default):
            return default if value is None else value

        return explain_checkpoint(given(args.model, DEFAULT_CHECKPOINT), args.sentence, given(args.layer, 1),
                                  given(args.head, 1), args.position, given(args.dims, DEFAULT_DIMS), args.lang)

    p = topic(topics, common, "attention", "one attention head, step by step (or --toy)", """\
One attention head worked out: Q, K and V, the scores QKᵀ/√d_k under the causal mask, the
softmax row by row (the weights of 'perplex attention') and the output of one position.
Layers and heads count from 1; position 0 is </s>, word i is position i.

examples:
  perplex explain attention --toy                       the 2-d example, by hand
  perplex explain attention "the animal did not cross the street because it was tired" --layer 1 --head 2
  perplex explain attention "the stock market fell" --position 2 --format latex --lang fr
""", explain)
    p.add_argument("sentence", nargs="?", help="the words the model reads (after </s>)")
    p.add_argument("--toy", action="store_true", help="the 2-dimensional example to check with pen and paper")
    # No argparse defaults: with --toy, an option given is an error rather than silently unused.
    p.add_argument("--model", metavar="FILE",
                   help=f"a checkpoint from 'perplex transformer' (default: {DEFAULT_CHECKPOINT})")
    p.add_argument("--layer", type=int, help="layer, from 1 (default: 1)")
    p.add_argument("--head", type=int, help="head, from 1 (default: 1)")
    p.add_argument("--position", type=int, help="position worked out: 0 is </s>, word i is i (default: the last)")
    p.add_argument("--dims", type=int, help=f"coordinates of each vector shown (default: {DEFAULT_DIMS})")


# --- word vectors: similar, analogy ------------------------------------------------------------

def add_vectors(topics, common) -> None:
    from perplex.embeddings.cli import DEFAULT_VECTORS  # the file 'perplex embed' writes
    from perplex.explain.vectors import DEFAULT_DIMS, DEFAULT_TOP, METHOD_NAMES, explain_analogy, explain_similar

    def load(path: str):
        from perplex.embeddings.vectors import load_vectors

        return load_vectors(path)

    def add_options(p) -> None:
        p.add_argument("--vectors", metavar="FILE", default=DEFAULT_VECTORS,
                       help="word2vec text/binary or GloVe text file, e.g. from 'perplex embed'")
        p.add_argument("--top", "--topn", dest="top", type=int, default=DEFAULT_TOP, help="how many candidates")
        p.add_argument("--dims", type=int, default=DEFAULT_DIMS, help="coordinates of each vector shown")

    p = topic(topics, common, "similar", "the cosines of a word's nearest neighbours", """\
The nearest neighbours of a word worked out: each cosine as a dot product over two norms,
in the order 'perplex similar' ranks them.

example:
  perplex explain similar money --vectors vectors.bin --top 5
""", lambda args: explain_similar(load(args.vectors), args.word, args.top, args.dims, args.lang))
    p.add_argument("word")
    add_options(p)

    p = topic(topics, common, "analogy", "A - B + C with 3CosAdd and 3CosMul, step by step", """\
A - B + C worked out (king man woman: king - man + woman): the norms, the query direction,
each candidate's three cosines in 3CosAdd and 3CosMul (--method first: its ranking is the
answer of 'perplex analogy'), and the query words left out of the ranking.

example:
  perplex explain analogy king man woman --vectors vectors.bin --method 3cosmul --format md
""", lambda args: explain_analogy(load(args.vectors), args.a, args.b, args.c, args.method, args.top, args.dims,
                                  args.lang))
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.add_argument("c", metavar="C")
    add_options(p)
    p.add_argument("--method", choices=tuple(METHOD_NAMES), default="3cosadd",
                   help="the ranking that gives the answer (both are shown; default: 3cosadd)")


TOPIC_PARSERS = {"perplex.explain.elementary": add_elementary, "perplex.explain.ngram": add_ngram,
                 "perplex.explain.perplexity": add_perplexity, "perplex.explain.attention": add_attention,
                 "perplex.explain.vectors": add_vectors}
