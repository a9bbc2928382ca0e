"""What an n-gram model must satisfy before it is used: checks shared by the ARPA
reader and the ``.npz`` loader.

A file can parse and still hold impossible values (a positive log10
probability, NaN, an unsorted key table, counts that contradict each other, a
digit changed so that a distribution no longer sums to 1).  Such a model would
score text with exit status 0 and a wrong perplexity, so each reader refuses it
with one line naming the file and the first bad entry.  Every check is a few
array operations over the tables: O(n-grams), no Python loop per n-gram.

With ``sample=True`` (the ``.npz`` loader on a file too large to read whole) the
checks read what they can afford: lengths, dtypes and the first and last keys
exactly, and the per-entry conditions (sorted keys, finite values, counts, a
distribution summing to 1) at a deterministic random sample of entries and
contexts (:func:`sample_positions`), so that only the pages those touch are read.
A damaged entry outside the sample is then not seen.

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
from perplex.lm.base import gather_ranges, range_sums

# Allowed |sum_w p(w | h) - 1|.  Files round log10 values to 6-7 digits (ours,
# KenLM's, SRILM's), which moves a sum by about 1e-6; a corrupt digit in a
# probability that matters moves it by more.
TOLERANCE = 1e-3

Namer = Callable[[int], str]  # index of an n-gram in its table -> "'w1 w2 ...'" for messages

# Sampled checks: runs of consecutive entries of each array (a run of 256 int64 or
# float64 values is a page or two of the file, whatever the table's size), and
# contexts of the whole model (spread over its orders, in runs of 16) whose
# continuations are summed (counts, distributions).
SAMPLE_RUNS = 16
RUN_LENGTH = 256
SAMPLE_CONTEXTS = 1024
CONTEXT_RUN = 16
FENCE_RUN = 4  # sampled fence entries per run: each reads its own page of the keys
SAMPLE_CHILDREN = 1 << 16  # continuations of the sampled contexts of one order, at most


def sample_positions(length: int, runs: int = SAMPLE_RUNS, run: int = RUN_LENGTH) -> np.ndarray:
    """A deterministic sample of ``range(length)``: ``runs`` runs of ``run`` consecutive
    positions at pseudo-random places, and the first and last positions; sorted, every
    position when ``length <= runs * run``.

    >>> sample_positions(5).tolist(), len(sample_positions(10**9)) <= SAMPLE_RUNS * RUN_LENGTH + 2
    ([0, 1, 2, 3, 4], True)
    """
    if length <= runs * run:
        return np.arange(length, dtype=np.int64)
    starts = np.random.default_rng([20240611, length]).integers(0, length - run + 1, runs)
    return np.unique(np.concatenate([[0, length - 1], (starts[:, None] + np.arange(run)).ravel()]))


def sample_contexts(trie, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The order-``m`` contexts whose continuations the sampled checks sum: runs of
    :data:`CONTEXT_RUN` (:data:`SAMPLE_CONTEXTS` over the model's orders), with their
    children's ranges in table ``m + 1``; the contexts with the most children are left
    out until the rest have at most :data:`SAMPLE_CHILDREN` (a frequent word's
    continuations can be a good part of a table)."""
    runs = max(1, SAMPLE_CONTEXTS // CONTEXT_RUN // max(trie.order - 1, 1))
    ctx = sample_positions(trie.size(m), runs, CONTEXT_RUN)
    lo, hi = trie.child_ranges(m + 1, ctx)
    by_size = np.argsort(hi - lo, kind="stable")
    keep = np.sort(by_size[np.cumsum((hi - lo)[by_size]) <= SAMPLE_CHILDREN])
    return ctx[keep], lo[keep], hi[keep]


def _entries(values: np.ndarray, sample: bool):
    """The values to check (all of them, or those at :func:`sample_positions`) and a map
    from a position among them to the entry's index in ``values``."""
    if not sample:
        return values, lambda i: i
    at = sample_positions(len(values))
    return values[at], lambda i: int(at[i])


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


def check_log10(where: str, values: np.ndarray, n: int, name: Namer, backoff: bool = False, sample: bool = False) -> None:
    """Finite log10 values; probabilities also <= 0 (log10 p = 0 is p = 1, fine)."""
    what = "log10 backoff" if backoff else "log10 probability"
    values, index = _entries(values, sample)
    bad = first_true(~np.isfinite(values))
    if bad is not None:
        refuse(where, f"the {n}-gram {name(index(bad))} has {what} {values[bad]}; it must be a finite number")
    if not backoff:
        bad = first_true(values > 0)
        if bad is not None:
            refuse(where, f"the {n}-gram {name(index(bad))} has {what} {values[bad]:g} > 0, a probability above 1")


def check_keys(where: str, n: int, keys: np.ndarray, parent_size: int, vocab_size: int, parent_name: Namer,
               sample: bool = False) -> np.ndarray:
    """The order-``n`` key table of :class:`~perplex.lm.trie.NgramTrie`: integers
    ``parent * (V + 1) + word``, strictly increasing (sorted, no n-gram twice), each
    parent an existing (n-1)-gram, each word predictable (``<s>`` only starts n-grams).

    ``sample``: the first and last keys exactly, the other conditions at
    :func:`sample_positions` (each sampled key against the next, and the sampled keys
    in order); the table is returned as it is when it holds int64, else converted
    (in memory)."""
    keys = check_array(where, f"the {n}-gram keys", keys, "iu")
    if keys.dtype.kind == "u" and len(keys):
        top = keys[sample_positions(len(keys))].max() if sample else keys.max()
        if top > np.iinfo(np.int64).max:
            refuse(where, f"the {n}-gram keys hold a value beyond int64")
    keys = keys.astype(np.int64, copy=False)
    if len(keys) == 0:
        return keys
    radix = vocab_size + 1
    if sample:  # each sampled key against the next, and the sampled keys in order
        at = sample_positions(len(keys))[:-1]  # the last key has no next
        step = np.minimum(keys[at + 1] - keys[at], np.append(np.diff(keys[at]), 1))
        bad = first_true(step <= 0)
        bad = None if bad is None else int(at[bad])
    else:
        bad = first_true(np.diff(keys) <= 0)
    if bad is not None:
        refuse(where, f"the {n}-gram keys are not strictly increasing at entry {bad + 1:,} (unsorted, or an n-gram listed twice)")
    if keys[0] < 0 or keys[-1] // radix >= parent_size:
        refuse(where, f"the {n}-gram keys point outside the {parent_size:,} {n - 1}-grams (shifted or corrupt)")
    values, index = _entries(keys, sample)
    bad = first_true(values % radix == vocab_size)
    if bad is not None:
        refuse(where, f"the {n}-gram {parent_name(int(values[bad] // radix))[:-1]} {BOS}' has {BOS} after its first word")
    return keys


def check_fence(where: str, n: int, fence: np.ndarray, keys: np.ndarray, stride: int, sample: bool = False) -> np.ndarray:
    """The stored fence of the order-``n`` keys: ``keys[::stride]``, read into memory
    (a wrong one would make the searches miss listed n-grams).  ``sample``: strictly
    increasing, and equal to the keys at a few sampled entries (each one a page of the keys)."""
    fence = np.array(check_array(where, f"the {n}-gram fence", fence, "iu", -(-len(keys) // stride)), np.int64)
    at = sample_positions(len(fence), run=FENCE_RUN) if sample else np.arange(len(fence))
    bad = first_true(fence[at] != keys[at * stride])
    if bad is None and sample:  # (whole, the comparison implies it: the keys are checked sorted)
        at = np.arange(len(fence))
        bad = first_true(np.diff(fence) <= 0)
    if bad is not None:
        refuse(where, f"the {n}-gram fence differs from the {n}-gram keys at entry {int(at[bad]) * stride:,}")
    return fence


def check_counts(where: str, trie, counts: list, name_of: Callable[[int], Namer], eos_id: int, sample: bool = False) -> None:
    """Raw counts as :meth:`NgramTrie.count` makes them, which the additive models
    rely on: unigram counts >= 0 with ``<s>`` at 0 (it is never predicted) and some
    text counted; listed n-grams seen at least once; and an n-gram's count equal to
    the sum of its continuations' (each occurrence not ending the sentence is followed
    by a word), so that every listed context has a distribution (MLE included).

    ``sample``: the unigram counts whole, the others at :func:`sample_positions`, the
    continuations of the contexts of :func:`sample_contexts`."""
    if counts[0][trie.bos_id] != 0:
        refuse(where, f"{BOS} has unigram count {counts[0][trie.bos_id]}; it is never predicted, so it must be 0")
    if counts[0].sum() <= 0:
        refuse(where, "the unigram counts are all 0")
    for n, c in enumerate(counts, 1):
        values, index = _entries(c, sample and n > 1)
        bad = first_true(values < (0 if n == 1 else 1))
        if bad is not None:
            refuse(where, f"the {n}-gram {name_of(n)(index(bad))} has count {values[bad]}")
    for m in range(1, trie.order):
        if sample:
            at, lo, hi = sample_contexts(trie, m)
            children = range_sums(counts[m], lo, hi)
            ends = trie.word_of(m, at)
        else:
            at = slice(None)
            children = np.bincount(trie.parent(m + 1), weights=counts[m], minlength=trie.size(m))
            ends = trie.last_word(m)
        own = counts[m - 1][at]
        checked = (ends != eos_id) & (ends != trie.bos_id)  # nothing follows </s>; <s> is not counted
        bad = first_true(checked & (children != own))
        if bad is not None:
            entry = int(at[bad]) if sample else bad
            refuse(where, f"the {m}-gram {name_of(m)(entry)} has count {own[bad]} but its continuations "
                          f"count {children[bad]:.0f} (corrupt counts)")


# ----------------------------------------------------------- normalization
def check_normalized(model, where: str, tolerance: float = TOLERANCE, sample: bool = False) -> None:
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

    ``sample``: the sums after the contexts of :func:`sample_contexts`, reading only
    those contexts' entries and their children's (:func:`_check_normalized_sample`).
    """
    from perplex.lm.backoff import BackoffModel

    if not isinstance(model, BackoffModel):
        return
    trie, V = model.trie, len(model.vocab)
    tokens = model.vocab.tokens
    with np.errstate(over="ignore", invalid="ignore"):
        total = [float((10.0 ** model.logp[0][:V]).sum())]  # total[m]: sums after the order-m contexts
        _check_sums(where, np.array(total), np.array([True]), lambda i: "the unigram distribution", tolerance)
        if sample:
            _check_normalized_sample(model, where, tolerance, total[0])
            return
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


def _check_normalized_sample(model, where: str, tolerance: float, unigram_total: float) -> None:
    """:func:`check_normalized`'s sums for the contexts of :func:`sample_contexts`, from
    their own children only.  S(h') is the true unigram sum after a one-word context and
    is taken as 1 after longer ones (computing it would read the children of every
    shorter context on the way down, a large part of the low-order tables): a correct
    model's sums move by rounding only, and an error after h' shows where h' is sampled."""
    trie = model.trie
    for m in range(1, model.order):
        ctx, lo, hi = sample_contexts(trie, m)
        which, entry = gather_ranges(lo, hi)
        listed = np.bincount(which, weights=10.0 ** model.logp[m][entry], minlength=len(ctx))
        lower = np.bincount(which, weights=10.0 ** _lower_log10_of(model, m + 1, entry), minlength=len(ctx))
        after = unigram_total if m == 1 else 1.0
        sums = listed + 10.0 ** model.logbo[m - 1][ctx] * (after - lower)
        name = ngram_namer(trie, model.vocab.tokens, m)
        _check_sums(where, sums, trie.word_of(m, ctx) != model.vocab.eos_id,
                    lambda i: f"the distribution after {name(int(ctx[i]))}", tolerance)


def _lower_log10_of(model, n: int, entry: np.ndarray) -> np.ndarray:
    """:func:`_lower_log10` for the given order-n entries only."""
    trie = model.trie
    if n == 2:
        return model.logp[0][trie.word_of(2, entry)]
    suffix = trie.suffix_of(n, entry)
    out = np.empty(len(suffix))
    hit = suffix >= 0
    out[hit] = model.logp[n - 2][suffix[hit]]
    miss = np.flatnonzero(~hit)
    if len(miss):
        out[miss] = backoff_log10(model, trie.ngram_ids(n, entry[miss])[:, 1:])
    return out


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
