"""What the heads attend to: per-head attention weights for one sentence, as PNG heatmaps,
and the entropy of each head's attention rows.

The sentence is read as the model reads any sentence start: ``</s>`` (the
previous sentence boundary) then the words.  Row t of a head's matrix is the
distribution over positions 0..t that position t attends to; its entropy
(bits, :func:`eval.entropy`) is 0 for a head that looks at one token and
log2(t + 1) for one that spreads evenly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from perplex.attention.model import TransformerLM
from perplex.corpus.vocabulary import EOS, Vocabulary
from perplex.eval.entropy import entropy
from perplex.errors import PerplexError
from perplex.fileio import atomic_write


@dataclass
class AttentionMaps:
    """Attention of every head for one sentence.

    Attributes
    ----------
    tokens : list of str
        Position labels: ``</s>`` then the words (OOV words shown as ``word→<unk>``).
    weights : float64 array, shape (layers, heads, T, T)
        ``weights[l, h, t, s]``: how much position t attends to position s (rows sum to 1).
    """

    tokens: list[str]
    weights: np.ndarray

    def row_entropy(self) -> np.ndarray:
        """Entropy in bits of every attention row, shape (layers, heads, T)."""
        return entropy(self.weights, axis=-1)

    def head_entropy(self) -> np.ndarray:
        """Mean row entropy of each head in bits, shape (layers, heads).

        Row 0 (which can only attend to itself, entropy 0) is left out.
        """
        rows = self.row_entropy()
        return rows[..., 1:].mean(axis=-1) if rows.shape[-1] > 1 else rows[..., 0]

    def records(self) -> list[dict]:
        """One JSON-ready record per head: layer, head, mean entropy, uniform reference."""
        t = len(self.tokens)
        uniform = float(np.mean(np.log2(np.arange(2, t + 1)))) if t > 1 else 0.0
        h = self.head_entropy()
        return [
            {"layer": layer + 1, "head": head + 1, "mean_entropy_bits": float(h[layer, head]),
             "uniform_entropy_bits": uniform}
            for layer in range(h.shape[0]) for head in range(h.shape[1])
        ]


@torch.no_grad()
def attention_maps(model: TransformerLM, vocab: Vocabulary, sentence: str) -> AttentionMaps:
    """Run ``sentence`` through the model and collect every head's weights.

    Raises
    ------
    PerplexError
        Empty sentence, or one longer than the model's context.
    """
    words = sentence.split()
    if not words:
        raise PerplexError("the sentence is empty; give some words, e.g. \"the stock market fell\"")
    ids = [vocab.eos_id] + vocab.ids(words).tolist()
    if len(ids) > model.config.context:
        raise PerplexError(f"the sentence has {len(words)} words (+1 for </s>), longer than the model's context of "
                           f"{model.config.context}; give at most {model.config.context - 1} words")
    model.eval()
    device = next(model.parameters()).device
    _, weights = model.hidden(torch.tensor([ids], device=device), need_weights=True)
    stacked = torch.stack([w[0] for w in weights]).double().cpu().numpy()  # (layers, heads, T, T)
    labels = [EOS] + [w if w in vocab else f"{w}→<unk>" for w in words]
    return AttentionMaps(labels, stacked)


def draw_heatmaps(maps: AttentionMaps, out_dir: str | os.PathLike, prefix: str = "attention") -> list[Path]:
    """One PNG per head, ``{prefix}_layer{l}_head{h}.png`` in ``out_dir``; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_layers, n_heads, t, _ = maps.weights.shape
    entropies = maps.head_entropy()
    paths = []
    for layer in range(n_layers):
        for head in range(n_heads):
            size = 2.0 + 0.45 * t
            fig, ax = plt.subplots(figsize=(size + 1.2, size))
            im = ax.imshow(maps.weights[layer, head], cmap="viridis", vmin=0.0, vmax=1.0)
            ax.set_xticks(range(t), maps.tokens, rotation=60, ha="right")
            ax.set_yticks(range(t), maps.tokens)
            ax.set_xlabel("attended position (key)")
            ax.set_ylabel("attending position (query)")
            ax.set_title(f"layer {layer + 1}, head {head + 1}: mean row entropy {entropies[layer, head]:.2f} bits")
            fig.colorbar(im, ax=ax, fraction=0.046)
            fig.tight_layout()
            path = out / f"{prefix}_layer{layer + 1}_head{head + 1}.png"
            with atomic_write(path, "wb") as f:
                fig.savefig(f, format="png", dpi=100)
            plt.close(fig)
            paths.append(path)
    return paths


def draw_layer(maps: AttentionMaps, layer: int, path: str | os.PathLike) -> Path:
    """Every head of ``layer`` (0-based) side by side in one PNG, each titled with its mean
    row entropy; returns the path."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    n_heads, t = maps.weights.shape[1], maps.weights.shape[2]
    entropies = maps.head_entropy()
    size = 1.6 + 0.32 * t
    fig, axes = plt.subplots(1, n_heads, figsize=(size * n_heads + 1.0, size + 0.6), squeeze=False)
    for head, ax in enumerate(axes[0]):
        im = ax.imshow(maps.weights[layer, head], cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_xticks(range(t), maps.tokens, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(t), maps.tokens if head == 0 else [""] * t, fontsize=8)
        ax.set_title(f"head {head + 1}: {entropies[layer, head]:.2f} bits", fontsize=9)
    fig.suptitle(f"layer {layer + 1}: attention weights (rows attend to columns; mean row entropy per head)")
    fig.colorbar(im, ax=list(axes[0]), fraction=0.015)
    path = Path(path)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
