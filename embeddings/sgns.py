"""Skip-gram with negative sampling (Mikolov et al. 2013), batched in torch.

For every kept centre word of the token stream and every context word within its
window, the context word's input vector v predicts the centre word's output vector
u_o against K noise words u_k, maximising

    log sigma(v . u_o) + sum_k log sigma(-v . u_k)                     (Mikolov et al. 2013, eq. 4)

the objective of word2vec's and gensim's skip-gram kernel (there, too,
``syn0[context]`` predicts ``syn1neg[centre]``).  The training stream is
``corpus.ids`` (``</s>`` after each sentence, as the other models of perplex read
it), with, as in word2vec and gensim:

* the words below the vocabulary's ``--min-count`` deleted before windowing
  (:func:`~perplex.embeddings.training.training_stream`; ``rare_words="unk"`` keeps
  them as ``<unk>``);
* windows that stop at sentence ends; the ``</s>`` between two sentences pairs with
  the words of both, so it gets vectors too (the next-word model needs them);
* subsampling: a word of relative frequency z is kept with probability
  min(1, (sqrt(z / t) + 1) t / z) (word2vec.c; t = ``sample``), drawn anew each epoch,
  and dropped words leave no gap;
* a dynamic window: each centre word draws its window b uniformly from 1..``window``;
* K negatives from the unigram distribution raised to 0.75;
* a learning rate decaying linearly from ``alpha`` to ``min_alpha`` over training.

The batching turns the per-pair dot products into small matrix products. HogBatch (Ji
et al. 2016, "Parallelizing Word2Vec in Shared and Distributed Memory") draws the K
negatives once per centre word, shared by the up to 2b pairs of its window; context
combining (Rengasamy et al. 2017, "Optimizing Word2Vec Performance on Multicore
Systems") shares one draw among c consecutive centres (``share_negatives``, default
4): their c + 2W context rows meet the c centres and the K noise words in one (c + 2W)
x d x (c + K) product: for W = 5, K = 5, 31.5 multiply-adds per centre and dimension
instead of 66 with one product per centre. Every pair still has its own K noise terms;
only which pairs share a draw changes. On PTB (15 epochs, 2 workers, means of 6 seeds)
c = 4 gave WordSim353 0.334 and SimLex-999 0.182, c = 2 0.348 / 0.179, gensim 0.323 /
0.188; c = 4 trained 2.1x as many tokens per second as c = 1 (see
bench/bench_embeddings.py). A batch is a run of consecutive groups, whose windows
overlap: their rows are gathered once and viewed as windows (:func:`overlapping`), and
the gradients folded back (:func:`fold_overlapping`). Updates of one batch are
computed from the same parameters and summed, and worker processes run batches
concurrently (Hogwild, :mod:`embeddings.parallel`).

>>> from perplex.corpus import Vocabulary, encode
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

from perplex.corpus.encoded import EncodedCorpus
from perplex.embeddings.config import SGNSConfig
from perplex.embeddings.parallel import run_batches
from perplex.embeddings.training import check_finite, check_trainable, progress_bar, training_stream
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


def pair_groups(stream, first: int, last: int, window: int, spans, group: int, sent_lo, sent_hi):
    """The training pairs of centre positions first..last-1, in groups of ``group`` centres.

    Consecutive centres have overlapping windows, so instead of gathering 2W rows per
    centre, the trainer gathers the rows of the stream slice once and views the
    g-th group's window as rows g*group .. g*group + group + 2W - 1 of it (a strided
    view, no copy, :func:`overlapping`); the gradients are folded back the same way
    (:func:`fold_overlapping`).

    Parameters
    ----------
    stream : int64 tensor (n,)
        The (subsampled) token stream.
    first, last : int
        The centre positions; ``first`` is a multiple of ``group``.
    window : int
        W, the largest window.
    spans : int64 tensor (n,)
        Each centre's own window b, drawn uniformly from 1..W (word2vec's dynamic window).
    group : int
        c, the consecutive centres that share one draw of noise words.
    sent_lo, sent_hi : int64 tensors (n,)
        The sentences each token belongs to: a word to its own (lo = hi), a ``</s>`` to
        the one it ends and the next (hi = lo + 1).  A context must share a sentence with
        its centre: windows stop at sentence ends, as in word2vec and gensim, and the
        ``</s>`` between two sentences pairs with the words of both.

    Returns
    -------
    ids : int64 tensor (G*c + 2W,)
        Stream ids at positions first-W .. first+G*c+W-1 (clamped at the ends, then masked).
    pairs : float tensor (G, c + 2W, c)
        pairs[g, r, i] = 1 when row r of group g is a context of its centre i: offset
        o = r - W - i with 0 < |o| <= b, inside the stream and the same sentence.
    pair_counts : float tensor (G, c + 2W)
        How many of the group's centres row r is a context of: the weight of the
        group's noise words for that row (each pair has its K noise terms).
    centres : int64 tensor (G, c)
        The centre ids (centres past ``last`` are padding; their pairs are 0).
    """
    import torch

    n, c = len(stream), group
    n_groups = -(-(last - first) // c)
    size = c + 2 * window
    pos = torch.arange(first - window, first + n_groups * c + window)
    clamped = pos.clamp(0, n - 1)
    rows = lambda t: t.as_strided((n_groups, size), (c, 1))  # noqa: E731 - (G, c+2W) view of a slice
    centre_pos = clamped[window : window + n_groups * c].view(n_groups, c)
    offsets = torch.arange(size)[:, None] - window - torch.arange(c)  # (c+2W, c)
    pairs = ((offsets.abs() <= spans[centre_pos][:, None, :]) & (offsets != 0)
             & rows((pos >= 0) & (pos < n))[:, :, None]
             & (torch.arange(first, first + n_groups * c) < last).view(n_groups, c)[:, None, :]
             & (torch.maximum(rows(sent_lo[clamped])[:, :, None], sent_lo[centre_pos][:, None, :])
                <= torch.minimum(rows(sent_hi[clamped])[:, :, None], sent_hi[centre_pos][:, None, :])))
    pairs = pairs.to(torch.float32)
    return stream[clamped], pairs, pairs.sum(2), stream[centre_pos]


def overlapping(rows, n_groups: int, size: int, stride: int):
    """View a (stride*(n_groups - 1) + size, d) tensor as n_groups windows of ``size`` rows,
    window g starting at row g*stride, without copying."""
    return rows.as_strided((n_groups, size, rows.shape[1]), (stride * rows.stride(0), rows.stride(0), rows.stride(1)))


def fold_overlapping(grads, stride: int):
    """Inverse of :func:`overlapping` for gradients: (G, size, d) -> (stride*(G-1) + size, d),
    summing what overlapping windows give to the same row (one shifted add per block of
    ``stride`` rows)."""
    import torch

    G, size, d = grads.shape
    out = torch.zeros(G * stride + size, d, dtype=grads.dtype, device=grads.device)
    for j in range(0, size, stride):
        w = min(stride, size - j)
        out[j : j + G * stride].view(G, stride, d)[:, :w] += grads[:, j : j + w]
    return out[: stride * (G - 1) + size]


def sgns_loss_and_grads(ctx, tgt, pairs, pair_counts, scale: float = 1.0, with_loss: bool = True,
                        norms: tuple | None = None):
    """Loss and gradients of skip-gram negative sampling for groups of windows.

    Parameters
    ----------
    ctx : float tensor (G, R, d)
        Input vectors v of the R context rows of each group.
    tgt : float tensor (G, c + K, d)
        Output vectors: the group's c centre words u_o, then its K noise words u_k.
    pairs : float tensor (G, R, c)
        1 where row r and centre i form a (context, centre) pair.
    pair_counts : float tensor (G, R)
        pairs summed over the centres: each pair of row r has the K noise terms, so
        they count that many times.
    scale : float
        Multiplies both gradients (the trainer passes -learning rate, which saves a
        pass over the gradients).
    with_loss : bool
        False skips the loss (the trainer computes it on a sample of batches).
    norms : (tensor (G, R), tensor (G, c + K)), optional
        The squared norms of ``ctx``'s and ``tgt``'s rows: given, each row's curvature
        bound is returned too (:func:`damping`).

    Returns
    -------
    loss : float or None
        -sum over pairs of [log sigma(v.u_o) + sum_k log sigma(-v.u_k)] (nats).
    grad_ctx : tensor (G, R, d)
        scale * d loss / d v.
    grad_tgt : tensor (G, c + K, d)
        scale * d loss / d u.
    curvatures : (tensor (G, R), tensor (G, c + K)) or None
        h = sum over the row's terms of sigma(s) (1 - sigma(s)) |x|^2, x the vector it
        meets: the trace of the Gauss-Newton matrix of the loss in that row's vector,
        an upper bound of its largest curvature.

    Notes
    -----
    With s = v.u and label y (1 for u_o, 0 for noise), d(-log sigma(+-s))/ds = sigma(s) - y
    and d^2/ds^2 = sigma(s) (1 - sigma(s)).
    """
    import torch
    import torch.nn.functional as F

    c = pairs.shape[2]
    scores = torch.bmm(ctx, tgt.transpose(1, 2))  # (G, R, d) x (G, d, c+K) -> (G, R, c+K)
    loss = None
    if with_loss:  # -log sigma(s) for pairs, -log sigma(-s) for noise, computed stably
        loss = float((F.softplus(-scores[:, :, :c]) * pairs).sum()
                     + (F.softplus(scores[:, :, c:]).sum(2) * pair_counts).sum())
    g = torch.sigmoid(scores)
    curvatures = None
    if norms is not None:
        ctx_sq, tgt_sq = norms
        q = g * (1.0 - g)
        q[:, :, :c].mul_(pairs)
        q[:, :, c:].mul_(pair_counts.unsqueeze(2))
        curvatures = (torch.bmm(q, tgt_sq.unsqueeze(2)).squeeze(2),  # (G, R)
                      torch.bmm(q.transpose(1, 2), ctx_sq.unsqueeze(2)).squeeze(2))  # (G, c+K)
    g[:, :, :c].sub_(1.0).mul_(pairs * scale)
    g[:, :, c:].mul_(pair_counts.unsqueeze(2) * scale)
    grad_ctx = torch.bmm(g, tgt)  # (G, R, c+K) x (G, c+K, d) -> (G, R, d)
    grad_tgt = torch.bmm(g.transpose(1, 2), ctx)  # (G, c+K, R) x (G, R, d) -> (G, c+K, d)
    return loss, grad_ctx, grad_tgt, curvatures


def damping(ids, curvature, lr: float, buffer, rows):
    """The factor each gathered row's update is multiplied by: 1 / max(1, lr * h_w), h_w the
    curvature bounds of all the batch's terms of parameter row w added up.

    A batch sums the updates of every pair it holds, all computed from the same
    parameters.  A word met in many of them (a very frequent word, or the topic words
    of an article, as a context, a centre or a noise word) then takes one step of lr
    times the sum, where sequential SGD would have taken many small steps, each seeing
    the last: when lr * h_w > 2 that step lands further from the minimum of the word's
    own loss than it started, and training diverges.  Scaled down, it stops at most at
    that minimum (a Newton step along the gradient, h_w bounding the curvature); the
    many words with lr * h_w <= 1 keep plain SGD's step.

    Parameters
    ----------
    ids, curvature : tensors (n,)
        The parameter row of each term and its bound (rows may repeat).
    buffer : float tensor
        Zeros, one per parameter row; left as zeros afterwards.
    rows : int64 tensor (m,)
        The rows whose factors are wanted; they must include every row of ``ids``.
    """
    buffer.index_add_(0, ids, curvature)
    factor = (buffer[rows] * lr).clamp_(min=1.0).reciprocal_()
    buffer.index_fill_(0, rows, 0.0)
    return factor


def batch_centres(cfg: SGNSConfig, vocab_size: int) -> int:
    """Centre words per mini-batch: whole groups of ``share_negatives``.

    The updates of a batch are summed, and on a small vocabulary every word recurs many
    times in one batch, so they overshoot: the batch shrinks to vocabulary / (4 x workers)
    centres (PTB's 10,000 words keep the full 1,024; a 34-word corpus trains with 16)."""
    c = cfg.share_negatives
    batch = max(16, min(cfg.batch_size, vocab_size // (4 * cfg.workers)))
    return c * math.ceil(batch / c)


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
    dropped_share_ : float
        The share of the corpus's tokens deleted as rare words (:func:`training_stream`).
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
        corpus, self.dropped_share_ = training_stream(corpus, cfg.rare_words)
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
        # The sentences of each token: a word's own; a </s> ends one and opens the next.
        sent_lo_all = torch.as_tensor(corpus.sentence_index())
        sent_hi_all = sent_lo_all.clone()
        sent_hi_all[torch.as_tensor(corpus.offsets[1:] - 1)] += 1

        # word2vec's initialisation: input vectors uniform in +-0.5/d, output vectors 0.
        w_in = ((torch.rand(vocab_size, cfg.dim, generator=gen) - 0.5) / cfg.dim).to(device)
        w_out = torch.zeros(vocab_size, cfg.dim, device=device)

        c = cfg.share_negatives
        batch = batch_centres(cfg, vocab_size)
        # No pair spans more than the longest sentence, so the gathered rows stop there:
        # the same pairs (the spans are still drawn from 1..window), and a --window far
        # beyond any sentence costs nothing.
        window = min(cfg.window, corpus.longest_sentence())
        total_words = len(ids) * cfg.epochs
        self.losses_ = []
        bar = progress_bar(total_words, progress)
        start = time.perf_counter()
        done_words = 0
        for epoch in range(cfg.epochs):
            # Subsampling: drop words now; the windows then span over the gaps (word2vec).
            kept = torch.rand(len(ids), generator=gen) < keep[stream_all]
            stream, sent_lo, sent_hi = stream_all[kept], sent_lo_all[kept], sent_hi_all[kept]
            n = len(stream)
            words_per_centre = len(ids) / max(n, 1)  # raw words each kept centre stands for
            # All the epoch's random draws happen here, so they do not depend on the workers.
            spans = torch.randint(1, cfg.window + 1, (n,), generator=gen)  # dynamic windows
            noise = draw_negatives(cum_noise, (math.ceil(n / c), cfg.negative), gen)  # K per group
            # per worker: loss and pairs of the batches whose loss was computed, centres done
            sums = torch.zeros(cfg.workers, 3, dtype=torch.float64)
            buffers = {}  # per worker: the (2V,) zeros damping() adds curvatures in

            def step(k: int, worker: int) -> None:
                first, last = k * batch, min((k + 1) * batch, n)  # centre positions
                frac = (done_words + first * words_per_centre) / total_words
                lr = cfg.alpha - (cfg.alpha - cfg.min_alpha) * frac  # linear decay over all epochs
                ctx_ids, pairs, pair_counts, centres = pair_groups(stream, first, last, window, spans, c,
                                                                   sent_lo, sent_hi)
                groups = len(centres)
                tgt_ids = torch.cat([centres, noise[first // c : first // c + groups]], dim=1)  # (G, c+K)
                ctx_ids, pairs, pair_counts, tgt_ids = (t.to(device) for t in (ctx_ids, pairs, pair_counts, tgt_ids))
                ctx_rows = w_in.index_select(0, ctx_ids)
                ctx = overlapping(ctx_rows, groups, pairs.shape[1], c)  # (G, c+2W, d) view
                tgt = rows(w_out, tgt_ids)
                # squared norms for the damping, of each gathered row once (not of the overlapping view)
                ctx_sq = (ctx_rows * ctx_rows).sum(1).as_strided((groups, pairs.shape[1]), (c, 1))
                # The loss is only reported: computing it on every 4th batch saves most of its softplus passes.
                with_loss = k % (4 * cfg.workers) < cfg.workers
                loss, g_ctx, g_tgt, (h_ctx, h_tgt) = sgns_loss_and_grads(
                    ctx, tgt, pairs, pair_counts, -lr, with_loss, norms=(ctx_sq, (tgt * tgt).sum(2)))
                tgt_flat = tgt_ids.reshape(-1)
                # one damping pass over both matrices: input rows are 0..V-1, output rows V..2V-1
                buffer = buffers.get(worker)
                if buffer is None:
                    buffer = buffers[worker] = torch.zeros(2 * vocab_size, device=device)
                window_ids = ctx_ids.as_strided((groups, pairs.shape[1]), (c, 1)).reshape(-1)
                out_rows = tgt_flat + vocab_size
                factor = damping(torch.cat([window_ids, out_rows]), torch.cat([h_ctx.reshape(-1), h_tgt.reshape(-1)]),
                                 lr, buffer, torch.cat([ctx_ids, out_rows]))
                w_in.index_add_(0, ctx_ids, fold_overlapping(g_ctx, c).mul_(factor[: len(ctx_ids), None]))
                w_out.index_add_(0, tgt_flat, g_tgt.reshape(-1, cfg.dim).mul_(factor[len(ctx_ids) :, None]))
                if with_loss:
                    sums[worker, 0] += loss
                    sums[worker, 1] += float(pairs.sum())
                sums[worker, 2] += last - first

            def show_progress() -> None:
                loss_sum, pairs, centres = sums.sum(0).tolist()
                bar.n = done_words + centres * words_per_centre
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / max(pairs, 1):.4f}", refresh=False)
                bar.refresh()

            run_batches(math.ceil(n / batch) if n >= 2 else 0, cfg.workers, step, shared=(w_in, w_out, sums),
                        poll=show_progress if bar is not None else None)
            done_words += len(ids)
            loss_sum, pairs, _ = sums.sum(0).tolist()
            mean_loss = loss_sum / max(pairs, 1)
            # Zero output vectors start every pair at (1 + K) ln 2; twice that means divergence.
            if not math.isfinite(mean_loss) or mean_loss > 2 * (1 + cfg.negative) * math.log(2):
                many = " or --negative" if cfg.negative > 20 else ""  # K noise words each add to a step
                raise PerplexError(f"SGNS diverged in epoch {epoch + 1} (loss {mean_loss:.4g} per pair); "
                                   f"lower --lr{many} or use --workers 1")
            self.losses_.append(mean_loss)
        if bar is not None:
            bar.close()
        self.seconds_ = time.perf_counter() - start
        self.words_per_second_ = total_words / max(self.seconds_, 1e-9)
        self.input_vectors_ = w_in.cpu().numpy().copy()  # copies: the tensors may live in shared memory
        self.output_vectors_ = w_out.cpu().numpy().copy()
        check_finite("SGNS", self.input_vectors_, self.output_vectors_)
        self.vocab = corpus.vocab
        return self

    def keyed_vectors(self):
        """The input vectors as gensim ``KeyedVectors`` keyed by the vocabulary."""
        from perplex.embeddings.vectors import to_keyed_vectors

        return to_keyed_vectors(self.vocab.tokens, self.input_vectors_)


def rows(matrix, index):
    """``matrix[index]`` for an index tensor of any shape, via ``index_select`` (several
    times faster than advanced indexing on CPU)."""
    return matrix.index_select(0, index.reshape(-1)).view(*index.shape, matrix.shape[1])
