"""The output layer: hidden states → log P(word | context) over the vocabulary.

Over 10,000 words the output layer is most of the cost of a small model on a
CPU (``bench/bench_transformer.py`` measures the share).  Two choices:

* :class:`FullSoftmax`: logits = h Eᵀ + b over every word, with E the input
  embedding matrix (weight tying: Press & Wolf 2017; Inan et al. 2017).
* :class:`AdaptiveSoftmax` (Grave et al. 2017, "Efficient softmax
  approximation for GPUs"): a *head* softmax over the ``cutoffs[0]`` most
  frequent words plus one entry per tail cluster; a word w in tail cluster i
  gets log P(w) = log P_head(cluster i) + log P_i(w | cluster i), where P_i is
  a softmax over that cluster computed from a projection of h of width
  d / div_value^(i+1).  Training computes a tail only for the tokens whose
  target falls in it.  The vocabulary must be sorted by frequency (ours is:
  ``</s>``, ``<unk>``, then by count).  The head's word rows can be tied to the
  input embeddings of those words.

Both return exact, normalised distributions (every row of :meth:`log_prob`
sums to 1 in probability), so perplexities are comparable with the n-grams.
All log-probabilities here are natural logarithms, computed in float32.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from perplex.attention.config import cluster_bounds, tail_width, valid_cutoffs
from perplex.errors import PerplexError


class FullSoftmax(nn.Module):
    """log_softmax(h Wᵀ + b) over the whole vocabulary.

    Parameters
    ----------
    d_model, vocab_size : int
    tie : bool
        W is the input embedding matrix passed to each call (no own weight).
    """

    def __init__(self, d_model: int, vocab_size: int, tie: bool = True):
        super().__init__()
        self.tie = tie
        self.weight = None if tie else nn.Parameter(torch.randn(vocab_size, d_model) * 0.02)
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def _logits(self, h: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        w = embedding if self.tie else self.weight
        return F.linear(h, w, self.bias).float()

    def log_prob(self, h: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """(N, d) hidden states → (N, |V|) log-probabilities."""
        return F.log_softmax(self._logits(h, embedding), dim=-1)

    def target_log_prob(self, h: torch.Tensor, targets: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """(N, d), (N,) → (N,) log P(target)."""
        return -F.cross_entropy(self._logits(h, embedding), targets, reduction="none")


class AdaptiveSoftmax(nn.Module):
    """Grave et al.'s adaptive softmax, with the head's word rows optionally tied.

    Parameters
    ----------
    d_model, vocab_size : int
    cutoffs : sequence of int
        Increasing cluster boundaries, e.g. (2000, 6000): words 0..1999 in the
        head, 2000..5999 in tail 0, 6000..|V|-1 in tail 1.  Boundaries at or
        beyond |V| are dropped (a small vocabulary then has fewer tails).
    div_value : float
        Tail i projects h to d_model / div_value^(i+1) dimensions.
    tie : bool
        The head's rows for words 0..cutoffs[0]-1 are those words' input
        embeddings; the cluster rows are own parameters.
    """

    def __init__(self, d_model: int, vocab_size: int, cutoffs: Sequence[int], div_value: float = 4.0, tie: bool = True):
        super().__init__()
        cutoffs = list(cutoffs)
        if not valid_cutoffs(cutoffs):
            raise PerplexError(f"--cutoffs must be increasing positive word ranks such as 2000,6000, got {cutoffs}")
        self.bounds = cluster_bounds(vocab_size, cutoffs)  # cluster j covers ids bounds[j]..bounds[j+1]-1
        self.shortlist = self.bounds[1]
        self.n_tails = len(self.bounds) - 2
        self.tie = tie
        self.head_words = None if tie else nn.Parameter(torch.randn(self.shortlist, d_model) * 0.02)
        self.head_clusters = nn.Parameter(torch.randn(self.n_tails, d_model) * 0.02)
        self.head_bias = nn.Parameter(torch.zeros(self.shortlist + self.n_tails))
        self.tails = nn.ModuleList()
        for i in range(self.n_tails):
            width = tail_width(d_model, div_value, i)
            size = self.bounds[i + 2] - self.bounds[i + 1]
            self.tails.append(nn.Sequential(nn.Linear(d_model, width, bias=False), nn.Linear(width, size, bias=False)))

    def _head_log_prob(self, h: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        words = embedding[: self.shortlist] if self.tie else self.head_words
        w = torch.cat([words, self.head_clusters.to(words.dtype)])  # (shortlist + tails, d)
        return F.log_softmax(F.linear(h, w, self.head_bias).float(), dim=-1)  # (N, shortlist + tails)

    def log_prob(self, h: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """(N, d) hidden states → (N, |V|) log-probabilities (every word)."""
        head = self._head_log_prob(h, embedding)
        parts = [head[:, : self.shortlist]]
        for i, tail in enumerate(self.tails):
            cluster = head[:, self.shortlist + i : self.shortlist + i + 1]  # log P(cluster i), (N, 1)
            parts.append(cluster + F.log_softmax(tail(h).float(), dim=-1))
        return torch.cat(parts, dim=1)

    def target_log_prob(self, h: torch.Tensor, targets: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """(N, d), (N,) → (N,) log P(target); each tail only for the rows that need it."""
        head = self._head_log_prob(h, embedding)
        in_head = targets < self.shortlist
        # Head words: their own column; tail words: their cluster's column, plus the tail term below.
        cluster = torch.bucketize(targets, torch.tensor(self.bounds[1:-1], device=targets.device), right=True) - 1
        column = torch.where(in_head, targets, self.shortlist + cluster)
        out = head.gather(1, column[:, None]).squeeze(1)
        for i, tail in enumerate(self.tails):
            rows = (cluster == i).nonzero().squeeze(1)
            if rows.numel() == 0:
                continue
            lp = F.log_softmax(tail(h[rows]).float(), dim=-1)  # (n_i, size_i)
            local = targets[rows] - self.bounds[i + 1]
            out = out.index_add(0, rows, lp.gather(1, local[:, None]).squeeze(1))
        return out
