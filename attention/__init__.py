"""Attention and a small GPT-style Transformer language model, scored by ``eval/``.

A tour (the pieces, smallest first):

>>> import torch
>>> from perplex.attention import scaled_dot_product_attention, causal_mask, TransformerConfig, TransformerLM
>>> q = k = v = torch.randn(1, 4, 6, 8)                       # (B, heads, T, d_head)
>>> out, w = scaled_dot_product_attention(q, k, v, causal_mask(6), need_weights=True)
>>> bool(torch.allclose(w.sum(-1), torch.ones(1, 4, 6)))       # rows are distributions
True
>>> model = TransformerLM(TransformerConfig(vocab_size=100, context=16, n_layers=1, d_model=32, n_heads=4,
...                                         cutoffs=(20, 60)))
>>> model.loss(torch.randint(0, 100, (2, 16)), torch.randint(0, 100, (2, 16))).shape
torch.Size([])

Modules: :mod:`~attention.functional` (the attention formula and masks),
:mod:`~attention.layers` (multi-head attention, positional encodings,
feed-forward, blocks, key/value cache), :mod:`~attention.output` (full and
adaptive softmax), :mod:`~attention.config` (the settings), :mod:`~attention.model` (the language model),
:mod:`~attention.windows` (training windows, sliding evaluation windows),
:mod:`~attention.train`, :mod:`~attention.scoring` (the ``eval.LanguageModel``),
:mod:`~attention.generate`, :mod:`~attention.heatmap`,
:mod:`~attention.checkpoint` (checked before anything is built), :mod:`~attention.memory`
(sizes estimated before allocating), :mod:`~attention.pretrained`, :mod:`~attention.cli`.
"""

import importlib

# Lazy exports (PEP 562): ``cli.py`` imports attention.cli, and torch must not load for ``--help``.
_EXPORTS = {
    "scaled_dot_product_attention": "functional", "causal_mask": "functional", "padding_mask": "functional",
    "MultiHeadAttention": "layers", "KVCache": "layers", "SinusoidalPositionalEncoding": "layers",
    "LearnedPositionalEncoding": "layers", "sinusoidal_table": "layers", "FeedForward": "layers", "Block": "layers",
    "TransformerConfig": "model", "TransformerLM": "model",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"perplex.attention.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'perplex.attention' has no attribute {name!r}")
