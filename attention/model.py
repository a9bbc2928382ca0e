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

import numpy as np
import torch
import torch.nn as nn

from perplex.attention.config import TransformerConfig
from perplex.attention.layers import (Block, KVCache, LearnedPositionalEncoding, SinusoidalPositionalEncoding,
                              residual_init_std)
from perplex.attention.output import AdaptiveSoftmax, FullSoftmax
from perplex.attention.rare import class_ids, class_shares
from perplex.errors import PerplexError

__all__ = ["TransformerConfig", "TransformerLM"]  # the config lives in attention.config (torch-free)


class TransformerLM(nn.Module):
    """GPT-style language model; every method takes ids of shape (B, T) with T ≤ context.

    With ``config.classes`` below the vocabulary size, the rarer ids share ``<unk>``'s
    class (perplex.attention.rare); ``counts``, the vocabulary's training counts, then
    split the class.  Every method still takes and returns ids and distributions over the
    whole vocabulary.
    """

    def __init__(self, config: TransformerConfig, counts=None):
        super().__init__()
        self.config = c = config
        self.shared = c.classes < c.vocab_size
        if self.shared:
            if counts is None or len(counts) != c.vocab_size:
                raise PerplexError(f"a model whose rare words share <unk>'s class needs the {c.vocab_size} "
                                   "training counts of its vocabulary")
            # not saved with the weights: rebuilt from the checkpoint's vocabulary counts
            self.register_buffer("class_of", torch.from_numpy(class_ids(c.vocab_size, c.classes)), persistent=False)
            with np.errstate(divide="ignore"):  # a share of 0 (a member never counted) is log 0 = -inf
                log_share = np.log(class_shares(counts, c.classes))
            self.register_buffer("log_share", torch.from_numpy(log_share).float(), persistent=False)
        self.tok_emb = nn.Embedding(c.classes, c.d_model)
        pos_cls = LearnedPositionalEncoding if c.positional == "learned" else SinusoidalPositionalEncoding
        self.pos_enc = pos_cls(c.context, c.d_model)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c.d_model, c.n_heads, c.d_ff, c.dropout) for _ in range(c.n_layers))
        self.ln_f = nn.LayerNorm(c.d_model)
        if c.output == "adaptive":
            self.output = AdaptiveSoftmax(c.d_model, c.classes, c.cutoffs, c.div_value, tie=c.tie_embeddings)
        else:
            self.output = FullSoftmax(c.d_model, c.classes, tie=c.tie_embeddings)
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
        x = self.drop(self.tok_emb(self._classes(idx)) + self.pos_enc(start, T))  # (B, T, C)
        weights = []
        for layer, block in enumerate(self.blocks):
            x, w = block(x, cache=cache, layer=layer, need_weights=need_weights)
            weights.append(w)
        return self.ln_f(x), weights

    def _classes(self, ids: torch.Tensor) -> torch.Tensor:
        return self.class_of[ids] if self.shared else ids

    def _words(self, class_log_prob: torch.Tensor) -> torch.Tensor:
        """(..., classes) log-probabilities of the classes -> (..., |V|) of the words."""
        if not self.shared:
            return class_log_prob
        return class_log_prob.index_select(-1, self.class_of) + self.log_share

    def target_log_prob(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """log P(targets[b, t] | idx[b, :t+1]), natural log, float32, shape (B, T)."""
        h, _ = self.hidden(idx)
        B, T, C = h.shape
        flat = targets.reshape(B * T)
        lp = self.output.target_log_prob(h.reshape(B * T, C), self._classes(flat), self.tok_emb.weight)
        if self.shared:
            lp = lp + self.log_share[flat]
        return lp.view(B, T)

    def loss(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy in nats per token (the training objective)."""
        return -self.target_log_prob(idx, targets).mean()

    def log_prob(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """log P(· | idx[b, :t+1]) over the whole vocabulary, shape (B, T, |V|)."""
        h, _ = self.hidden(idx, cache=cache)
        B, T, C = h.shape
        return self._words(self.output.log_prob(h.reshape(B * T, C), self.tok_emb.weight)).view(B, T, -1)

    def next_log_prob(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """log P(next token | idx) at the last position only, shape (B, |V|) (generation)."""
        h, _ = self.hidden(idx, cache=cache)
        return self._words(self.output.log_prob(h[:, -1], self.tok_emb.weight))

    def init_embeddings(self, vectors: torch.Tensor, found: torch.Tensor) -> None:
        """Copy pre-trained vectors into the rows marked ``found`` (the rest keep their init).

        ``vectors`` (|V|, d_model) is rescaled to the init's root-mean-square
        (0.02) so the embeddings do not swamp the positional encodings; the
        directions (what word vectors carry) are kept.  Words that share ``<unk>``'s
        class have no row of their own and are skipped.
        """
        vectors, found = vectors[: self.config.classes], found[: self.config.classes]
        with torch.no_grad():
            v = vectors[found].double()  # float64: squares of large components do not overflow
            v = v / v.pow(2).mean().sqrt().clamp_min(1e-12) * 0.02
            self.tok_emb.weight[found] = v.to(self.tok_emb.weight.device, torch.float32)
