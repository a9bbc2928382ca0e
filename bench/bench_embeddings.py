#!/usr/bin/env python3
"""Quality and speed of our SGNS and GloVe against their reference implementations, on PTB.

* SGNS: ours and gensim's ``Word2Vec(sg=1)`` in the same run, same settings (dim 100,
  window 5, 5 negatives, sample 1e-3, 15 epochs, 2 workers), for several seeds; gensim
  reads the PTB sentences (its usual input), ours the token stream with ``</s>``, windows
  stopping at sentence ends as gensim's do.  Both are scored by the same evaluation code
  (which matches gensim's own, see the tests).
* GloVe: ours (dim 100, window 10, x_max 100, alpha 0.75, 25 iterations, W + W~) next
  to the figures the reference C code (stanfordnlp/GloVe) gave on this machine, quoted
  from issue 3, and, with ``--glove-bin DIR``, next to the C code run in the same
  benchmark on the same sentences, seeds and threads (see bench/glove_reference.py).
* The next-word models both methods define, scored by ``eval/`` on PTB test (temperature
  fitted on valid), next to the unigram model of the same vocabulary.

    python bench/bench_embeddings.py                  # everything, 3 seeds (~15-25 min)
    python bench/bench_embeddings.py --skip-sgns --glove-bin ~/GloVe/build
    python bench/bench_embeddings.py --seeds 1 --skip-glove --json

Timings depend on the load of the machine: run it when nothing else runs, or read the
ratios (both sides ran under the same load).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/glove_reference.py, raw_corpora.py

from raw_corpora import BENCH_CORPORA, load_corpus  # noqa: E402

# stanfordnlp/GloVe C code on PTB train with the settings above, as reported in issue 3.
GLOVE_C = {"ws353_spearman": 0.157, "simlex_spearman": 0.095, "analogy_accuracy": 0.013,
           "seconds_per_iteration": 101 / 25, "nnz": 2.9e6}
# gensim 4.4 skip-gram on PTB train, 15 epochs, as reported in issue 3 (idle machine).
GENSIM_ISSUE = {"ws353_spearman": 0.32, "simlex_spearman": 0.18, "analogy_accuracy": 0.036, "seconds": 38}


def scores(kv) -> dict:
    from perplex.embeddings.evaluation import evaluate_all

    return {k: v for k, v in evaluate_all(kv).record().items() if k in
            ("analogy_accuracy", "analogy_covered", "ws353_spearman", "simlex_spearman")}


def run_gensim(sentences, args, seed: int) -> dict:
    from gensim.models import Word2Vec

    n_words = sum(c for c in _counts(sentences).values() if c >= args.min_count)  # what gensim trains on
    start = time.perf_counter()
    model = Word2Vec(sentences, vector_size=args.dim, window=5, negative=5, sample=1e-3, epochs=args.epochs,
                     sg=1, hs=0, min_count=args.min_count, workers=args.workers, seed=seed)
    seconds = time.perf_counter() - start
    return {"impl": "gensim", "seed": seed, "seconds": seconds, "tokens": n_words,
            "words_per_second": n_words * args.epochs / seconds, **scores(model.wv)}


def _counts(sentences):
    from collections import Counter
    from itertools import chain

    return Counter(chain.from_iterable(sentences))


def run_ours_sgns(corpus, args, seed: int):
    from perplex.embeddings.config import SGNSConfig
    from perplex.embeddings.sgns import SGNS

    model = SGNS(SGNSConfig(dim=args.dim, window=5, negative=5, sample=1e-3, epochs=args.epochs,
                            share_negatives=args.share_negatives, batch_size=args.batch_size, workers=args.workers,
                            seed=seed)).fit(corpus)
    return model, {"impl": "perplex", "seed": seed, "seconds": model.seconds_, "tokens": corpus.n_tokens,
                   "words_per_second": model.words_per_second_, **scores(model.keyed_vectors())}


def mean(rows, key):
    return sum(r[key] for r in rows) / len(rows)


def ngram_test(splits, smoothing: str, order: int, label: str):
    """A rung of the n-gram ladder from lm/, scored on the same test tokens."""
    from perplex.eval import evaluate
    from perplex.lm import train

    result = evaluate(train(splits.train, smoothing, order), splits.corpora["test"], "test")
    result.model = label
    return result


def language_model_rows(make, model, splits) -> list:
    from perplex.eval import evaluate

    lm = make(model)
    start = time.perf_counter()
    lm.fit_temperature(splits.corpora["valid"])
    rows = []
    for split in ("valid", "test"):
        r = evaluate(lm, splits.corpora[split], split)
        r.extra.update(temperature=lm.temperature)
        rows.append(r)
    rows[-1].extra["lm_seconds"] = time.perf_counter() - start
    return rows


def main(argv=None) -> int:
    from perplex.embeddings.config import SGNSConfig

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3, help="SGNS and GloVe runs per implementation (means are reported)")
    ap.add_argument("--epochs", type=int, default=15, help="SGNS epochs")
    ap.add_argument("--glove-epochs", type=int, default=25, help="GloVe iterations")
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2, help="worker threads for gensim, processes for ours")
    ap.add_argument("--batch-size", type=int, default=SGNSConfig.batch_size,
                    help="our SGNS's centre words per update and worker")
    ap.add_argument("--share-negatives", type=int, default=SGNSConfig.share_negatives,
                    help="our SGNS: consecutive centres sharing a draw of noise words (1 = one draw per centre)")
    ap.add_argument("--gensim-input", choices=("sentences", "eos"), default="sentences",
                    help="gensim reads the PTB sentences (its usual input) or each sentence followed by </s> "
                         "(what --backend gensim reads; every token of our stream once)")
    ap.add_argument("--skip-sgns", action="store_true")
    ap.add_argument("--skip-glove", action="store_true")
    ap.add_argument("--glove-bin", metavar="DIR",
                    help="folder with the reference GloVe C tools (vocab_count, cooccur, shuffle, glove) built from "
                         "github.com/stanfordnlp/GloVe: run them beside ours on the same sentences and seeds")
    ap.add_argument("--glove-default-only", action="store_true",
                    help="train only our default GloVe (not also on the C code's X and without torch.compile)")
    ap.add_argument("--skip-lm", action="store_true", help="do not score the next-word models")
    ap.add_argument("--save-vectors", metavar="DIR", help="also write our first-seed SGNS and GloVe vectors there")
    ap.add_argument("--corpus", choices=BENCH_CORPORA, default="ptb",
                    help="the Penn Treebank, or a raw-text corpus of bench/raw_corpora.py read with --tokenize "
                         "--lowercase (prepared on first use)")
    ap.add_argument("--min-count", type=int, default=None,
                    help="words seen fewer times are left out, by ours and by gensim alike (default 1 on ptb, "
                         "whose vocabulary is closed, 5 on the raw corpora)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    args = ap.parse_args(argv)
    if args.min_count is None:
        args.min_count = 1 if args.corpus == "ptb" else 5
    if args.glove_bin:
        missing = [t for t in ("vocab_count", "cooccur", "shuffle", "glove")
                   if not os.access(os.path.join(args.glove_bin, t), os.X_OK)]
        if missing:
            ap.error(f"--glove-bin {args.glove_bin}: no executable {', '.join(missing)} there; "
                     "build github.com/stanfordnlp/GloVe with make and pass its build folder")

    from perplex.embeddings.language_model import glove_language_model, sgns_language_model
    from perplex.embeddings.vectors import save_vectors

    splits = load_corpus(args.corpus, args.min_count)
    out = {"machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()}, "settings": vars(args)}
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else (lambda *a: print(*a, flush=True))
    log(f"{args.corpus} train: {splits.train.n_tokens:,} tokens (</s> included), |V| = {len(splits.vocab):,} "
        f"(--min-count {args.min_count}: {splits.train.oov.mean():.2%} of the tokens below it); "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    ladder = [ngram_test(splits, "mle", 1, "unigram (MLE)"), ngram_test(splits, "ikn", 2, "bigram (interpolated KN)")]

    if not args.skip_sgns:
        rows, first_model = [], None
        if args.gensim_input == "eos":
            from perplex.embeddings.gensim_backend import sentences_with_eos

            gensim_input = sentences_with_eos(splits.train)
        else:
            gensim_input = splits.sentences["train"]
        for seed in range(1, args.seeds + 1):
            rows.append(run_gensim(gensim_input, args, seed))
            log(_fmt_row(rows[-1]))
            model, row = run_ours_sgns(splits.train, args, seed)
            rows.append(row)
            log(_fmt_row(rows[-1]))
            first_model = first_model or model
        g = [r for r in rows if r["impl"] == "gensim"]
        o = [r for r in rows if r["impl"] == "perplex"]
        summary = {k: {"gensim": mean(g, k), "perplex": mean(o, k)} for k in
                   ("ws353_spearman", "simlex_spearman", "analogy_accuracy", "seconds", "words_per_second")}
        summary["speed_ratio"] = summary["words_per_second"]["perplex"] / summary["words_per_second"]["gensim"]
        summary["within_0.03"] = all(abs(summary[k]["perplex"] - summary[k]["gensim"]) <= 0.03
                                     for k in ("ws353_spearman", "simlex_spearman"))
        out["sgns"] = {"runs": rows, "mean": summary, "issue_reference_gensim": GENSIM_ISSUE}
        log("")
        log(f"SGNS, mean of {args.seeds} seed(s)     gensim   perplex   (issue: gensim)")
        for k in ("ws353_spearman", "simlex_spearman", "analogy_accuracy"):
            log(f"  {k:<28} {summary[k]['gensim']:7.3f}   {summary[k]['perplex']:7.3f}   ({GENSIM_ISSUE[k]})")
        log(f"  {'seconds':<28} {summary['seconds']['gensim']:7.1f}   {summary['seconds']['perplex']:7.1f}   "
            f"({GENSIM_ISSUE['seconds']}, idle)")
        log(f"  {'tokens/s':<28} {summary['words_per_second']['gensim']:7.0f}   "
            f"{summary['words_per_second']['perplex']:7.0f}")
        log(f"  speed ratio perplex/gensim: {summary['speed_ratio']:.2f}; Spearman within 0.03: {summary['within_0.03']}")
        if args.save_vectors:
            save_vectors(first_model.keyed_vectors(), os.path.join(args.save_vectors, f"{args.corpus}_sgns.bin"))
        if not args.skip_lm:
            ladder += language_model_rows(sgns_language_model, first_model, splits)

    if not args.skip_glove:
        glove_first = run_glove_section(splits, args, out, log)
        if args.save_vectors:
            save_vectors(glove_first.keyed_vectors(), os.path.join(args.save_vectors, f"{args.corpus}_glove.bin"))
        if not args.skip_lm:
            ladder += language_model_rows(glove_language_model, glove_first, splits)

    out["ladder"] = [r.record() for r in ladder]
    out["machine"]["load_average_at_end"] = os.getloadavg()
    if args.json:
        print(json.dumps(out, indent=2, default=float))
    else:
        from perplex.eval import format_table

        print()
        print(format_table(ladder))
        for r in ladder:
            if "temperature" in r.extra:
                print(f"{r.model} {r.split}: temperature {r.extra['temperature']:.3f} fitted on valid")
    return 0


GLOVE_KEYS = ("ws353_spearman", "simlex_spearman", "analogy_accuracy", "seconds_per_iteration")


def run_glove_section(splits, args, out, log):
    """Ours (and the C code when --glove-bin is given) for each seed; returns our first model."""
    from perplex.embeddings.config import GloVeConfig
    from perplex.embeddings.glove import GloVe

    # (label, eos_pairs, compile): the default; exactly the C code's X (no </s> pairs), for a
    # like-for-like comparison; the default without torch.compile (what runs where compiling fails)
    default = GloVeConfig()
    variants = [("perplex", default.eos_pairs, default.compile), ("perplex, C's X", "none", default.compile),
                ("perplex, plain", default.eos_pairs, False)][: 1 if args.glove_default_only else 3]
    rows, first = [], None
    tmp = prepared = None
    if args.glove_bin:
        import glove_reference as ref

        tmp = ref.workdir()
        prepared = ref.prepare(args.glove_bin, splits.sentences["train"], 10, tmp.name, args.min_count)
    try:
        for seed in range(1, args.seeds + 1):
            for impl, eos_pairs, compile in variants:
                model = GloVe(GloVeConfig(dim=args.dim, window=10, epochs=args.glove_epochs, workers=args.workers,
                                          seed=seed, eos_pairs=eos_pairs, compile=compile)).fit(splits.train)
                first = first or model
                rows.append({"impl": impl, "seed": seed, "seconds": model.seconds_,
                             "seconds_per_iteration": model.seconds_per_epoch_, "nnz": model.nnz_,
                             "cooccurrence_seconds": model.cooccurrence_seconds_, "final_loss": model.losses_[-1],
                             "compile_seconds": model.compile_seconds_,
                             **scores(model.keyed_vectors())})
                log(_fmt_glove_row(rows[-1]))
            if prepared is not None:
                kv, seconds = ref.train(args.glove_bin, prepared, args.dim, args.glove_epochs, args.workers, seed)
                rows.append({"impl": "C", "seed": seed, "seconds": seconds,
                             "seconds_per_iteration": seconds / args.glove_epochs, "nnz": prepared["nnz"],
                             "cooccurrence_seconds": prepared["cooccurrence_seconds"], **scores(kv)})
                log(_fmt_glove_row(rows[-1]))
    finally:
        if tmp is not None:
            tmp.cleanup()
    ours, ours_same_x, ours_plain = ({k: mean([r for r in rows if r["impl"] == impl], k) if impl_rows else float("nan")
                                      for k in GLOVE_KEYS}
                                     for impl in ("perplex", "perplex, C's X", "perplex, plain")
                                     for impl_rows in [[r for r in rows if r["impl"] == impl]])
    c_rows = [r for r in rows if r["impl"] == "C"]
    c_here = {k: mean(c_rows, k) for k in GLOVE_KEYS} if c_rows else None
    ours["speed_ratio_vs_C_issue"] = GLOVE_C["seconds_per_iteration"] / ours["seconds_per_iteration"]
    ours["at_least_C_issue_quality"] = all(ours[k] >= GLOVE_C[k] for k in GLOVE_KEYS[:3])
    if c_here:
        ours["speed_ratio_vs_C_here"] = c_here["seconds_per_iteration"] / ours["seconds_per_iteration"]
        ours["at_least_C_here_quality"] = all(ours[k] >= c_here[k] for k in GLOVE_KEYS[:3])
        ours_plain["speed_ratio_vs_C_here"] = c_here["seconds_per_iteration"] / ours_plain["seconds_per_iteration"]
    out["glove"] = {"runs": rows, "mean": {"perplex": ours, "perplex_C_X": ours_same_x, "perplex_plain": ours_plain,
                                           "C_this_run": c_here},
                    "reference_C_issue": GLOVE_C}
    log("")
    log(f"GloVe, {args.glove_epochs} iterations, mean of {args.seeds} seed(s)   C (issue)   C (this run)   "
        f"perplex   perplex on C's X   perplex, plain torch")
    for k in GLOVE_KEYS:
        here = f"{c_here[k]:12.3f}" if c_here else f"{'-':>12}"
        log(f"  {k:<36} {GLOVE_C[k]:9.3f}   {here}   {ours[k]:7.3f}   {ours_same_x[k]:15.3f}   {ours_plain[k]:20.3f}")
    log(f"  non-zeros: ours {first.nnz_:,}" + (f", C {prepared['nnz']:,}" if prepared else "") +
        f"; co-occurrence counting {first.cooccurrence_seconds_:.1f} s")
    log(f"  speed per iteration: {ours['speed_ratio_vs_C_issue']:.2f}x the C code's idle time in the issue" +
        (f", {ours['speed_ratio_vs_C_here']:.2f}x the C code in this run" if c_here else "") +
        (f"; plain torch (no torch.compile) {ours_plain['speed_ratio_vs_C_here']:.2f}x"
         if c_here and not args.glove_default_only else ""))
    return first


def _fmt_glove_row(r: dict) -> str:
    compiling = f" (+{r['compile_seconds']:.1f} s compiling)" if r.get("compile_seconds", 0) >= 0.05 else ""
    return (f"GloVe {r['impl']:<14} seed {r['seed']}: {r['seconds_per_iteration']:6.2f} s/iteration{compiling}, "
            f"WS353 {r['ws353_spearman']:.3f}, SimLex {r['simlex_spearman']:.3f}, "
            f"analogies {r['analogy_accuracy']:.2%} of {r['analogy_covered']:,}")


def _fmt_row(r: dict) -> str:
    return (f"{r['impl']:<8} seed {r['seed']}: {r['seconds']:6.1f} s, {r['words_per_second']:9,.0f} tokens/s, "
            f"WS353 {r['ws353_spearman']:.3f}, SimLex {r['simlex_spearman']:.3f}, "
            f"analogies {r['analogy_accuracy']:.2%} of {r['analogy_covered']:,}")


if __name__ == "__main__":
    sys.exit(main())
