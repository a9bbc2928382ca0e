"""The Transformer as a :class:`eval.LanguageModel`: every token scored once, by a sliding window.

>>> import numpy as np, torch
>>> from perplex.corpus import Vocabulary, encode
>>> from perplex.attention.model import TransformerConfig, TransformerLM
>>> vocab = Vocabulary.build([["a", "b", "c"]])
>>> model = TransformerLM(TransformerConfig(vocab_size=len(vocab), context=4, n_layers=1, d_model=8, n_heads=2))
>>> scorer = TransformerScorer(model, vocab, stride=2)
>>> corpus = encode([["a", "b", "c", "a"], ["b"]], vocab)
>>> scorer.log10_probs(corpus).shape                   # one log10 P per token, </s> included
(7,)
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import torch

from perplex.attention.model import TransformerLM
from perplex.attention.windows import gather_windows, shifted_inputs, sliding_windows
from perplex.corpus.encoded import EncodedCorpus
from perplex.corpus.vocabulary import Vocabulary
from perplex.eval.protocol import check_vocabulary
from perplex.errors import PerplexError

LOG10_E = 1.0 / math.log(10.0)


def window_stride(context: int, stride: int | None) -> int:
    """The stride of the scoring windows: ``stride``, checked against ``context``, or context/2."""
    stride = max(1, context // 2) if stride is None else stride
    if not 1 <= stride <= context:
        raise PerplexError(f"--stride must be between 1 and the context ({context}), got {stride}")
    return stride


class TransformerScorer:
    """Scores a corpus with a trained :class:`TransformerLM` (implements ``eval.DistributionModel``).

    Scoring runs in float32 on every device (no mixed precision), so a
    perplexity does not depend on where it was computed beyond rounding.

    Parameters
    ----------
    model : TransformerLM
    vocab : Vocabulary
        The vocabulary the model was trained with.
    context : int, optional
        Window length (default and maximum: the model's context).
    stride : int, optional
        How far each window moves (default ``context // 2``); every token
        after the first window then sees at least ``context - stride`` tokens.
        ``stride = context`` gives disjoint windows (cheapest, least context).
    batch_size : int
        Windows per forward pass.
    name : str
    """

    def __init__(
        self,
        model: TransformerLM,
        vocab: Vocabulary,
        context: int | None = None,
        stride: int | None = None,
        batch_size: int = 32,
        name: str = "transformer",
    ):
        max_context = model.config.context
        context = max_context if context is None else context
        if context > max_context:
            raise PerplexError(
                f"--context {context} is longer than the model's context of {max_context}; use at most {max_context}"
            )
        if context < 1:
            raise PerplexError(f"--context must be at least 1, got {context}")
        stride = window_stride(context, stride)
        if len(vocab) != model.config.vocab_size:
            raise PerplexError(
                f"the model predicts over {model.config.vocab_size} words but the vocabulary has {len(vocab)}; "
                "use the vocabulary the model was trained with"
            )
        self.model, self.vocab, self.name = model, vocab, name
        self.context, self.stride, self.batch_size = context, stride, batch_size

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def describe(self) -> str:
        """The evaluation window, printed with every result (docs/conventions.md)."""
        return f"sliding window: context {self.context} tokens, stride {self.stride} (each token predicted once, with at least {self.context - self.stride} tokens of context after the first window)"

    def _windows(self, corpus: EncodedCorpus, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, np.ndarray]]:
        """Yield (inputs (W, L), targets (W, L), scored (W, L) bool) batches, in corpus order."""
        check_vocabulary(self, corpus)
        x = shifted_inputs(corpus.ids)
        starts, first, length = sliding_windows(corpus.n_tokens, self.context, self.stride)
        positions = np.arange(length)
        for b in range(0, len(starts), batch_size):
            s = starts[b : b + batch_size]
            inputs, targets = gather_windows(x, s, length)  # 2 x (W, L)
            scored = positions[None, :] >= first[b : b + batch_size, None]  # (W, L)
            yield torch.from_numpy(inputs).to(self.device), torch.from_numpy(targets).to(self.device), scored

    @torch.no_grad()
    def log10_probs(self, corpus: EncodedCorpus) -> np.ndarray:
        """log10 P(token | up to ``context`` previous tokens), float64, shape (N,)."""
        was_training = self.model.training
        self.model.eval()
        out = []
        try:
            for inputs, targets, scored in self._windows(corpus, self.batch_size):
                lp = self.model.target_log_prob(inputs, targets)  # (W, L), nats
                out.append(lp.double().cpu().numpy()[scored])
        finally:
            self.model.train(was_training)
        return np.concatenate(out) * LOG10_E

    @torch.no_grad()
    def next_distributions(self, corpus: EncodedCorpus, batch_size: int = 1024) -> Iterator[np.ndarray]:
        """Yield P(· | context) at every token position, in order, as (rows, |V|) float64 arrays."""
        was_training = self.model.training
        self.model.eval()
        windows = max(1, batch_size // self.stride)
        try:
            for inputs, _, scored in self._windows(corpus, windows):
                lp = self.model.log_prob(inputs)  # (W, L, |V|)
                yield lp.double().exp().cpu().numpy()[scored]
        finally:
            self.model.train(was_training)
