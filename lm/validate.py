"""What an n-gram model must satisfy before it is used: checks shared by the ARPA
reader and the ``.npz`` loader.

A file can parse and still hold impossible values (a positive log10
probability, NaN, an unsorted key table, counts that contradict each other, a
digit changed so that a distribution no longer sums to 1).  Such a model would
score text with exit status 0 and a wrong perplexity, so each reader refuses it
with one line naming the file and the first bad entry.  Every check is a few
array operations over the tables: O(n-grams), no Python loop per n-gram.

>>> import warnings
>>> from perplex.corpus import Vocabulary, encode
>>> from perplex.lm import train
>>> sents = [["a", "b"], ["b", "a", "a"]]
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")  # tiny data: fallback discounts
...     model = train(encode(sents, Vocabulary.build(sents)), "kn", 3)
>>> check_normalized(model, "demo.arpa")  # passes quietly
>>> model.logp[1][0] += 0.1  # one changed digit
>>> check_normalized(model, "demo.arpa")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
perplex.errors.PerplexError: demo.arpa: the distribution after ... sums to 1..., not 1 (corrupt file?)
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from perplex.corpus.vocabulary import BOS
from perplex.errors import PerplexError

# Allowed |sum_w p(w | h) - 1|.  Files round log10 values to 6-7 digits (ours,
# KenLM's, SRILM's), which moves a sum by about 1e-6; a corrupt digit in a
# probability that matters moves it by more.
TOLERANCE = 1e-3

Namer = Callable[[int], str]  # index of an n-gram in its table -> "'w1 w2 ...'" for messages


def refuse(where: str, what: str):
    raise PerplexError(f"{where}: {what}")


def ngram_namer(trie, tokens: list[str], n: int) -> Namer:
    """Names the order-``n`` n-grams of ``trie`` (``tokens``: the vocabulary; id V is ``<s>``)."""
    words = list(tokens) + [BOS]
    return lambda i: "'" + " ".join(words[j] for j in trie.ngram_ids(n, [i])[0]) + "'"


def first_true(mask: np.ndarray) -> int | None:
    """Index of the first True of ``mask``, or None: the entry an error message names."""
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


# ------------------------------------------------------------------ arrays
def check_array(where: str, label: str, a, kinds: str, length: int | None = None) -> np.ndarray:
    """``a`` as a 1-D array of one of the dtype ``kinds`` ("iu": integers, "f": floats,
    "U": strings), of ``length`` entries when given."""
    if not isinstance(a, np.ndarray) or a.ndim != 1 or a.dtype.kind not in kinds:
        kind = {"iu": "integers", "f": "floats", "U": "strings"}.get(kinds, kinds)
        shape = getattr(a, "shape", None)
        refuse(where, f"{label} should be a 1-D array of {kind}, got {getattr(a, 'dtype', type(a).__name__)} of shape {shape}")
    if length is not None and len(a) != length:
        refuse(where, f"{label} has {len(a):,} entries, the model needs {length:,} (truncated or corrupt)")
    return a


def check_log10(where: str, values: np.ndarray, n: int, name: Namer, backoff: bool = False) -> None:
    """Finite log10 values; probabilities also <= 0 (log10 p = 0 is p = 1, fine)."""
    what = "log10 backoff" if backoff else "log10 probability"
    bad = first_true(~np.isfinite(values))
    if bad is not None:
        refuse(where, f"the {n}-gram {name(bad)} has {what} {values[bad]}; it must be a finite number")
    if not backoff:
        bad = first_true(values > 0)
        if bad is not None:
            refuse(where, f"the {n}-gram {name(bad)} has {what} {values[bad]:g} > 0, a probability above 1")


def check_keys(where: str, n: int, keys: np.ndarray, parent_size: int, vocab_size: int, parent_name: Namer) -> np.ndarray:
    """The order-``n`` key table of :class:`~perplex.lm.trie.NgramTrie`: integers
    ``parent * (V + 1) + word``, strictly increasing (sorted, no n-gram twice), each
    parent an existing (n-1)-gram, each word predictable (``<s>`` only starts n-grams)."""
    keys = check_array(where, f"the {n}-gram keys", keys, "iu")
    if keys.dtype.kind == "u" and len(keys) and keys.max() > np.iinfo(np.int64).max:
        refuse(where, f"the {n}-gram keys hold a value beyond int64")
    keys = keys.astype(np.int64, copy=False)
    if len(keys) == 0:
        return keys
    radix = vocab_size + 1
    bad = first_true(np.diff(keys) <= 0)
    if bad is not None:
        refuse(where, f"the {n}-gram keys are not strictly increasing at entry {bad + 1:,} (unsorted, or an n-gram listed twice)")
    if keys[0] < 0 or keys[-1] // radix >= parent_size:
        refuse(where, f"the {n}-gram keys point outside the {parent_size:,} {n - 1}-grams (shifted or corrupt)")
    bad = first_true(keys % radix == vocab_size)
    if bad is not None:
        refuse(where, f"the {n}-gram {parent_name(int(keys[bad] // radix))[:-1]} {BOS}' has {BOS} after its first word")
    return keys


def check_counts(where: str, trie, counts: list, name_of: Callable[[int], Namer], eos_id: int) -> None:
    """Raw counts as :meth:`NgramTrie.count` makes them, which the additive models
    rely on: unigram counts >= 0 with ``<s>`` at 0 (it is never predicted) and some
    text counted; listed n-grams seen at least once; and an n-gram's count equal to
    the sum of its continuations' (each occurrence not ending the sentence is followed
    by a word), so that every listed context has a distribution (MLE included)."""
    if counts[0][trie.bos_id] != 0:
        refuse(where, f"{BOS} has unigram count {counts[0][trie.bos_id]}; it is never predicted, so it must be 0")
    if counts[0].sum() <= 0:
        refuse(where, "the unigram counts are all 0")
    for n, c in enumerate(counts, 1):
        bad = first_true(c < (0 if n == 1 else 1))
        if bad is not None:
            refuse(where, f"the {n}-gram {name_of(n)(bad)} has count {c[bad]}")
    for m in range(1, trie.order):
        children = np.bincount(trie.parent(m + 1), weights=counts[m], minlength=trie.size(m))
        ends = trie.last_word(m)
        checked = (ends != eos_id) & (ends != trie.bos_id)  # nothing follows </s>; <s> is not counted
        bad = first_true(checked & (children != counts[m - 1]))
        if bad is not None:
            refuse(where, f"the {m}-gram {name_of(m)(bad)} has count {counts[m - 1][bad]} but its continuations "
                          f"count {children[bad]:.0f} (corrupt counts)")


# ----------------------------------------------------------- normalization
def check_normalized(model, where: str, tolerance: float = TOLERANCE) -> None:
    """Refuse a backoff model whose next-word distributions do not sum to 1.

    Exact for every listed context, in O(n-grams): with C(h) the listed
    continuations of h and h' = h without its first word,

        sum_w p(w | h) = sum_{w in C(h)} p(h w) + bo(h) * (S(h') - sum_{w in C(h)} p(w | h'))

    where S(h') is the same sum after h' (1 when correct; the true value is used,
    so that small errors of several orders cannot add up unseen).  An unlisted
    context has the distribution of its longest listed suffix, so these sums cover
    every history.  Contexts ending in ``</s>`` are skipped: nothing follows them.

    Additive (MLE, add-k) models are normalized by construction once their counts
    pass :func:`check_counts`; only backoff models are checked here.
    """
    from perplex.lm.backoff import BackoffModel

    if not isinstance(model, BackoffModel):
        return
    trie, V = model.trie, len(model.vocab)
    tokens = model.vocab.tokens
    with np.errstate(over="ignore", invalid="ignore"):
        total = [float((10.0 ** model.logp[0][:V]).sum())]  # total[m]: sums after the order-m contexts
        _check_sums(where, np.array(total), np.array([True]), lambda i: "the unigram distribution", tolerance)
        for n in range(2, model.order + 1):
            parent = trie.parent(n)
            size = trie.size(n - 1)
            listed = np.bincount(parent, weights=10.0 ** model.logp[n - 1], minlength=size)
            lower = np.bincount(parent, weights=10.0 ** _lower_log10(model, n), minlength=size)
            sums = listed + 10.0 ** model.logbo[n - 2] * (_suffix_sums(model, n - 1, total) - lower)
            total.append(sums)
            ends = trie.last_word(n - 1)
            name = ngram_namer(trie, tokens, n - 1)
            _check_sums(where, sums, ends != model.vocab.eos_id, lambda i: f"the distribution after {name(i)}", tolerance)


def _check_sums(where: str, sums: np.ndarray, checked: np.ndarray, describe: Callable[[int], str], tolerance: float) -> None:
    """Refuse the worst of the checked sums if it is more than ``tolerance`` away from 1."""
    error = np.where(checked, np.abs(sums - 1.0), 0.0)
    error[np.isnan(error)] = np.inf
    worst = int(np.argmax(error)) if len(error) else 0
    if len(error) and error[worst] > tolerance:
        refuse(where, f"{describe(worst)} sums to {sums[worst]:.6g}, not 1 (corrupt file?)")


def _suffix_sums(model, m: int, total: list) -> np.ndarray:
    """For every order-m context h, the sum of P(. | h') with h' = h without its first word."""
    if m == 1:
        return np.full(model.trie.size(1), total[0])
    trie = model.trie
    suffix = trie.suffix(m)  # index of h' in table m - 1, or -1 when not listed
    out = np.empty(len(suffix))
    hit = suffix >= 0
    out[hit] = total[m - 1][suffix[hit]]
    miss = np.flatnonzero(~hit)
    if len(miss):  # h' unlisted: its distribution is its longest listed suffix's
        words = trie.ngram_ids(m, miss)[:, 1:]
        out[miss] = _longest_listed_sums(model, words, total)
    return out


def _longest_listed_sums(model, words: np.ndarray, total: list) -> np.ndarray:
    out = np.full(len(words), total[0])
    done = np.zeros(len(words), bool)
    for j in range(words.shape[1]):  # the suffix words[:, j:], longest first
        idx = model.trie.index(words[:, j:])
        hit = ~done & (idx >= 0)
        out[hit] = total[words.shape[1] - j][idx[hit]]
        done |= hit
    return out


def _lower_log10(model, n: int) -> np.ndarray:
    """log10 p(w | h') for every order-n n-gram (h w), h' being h without its first word."""
    trie = model.trie
    if n == 2:
        return model.logp[0][trie.last_word(2)]
    suffix = trie.suffix(n)  # "h' w" in table n - 1, or -1 when the file does not list it
    out = np.empty(len(suffix))
    hit = suffix >= 0
    out[hit] = model.logp[n - 2][suffix[hit]]
    miss = np.flatnonzero(~hit)
    if len(miss):  # rare (pruned files): back off word by word
        out[miss] = backoff_log10(model, trie.ngram_ids(n, miss)[:, 1:])
    return out


def backoff_log10(model, words: np.ndarray) -> np.ndarray:
    """log10 p(last word | the others) for each row of ``words`` (k, m), by the
    backoff rule: the longest listed n-gram plus the backoffs of the longer listed contexts."""
    k, m = words.shape
    result = np.zeros(k)
    done = np.zeros(k, bool)
    for j in range(m):  # the n-gram words[:, j:] of length L, longest first
        L = m - j
        full = model.trie.index(words[:, j:])
        hit = ~done & (full >= 0)
        result[hit] += model.logp[L - 1][full[hit]]
        done |= hit
        if L > 1:
            ctx = model.trie.index(words[:, j:-1])
            miss = ~done & (ctx >= 0)
            result[miss] += model.logbo[L - 2][ctx[miss]]
    return result
