"""``perplex report``: the whole ladder on one page."""

from __future__ import annotations

import sys
from pathlib import Path

from perplex.cli_common import Formatter, add_data_options, load_data, positive_float


HELP = """\
Run the pipeline and write OUT/report.md and a self-contained OUT/report.html
(plots embedded): the n-gram ladder (every smoothing at orders 1-5), the other
model families where available, one comparison table of every model on the same
test tokens with 95% paired-bootstrap intervals, the EM-tuned interpolation of
the best n-gram with its partner, and the conventions, versions, hardware and
timings.  Results are cached in OUT/cache by data and settings, so a second run
is fast.

examples:
  perplex report --quick                 # under 10 minutes on a 2-core machine
  perplex report --out docs/example      # the full run on the Penn Treebank
  perplex report --train my.txt --split 80/10/10 --out my-report
"""


def register(sub) -> None:
    p = sub.add_parser("report", help="write the comparison report (Markdown + HTML)", description=HELP,
                       formatter_class=Formatter)
    p.add_argument("--out", default="perplex-report", metavar="DIR",
                   help="folder for report.md, report.html, figures and cache (default %(default)s)")
    p.add_argument("--quick", action="store_true", help="small orders and short budgets (under 10 minutes); the report says so")
    p.add_argument("--transformer-minutes", type=positive_float, default=None, metavar="M",
                   help="training budget of each Transformer run (default: 1 with --quick, else 10)")
    add_data_options(p)
    p.set_defaults(run=run_report)


def run_report(args) -> int:
    from perplex.report.build import build_report
    from perplex.report.steps import available_steps

    data = load_data(args)
    log = (lambda msg: print(msg, file=sys.stderr))
    steps = available_steps(args.quick, args.transformer_minutes)
    run = build_report(data, Path(args.out), quick=args.quick, log=log, extra_steps=steps)
    print(f"wrote {run.out / 'report.md'} and {run.out / 'report.html'} in {run.timings['total']:.0f} s")
    return 0
