"""Sampling text from a trained Transformer, with a key/value cache.

Each step feeds only the newest token: the keys and values of the earlier
positions are kept in a :class:`~attention.layers.KVCache`, so a step costs
one position instead of the whole context.  A model has a fixed number of
positions (its context); when the window is full it restarts from the last
``context // 2`` tokens (one full forward pass re-fills the cache), and the
uncached path follows the same windows, so both give the same tokens.

``temperature`` divides the logits (0 = greedy, the most probable word);
``top_k`` keeps only the k most probable words before sampling.

The lead's ``perplex generate --model FILE`` calls
:func:`generate_from_checkpoint` when :func:`is_checkpoint` says FILE is one.
"""

from __future__ import annotations

import os

import torch

from perplex.attention.checkpoint import is_checkpoint, load_checkpoint
from perplex.device import resolve_device
from perplex.attention.layers import KVCache
from perplex.attention.model import TransformerLM
from perplex.corpus.vocabulary import EOS
from perplex.errors import PerplexError

__all__ = ["generate_ids", "generate_from_checkpoint", "is_checkpoint", "ids_to_text"]


def _choose(log_p: torch.Tensor, temperature: float, top_k: int | None, generator: torch.Generator) -> int:
    """Pick the next id from a (|V|,) row of log-probabilities."""
    if temperature == 0:
        return int(log_p.argmax())
    logits = log_p.float().cpu() / temperature
    if top_k is not None and top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return int(torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator))


@torch.no_grad()
def generate_ids(
    model: TransformerLM,
    prompt: list[int],
    n_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    use_cache: bool = True,
) -> list[int]:
    """Continue ``prompt`` (ids, conditioning only) by ``n_tokens`` ids.

    Parameters
    ----------
    model : TransformerLM
        Put in eval mode here (no dropout).
    prompt : list of int
        At least one id; only its last ``context`` ids are used.
    temperature : float
        ≥ 0; 0 is greedy decoding.
    top_k : int, optional
    seed : int
        Sampling is reproducible: the draws come from a CPU generator seeded here.
    use_cache : bool
        False recomputes every window from scratch (the reference for the cache).

    Returns
    -------
    list of int, length ``n_tokens``: the generated ids only.
    """
    if not prompt:
        raise PerplexError("the prompt is empty; give at least one word to continue")
    model.eval()
    device = next(model.parameters()).device
    context = model.config.context
    generator = torch.Generator().manual_seed(seed)
    seq = list(prompt[-context:])
    window_start = 0  # seq[window_start:] is what the model sees
    cache = KVCache() if use_cache else None
    fed = 0  # with a cache: how many of the window's tokens are already in it
    out = []
    for _ in range(n_tokens):
        if len(seq) - window_start > context:  # the window is full: restart from its last half
            window_start = len(seq) - max(1, context // 2)
            cache, fed = (KVCache() if use_cache else None), 0
        window = seq[window_start:]
        new = window[fed:] if use_cache else window
        idx = torch.tensor([new], dtype=torch.long, device=device)
        log_p = model.next_log_prob(idx, cache)[0]  # (|V|,)
        fed = len(window)
        token = _choose(log_p, temperature, top_k, generator)
        seq.append(token)
        out.append(token)
    return out


def ids_to_text(ids: list[int], tokens: list[str]) -> str:
    """Words joined by spaces, one sentence per line (``</s>`` ends a line)."""
    words = [tokens[i] for i in ids]
    return " ".join(words).replace(f" {EOS} ", "\n").replace(f" {EOS}", "\n").replace(f"{EOS} ", "\n").replace(EOS, "\n")


def generate_from_checkpoint(
    path: str | os.PathLike,
    prompt: str,
    n_tokens: int,
    temperature: float,
    top_k: int | None,
    seed: int,
    device: str,
) -> str:
    """Load a Transformer checkpoint and continue ``prompt``; return the continuation as text.

    The prompt is split on whitespace; words outside the model's vocabulary
    become ``<unk>``.  The model reads the prompt as the start of a sentence
    (after ``</s>``, as in training).  The continuation's ``</s>`` tokens end lines.

    Raises
    ------
    PerplexError
        Empty prompt, n_tokens < 1, negative temperature, top_k < 1, missing
        or corrupt checkpoint, ``device="cuda"`` without a GPU.
    """
    words = prompt.split()
    if not words:
        raise PerplexError("the prompt is empty; give at least one word to continue, e.g. \"the stock market\"")
    if n_tokens < 1:
        raise PerplexError(f"the number of tokens to generate must be at least 1, got {n_tokens}")
    if temperature < 0:
        raise PerplexError(f"--temperature must be at least 0 (0 = greedy), got {temperature}")
    if top_k is not None and top_k < 1:
        raise PerplexError(f"--top-k must be at least 1, got {top_k}")
    model, vocab, _ = load_checkpoint(path, device=resolve_device(device))
    ids = [vocab.eos_id] + vocab.ids(words).tolist()
    return ids_to_text(generate_ids(model, ids, n_tokens, temperature, top_k, seed), vocab.tokens)
