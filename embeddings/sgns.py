"""Skip-gram with negative sampling (Mikolov et al. 2013), batched in torch.

For every kept centre word of the token stream and every context word within its
window, the context word's input vector v predicts the centre word's output vector
u_o against K noise words u_k, maximising

    log sigma(v . u_o) + sum_k log sigma(-v . u_k)                     (Mikolov et al. 2013, eq. 4)

the objective of word2vec's and gensim's skip-gram kernel (there, too,
``syn0[context]`` predicts ``syn1neg[centre]``).  The training stream is
``corpus.ids`` (``</s>`` after each sentence, as the other models of perplex read
it; windows run across sentence ends, so ``</s>`` gets vectors too), with, as in
word2vec:

* subsampling: a word of relative frequency z is kept with probability
  min(1, (sqrt(z / t) + 1) t / z) (word2vec.c; t = ``sample``), drawn anew each epoch,
  and dropped words leave no gap;
* a dynamic window: each centre word draws its window b uniformly from 1..``window``;
* K negatives from the unigram distribution raised to 0.75;
* a learning rate decaying linearly from ``alpha`` to ``min_alpha`` over training.

The batching follows HogBatch (Ji et al. 2016, "Parallelizing Word2Vec in Shared and
Distributed Memory"): the K negatives are drawn once per centre word and shared by
the up to 2b context words of its window, which turns the per-pair dot products into
one (2W+1 x d) x (d x (1+K)) matrix product per window.  A batch is a run of
consecutive centres, whose windows overlap: their context rows are gathered once and
viewed as windows (:func:`windows`), and the gradients folded back (:func:`fold_windows`).
Updates of one batch are computed from the same parameters and summed, and worker
threads run batches concurrently (Hogwild, :mod:`embeddings.parallel`).

>>> from corpus import Vocabulary, encode
>>> sents = [["a", "b", "c", "d"]] * 50
>>> vocab = Vocabulary.build(sents)
>>> model = SGNS(SGNSConfig(dim=8, window=2, epochs=1)).fit(encode(sents, vocab))
>>> model.input_vectors_.shape
(6, 8)
"""

from __future__ import annotations

import math
import time

import numpy as np

