"""``perplex report``: the whole ladder on one page."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from perplex.cli_common import (Formatter, add_data_options, check_outputs, load_data, positive_float,
                                 positive_int)

HOLD_OUT = 0.1  # without validation data, this share of the training sentences is held out for tuning

HELP = """\
Run the pipeline and write OUT/report.md and a self-contained OUT/report.html
(plots embedded): a summary (date, command, data, budget, best model), the n-gram
ladder (every smoothing at orders 1-5), word embeddings (SGNS, gensim's SGNS,
GloVe), a small Transformer, one comparison table of every model on the same test
tokens with 95% paired-bootstrap intervals, the EM-tuned interpolation of the best
n-gram with the Transformer, and the conventions, versions, hardware and timings.

Reproducible: the Transformer's budget is counted in optimizer steps and the
embeddings train with one worker, so the same command gives the same numbers on
an idle or a loaded machine. Every tuned choice is made on validation data: the
valid split, or without one, the last 10% of the training sentences, held out
(the page says which). Results are cached in OUT/cache by data and settings, so
a second run is fast.

examples:
  perplex report --quick                 # about 12 minutes on 2 cores; the page says what was cut
  perplex report --out docs/example      # the full run on the Penn Treebank (an hour or more on 2 cores)
  perplex report --train my.txt --split 80/10/10 --out my-report
"""


def register(sub) -> None:
    p = sub.add_parser("report", help="write the comparison report (Markdown + HTML)", description=HELP,
                       formatter_class=Formatter)
    p.add_argument("--out", default="perplex-report", metavar="DIR",
                   help="folder for report.md, report.html, figures and cache (default %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="n-gram orders 1-3 and short training budgets; the page says what was cut")
    p.add_argument("--transformer-steps", type=positive_int, default=None, metavar="N",
                   help="optimizer steps of each Transformer run (default: 115 with --quick, else 1150)")
    p.add_argument("--transformer-minutes", type=positive_float, default=None, metavar="M",
                   help="a wall-clock budget for each Transformer run instead of steps (the numbers then depend "
                        "on the machine's speed and load)")
    add_data_options(p)
    p.set_defaults(run=run_report)


def run_report(args) -> int:
    from perplex.report.budget import choose
    from perplex.report.build import build_report

    budget = choose(args.quick, args.transformer_steps, args.transformer_minutes)
    out = Path(args.out)  # the page is written last: its files are checked now, not after an hour
    check_outputs(folders=[("--out", args.out)],
                  files=[(f"--out (its {name})", out / name) for name in ("report.md", "report.html")], make_folders=True)
    data = load_data(args, hold_out_valid=HOLD_OUT)
    command = shlex.join(["perplex", *getattr(args, "argv", [])])
    run = build_report(data, Path(args.out), budget, command, log=lambda msg: print(msg, file=sys.stderr))
    print(f"wrote {run.out / 'report.md'} and {run.out / 'report.html'} in {run.timings['total']:.0f} s")
    return 0
