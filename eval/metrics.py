"""From per-token log-probabilities to the figures of docs/conventions.md."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from perplex.corpus.encoded import EncodedCorpus
from perplex.eval.entropy import entropy
from perplex.eval.protocol import DistributionModel, LanguageModel, check_vocabulary

LOG2_10 = math.log2(10.0)

# The one list of an evaluation's figures, in the order of docs/conventions.md: the keys of
# the JSON records, the columns of the printed tables and the fields the report caches.
FIGURES = ("model", "split", "tokens", "oovs", "zero_prob_tokens", "log10_prob", "cross_entropy_bits",
           "perplexity", "perplexity_excl_oov", "bits_per_char")
OPTIONAL_FIGURES = ("prediction_entropy_bits",)  # present only when asked for


@dataclass
class Evaluation:
    """The figures for one model on one split.

    ``cross_entropy_bits`` is H = -(1/N) sum log2 P; ``perplexity`` is 2^H with
    OOV tokens scored like any other; ``perplexity_excl_oov`` is the same over
    the non-OOV tokens (KenLM's second figure).  A single zero-probability token
    makes H and the perplexities infinite (``inf``), never hidden.
    """

    model: str
    split: str
    tokens: int
    oovs: int
    zero_prob_tokens: int
    log10_prob: float
    cross_entropy_bits: float
    perplexity: float
    perplexity_excl_oov: float
    bits_per_char: float
    prediction_entropy_bits: float | None = None
    sentence_log10: np.ndarray = field(repr=False, default=None)
    sentence_tokens: np.ndarray = field(repr=False, default=None)
    token_log10: np.ndarray = field(repr=False, default=None)
    extra: dict = field(default_factory=dict)

    def figures(self) -> dict:
        """Every figure of :data:`FIGURES`, and those of :data:`OPTIONAL_FIGURES` that were computed."""
        out = {k: getattr(self, k) for k in FIGURES}
        out.update((k, getattr(self, k)) for k in OPTIONAL_FIGURES if getattr(self, k) is not None)
        return out

    @property
    def sentence_perplexity(self) -> np.ndarray:
        """Per-sentence perplexity 10^(-log10 P(sentence) / tokens)."""
        return 10.0 ** (-self.sentence_log10 / self.sentence_tokens)

    def record(self) -> dict:
        """The JSON record of docs/conventions.md (infinite values as the string "inf",
        undefined ones as null), ready for strict JSON."""
        from perplex.jsonout import json_safe

        out = self.figures()
        out.update(self.extra)
        return json_safe(out)


def _perplexity_from_log10(total_log10: float, n: int) -> tuple[float, float]:
    """(cross-entropy in bits, perplexity) from a log10 total over n tokens."""
    if n == 0:
        return float("nan"), float("nan")
    if math.isinf(total_log10):
        return math.inf, math.inf
    h = -total_log10 * LOG2_10 / n
    # 2**h overflows a float past h = 1024 bits: such a model is as good as infinitely wrong.
    return h, 2.0**h if h < 1024 else math.inf


def summarize(log10: np.ndarray, corpus: EncodedCorpus, model: str, split: str) -> Evaluation:
    """Compute every figure from one log10-probability per token of ``corpus``."""
    log10 = np.asarray(log10, dtype=np.float64)
    if log10.shape != (corpus.n_tokens,):
        raise ValueError(f"expected {corpus.n_tokens} log-probabilities, got shape {log10.shape}")
    zero = np.isneginf(log10)
    total = float(log10.sum())
    h, ppl = _perplexity_from_log10(total, corpus.n_tokens)
    known = ~corpus.oov
    _, ppl_known = _perplexity_from_log10(float(log10[known].sum()), int(known.sum()))
    bpc = math.inf if math.isinf(total) else -total * LOG2_10 / corpus.n_chars
    sent_idx = corpus.sentence_index()
    with np.errstate(invalid="ignore"):
        sentence_log10 = np.bincount(sent_idx, weights=log10, minlength=corpus.n_sentences)
    sentence_log10[np.bincount(sent_idx, weights=zero, minlength=corpus.n_sentences) > 0] = -np.inf
    return Evaluation(
        model=model,
        split=split,
        tokens=corpus.n_tokens,
        oovs=int(corpus.oov.sum()),
        zero_prob_tokens=int(zero.sum()),
        log10_prob=total,
        cross_entropy_bits=h,
        perplexity=ppl,
        perplexity_excl_oov=ppl_known,
        bits_per_char=bpc,
        sentence_log10=sentence_log10,
        sentence_tokens=np.diff(corpus.offsets),
        token_log10=log10,
    )


def mean_prediction_entropy(model: DistributionModel, corpus: EncodedCorpus, batch_size: int = 1024) -> float:
    """Mean entropy (bits) of the model's next-word distribution over the test positions.

    Next to the cross-entropy it shows calibration: a mean entropy far below the
    cross-entropy means an over-confident model, far above an under-confident one.
    """
    total, count = 0.0, 0
    for dist in model.next_distributions(corpus, batch_size):
        total += float(entropy(dist, axis=1).sum())
        count += dist.shape[0]
    return total / count


def evaluate(
    model: LanguageModel, corpus: EncodedCorpus, split: str = "test", prediction_entropy: bool = False
) -> Evaluation:
    """Score ``corpus`` with ``model`` and compute every figure.

    Parameters
    ----------
    prediction_entropy : bool
        Also compute the mean entropy of the model's predictions (needs a
        :class:`DistributionModel`; costs one full distribution per token).
    """
    check_vocabulary(model, corpus)
    result = summarize(model.log10_probs(corpus), corpus, model.name, split)
    if prediction_entropy and isinstance(model, DistributionModel):
        result.prediction_entropy_bits = mean_prediction_entropy(model, corpus)
    return result
