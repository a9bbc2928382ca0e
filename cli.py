#!/usr/bin/env python3
"""perplex command line: classical language models, scored the same way.

Each subcommand lives beside its models (``lm/cli.py``, ...); this file only
assembles them and turns a :class:`~perplex.errors.PerplexError` into one line
on stderr and exit status 1.
"""

from __future__ import annotations

import importlib
import sys
import warnings

from perplex.cli_common import Formatter, Parser, warn_one_line
from perplex.errors import PerplexError

# Modules that define register(subparsers); heavy imports stay inside their commands.
COMMAND_MODULES = ["lm.cli", "embeddings.cli", "attention.cli", "report.cli"]

DESCRIPTION = """\
Classical statistical language modeling on real text (default: the Penn Treebank).

examples:
  python cli.py ngram --smoothing kn --order 5        modified Kneser-Ney 5-gram on PTB
  python cli.py ngram --smoothing laplace --order 2 --json
  python cli.py ngram --train my.txt --split 80/10/10 --arpa my.arpa
  python cli.py score --arpa my.arpa --test other.txt  score an ARPA file (ours, KenLM's, SRILM's)
  python cli.py generate --arpa my.arpa -n 5 --seed 1  sample sentences
  python cli.py embed --method sgns --out vectors.bin word vectors (skip-gram or GloVe)
  python cli.py analogy king man woman                king - man + woman = ?
  python cli.py transformer --minutes 10              a small Transformer LM on PTB
  python cli.py attention "the stock market fell"     heatmaps of its attention heads
  python cli.py report --quick                        every model on one page (report.md, report.html)

run 'python cli.py COMMAND --help' for the options of a command.
"""


def build_parser() -> Parser:
    parser = Parser(prog="python cli.py", description=DESCRIPTION, formatter_class=Formatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = warn_one_line
    try:
        return args.run(args) or 0
    except PerplexError as exc:
        print(f"perplex: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("perplex: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into head
        return 0


if __name__ == "__main__":
    sys.exit(main())
