"""The ``perplex`` command: classical language models, scored the same way.

One entry point, whichever way it is started: the installed ``perplex`` command,
``python -m perplex`` and ``perplex`` from a checkout all call :func:`main`.
Each family's subcommands live beside its models (``lm/cli.py``, ...); this file
assembles them and turns a :class:`~perplex.errors.PerplexError` into one line on
stderr and exit status 1.
"""

from __future__ import annotations

import importlib
import sys
import warnings

from perplex.cli_common import Formatter, Parser, warn_one_line
from perplex.errors import PerplexError
from perplex.signals import Terminated, sigterm_as_interrupt

# Modules that define register(subparsers); heavy imports stay inside their commands.
COMMAND_MODULES = ["perplex.lm.cli", "perplex.cli_generate", "perplex.embeddings.cli", "perplex.attention.cli", "perplex.report.cli",
                   "perplex.explain.cli"]

DESCRIPTION = """\
Classical statistical language modeling on real text (default: the Penn Treebank).

examples:
  perplex ngram --smoothing kn --order 5          modified Kneser-Ney 5-gram on PTB
  perplex ngram --smoothing laplace --order 2 --json
  perplex ngram --train my.txt --split 80/10/10 --arpa my.arpa
  perplex score --arpa my.arpa --test other.txt   score an ARPA file (ours, KenLM's, SRILM's)
  perplex generate --arpa my.arpa -n 5 --seed 1   sample sentences
  perplex embed --method sgns --out vectors.bin   word vectors (skip-gram or GloVe)
  perplex analogy king man woman                  king - man + woman = ?
  perplex transformer --minutes 10                a small Transformer LM on PTB
  perplex attention "the stock market fell"       heatmaps of its attention heads
  perplex report --quick                          every model on one page (report.md, report.html)
  perplex explain ngram "the market fell"         each probability worked out term by term (--lang fr, --format md|latex)

run 'perplex COMMAND --help' for the options of a command; how tokens, OOVs and
perplexity are counted: docs/conventions.md in the perplex repository.
"""


def build_parser() -> Parser:
    parser = Parser(prog="perplex", description=DESCRIPTION, formatter_class=Formatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = build_parser().parse_args(argv)
    args.argv = argv  # the exact command, for what a command writes about itself (the report's summary)
    warnings.showwarning = warn_one_line
    try:
        with sigterm_as_interrupt():  # temporary files go and training saves its state on kill, as on Ctrl-C
            return args.run(args) or 0
    except PerplexError as exc:
        print(f"perplex: error: {exc}", file=sys.stderr)
        return 1
    except Terminated:
        print("perplex: terminated", file=sys.stderr)
        return 143  # 128 + SIGTERM, as the shell reports a killed process
    except KeyboardInterrupt:
        print("perplex: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into head
        return 0
