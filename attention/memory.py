"""How much memory a Transformer needs, estimated from its settings before anything is allocated.

The command line refuses (:func:`perplex.resources.check_memory`) a model or a batch
the machine cannot hold, instead of failing in torch's allocator minutes later.  Torch-free
arithmetic on floats: every size is at most :data:`~perplex.attention.config.MAX_SIZE`, so
nothing overflows.

>>> from perplex.attention.config import TransformerConfig
>>> parameter_count(TransformerConfig(vocab_size=50, context=8, n_layers=1, d_model=16, n_heads=2, cutoffs=(10, 30)))
4464
"""

from __future__ import annotations

from perplex.attention.config import TransformerConfig, cluster_bounds, tail_width

FLOAT = 4  # bytes: weights, gradients, optimizer moments and activations are float32


def parameter_count(c: TransformerConfig) -> int:
    """The number of parameters of ``TransformerLM(c)`` (exactly ``model.n_parameters()``)."""
    V, d, ff = c.classes, c.d_model, c.d_ff  # the rows are the model's classes (rare words share one)
    block = 4 * d * d + 2 * d * ff + 9 * d + ff  # q/k/v and output projections, feed-forward, 2 LayerNorms
    positions = c.context * d if c.positional == "learned" else 0
    if c.output == "full":
        output = V + (0 if c.tie_embeddings else V * d)
    else:
        bounds = cluster_bounds(V, c.cutoffs)
        shortlist, tails = bounds[1], len(bounds) - 2
        output = (0 if c.tie_embeddings else shortlist * d) + tails * d + shortlist + tails
        output += sum(tail_width(d, c.div_value, i) * (d + bounds[i + 2] - bounds[i + 1]) for i in range(tails))
    return V * d + positions + c.n_layers * block + 2 * d + output


def _output_width(c: TransformerConfig) -> int:
    """Columns of the output layer's largest per-token rows (its logits)."""
    if c.output == "full":
        return c.classes
    bounds = cluster_bounds(c.classes, c.cutoffs)
    widest_tail = max((b - a for a, b in zip(bounds[1:-1], bounds[2:])), default=0)
    return bounds[1] + len(bounds) - 2 + widest_tail


def _sinusoid_bytes(c: TransformerConfig) -> float:
    # the fixed table is built in float64 (positions, angles, table), then kept in float32
    return 28.0 * c.context * c.d_model if c.positional == "sinusoidal" else 0.0


def loading_bytes(c: TransformerConfig) -> float:
    """Memory to build the model and load saved weights into it (two copies of the weights)."""
    return 2.0 * FLOAT * parameter_count(c) + _sinusoid_bytes(c)


def training_bytes(c: TransformerConfig, batch_size: int, n_tokens: int | None = None) -> float:
    """Memory to train ``c`` with ``batch_size`` windows per step (an estimate, in bytes).

    Weights, gradients and AdamW's two moments (4 floats per parameter); the activations the
    backward pass keeps (per layer and token: about 8 x d_model + 2 x d_ff floats, and the
    attention weights: heads x context per token); the output layer's logits and gradients.
    With ``n_tokens`` (the training stream's length) a batch holds no more windows than there are.
    """
    T, B = float(c.context), float(batch_size)
    if n_tokens is not None:
        T = float(min(c.context, max(n_tokens, 1)))
        B = float(min(batch_size, max(1, (n_tokens - T) // T + 1)))
    d, ff, L, h = float(c.d_model), float(c.d_ff), float(c.n_layers), float(c.n_heads)
    weights = 4.0 * parameter_count(c)
    activations = B * T * L * (8 * d + 2 * ff + 2 * h * T)
    output = 3.0 * B * T * _output_width(c)
    return FLOAT * (weights + activations + output) + _sinusoid_bytes(c)
