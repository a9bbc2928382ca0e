#!/usr/bin/env python3
"""Our Kneser-Ney perplexities against KenLM's on the Penn Treebank and the raw-text corpora.

For each corpus of bench/raw_corpora.py (and PTB), the training sentences exactly as
perplex reads them (``--tokenize --lowercase`` for the raw ones) are written one per line;
KenLM's ``lmplz`` (built from its sources, ``--kenlm-bin``) estimates a modified
Kneser-Ney model of each order from that file, the ``kenlm`` module scores the test
sentences on its ARPA file, and perplex's ``kn`` model of the same order scores the same
test tokens.  The raw corpora have words in test that train lacks: both sides score them
as ``<unk>``, whose probability each estimates from the training text itself (no
``<unk>`` in it; KenLM's ``interpolate_unigrams``).  PTB's literal ``<unk>`` is renamed
for lmplz, which refuses it (PTB's test has no OOVs, so nothing is scored as KenLM's own).

    python bench/bench_corpora_ngram.py --kenlm-bin /work/kenlm/build/bin
    python bench/bench_corpora_ngram.py --corpus wiki --orders 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from raw_corpora import BENCH_CORPORA, load_corpus  # noqa: E402

RENAMED_UNK = "<UNK>"  # lmplz refuses <unk> in its input


def kenlm_perplexity(lmplz: str, order: int, sentences, test_sentences, work: Path) -> dict:
    import kenlm

    train_txt, arpa = work / "train.txt", work / f"kenlm{order}.arpa"
    train_txt.write_text("\n".join(" ".join(RENAMED_UNK if w == "<unk>" else w for w in s) for s in sentences) + "\n",
                         encoding="utf-8")
    start = time.perf_counter()
    with open(train_txt, "rb") as fin, open(arpa, "wb") as fout:
        subprocess.run([lmplz, "-o", str(order), "-S", "1G"], stdin=fin, stdout=fout, stderr=subprocess.DEVNULL,
                       check=True)
    seconds = time.perf_counter() - start
    model = kenlm.Model(str(arpa))
    log10, tokens, oovs = 0.0, 0, 0
    for s in test_sentences:
        for logp, _, oov in model.full_scores(" ".join(RENAMED_UNK if w == "<unk>" else w for w in s)):
            log10 += logp
            tokens += 1
            oovs += oov
    arpa.unlink()
    return {"log10_prob": log10, "tokens": tokens, "oovs": oovs, "perplexity": 10 ** (-log10 / tokens),
            "seconds": seconds}


def ours_perplexity(data, order: int) -> dict:
    from perplex.eval import evaluate
    from perplex.lm import train

    start = time.perf_counter()
    model = train(data.train, "kn", order)
    seconds = time.perf_counter() - start
    r = evaluate(model, data.corpora["test"], "test")
    return {"log10_prob": r.log10_prob, "tokens": r.tokens, "oovs": r.oovs, "perplexity": r.perplexity,
            "seconds": seconds}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kenlm-bin", default=os.environ.get("KENLM_BIN", "/work/kenlm/build/bin"),
                    help="folder with KenLM's lmplz (default %(default)s)")
    ap.add_argument("--corpus", choices=BENCH_CORPORA, action="append", help="one corpus (repeatable; default all)")
    ap.add_argument("--orders", default="3,5", help="comma-separated orders (default %(default)s)")
    ap.add_argument("--json", action="store_true", help="print JSON records")
    args = ap.parse_args(argv)
    lmplz = os.path.join(args.kenlm_bin, "lmplz")
    if not os.access(lmplz, os.X_OK):
        ap.error(f"no lmplz in {args.kenlm_bin}: build KenLM (bench/build_kenlm.sh) and pass --kenlm-bin")
    rows = []
    with tempfile.TemporaryDirectory(prefix="perplex-bench-") as tmp:
        for name in args.corpus or BENCH_CORPORA:
            data = load_corpus(name)
            for order in map(int, args.orders.split(",")):
                ours = ours_perplexity(data, order)
                peer = kenlm_perplexity(lmplz, order, data.sentences["train"], data.sentences["test"], Path(tmp))
                rows.append({"corpus": name, "order": order, "train_tokens": data.train.n_tokens,
                             "vocab": len(data.vocab), "ours": ours, "kenlm": peer,
                             "relative_difference": ours["perplexity"] / peer["perplexity"] - 1})
                if not args.json:
                    print(f"{name:8} order {order}: perplex {ours['perplexity']:10.4f}  KenLM {peer['perplexity']:10.4f}"
                          f"  difference {rows[-1]['relative_difference']:+.2e}  (test {ours['tokens']:,} tokens, "
                          f"{ours['oovs']:,} OOVs; KenLM {peer['oovs']:,}; build {ours['seconds']:.1f} s vs lmplz "
                          f"{peer['seconds']:.1f} s)", flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
