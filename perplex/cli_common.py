"""Pieces every subcommand of ``cli.py`` shares: the data options, the
one-line error parser and the printing of results (table or ``--json``)."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Sequence

from perplex.errors import PerplexError


def warn_one_line(message, category, filename, lineno, file=None, line=None):
    """A ``warnings.showwarning`` that prints "perplex: warning: ..." (no source line)."""
    print(f"perplex: warning: {message}", file=sys.stderr)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and exit with status 2."""

    def error(self, message: str):  # noqa: D102 - argparse hook
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keep the hand-made line breaks of descriptions and show meaningful defaults
    (not the None/False of optional values and flags)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" not in text and action.default not in (None, False, argparse.SUPPRESS) \
                and action.option_strings and "default" not in text:
            text += " (default: %(default)s)"
        return text


def parse_split(text: str) -> tuple[float, float]:
    """``--split 80/10/10`` -> (valid share, test share)."""
    try:
        parts = [float(p) for p in text.split("/")]
    except ValueError:
        parts = []
    if len(parts) != 3 or not all(map(math.isfinite, parts)) or min(parts) < 0 or parts[0] <= 0 or parts[2] <= 0:
        raise argparse.ArgumentTypeError(f"expected TRAIN/VALID/TEST percentages such as 80/10/10, got {text!r}")
    total = sum(parts)
    return parts[1] / total, parts[2] / total


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def seed_int(text: str) -> int:
    """An argparse type: a random seed, 0 .. 2**32 - 1 (see :mod:`perplex.seeding`)."""
    from perplex.seeding import MAX_SEED, seed_in_range

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not seed_in_range(value):
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_SEED}, got {value}")
    return value


def finite_float(text: str) -> float:
    """An argparse type: any finite number (nan and inf are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """An argparse type: a finite number >= 0."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def memory_size(text: str) -> int:
    """An argparse type: a memory size (``500M``, ``4G``, ``80%``; see :func:`perplex.resources.parse_size`)."""
    from perplex.resources import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_data_options(parser: argparse.ArgumentParser, evaluation: bool = True, note: str = "") -> None:
    """--train/--valid/--test/--split/--tokenize/--lowercase/--min-count/--max-vocab.

    ``evaluation=False``: no --valid/--test/--split, for a command that only trains (``perplex
    explain ngram``: the text it scores is given otherwise).  ``note``: a last line for the
    group's description (:class:`Formatter` keeps its line breaks)."""
    corpus = "the Penn Treebank" if evaluation else "the Penn Treebank's training set"
    g = parser.add_argument_group(
        "data",
        f"Default: {corpus} (Mikolov split).\n"
        "Files are read as KenLM and SRILM read them: one pre-tokenized sentence per line,\n"
        "whitespace-separated (use --tokenize for raw text)." + (f"\n{note}" if note else ""),
    )
    g.add_argument("--train", metavar="FILE", help="training text: a UTF-8 file or a folder of them")
    if evaluation:
        g.add_argument("--valid", metavar="FILE", help="validation text")
        g.add_argument("--test", metavar="FILE", help="test text")
        g.add_argument("--split", metavar="T/V/T", type=parse_split,
                       help="cut the --train file into contiguous train/valid/test parts, e.g. 80/10/10")
    g.add_argument("--tokenize", action="store_true",
                   help="the files are raw text: cut each line (or hard-wrapped paragraph) into sentences and "
                        "tokenize them (NLTK Treebank tokenizer)")
    g.add_argument("--lowercase", action="store_true", help="lowercase the text before anything else")
    g.add_argument("--min-count", type=positive_int, default=1,
                   help="words seen fewer times in training become <unk>")
    g.add_argument("--max-vocab", type=positive_int, default=None,
                   help="keep at most this many vocabulary entries (</s> and <unk> included)")


def load_data(args: argparse.Namespace, need_evaluation: bool = True, hold_out_valid: float | None = None):
    """The :class:`perplex.corpus.Splits` the data options describe (see
    :func:`perplex.corpus.load_splits` for ``need_evaluation`` and ``hold_out_valid``)."""
    from perplex.corpus import load_splits

    return load_splits(
        args.train, args.valid, args.test,
        tokenize=args.tokenize, lowercase=args.lowercase, split=args.split,
        min_count=args.min_count, max_vocab=args.max_vocab, need_evaluation=need_evaluation,
        hold_out_valid=hold_out_valid,
    )


def print_results(results: Sequence, as_json: bool, notes: Sequence[str] = ()) -> None:
    """Print evaluations as a table (with notes) or, with --json, as JSON records only."""
    from perplex.eval import format_table, to_json

    if as_json:
        print(to_json(results))
        return
    print(format_table(results))
    for note in notes:
        print(note)


def progress_enabled() -> bool:
    """Progress bars only when a person is watching (stderr is a terminal)."""
    return sys.stderr.isatty()


__all__ = ["Parser", "Formatter", "add_data_options", "load_data", "print_results", "positive_int",
           "positive_float", "non_negative_float", "finite_float", "seed_int", "memory_size",
           "parse_split", "progress_enabled", "check_outputs", "PerplexError"]


def check_outputs(files: Sequence[tuple[str, str | None]] = (), folders: Sequence[tuple[str, str | None]] = (),
                  make_folders: bool = False) -> None:
    """Check every output option before the long work starts (see :mod:`perplex.fileio`).

    ``files`` and ``folders`` are (option, path) pairs; options left unset (None) are skipped.
    ``make_folders``: the command creates the files' missing folders (the Transformer's runs/).
    """
    from perplex.fileio import check_output_file, check_output_folder

    for option, path in files:
        if path is not None:
            check_output_file(path, option, make_folder=make_folders)
    for option, path in folders:
        if path is not None:
            check_output_folder(path, option)
