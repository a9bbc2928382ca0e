#!/usr/bin/env python3
"""Does training finish on every corpus and seed?  SGNS and GloVe with their full default
settings (the benchmark's: dim 100, SGNS 15 epochs, GloVe 25 iterations, 2 workers), many
seeds, on the Penn Treebank and the raw-text corpora of bench/raw_corpora.py.

A run that diverges ends in perplex's one-line error; this counts them, with each finished
run's last loss, so a change to the trainers can be checked against the class of text
that once made them diverge (bursty raw text with a very frequent word).

    python bench/bench_divergence.py --seeds 20                   # both methods, every corpus
    python bench/bench_divergence.py --seeds 20 --method sgns --corpus wiki
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from raw_corpora import BENCH_CORPORA, load_corpus  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=20, help="runs per method and corpus (seeds 1..N)")
    ap.add_argument("--method", choices=("sgns", "glove"), action="append", help="default both")
    ap.add_argument("--corpus", choices=BENCH_CORPORA, action="append", help="default all")
    ap.add_argument("--min-count", type=int, default=None, help="default 1 on ptb, 5 on the raw corpora")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="print JSON records at the end")
    args = ap.parse_args(argv)

    from perplex.embeddings.config import GloVeConfig, SGNSConfig
    from perplex.embeddings.glove import GloVe
    from perplex.embeddings.sgns import SGNS
    from perplex.errors import PerplexError

    make = {"sgns": lambda seed: SGNS(SGNSConfig(epochs=15, workers=args.workers, seed=seed)),
            "glove": lambda seed: GloVe(GloVeConfig(workers=args.workers, seed=seed))}
    records = []
    for name in args.corpus or BENCH_CORPORA:
        min_count = args.min_count if args.min_count is not None else (1 if name == "ptb" else 5)
        data = load_corpus(name, min_count)
        for method in args.method or ("sgns", "glove"):
            finished, losses, start = 0, [], time.perf_counter()
            for seed in range(1, args.seeds + 1):
                try:
                    losses.append(make[method](seed).fit(data.train).losses_[-1])
                    finished += 1
                except PerplexError as exc:
                    print(f"{name} {method} seed {seed}: {exc}", flush=True)
            records.append({"corpus": name, "method": method, "min_count": min_count, "seeds": args.seeds,
                            "finished": finished, "last_loss_min": min(losses, default=None),
                            "last_loss_max": max(losses, default=None), "seconds": time.perf_counter() - start})
            r = records[-1]
            print(f"{name:8} {method:5}: {finished} of {args.seeds} seeds finished; last loss "
                  f"{r['last_loss_min']:.4f}-{r['last_loss_max']:.4f}; {r['seconds']:.0f} s", flush=True)
    if args.json:
        print(json.dumps(records, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
