"""Sampling sentences from any n-gram model, many sentences at once.

Each step asks the model for the next-word distributions of all unfinished
sentences in one call and draws from them with one seeded generator, so the
only loop is over positions (generation is sequential by nature).

When the distribution is the model's own (temperature 1, no top-k) and the model
is a backoff or additive one, :mod:`perplex.lm.fast_sampling` draws the same
distribution through the model's structure instead, without building the
|V|-wide rows (well over a hundred times faster).
"""

from __future__ import annotations

import numpy as np

from perplex.corpus.vocabulary import BOS
from perplex.lm.base import NgramModel
from perplex.lm.fast_sampling import FAST_BATCH, fast_sampler
from perplex.errors import PerplexError
from perplex.resources import check_memory


def reshape_distribution(probs: np.ndarray, temperature: float = 1.0, top_k: int | None = None) -> np.ndarray:
    """Apply a temperature (p^(1/T), renormalized) and keep the ``top_k`` most likely words.

    >>> reshape_distribution(np.array([[0.5, 0.3, 0.2]]), top_k=2).round(3).tolist()
    [[0.625, 0.375, 0.0]]
    """
    if not 0 < temperature < np.inf:
        raise PerplexError(f"--temperature must be a finite number > 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise PerplexError(f"--top-k must be at least 1, got {top_k}")
    out = probs.astype(np.float64, copy=True)
    if temperature != 1.0:
        # Shift before dividing: (log p - log p_max) / T stays finite for any T > 0
        # (log p / T alone is -inf - -inf = nan once T is tiny).
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            logits = np.log(out)
            out = np.exp((logits - logits.max(axis=1, keepdims=True)) / temperature)
        out[np.isnan(out)] = 0.0  # only words of probability 0 (-inf - -inf)
    if top_k is not None and top_k < out.shape[1]:
        kth = np.partition(out, -top_k, axis=1)[:, -top_k][:, None]
        out[out < kth] = 0.0
    return out / out.sum(axis=1, keepdims=True)


# Rows of (sentences, |V|) float64 arrays a sampling step holds at once (about
# four): sentences are drawn in batches that keep a step under this many bytes.
STEP_BYTES = 1 << 28
# Generated words are kept as (sentence, word) pairs of int64: check that the
# next CHECK_STEPS steps of them fit in memory, every CHECK_STEPS steps.
CHECK_STEPS = 4096


class DistributionSampler:
    """Next-word draws from the whole distributions ``model.distributions`` gives,
    reshaped by ``temperature`` and ``top_k``: the path for any reshaping
    (:mod:`perplex.lm.fast_sampling` draws the model's own distribution faster)."""

    def __init__(self, model: NgramModel, temperature: float = 1.0, top_k: int | None = None):
        self.model, self.temperature, self.top_k = model, temperature, top_k

    def step(self, state: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One word id per row of ``state`` (inverse-CDF, one uniform number per row), and the states after them."""
        probs = self.model.distributions(state)
        if np.any(probs.sum(axis=1) <= 0):
            raise PerplexError(f"{self.model.name} gives no probability to any word after this history "
                               "(MLE after an unseen context); try a smoothed model")
        probs = reshape_distribution(probs, self.temperature, self.top_k)
        cdf = np.cumsum(probs, axis=1)
        u = rng.random(len(state))[:, None] * cdf[:, -1:]
        tokens = np.minimum((cdf < u).sum(axis=1), probs.shape[1] - 1)
        return tokens, self.model.advance(state, tokens)


def sample_sentences(
    model: NgramModel,
    n: int,
    seed: int | None = None,
    max_len: int = 100,
    prompt: list[str] | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
) -> list[list[str]]:
    """Draw ``n`` sentences (lists of words, ``</s>`` not included).

    Parameters
    ----------
    seed : int, optional
        The same seed gives the same sentences.
    max_len : int
        Stop a sentence after this many words if ``</s>`` has not come (any size:
        memory grows with the words drawn, not with ``max_len``).
    prompt : list of str, optional
        Words every sentence starts with (unknown ones become ``<unk>``).
    """
    return list(iter_sentences(model, n, seed, max_len, prompt, temperature, top_k))


def iter_sentences(model: NgramModel, n: int, seed: int | None = None, max_len: int = 100,
                   prompt: list[str] | None = None, temperature: float = 1.0, top_k: int | None = None):
    """:func:`sample_sentences` one batch at a time, so that any ``n`` fits in memory."""
    if seed is not None and seed < 0:
        raise PerplexError(f"--seed must be a whole number >= 0, got {seed}")
    reshape_distribution(np.ones((1, 1)), temperature, top_k)  # bad options fail before any work
    prompt = prompt or []
    if BOS in prompt:
        raise PerplexError("the prompt must not contain <s>: sentences already start with it")
    rng = np.random.default_rng(seed)
    words = np.array(model.vocab.tokens, dtype=object)
    sampler = fast_sampler(model) if temperature == 1.0 and top_k is None else None
    if sampler is not None:
        # Exact draws through the model's structure; one sentence per batch too when
        # STEP_BYTES is lowered (so a batch never holds more sentences than that allows).
        batch = max(1, min(FAST_BATCH, STEP_BYTES // (4 * 8)))
    else:
        sampler = DistributionSampler(model, temperature, top_k)
        batch = max(1, STEP_BYTES // (4 * 8 * len(model.vocab)))
    prompt_ids = model.vocab.ids(prompt)
    for start in range(0, n, batch):
        rows = sample_ids(sampler, min(batch, n - start), rng, max_len, prompt_ids)
        yield from (prompt + words[row].tolist() for row in rows)


def sample_ids(sampler, n: int, rng: np.random.Generator, max_len: int, prompt_ids: np.ndarray) -> list[np.ndarray]:
    """Word ids of ``n`` sentences drawn together by ``sampler`` (``</s>`` not included).

    ``sampler``: a :class:`DistributionSampler` or a :func:`~perplex.lm.fast_sampling.fast_sampler`,
    anything with a ``model`` and ``step(state, rng) -> (words, states)``.
    """
    model = sampler.model
    state = model.initial_state(n)
    for token in prompt_ids:
        state = model.advance(state, np.full(n, token, np.int64))
    drawn_rows, drawn_ids = [], []  # per step: which sentences drew which word
    alive = np.arange(n)
    step = 0
    while len(alive) and step < max_len:
        if step % CHECK_STEPS == 0:  # at most max_len - step more steps come
            check_memory(16.0 * len(alive) * min(CHECK_STEPS, max_len - step) * 2,
                         f"sampling {len(alive):,} sentences still unfinished after {step:,} words", "lower --max-len")
        tokens, state = sampler.step(state, rng)
        keep = tokens != model.vocab.eos_id
        alive, tokens, state = alive[keep], tokens[keep], state[keep]  # state rows follow `alive`
        drawn_rows.append(alive)
        drawn_ids.append(tokens)
        step += 1
    # Group the words by sentence; a stable sort keeps each sentence's words in order.
    rows = np.concatenate(drawn_rows) if drawn_rows else np.zeros(0, np.int64)
    ids = np.concatenate(drawn_ids) if drawn_ids else np.zeros(0, np.int64)
    by_row = np.argsort(rows, kind="stable")
    return np.split(ids[by_row], np.cumsum(np.bincount(rows, minlength=n))[:-1])
