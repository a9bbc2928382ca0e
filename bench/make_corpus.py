"""Write a realistic text of any size: sentences sampled from a PTB 5-gram model.

    python bench/make_corpus.py --tokens 100000000 --out big.txt --seed 1

Deterministic: the model is trained the same way every time (modified Kneser-Ney,
order 5, on the Penn Treebank training text), and every draw comes from numpy
Generators seeded by ``--seed`` (one for the sentences, one for the rare words),
consumed in chunks of a fixed number of sentences; so the same seed and size
give the same file byte for byte, and a larger size extends a smaller one's text
(its first sentences are the same).

Why the vocabulary grows: the PTB model has 10,000 words, so a big sample from
it alone would repeat those words forever, with no rare ones, unlike real text
(Heaps' law: the vocabulary keeps growing with the text).  Each sampled
``<unk>`` (about 4.5 % of the tokens, as in PTB) is therefore replaced by a
synthetic word ``w<k>``, k drawn from a Zipf distribution (P(k) ~ k^-a) over an
open-ended set: new words keep appearing as the text grows, and at every size
there are words seen once, twice, three and four times, so modified Kneser-Ney's
discounts (from those count-of-counts) stay valid at every order.

Memory is bounded: sentences are drawn, written and dropped one chunk at a time.
"""

from __future__ import annotations

import sys
import time

import numpy as np

CHUNK = 1 << 17  # sentences per chunk (fixed: part of what makes a seed's text)
ZIPF_A = 1.5  # exponent of the rare-word distribution
MAX_LEN = 200  # words per sentence at most (PTB's longest sentences are shorter)


def train_model(order: int = 5):
    from perplex.corpus import load_splits
    from perplex.lm import train

    splits = load_splits()
    return train(splits.corpora["train"], "kn", order)


def generate(model, tokens: int, out, seed: int = 1, progress=None) -> tuple[int, int]:
    """Write sentences (one per line, words separated by spaces) to the text file ``out``
    until at least ``tokens`` words are written; returns (words, sentences)."""
    from perplex.lm.fast_sampling import fast_sampler
    from perplex.lm.sampling import sample_ids

    sampler = fast_sampler(model)
    words = np.array(model.vocab.tokens, dtype=object)
    unk = model.vocab.unk_id
    sent_rng, word_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    written = sentences = 0
    while written < tokens:
        rows = sample_ids(sampler, CHUNK, sent_rng, MAX_LEN, np.zeros(0, np.int64))
        lengths = np.array([len(r) for r in rows])
        flat = np.concatenate(rows)
        text = words[flat]
        is_unk = flat == unk
        text[is_unk] = np.char.add("w", word_rng.zipf(ZIPF_A, int(is_unk.sum())).astype(str)).astype(object)
        # Keep whole non-empty sentences, up to the one that reaches the size.
        keep = lengths > 0
        ends = np.cumsum(lengths)
        stop = len(rows)
        total = written + np.cumsum(np.where(keep, lengths, 0))
        if total[-1] >= tokens:
            stop = int(np.searchsorted(total, tokens)) + 1
        lines = [" ".join(s) for s, k in zip(np.split(text, ends[:-1])[:stop], keep[:stop]) if k]
        out.write("\n".join(lines) + "\n")
        written += int(lengths[:stop].sum())
        sentences += len(lines)
        if progress:
            progress(written)
    return written, sentences


def main(argv=None) -> int:
    from perplex.cli_common import Parser, positive_int, seed_int
    from perplex.errors import PerplexError

    ap = Parser(prog="make_corpus.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=positive_int, required=True, help="words to write (whole sentences: a few more)")
    ap.add_argument("--out", required=True, help="output text file (written atomically)")
    ap.add_argument("--seed", type=seed_int, default=1)
    ap.add_argument("--order", type=positive_int, default=5, help="order of the PTB model sampled from")
    args = ap.parse_args(argv)
    try:
        return _write(args)
    except PerplexError as exc:
        print(f"make_corpus.py: error: {exc}", file=sys.stderr)
        return 1


def _write(args) -> int:
    from perplex.fileio import atomic_write, check_output_file

    check_output_file(args.out, "--out")  # before the model is trained
    t0 = time.perf_counter()
    model = train_model(args.order)
    t1 = time.perf_counter()
    print(f"trained {model.name} in {t1 - t0:.1f}s", file=sys.stderr)

    def progress(n):
        dt = time.perf_counter() - t1
        print(f"\r{n:,} words, {n / dt:,.0f} words/s", end="", file=sys.stderr)

    with atomic_write(args.out, "w") as f:
        words, sents = generate(model, args.tokens, f, args.seed, progress)
    dt = time.perf_counter() - t1
    print(f"\nwrote {words:,} words in {sents:,} sentences to {args.out} in {dt:.1f}s: "
          f"{words / dt:,.0f} tokens/s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
