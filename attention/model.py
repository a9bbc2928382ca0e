"""A decoder-only (GPT-style) Transformer language model over perplex ids.

    tokens → embedding (+ positions) → dropout → n × pre-LN Block → LayerNorm → output layer

The input is the token stream shifted right with ``</s>`` (id 0) in front, so
the first word of the text is predicted after a sentence boundary exactly as
every later sentence start is (the n-gram models condition on ``<s>`` there).

>>> import torch
>>> cfg = TransformerConfig(vocab_size=50, context=8, n_layers=1, d_model=16, n_heads=2, cutoffs=(10, 30))
>>> model = TransformerLM(cfg).eval()
>>> idx = torch.randint(0, 50, (2, 8))
>>> lp = model.log_prob(idx)                       # (B, T, |V|), natural log
>>> lp.shape, bool(torch.allclose(lp.exp().sum(-1), torch.ones(2, 8), atol=1e-5))
(torch.Size([2, 8, 50]), True)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn

from attention.layers import (Block, KVCache, LearnedPositionalEncoding, SinusoidalPositionalEncoding,
                              residual_init_std)
from attention.output import AdaptiveSoftmax, FullSoftmax
from perplex.errors import PerplexError


@dataclass
class TransformerConfig:
    """The architecture (saved inside every checkpoint).

    The defaults are the fast CPU configuration chosen by measurement (see
    README, "Transformer"): small and shallow, with an adaptive softmax
    because the output layer dominates the cost on a CPU.
    """

    vocab_size: int = 10_000
    context: int = 128  # longest sequence the model attends over (positions)
    n_layers: int = 2
    d_model: int = 256
    n_heads: int = 4
    d_ff: int = 0  # 0 = 4 * d_model (GPT)
    dropout: float = 0.15
    positional: str = "learned"  # "learned" (GPT) or "sinusoidal" (Vaswani et al. §3.5)
    output: str = "adaptive"  # "adaptive" (Grave et al. 2017) or "full" softmax
    cutoffs: tuple = (2000, 6000)  # adaptive softmax cluster boundaries over the frequency-sorted ids
    div_value: float = 4.0  # tail i has width d_model / div_value^(i+1)
    tie_embeddings: bool = True  # output rows = input embeddings (Press & Wolf 2017)

    def __post_init__(self):
        self.cutoffs = tuple(int(c) for c in self.cutoffs)
        if self.d_ff == 0:
            self.d_ff = 4 * self.d_model
        checks = [
            (self.vocab_size >= 2, f"vocabulary size must be at least 2, got {self.vocab_size}"),
            (self.context >= 1, f"--context must be at least 1, got {self.context}"),
            (self.n_layers >= 1, f"--layers must be at least 1, got {self.n_layers}"),
            (self.d_model >= 1 and self.n_heads >= 1, f"--d-model and --heads must be positive, got {self.d_model} and {self.n_heads}"),
            (self.d_model % max(self.n_heads, 1) == 0,
             f"--heads {self.n_heads} does not divide --d-model {self.d_model}; choose a number of heads that divides it"),
            (self.d_ff >= 1, f"--d-ff must be positive (or 0 for 4 x d-model), got {self.d_ff}"),
            (self.div_value > 1.0, f"the adaptive softmax div_value must exceed 1, got {self.div_value}"),
            (0.0 <= self.dropout < 1.0, f"--dropout must be in [0, 1), got {self.dropout}"),
            (self.positional in ("learned", "sinusoidal"), f"--positional must be learned or sinusoidal, got {self.positional!r}"),
            (self.output in ("adaptive", "full"), f"--output must be adaptive or full, got {self.output!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise PerplexError(message)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cutoffs"] = list(self.cutoffs)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TransformerConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


class TransformerLM(nn.Module):
    """GPT-style language model; every method takes ids of shape (B, T) with T ≤ context."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = c = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.d_model)
        pos_cls = LearnedPositionalEncoding if c.positional == "learned" else SinusoidalPositionalEncoding
        self.pos_enc = pos_cls(c.context, c.d_model)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c.d_model, c.n_heads, c.d_ff, c.dropout) for _ in range(c.n_layers))
        self.ln_f = nn.LayerNorm(c.d_model)
        if c.output == "adaptive":
            self.output = AdaptiveSoftmax(c.d_model, c.vocab_size, c.cutoffs, c.div_value, tie=c.tie_embeddings)
        else:
            self.output = FullSoftmax(c.d_model, c.vocab_size, tie=c.tie_embeddings)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("out_proj.weight") or name.endswith("ff.proj.weight"):
                nn.init.normal_(p, mean=0.0, std=residual_init_std(c.n_layers))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        # GPT-2: N(0, 0.02) for every matrix and embedding, zero biases.
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def hidden(
        self, idx: torch.Tensor, cache: KVCache | None = None, need_weights: bool = False
    ) -> tuple[torch.Tensor, list]:
        """Final hidden states (B, T, d_model) and, if asked, each layer's (B, h, T, S) attention weights.

        With a ``cache`` the ids continue the cached positions (generation).
        """
        B, T = idx.shape
        start = cache.length if cache is not None else 0
        if start + T > self.config.context:
            raise PerplexError(
                f"a sequence of {start + T} tokens is longer than the model's context of {self.config.context}; "
                f"use at most {self.config.context} tokens"
            )
        x = self.drop(self.tok_emb(idx) + self.pos_enc(start, T))  # (B, T, C)
        weights = []
        for layer, block in enumerate(self.blocks):
            x, w = block(x, cache=cache, layer=layer, need_weights=need_weights)
            weights.append(w)
        return self.ln_f(x), weights

    def target_log_prob(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """log P(targets[b, t] | idx[b, :t+1]), natural log, float32, shape (B, T)."""
        h, _ = self.hidden(idx)
        B, T, C = h.shape
        lp = self.output.target_log_prob(h.reshape(B * T, C), targets.reshape(B * T), self.tok_emb.weight)
        return lp.view(B, T)

    def loss(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy in nats per token (the training objective)."""
        return -self.target_log_prob(idx, targets).mean()

    def log_prob(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """log P(· | idx[b, :t+1]) over the whole vocabulary, shape (B, T, |V|)."""
        h, _ = self.hidden(idx, cache=cache)
        B, T, C = h.shape
        return self.output.log_prob(h.reshape(B * T, C), self.tok_emb.weight).view(B, T, -1)

    def next_log_prob(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """log P(next token | idx) at the last position only, shape (B, |V|) (generation)."""
        h, _ = self.hidden(idx, cache=cache)
        return self.output.log_prob(h[:, -1], self.tok_emb.weight)

    def init_embeddings(self, vectors: torch.Tensor, found: torch.Tensor) -> None:
        """Copy pre-trained vectors into the rows marked ``found`` (the rest keep their init).

        ``vectors`` (|V|, d_model) is rescaled to the init's root-mean-square
        (0.02) so the embeddings do not swamp the positional encodings; the
        directions (what word vectors carry) are kept.
        """
        with torch.no_grad():
            v = vectors[found].float()
            v = v / v.pow(2).mean().sqrt().clamp_min(1e-12) * 0.02
            self.tok_emb.weight[found] = v.to(self.tok_emb.weight.device)
