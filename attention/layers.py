"""The building blocks of a Transformer (Vaswani et al. 2017; GPT-2's pre-LayerNorm order).

* :class:`MultiHeadAttention`: h heads of :func:`scaled_dot_product_attention`
  on projected queries, keys and values, then an output projection (eq. in §3.2.2).
  Self-attention takes keys/values from the same sequence, cross-attention from
  a ``memory`` sequence.  An optional :class:`KVCache` keeps the keys/values of
  tokens already seen, so generation costs one position per step.
* :class:`SinusoidalPositionalEncoding` (§3.5) and :class:`LearnedPositionalEncoding`.
* :class:`FeedForward`: Linear → GELU → Linear (GPT's position-wise network).
* :class:`Block`: x + Attn(LN(x)), then x + FF(LN(x)) (pre-LN, Xiong et al. 2020).

>>> import torch
>>> mha = MultiHeadAttention(d_model=16, n_heads=4)
>>> x, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
>>> mha(x, is_causal=True)[0].shape, mha(x, memory=memory)[0].shape
(torch.Size([2, 5, 16]), torch.Size([2, 5, 16]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from perplex.attention.functional import scaled_dot_product_attention
from perplex.errors import PerplexError


@dataclass
class KVCache:
    """Keys and values of the positions already processed, one entry per layer.

    ``keys[l]`` and ``values[l]`` have shape (B, h, T_seen, d_head).
    """

    keys: list = field(default_factory=list)
    values: list = field(default_factory=list)

    @property
    def length(self) -> int:
        """Number of positions cached (0 when empty)."""
        return self.keys[0].size(2) if self.keys else 0

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the new positions' k, v for ``layer``; return all keys and values so far."""
        if layer == len(self.keys):
            self.keys.append(k)
            self.values.append(v)
        else:
            self.keys[layer] = torch.cat([self.keys[layer], k], dim=2)
            self.values[layer] = torch.cat([self.values[layer], v], dim=2)
        return self.keys[layer], self.values[layer]

    def crop(self, max_length: int) -> None:
        """Keep only the last ``max_length`` positions (a sliding context)."""
        self.keys = [k[:, :, -max_length:] for k in self.keys]
        self.values = [v[:, :, -max_length:] for v in self.values]


class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W_O, head_i = Attention(Q W_Q^i, K W_K^i, V W_V^i).

    The h per-head projections of width d_head = d_model / h are one
    (d_model → d_model) matrix each for Q, K and V, stored stacked in
    ``in_proj`` (3·d_model, d_model); splitting heads is a reshape plus a transpose.

    Parameters
    ----------
    d_model : int
    n_heads : int
        Must divide ``d_model``.
    dropout : float
        Dropout on the attention weights and on the output.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads:
            raise PerplexError(f"--heads {n_heads} does not divide --d-model {d_model}; choose heads that divide it (e.g. {_divisor_hint(d_model)})")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.dropout = dropout
        self.in_proj = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.resid_dropout = nn.Dropout(dropout)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, self.d_head).transpose(1, 2)  # (B, T, C) -> (B, h, T, d_head)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        is_causal: bool = False,
        cache: KVCache | None = None,
        layer: int = 0,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from ``x`` to itself (self-attention) or to ``memory`` (cross-attention).

        Parameters
        ----------
        x : tensor, shape (B, T, d_model)
            The sequence the queries come from.
        memory : tensor, shape (B, S, d_model), optional
            Keys and values come from here (cross-attention); default ``x``.
        mask : bool tensor broadcastable to (B, h, T, S), optional
            True where attention is allowed.
        is_causal : bool
            Query t sees keys up to its own position only (with a cache, the
            queries are the positions after the cached ones).
        cache : KVCache, optional
            Self-attention only: the new keys/values are appended to it and
            the queries attend to everything cached.
        layer : int
            Which of the cache's layers this module is.
        need_weights : bool
            Also return the attention weights, shape (B, h, T, S).

        Returns
        -------
        out : tensor, shape (B, T, d_model)
        weights : tensor, shape (B, h, T, S), or None
        """
        d = self.d_model
        if memory is None:
            q, k, v = self.in_proj(x).split(d, dim=2)  # 3 x (B, T, C)
        else:
            if cache is not None:
                raise ValueError("the key/value cache is for self-attention only")
            w, b = self.in_proj.weight, self.in_proj.bias
            q = F.linear(x, w[:d], b[:d])  # (B, T, C)
            k, v = F.linear(memory, w[d:], b[d:]).split(d, dim=2)  # 2 x (B, S, C)
        q, k, v = self._split_heads(q), self._split_heads(k), self._split_heads(v)  # (B, h, T|S, d_head)
        if cache is not None:
            k, v = cache.append(layer, k, v)  # (B, h, T_seen + T, d_head)
        p = self.dropout if self.training else 0.0
        y, weights = scaled_dot_product_attention(q, k, v, mask, p, need_weights, is_causal)  # (B, h, T, d_head)
        B, T = x.shape[:2]
        y = y.transpose(1, 2).reshape(B, T, d)  # re-assemble the heads: (B, h, T, d_head) -> (B, T, C)
        return self.resid_dropout(self.out_proj(y)), weights


def _divisor_hint(d: int) -> str:
    return ", ".join(str(h) for h in (1, 2, 4, 8, 16) if d % h == 0)


def sinusoidal_table(max_len: int, d_model: int) -> torch.Tensor:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)) (§3.5).

    Returns a float32 tensor of shape (max_len, d_model).
    """
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]  # (L, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (ceil(d/2),)
    angle = pos / 10000.0 ** (two_i / d_model)  # (L, ceil(d/2))
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe.float()


class SinusoidalPositionalEncoding(nn.Module):
    """Fixed sinusoids, no parameters; ``forward(start, length)`` → (length, d_model)."""

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        self.max_len = max_len
        self.register_buffer("table", sinusoidal_table(max_len, d_model), persistent=False)

    def forward(self, start: int, length: int) -> torch.Tensor:
        return self.table[start : start + length]


class LearnedPositionalEncoding(nn.Module):
    """One trained vector per position (GPT); ``forward(start, length)`` → (length, d_model)."""

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        self.max_len = max_len
        self.table = nn.Embedding(max_len, d_model)

    def forward(self, start: int, length: int) -> torch.Tensor:
        return self.table.weight[start : start + length]


class FeedForward(nn.Module):
    """FFN(x) = W_2 GELU(W_1 x + b_1) + b_2, applied at every position."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0):
        super().__init__()
        self.fc = nn.Linear(d_model, d_ff)
        self.proj = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-LN residual block: x + Attn(LN(x)), then x + FF(LN(x))."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.ln_2 = nn.LayerNorm(d_model)
        self.ff = FeedForward(d_model, d_ff, dropout)

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        a, weights = self.attn(self.ln_1(x), is_causal=True, cache=cache, layer=layer, need_weights=need_weights)
        x = x + a
        x = x + self.ff(self.ln_2(x))
        return x, weights


def residual_init_std(n_layers: int) -> float:
    """GPT-2's init for the projections that write into the residual stream:
    0.02 / √(2·n_layers), so the residual sum's variance does not grow with depth."""
    return 0.02 / math.sqrt(2 * n_layers)
