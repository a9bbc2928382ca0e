"""Scaled dot-product attention, written as the formula (Vaswani et al. 2017, eq. 1).

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V

Masks are boolean with PyTorch's convention: ``True`` means "may attend".
A causal mask lets query ``i`` see keys ``0..i`` only; a padding mask hides
the padded keys of each sequence.

>>> import torch
>>> q = k = v = torch.randn(1, 2, 4, 8)                 # (B, h, T, d)
>>> out, w = scaled_dot_product_attention(q, k, v, causal_mask(4), need_weights=True)
>>> out.shape, w.shape, bool(w[0, 0, 0, 1:].eq(0).all())  # query 0 sees only key 0
(torch.Size([1, 2, 4, 8]), torch.Size([1, 2, 4, 4]), True)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def causal_mask(t_q: int, t_k: int | None = None, device=None) -> torch.Tensor:
    """Boolean (t_q, t_k) mask, True where query i may attend key j.

    With ``t_k > t_q`` (a key/value cache holding earlier tokens), the queries
    are the *last* ``t_q`` positions: query i sits at absolute position
    ``t_k - t_q + i`` and sees keys ``0..t_k - t_q + i``.
    """
    t_k = t_q if t_k is None else t_k
    return torch.ones(t_q, t_k, dtype=torch.bool, device=device).tril(diagonal=t_k - t_q)


def padding_mask(lengths: torch.Tensor, t_k: int) -> torch.Tensor:
    """Boolean (B, 1, 1, t_k) mask, True for real keys, False for padding.

    Broadcasts against attention scores of shape (B, h, t_q, t_k).

    Parameters
    ----------
    lengths : int tensor, shape (B,)
        Number of real (unpadded) positions at the start of each sequence.
    """
    keep = torch.arange(t_k, device=lengths.device)[None, :] < lengths[:, None]  # (B, t_k)
    return keep[:, None, None, :]


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    need_weights: bool = False,
    is_causal: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """softmax(Q Kᵀ / √d_k) V, optionally returning the attention weights.

    Parameters
    ----------
    q : float tensor, shape (B, h, t_q, d_k)
    k : float tensor, shape (B, h, t_k, d_k)
    v : float tensor, shape (B, h, t_k, d_v)
    mask : bool tensor broadcastable to (B, h, t_q, t_k), optional
        True where attention is allowed (e.g. :func:`causal_mask`,
        :func:`padding_mask`, or both combined with ``&``).
    dropout_p : float
        Dropout on the attention weights (pass 0 in evaluation).
    need_weights : bool
        Return the (B, h, t_q, t_k) weights.  Without it the fused
        ``torch.nn.functional.scaled_dot_product_attention`` kernel is used
        (same result, less memory); with it the formula below runs as written.
    is_causal : bool
        Apply :func:`causal_mask` (instead of, or on top of, ``mask``); the
        fused kernel then skips the masked half without building a mask.

    Returns
    -------
    out : tensor, shape (B, h, t_q, d_v)
    weights : tensor, shape (B, h, t_q, t_k), or None
        Each row sums to 1 over the keys it may see (a query with no visible
        key gets an all-zero row and output 0).
    """
    if is_causal and (mask is not None or q.size(-2) != k.size(-2)):
        # PyTorch's is_causal aligns the mask top-left; with a cache (t_q < t_k)
        # the queries are the last positions, so build the bottom-right mask.
        causal = causal_mask(q.size(-2), k.size(-2), q.device)
        mask = causal if mask is None else mask & causal
        is_causal = False
    if not need_weights:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=is_causal)
        return out, None
    if is_causal:
        mask = causal_mask(q.size(-2), k.size(-2), q.device)
    d_k = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (B, h, t_q, d) x (B, h, d, t_k) -> (B, h, t_q, t_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    # A fully masked row is softmax(-inf, ..., -inf) = NaN; it attends to nothing.
    weights = torch.nan_to_num(weights, nan=0.0)
    dropped = F.dropout(weights, p=dropout_p) if dropout_p > 0 else weights
    out = dropped @ v  # (B, h, t_q, t_k) x (B, h, t_k, d_v) -> (B, h, t_q, d_v)
    return out, weights