from corpus.encoded import EncodedCorpus
from embeddings.config import SGNSConfig
from embeddings.parallel import run_batches
from embeddings.training import check_trainable, progress_bar
from perplex.errors import PerplexError


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability that each word is kept by subsampling (word2vec.c's formula).

    With z = count / total and threshold t: P(keep) = min(1, (sqrt(z / t) + 1) * t / z);
    ``sample = 0`` keeps everything.  Words never seen get 1.

    Returns
    -------
    float64 array, shape (V,)
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    z = counts / counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        p = (np.sqrt(z / sample) + 1.0) * sample / z
    return np.where(counts > 0, np.minimum(p, 1.0), 1.0)


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """P_n(w) = count(w)^power / sum_v count(v)^power (float64, shape (V,)); 0 for unseen words."""
    weights = np.asarray(counts, dtype=np.float64) ** power
    weights[np.asarray(counts) <= 0] = 0.0
    total = weights.sum()
    if total <= 0:
        raise PerplexError("the training text has no words to draw negative samples from")
    return weights / total


def cumulative_table(distribution: np.ndarray):
    """The cumulative distribution as a float64 tensor ending at exactly 1 (gensim's ``cum_table``)."""
    import torch

    cum = torch.as_tensor(np.cumsum(distribution), dtype=torch.float64)
    return cum / cum[-1]


def draw_negatives(cum_table, shape: tuple[int, ...], generator):
    """Noise words: ids drawn from the distribution of ``cum_table`` (inverse CDF on uniforms).

    Returns an int64 tensor of ``shape``; id w comes with probability
    cum_table[w] - cum_table[w - 1], so never for a word of probability 0.
    """
    import torch

    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    return torch.searchsorted(cum_table, u, right=True).clamp_(max=len(cum_table) - 1)


def context_batch(stream, start: int, stop: int, window: int, b):
    """The stream slice and window mask for the centre positions start..stop-1.

    Consecutive centres have overlapping windows, so instead of gathering 2W rows per
    centre, the trainer gathers the B + 2W rows of the slice once and views window i as
    rows i..i+2W of it (a strided view, no copy); the gradients are folded back the same
    way.  Slot W of each window is the centre itself and is always masked.

    Parameters
    ----------
    stream : int64 tensor, shape (n,)
        The (subsampled) token stream.
    start, stop : int
        The centre positions, B = stop - start.
    window : int
        W, the largest window.
    b : int64 tensor (B,)
        Each centre's own window, drawn uniformly from 1..W (word2vec's dynamic window).

    Returns
    -------
    ids : int64 tensor (B + 2W,)
        Stream ids at positions start-W .. stop+W-1 (clamped at the ends, then masked).
    mask : bool tensor (B, 2W + 1)
        mask[i, o] is True when offset o - W is a real context of centre start + i:
        0 < |o - W| <= b_i and the position lies inside the stream.
    """
    import torch

    n, B = len(stream), stop - start
    pos = torch.arange(start - window, stop + window)  # (B + 2W,)
    ids = stream[pos.clamp(0, n - 1)]
    offsets = torch.arange(-window, window + 1)  # (2W + 1,)
    inside = (pos >= 0) & (pos < n)
    windows_inside = inside.as_strided((B, 2 * window + 1), (1, 1))  # (B, 2W+1) view
    mask = (offsets.abs() <= b[:, None]) & (offsets != 0) & windows_inside
    return ids, mask


def windows(rows, size: int):
    """View a (B + size - 1, d) tensor as B overlapping windows (B, size, d), without copying."""
    B = rows.shape[0] - size + 1
    return rows.as_strided((B, size, rows.shape[1]), (rows.stride(0), rows.stride(0), rows.stride(1)))


def fold_windows(grads):
    """Inverse of :func:`windows` for gradients: (B, size, d) -> (B + size - 1, d), summing
    what overlapping windows give to the same row (one shifted add per slot)."""
    import torch

    B, size, d = grads.shape
    out = torch.zeros(B + size - 1, d, dtype=grads.dtype, device=grads.device)
    for o in range(size):
        out[o : o + B] += grads[:, o]
    return out


def sgns_loss_and_grads(ctx, tgt, mask, scale: float = 1.0):
    """Loss and gradients of skip-gram negative sampling for a batch of windows.

    Parameters
    ----------
    ctx : float tensor (B, C, d)
        Input vectors v of the C context slots of each window.
    tgt : float tensor (B, 1 + K, d)
        Output vectors: the centre word u_o first, then its K shared negatives u_k.
    mask : bool or float tensor (B, C)
        Which context slots are real pairs.
    scale : float
        Multiplies both gradients (the trainer passes -learning rate, which saves a
        pass over the (B, C, d) gradient).

    Returns
    -------
    loss : float
        -sum over real pairs of [log sigma(v.u_o) + sum_k log sigma(-v.u_k)] (nats).
    grad_ctx : tensor (B, C, d)
        scale * d loss / d v.
    grad_tgt : tensor (B, 1 + K, d)
        scale * d loss / d u.

    Notes
    -----
    With s = v.u and label y (1 for u_o, 0 for noise), d(-log sigma(+-s))/ds = sigma(s) - y.
    """
    import torch
    import torch.nn.functional as F

    scores = torch.bmm(ctx, tgt.transpose(1, 2))  # (B, C, d) x (B, d, 1+K) -> (B, C, 1+K)
    labels = torch.zeros_like(scores)
    labels[:, :, 0] = 1.0
    m = mask.to(scores.dtype).unsqueeze(2)  # (B, C, 1)
    # -log sigma(s) for positives, -log sigma(-s) for negatives, computed stably.
    loss = (F.softplus(torch.where(labels > 0, -scores, scores)) * m).sum()
    g = (torch.sigmoid(scores) - labels) * (m * scale)  # (B, C, 1+K)
    grad_ctx = torch.bmm(g, tgt)  # (B, C, 1+K) x (B, 1+K, d) -> (B, C, d)
    grad_tgt = torch.bmm(g.transpose(1, 2), ctx)  # (B, 1+K, C) x (B, C, d) -> (B, 1+K, d)
    return float(loss), grad_ctx, grad_tgt


class SGNS:
    """Skip-gram negative-sampling trainer (``fit`` returns ``self``).

    Attributes (after ``fit``)
    --------------------------
    input_vectors_ : float32 array (V, d)
        The word vectors (word2vec's ``syn0``, gensim's ``wv``).
    output_vectors_ : float32 array (V, d)
        The context/output vectors (``syn1neg``).
    counts_ : int64 array (V,)
        Training count of each id; ``noise_`` the noise distribution P_n.
    losses_ : list of float
        Mean loss per real pair, one per epoch (nats).
    seconds_, words_per_second_ : float
        Training wall time and raw stream tokens per second over all epochs.
    """

    def __init__(self, config: SGNSConfig | None = None):
        self.config = config or SGNSConfig()

    def fit(self, corpus: EncodedCorpus, progress: bool = False) -> "SGNS":
        import torch

        cfg = self.config
        ids = np.asarray(corpus.ids, dtype=np.int64)
        check_trainable(ids, cfg.window)
        vocab_size = len(corpus.vocab)
        device = torch.device(cfg.device)
        gen = torch.Generator().manual_seed(cfg.seed)
        counts = np.bincount(ids, minlength=vocab_size)
        self.counts_ = counts
        self.noise_ = noise_distribution(counts, cfg.noise_power)
        keep = torch.as_tensor(keep_probabilities(counts, cfg.sample), dtype=torch.float32)
        cum_noise = cumulative_table(self.noise_)
        stream_all = torch.as_tensor(ids)

        # word2vec's initialisation: input vectors uniform in +-0.5/d, output vectors 0.
        w_in = ((torch.rand(vocab_size, cfg.dim, generator=gen) - 0.5) / cfg.dim).to(device)
        w_out = torch.zeros(vocab_size, cfg.dim, device=device)

        # The updates of a batch are summed, and on a small vocabulary every word recurs many
        # times in one batch, so they overshoot: the batch shrinks to vocabulary / (4 x workers)
        # centres (PTB's 10,000 words keep the full 512; a 34-word corpus trains with 16).
        batch = max(16, min(cfg.batch_size, vocab_size // (4 * cfg.workers)))
        total_words = len(ids) * cfg.epochs
        self.losses_ = []
        bar = progress_bar(total_words, progress)
        start = time.perf_counter()
        done_words = 0
        for epoch in range(cfg.epochs):
            # Subsampling: drop words now; the windows then span over the gaps (word2vec).
            stream = stream_all[torch.rand(len(ids), generator=gen) < keep[stream_all]]
            n = len(stream)
            words_per_centre = len(ids) / max(n, 1)  # raw words each kept centre stands for
            # All the epoch's random draws happen here, so they do not depend on the workers.
            spans = torch.randint(1, cfg.window + 1, (n,), generator=gen)  # dynamic windows
            noise = draw_negatives(cum_noise, (n, cfg.negative), gen)  # K per centre
            sums = torch.zeros(cfg.workers, 2, dtype=torch.float64)  # per worker: loss, pairs

            def step(k: int, worker: int) -> None:
                first, last = k * batch, min((k + 1) * batch, n)  # centre positions
                frac = (done_words + first * words_per_centre) / total_words
                lr = cfg.alpha - (cfg.alpha - cfg.min_alpha) * frac  # linear decay over all epochs
                ctx_ids, mask = context_batch(stream, first, last, cfg.window, spans[first:last])
                tgt_ids = torch.cat([stream[first:last, None], noise[first:last]], dim=1)  # (B, 1+K)
                ctx_ids, mask, tgt_ids = ctx_ids.to(device), mask.to(device), tgt_ids.to(device)
                ctx = windows(w_in.index_select(0, ctx_ids), 2 * cfg.window + 1)  # (B, 2W+1, d) view
                loss, g_ctx, g_tgt = sgns_loss_and_grads(ctx, rows(w_out, tgt_ids), mask, -lr)
                w_in.index_add_(0, ctx_ids, fold_windows(g_ctx))
                w_out.index_add_(0, tgt_ids.reshape(-1), g_tgt.reshape(-1, cfg.dim))
                sums[worker, 0] += loss
                sums[worker, 1] += float(mask.sum())
                if bar is not None:
                    bar.update((last - first) * words_per_centre)
                    loss_so_far, pairs_so_far = sums.sum(0).tolist()
                    bar.set_postfix(epoch=epoch + 1, loss=f"{loss_so_far / max(pairs_so_far, 1):.4f}",
                                    lr=f"{lr:.5f}", refresh=False)

            run_batches(math.ceil(n / batch) if n >= 2 else 0, cfg.workers, step)
            done_words += len(ids)
            loss_sum, pairs = sums.sum(0).tolist()
            mean_loss = loss_sum / max(pairs, 1)
            # Zero output vectors start every pair at (1 + K) ln 2; twice that means divergence.
            if not math.isfinite(mean_loss) or mean_loss > 2 * (1 + cfg.negative) * math.log(2):
                raise PerplexError(f"SGNS diverged in epoch {epoch + 1} (loss {mean_loss:.4g} per pair); "
                                   "lower --lr or use --workers 1")
            self.losses_.append(mean_loss)
        if bar is not None:
            bar.close()
        self.seconds_ = time.perf_counter() - start
        self.words_per_second_ = total_words / max(self.seconds_, 1e-9)
        self.input_vectors_ = w_in.cpu().numpy()
        self.output_vectors_ = w_out.cpu().numpy()
        self.vocab = corpus.vocab
        return self

    def keyed_vectors(self):
        """The input vectors as gensim ``KeyedVectors`` keyed by the vocabulary."""
        from embeddings.vectors import to_keyed_vectors

        return to_keyed_vectors(self.vocab.tokens, self.input_vectors_)


def rows(matrix, index):
    """``matrix[index]`` for an index tensor of any shape, via ``index_select`` (several
    times faster than advanced indexing on CPU)."""
    return matrix.index_select(0, index.reshape(-1)).view(*index.shape, matrix.shape[1])
