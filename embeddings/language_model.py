"""Trained embeddings as next-word models, so ``eval/`` scores them like the n-grams.

Both methods define, with no further training, a distribution over the whole
vocabulary given the previous token c (``</s>`` before the first word of a sentence,
the same context an n-gram model calls ``<s>``):

* SGNS: the optimum of the objective has v_c . u_w = log P(w, c) / (k P(c) P_n(w))
  (Levy & Goldberg 2014, with the noise distribution P_n), so
  P(w | c) = k P_n(w) exp(v_c . u_w), normalised: P(w | c) ~ P_n(w) exp(v_c . u_w).
* GloVe: w_c . w~_w + b_c + b~_w = log X_cw, so P(w | c) ~ X_cw ~ exp(w_c . w~_w + b~_w).

Rare words deleted from the training stream (:func:`~perplex.embeddings.training.training_stream`)
are what an OOV token of the test set stands for, so ``<unk>`` gets their share r of the
training tokens: P(w | c) = (1 - r) P_softmax(w | c) + r [w = <unk>], which sums to 1 (r = 0
when nothing was deleted).  A ``<unk>`` without vectors of its own (none in the text)
then takes no part in the softmax.

Both are log-bilinear: log P(w | c) = beta * s(c, w) + a(w) - log Z_beta(c) with
s = context . output + bias.  One scalar beta = 1 / temperature may be fitted on
validation data (convex in beta; a few Newton steps) and is reported.  The softmax is
taken over the whole vocabulary, a batch of contexts at a time, and only once per
distinct context (a next-word model of one previous token has at most |V| of them).
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from perplex.corpus.encoded import EncodedCorpus
from perplex.corpus.vocabulary import Vocabulary
from perplex.eval.protocol import check_vocabulary

LN10 = math.log(10.0)


def previous_tokens(corpus: EncodedCorpus) -> np.ndarray:
    """The context of each token: the token before it, ``</s>`` for the very first."""
    prev = np.empty(corpus.n_tokens, np.int64)
    prev[0] = corpus.vocab.eos_id
    prev[1:] = corpus.ids[:-1]
    return prev


class BilinearNextWordModel:
    """P(w | c) = exp(beta * (C[c] . O[w] + b[w]) + a[w]) / Z(c), c the previous token.

    Parameters
    ----------
    name : str
    vocab : Vocabulary
    context_vectors, output_vectors : float arrays (V, d)
    output_bias, prior : float arrays (V,), optional
        b (scaled by beta) and a (not scaled); zeros if omitted.
    temperature : float
        T = 1 / beta.
    unk_share : float
        r, the probability added to ``<unk>`` in every context; the softmax gets 1 - r.

    Implements ``eval``'s ``DistributionModel`` protocol.
    """

    def __init__(self, name: str, vocab: Vocabulary, context_vectors, output_vectors, output_bias=None,
                 prior=None, temperature: float = 1.0, batch_size: int = 512, unk_share: float = 0.0):
        V = len(vocab)
        self.name = name
        self.vocab = vocab
        self.context_vectors = np.asarray(context_vectors, np.float32)
        self.output_vectors = np.asarray(output_vectors, np.float32)
        if self.context_vectors.shape[0] != V or self.output_vectors.shape != self.context_vectors.shape:
            raise ValueError(f"need two ({V}, d) matrices, got {self.context_vectors.shape} and {self.output_vectors.shape}")
        self.output_bias = np.zeros(V) if output_bias is None else np.asarray(output_bias, np.float64)
        self.prior = np.zeros(V) if prior is None else np.asarray(prior, np.float64)
        self.temperature = float(temperature)
        self.batch_size = batch_size
        if not 0.0 <= unk_share < 1.0:
            raise ValueError(f"unk_share must lie in [0, 1), got {unk_share}")
        self.unk_share = float(unk_share)

    # -- the scores ---------------------------------------------------------------
    def _scores(self, contexts: np.ndarray):
        """s(c, w) for a batch of contexts: float64 tensor (B, V)."""
        import torch

        C = torch.from_numpy(self.context_vectors[contexts])  # (B, d)
        s = (C @ torch.from_numpy(self.output_vectors).T).double()  # (B, d) x (d, V) -> (B, V)
        return s + torch.from_numpy(self.output_bias)

    def _log_softmax(self, contexts: np.ndarray, beta: float):
        """log P(. | c) for a batch of contexts: float64 tensor (B, V)."""
        import torch

        logits = beta * self._scores(contexts) + torch.from_numpy(self.prior)
        logp = torch.log_softmax(logits, dim=1)
        if self.unk_share > 0:  # (1 - r) softmax, plus r on <unk>
            unk = self.vocab.unk_id
            logp += math.log1p(-self.unk_share)
            logp[:, unk] = torch.logaddexp(logp[:, unk], torch.tensor(math.log(self.unk_share), dtype=logp.dtype))
        return logp

    def _batches(self, n: int):
        for start in range(0, n, self.batch_size):
            yield slice(start, min(start + self.batch_size, n))

    # -- the LanguageModel protocol --------------------------------------------------
    def log10_probs(self, corpus: EncodedCorpus) -> np.ndarray:
        """log10 P(token | previous token) for the N tokens (float64, shape (N,))."""
        check_vocabulary(self, corpus)
        prev = previous_tokens(corpus)
        target = np.asarray(corpus.ids, np.int64)
        contexts, inverse = np.unique(prev, return_inverse=True)
        out = np.empty(corpus.n_tokens)
        # Group the tokens by context so each distinct context's softmax is computed once.
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(contexts) + 1))
        beta = 1.0 / self.temperature
        for sl in self._batches(len(contexts)):
            logp = self._log_softmax(contexts[sl], beta).numpy()  # (B, V)
            tokens = order[bounds[sl.start] : bounds[sl.stop]]
            out[tokens] = logp[inverse[tokens] - sl.start, target[tokens]]
        return out / LN10

    def next_distributions(self, corpus: EncodedCorpus, batch_size: int = 1024) -> Iterator[np.ndarray]:
        """P(. | previous token) at every position, as (B, V) float64 rows summing to 1."""
        check_vocabulary(self, corpus)
        prev = previous_tokens(corpus)
        for start in range(0, corpus.n_tokens, batch_size):
            yield self._log_softmax(prev[start : start + batch_size], 1.0 / self.temperature).exp().numpy()

    # -- the temperature ---------------------------------------------------------------
    def fit_temperature(self, corpus: EncodedCorpus, max_steps: int = 20, tol: float = 1e-6) -> float:
        """Set the temperature that minimises the cross-entropy of ``corpus``; return it.

        With beta = 1/T the negative log-likelihood L(beta) = sum_t [log Z_beta(c_t) -
        beta s(c_t, w_t) - a(w_t)] is convex, with L' = sum_t (E_beta[s | c_t] - s(c_t, w_t))
        and L'' = sum_t Var_beta[s | c_t]; damped Newton steps from beta = 1 find it.
        """
        import torch

        check_vocabulary(self, corpus)
        prev = previous_tokens(corpus)
        target = np.asarray(corpus.ids, np.int64)
        if self.unk_share > 0:  # P(<unk> | c) mixes in r: fitted on the other tokens, whose P is (1 - r) softmax
            known = target != self.vocab.unk_id
            prev, target = prev[known], target[known]
            if not len(target):
                return self.temperature
        contexts, inverse = np.unique(prev, return_inverse=True)
        weight = np.bincount(inverse, minlength=len(contexts)).astype(np.float64)  # tokens per context
        # sum over tokens of s(c_t, w_t) and a(w_t): the beta-linear part of L.
        s_tok = np.einsum("ij,ij->i", self.context_vectors[prev], self.output_vectors[target]).astype(np.float64)
        s_target = float((s_tok + self.output_bias[target]).sum())
        a_target = float(self.prior[target].sum())

        def moments(beta: float) -> tuple[float, float, float]:
            nll, grad, hess = -beta * s_target - a_target, -s_target, 0.0
            for sl in self._batches(len(contexts)):
                s = self._scores(contexts[sl])  # (B, V)
                logp = torch.log_softmax(beta * s + torch.from_numpy(self.prior), dim=1)
                p = logp.exp()
                mean = (p * s).sum(1)
                var = (p * (s - mean[:, None]) ** 2).sum(1)
                logz = beta * s[:, 0] + self.prior[0] - logp[:, 0]  # log Z from any column
                w = torch.from_numpy(weight[sl])
                nll += float((w * logz).sum())
                grad += float((w * mean).sum())
                hess += float((w * var).sum())
            return nll, grad, hess

        beta = 1.0
        nll, grad, hess = moments(beta)
        for _ in range(max_steps):
            step = -grad / hess if hess > 0 else -math.copysign(0.5 * beta, grad)
            candidate = min(max(beta + step, beta / 4), beta * 4)  # stay positive, move at most 4x
            new = moments(candidate)
            while new[0] > nll and abs(candidate - beta) > 1e-9:  # damping: halve until L decreases
                candidate = 0.5 * (candidate + beta)
                new = moments(candidate)
            converged = abs(candidate - beta) <= tol * beta
            if new[0] <= nll:
                beta, (nll, grad, hess) = candidate, new
            if converged:
                break
        self.temperature = 1.0 / beta
        return self.temperature


def _unk_prior(model, prior: np.ndarray) -> tuple[np.ndarray, float]:
    """The prior and r of a trained model: with rare words deleted (r > 0) and no ``<unk>``
    of its own in the stream, ``<unk>`` leaves the softmax (prior -inf) and gets r alone."""
    share = float(getattr(model, "dropped_share_", 0.0))
    unk = model.vocab.unk_id
    if share > 0 and not model.counts_[unk]:
        prior = prior.copy()
        prior[unk] = -np.inf
    return prior, share


def sgns_language_model(model, temperature: float = 1.0) -> BilinearNextWordModel:
    """P(w | c) ~ P_n(w) exp(v_c . u_w) from a trained SGNS model (input and output vectors).

    Words never seen in training (possible only for ``<unk>``) get the count 1 in P_n,
    so OOV test tokens keep a non-zero probability; when rare words were deleted from
    the stream, ``<unk>`` gets their share instead (the module's docstring).
    """
    from perplex.embeddings.sgns import noise_distribution

    power = getattr(getattr(model, "config", None), "noise_power", 0.75)
    prior, share = _unk_prior(model, np.log(noise_distribution(np.maximum(model.counts_, 1), power)))
    return BilinearNextWordModel("sgns", model.vocab, model.input_vectors_, model.output_vectors_,
                                 prior=prior, temperature=temperature, unk_share=share)


def glove_language_model(model, temperature: float = 1.0) -> BilinearNextWordModel:
    """P(w | c) ~ exp(w_c . w~_w + b~_w) from a trained GloVe model (``<unk>`` as for SGNS)."""
    prior, share = _unk_prior(model, np.zeros(len(model.vocab)))
    return BilinearNextWordModel("glove", model.vocab, model.W_, model.W_tilde_, output_bias=model.b_tilde_,
                                 prior=prior, temperature=temperature, unk_share=share)
