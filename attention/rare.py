"""Rare words share ``<unk>``'s class: the Transformer predicts a class, counts split it.

A word seen once or twice in training gives a network almost nothing to learn its
embedding and its output row from, and on raw text such words are half the vocabulary
(the Wikipedia sample of ``bench/raw_corpora.py``: 19,000 of 29,700 types, 5.9% of the
tokens).  So, as the class-based models of speech recognition do, the words seen fewer
than ``--rare-below`` times share one class with ``<unk>``: one input embedding, one
output entry.  The network gives the class its probability in the context; the class is
split among its members by their training counts, with an absolute discount
(Ney, Essen & Kneser 1994) whose mass goes to ``<unk>``, the words never seen:

    P(w | h) = P_net(class | h) · q(w),   q(w) = (c(w) − D) / C  for a rare word,
    q(<unk>) = (c(<unk>) − D·[c(<unk>) > 0] + D · n) / C

with C the class's training count, n its members seen in training and
D = n1 / (n1 + 2 n2) from its words seen once and twice (at most 0.9, so that every
seen word keeps a share).  The q sum to 1, so P sums to 1 over the whole vocabulary:
the model is scored on exactly the n-grams' vocabulary and tokens.

>>> shares = class_shares([5, 0, 9, 4, 2, 1, 1], classes=4)   # ids 4, 5, 6 share <unk>'s class
>>> [round(float(s), 4) for s in shares]
[1.0, 0.375, 1.0, 1.0, 0.375, 0.125, 0.125]
>>> round(float(shares[1] + shares[4:].sum()), 12)
1.0
"""

from __future__ import annotations

import numpy as np

from perplex.corpus.vocabulary import Vocabulary

RARE_BELOW = 3  # words seen fewer times in training share <unk>'s class (1: none does)
MAX_DISCOUNT = 0.9


def own_classes(counts, below: int = RARE_BELOW) -> int:
    """How many ids keep their own class: ``</s>``, ``<unk>`` and the words seen at least
    ``below`` times (the vocabulary numbers words by decreasing count, so they come first)."""
    counts = np.asarray(counts)
    if below < 1:
        raise ValueError(f"below must be at least 1, got {below}")
    rare = np.flatnonzero(counts[2:] < below)
    return 2 + int(rare[0]) if len(rare) else len(counts)


def class_shares(counts, classes: int) -> np.ndarray:
    """q(w) for every id (float64, shape (|V|,)): 1 for a word with its own class, its share
    of the class for ``<unk>`` and the ids from ``classes`` on (they sum to 1)."""
    counts = np.asarray(counts, np.float64)
    shares = np.ones(len(counts))
    members = counts[np.r_[Vocabulary.unk_id, classes:len(counts)]]
    total, seen = members.sum(), int((members > 0).sum())
    if total == 0:  # no rare word and no <unk> in training: the class is <unk> alone
        shares[classes:] = 0.0
        return shares
    words = members[1:]
    n1, n2 = int((words == 1).sum()), int((words == 2).sum())
    discount = min(n1 / (n1 + 2 * n2), MAX_DISCOUNT) if n1 else 0.0
    kept = np.where(members > 0, members - discount, 0.0) / total
    kept[0] += discount * seen / total
    shares[Vocabulary.unk_id] = kept[0]
    shares[classes:] = kept[1:]
    return shares


def class_ids(vocab_size: int, classes: int) -> np.ndarray:
    """The class of every id (int64, shape (|V|,)): itself, or ``<unk>``'s for the ids from ``classes`` on."""
    ids = np.arange(vocab_size)
    ids[classes:] = Vocabulary.unk_id
    return ids


def class_counts(counts, classes: int) -> np.ndarray:
    """The training count of each class (``<unk>``'s gathers its members'): what sizes the output layer."""
    counts = np.asarray(counts, np.int64)
    out = counts[:classes].copy()
    out[Vocabulary.unk_id] += counts[classes:].sum()
    return out
