"""Sampling sentences from any n-gram model, many sentences at once.

Each step asks the model for the next-word distributions of all unfinished
sentences in one call and draws from them with one seeded generator, so the
only loop is over positions (generation is sequential by nature).
"""

from __future__ import annotations

import numpy as np

from perplex.corpus.vocabulary import BOS
from perplex.lm.base import NgramModel
from perplex.errors import PerplexError


def reshape_distribution(probs: np.ndarray, temperature: float = 1.0, top_k: int | None = None) -> np.ndarray:
    """Apply a temperature (p^(1/T), renormalized) and keep the ``top_k`` most likely words.

    >>> reshape_distribution(np.array([[0.5, 0.3, 0.2]]), top_k=2).round(3).tolist()
    [[0.625, 0.375, 0.0]]
    """
    if temperature <= 0:
        raise PerplexError(f"--temperature must be > 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise PerplexError(f"--top-k must be at least 1, got {top_k}")
    out = probs.astype(np.float64, copy=True)
    if temperature != 1.0:
        with np.errstate(divide="ignore"):
            logits = np.log(out) / temperature
        out = np.exp(logits - logits.max(axis=1, keepdims=True))
    if top_k is not None and top_k < out.shape[1]:
        kth = np.partition(out, -top_k, axis=1)[:, -top_k][:, None]
        out[out < kth] = 0.0
    return out / out.sum(axis=1, keepdims=True)


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
        Stop a sentence after this many words if ``</s>`` has not come.
    prompt : list of str, optional
        Words every sentence starts with (unknown ones become ``<unk>``).
    """
    rng = np.random.default_rng(seed)
    prompt = prompt or []
    if BOS in prompt:
        raise PerplexError("the prompt must not contain <s>: sentences already start with it")
    prompt_ids = model.vocab.ids(prompt)
    state = model.initial_state(n)
    for token in prompt_ids:
        state = model.advance(state, np.full(n, token, np.int64))
    out = np.full((n, max_len), -1, np.int64)
    alive = np.arange(n)
    for step in range(max_len):
        probs = model.distributions(state[alive])
        totals = probs.sum(axis=1)
        if np.any(totals <= 0):
            raise PerplexError(f"{model.name} gives no probability to any word after this history (MLE after an unseen context); try a smoothed model")
        probs = reshape_distribution(probs, temperature, top_k)
        # Inverse-CDF draw, one uniform number per sentence.
        cdf = np.cumsum(probs, axis=1)
        u = rng.random(len(alive))[:, None] * cdf[:, -1:]
        tokens = np.minimum((cdf < u).sum(axis=1), probs.shape[1] - 1)
        out[alive, step] = tokens
        keep = tokens != model.vocab.eos_id
        state = model.advance(state[alive][keep], tokens[keep]) if keep.any() else state[:0]
        alive = alive[keep]
        if len(alive) == 0:
            break
        # state rows now follow `alive`; keep a full-size array for indexing.
        full = model.initial_state(n)
        full[alive] = state
        state = full
    words = np.array(model.vocab.tokens, dtype=object)
    return [prompt + words[row[(row >= 0) & (row != model.vocab.eos_id)]].tolist() for row in out]
