"""``perplex explain TOPIC ...``: a number of the course, worked out on the learner's input.

Each topic module (listed in ``TOPIC_MODULES``) defines ``register(topics, common)``: it
adds its subparser to ``topics`` with ``parents=[common]`` and sets ``explain`` to a
function ``args -> Worked``.  This module prints the result in the chosen format.
"""

from __future__ import annotations

import argparse

from perplex.cli_common import Formatter, Parser

# Modules that define register(topics, common); heavy imports stay inside their functions.
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
    import importlib

    p = sub.add_parser("explain", help="show every step of a computation (n-grams, attention, vectors, entropy)",
                       description=EXPLAIN_HELP, formatter_class=Formatter)
    topics = p.add_subparsers(dest="topic", metavar="TOPIC", parser_class=Parser)
    topics.required = True
    common = common_options()
    for name in TOPIC_MODULES:
        importlib.import_module(name).register(topics, common)
    p.set_defaults(run=run_explain)


def run_explain(args) -> int:
    from perplex.explain.worked import render

    print(render(args.explain(args), args.format))
    return 0
