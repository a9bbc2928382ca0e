"""GloVe (Pennington, Socher & Manning 2014), vectorized over the non-zeros in torch.

1. Count the co-occurrence matrix X over the token stream ``corpus.ids``, the words
   below ``--min-count`` deleted first as ``cooccur.c`` skips the words outside its
   vocabulary (:func:`~perplex.embeddings.training.training_stream`): two tokens at
   distance d <= ``window`` add 1/d to X[i, j] and to X[j, i] (GloVe's ``cooccur.c``
   with its default symmetric window), windows stopping at sentence ends (the ``</s>``
   between two sentences pairs with both).  X is a ``scipy.sparse`` CSR matrix.
   ``eos_pairs`` says what the pairs of ``</s>`` do: by default ("one-sided") only
   ``</s>``'s parameters learn from them, so every word learns from exactly the X of
   glove.c (which has no ``</s>``) and ``</s>`` still gets the vectors the next-word
   model needs.  With "both" the words learn from them too: over 6 PTB seeds that cost
   0.004 of SimLex-999 (0.093 against 0.097) and gave a better next-word model; "none"
   drops the pairs (glove.c's X).
2. Minimise the weighted least squares of eq. 8 over the non-zeros,

       J = sum_ij f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2,
       f(x) = min(1, (x / x_max)^alpha),

   with AdaGrad as in ``glove.c``: a parameter keeps the sum of its squared
   (learning-rate-scaled) gradients, starting at 1, and moves by
   eta * g / sqrt(that sum), g being the gradient of J/2 (glove.c's ``fdiff``).
   As in the current glove.c, eta scales the vectors' gradients only; the biases
   move with ``bias_eta`` = 1.  That matters: with eta on the biases too (older
   glove.c) the biases lag behind, the vectors absorb word frequency, and PTB's
   WordSim353 drops from 0.171 to 0.138.
   ``adagrad="element"`` keeps one sum per coordinate, as glove.c does;
   the default ``"row"`` keeps one per vector (the mean of its d squared coordinates)
   and one per bias: row-wise AdaGrad, as large embedding trainers use.  The
   coordinates of a GloVe gradient (g w~_j for w_i) share one scale, so the two
   give the same vectors (PTB, 25 iterations: WordSim353 0.1379 against 0.1378,
   SimLex-999 0.0883 both), and the row version needs far less memory traffic: a
   row's mean squared gradient is (g eta)^2 |w~_j|^2 / d, from the norms of the
   gathered rows, so no (batch, d) array of squares is ever written.
   The non-zeros are shuffled once (as glove.c's ``shuffle`` does) and cut into
   mini-batches, visited in a new random order each epoch.  A batch is computed from
   the same parameters; all squared gradients of a batch are added to the sums before
   any step, so a word met n times in a batch moves about as far as n sequential
   AdaGrad steps would take it (of order eta sqrt(n)), never n full-size steps.
   The update of a batch (:func:`adagrad_step`) is compiled by ``torch.compile`` into
   one loop over the batch (``GloVeConfig.compile``; plain torch calls where that fails).
3. Return W + W~ as the word vectors (section 4.2 of the paper).

The loss cannot go NaN: only non-zeros enter (log X_ij is finite), each error is clipped
at ``grad_clip`` (glove.c's ``grad_clip_value``), and AdaGrad bounds every step.

>>> import numpy as np
>>> X = cooccurrence(np.array([2, 3, 4]), vocab_size=5, window=2).toarray()
>>> X[2, 3].item(), X[2, 4].item(), X[4, 2].item()   # neighbours 1, distance 2 -> 1/2
(1.0, 0.5, 0.5)
"""

from __future__ import annotations

import math
import time

import numpy as np

from perplex.corpus.encoded import EncodedCorpus
from perplex.embeddings.config import GloVeConfig
from perplex.embeddings.parallel import run_batches
from perplex.embeddings.training import check_finite, check_trainable, compiled, progress_bar, training_stream
from perplex.errors import PerplexError


def cooccurrence(ids: np.ndarray, vocab_size: int, window: int, boundary: int | None = None,
                 boundary_pairs: bool = True):
    """Symmetric co-occurrence counts with 1/distance weights.

    Parameters
    ----------
    ids : int array, shape (n,)
        The token stream.
    vocab_size : int
    window : int
        Largest distance counted.
    boundary : int, optional
        A separator id (``</s>``): a pair is not counted when a separator lies strictly
        between its two tokens, so windows stop at sentence ends as in GloVe's
        ``cooccur.c`` (which restarts its window at each newline); the separator itself
        still pairs with the words on both sides of it, and so marks where sentences start
        and end.
    boundary_pairs : bool
        False drops the separator's own pairs too: X is then exactly what ``cooccur.c``
        counts on the same text written one sentence per line.

    Returns
    -------
    scipy.sparse.csr_matrix, float64, shape (V, V)
        X[i, j] = sum over pairs of positions (p, q), 0 < |p - q| <= window, with
        ids[p] = i and ids[q] = j, of 1 / |p - q|.
    """
    import scipy.sparse as sp

    ids = np.asarray(ids, dtype=np.int64)
    if boundary is not None:
        # seps[k] = number of separators in ids[:k]; ids[p+1 : p+d] holds seps[p+d] - seps[p+1] of them.
        seps = np.concatenate([[0], np.cumsum(ids == boundary)])
    X = sp.csr_matrix((vocab_size, vocab_size), dtype=np.float64)
    for d in range(1, _largest_distance(ids, window, boundary) + 1):  # one vectorized pass per distance
        left, right = ids[:-d], ids[d:]
        if boundary is not None and (d > 1 or not boundary_pairs):
            p = np.arange(len(left))
            inside = seps[p + d] == seps[p + 1]
            if not boundary_pairs:
                inside &= (left != boundary) & (right != boundary)
            left, right = left[inside], right[inside]
        weight = np.full(len(left), 1.0 / d)
        # coo -> csr sums the duplicate (i, j) entries.
        X = X + sp.coo_matrix((weight, (left, right)), shape=(vocab_size, vocab_size)).tocsr()
    X = X + X.T  # the left context of one word is the right context of the other
    X.sum_duplicates()
    X.eliminate_zeros()
    return X.tocsr()


def _largest_distance(ids: np.ndarray, window: int, boundary: int | None) -> int:
    """The largest distance at which a pair can count: ``window``, but no more than the
    stream allows, nor (with a separator) the distance between two consecutive
    separators, since no pair spans one.  The same X, and a --window far beyond any
    sentence costs no extra pass."""
    largest = min(window, len(ids) - 1)
    if boundary is not None:
        bounds = np.concatenate([[-1], np.flatnonzero(ids == boundary), [len(ids)]])
        largest = min(largest, int(np.diff(bounds).max()))
    return max(largest, 0)


def weighting(x, x_max: float, alpha: float):
    """f(x) = min(1, (x / x_max)^alpha) (eq. 9), for numpy arrays or torch tensors."""
    return ((x / x_max) ** alpha).clip(max=1.0)


def glove_loss_and_grads(w, wt, b, bt, logx, fx):
    """Loss and gradients of GloVe's weighted least squares on a batch of non-zeros.

    Parameters
    ----------
    w, wt : float tensors (B, d)
        w_i and w~_j of each non-zero.
    b, bt : float tensors (B,)
        b_i and b~_j.
    logx, fx : float tensors (B,)
        log X_ij and f(X_ij).

    Returns
    -------
    loss : tensor ()
        sum f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2 (no 1/2: the paper's J).
    g : tensor (B,)
        f(X_ij) * err, so that dJ/dw_i = 2 g w~_j, dJ/dw~_j = 2 g w_i, dJ/db_i = dJ/db~_j = 2 g.
    """
    err = (w * wt).sum(dim=1) + b + bt - logx  # (B,)
    g = fx * err
    return (g * err).sum(), g


def adagrad_step(table, gradsq, rows, cols, logx, fx, *, eta: float, bias_eta: float, grad_clip: float,
                 rowwise: bool, one_sided: int | None = None):
    """One AdaGrad step on a mini-batch of non-zeros, in place; returns the batch's J.

    Parameters
    ----------
    table : float tensor (2V, d+1)
        Rows 0..V-1 hold [w_i | b_i], rows V..2V-1 hold [w~_j | b~_j].
    gradsq : float tensor (2V, 2) or (2V, d+1)
        AdaGrad's sums of squared gradients: per row [vector | bias] (``rowwise``), or per
        coordinate (glove.c).
    rows, cols : int tensors (B,)
        i and V + j of each non-zero.
    logx, fx : float tensors (B,)
        log X_ij and f(X_ij).
    one_sided : int, optional
        A word (``</s>``) whose pairs teach only itself: the other side of its non-zeros
        keeps its parameters.
    """
    import torch

    n = rows.shape[0]
    d = table.shape[1] - 1
    idx = torch.cat([rows, cols])  # (2B,)
    p = table.index_select(0, idx)  # (2B, d+1): [w_i | b_i] then [w~_j | b~_j]
    vec = p[:, :d]
    loss, g = glove_loss_and_grads(vec[:n], vec[n:], p[:n, d], p[n:, d], logx, fx)
    # glove.c: fdiff = f * err (clipped here) is the gradient of J/2; the vectors'
    # gradients are scaled by eta, the biases' by bias_eta.
    g = g.clamp(-grad_clip, grad_clip).neg()  # descent direction
    if one_sided is None:
        g2 = torch.cat([g, g])  # (2B,): the row side's factor, then the column side's
    else:  # 0 for the side whose partner is the one-sided word
        g2 = torch.cat([g * (cols != table.shape[0] // 2 + one_sided), g * (rows != one_sided)])
    # Written for both modes: few passes over (2B, d) arrays when run call by call, and
    # plain enough for torch.compile to fuse.
    grads = torch.empty_like(p)  # -(learning rate) * dJ/2 for each row of idx
    if rowwise:
        # The gradient of w_i is g eta w~_j, so its mean squared coordinate is
        # (g eta)^2 |w~_j|^2 / d: the row sums need norms, not a (2B, d) array of squares.
        norms = torch.linalg.vector_norm(vec, dim=1).square().roll(n)  # |w~_j|^2, then |w_i|^2
        squares = torch.stack([(g2 * eta).square() * norms / d, (g2 * bias_eta).square()], dim=1)  # (2B, 2)
        # AdaGrad: add every squared gradient first, then step each occurrence by its
        # gradient / sqrt(sum); repeated rows add up (see the module docstring).
        gradsq.index_add_(0, idx, squares)
        scale = gradsq.index_select(0, idx).rsqrt()
        step_size = (g2 * eta * scale[:, 0]).unsqueeze(1)  # (2B, 1)
        torch.mul(p[n:], step_size[:n], out=grads[:n])  # w~_j for the row side; its bias column is replaced below
        torch.mul(p[:n], step_size[n:], out=grads[n:])  # w_i for the column side
        grads[:, d] = g2 * bias_eta * scale[:, 1]
    else:
        torch.mul(p[n:], (g2[:n] * eta).unsqueeze(1), out=grads[:n])  # bias columns replaced below
        torch.mul(p[:n], (g2[n:] * eta).unsqueeze(1), out=grads[n:])
        grads[:, d] = g2 * bias_eta
        gradsq.index_add_(0, idx, grads * grads)
        grads = grads * gradsq.index_select(0, idx).rsqrt()
    table.index_add_(0, idx, grads)
    return loss


class GloVe:
    """GloVe trainer (``fit`` returns ``self``).

    Attributes (after ``fit``)
    --------------------------
    cooccurrence_ : scipy.sparse.csr_matrix (V, V)
    W_, W_tilde_ : float32 arrays (V, d)
        Word and context vectors; ``vectors_`` is their sum, the output of GloVe.
    b_, b_tilde_ : float32 arrays (V,)
    counts_ : int64 array (V,)
        Each id's count in the training stream; ``dropped_share_`` the share of the
        corpus's tokens deleted as rare words.
    losses_ : list of float
        J / (number of non-zeros) after each epoch (computed during the epoch).
    seconds_, seconds_per_epoch_ : float
        Training time (co-occurrence counting excluded) and its mean per epoch.
    """

    def __init__(self, config: GloVeConfig | None = None):
        self.config = config or GloVeConfig()

    def fit(self, corpus: EncodedCorpus, progress: bool = False) -> "GloVe":
        import torch

        cfg = self.config
        corpus, self.dropped_share_ = training_stream(corpus, cfg.rare_words)
        ids = np.asarray(corpus.ids, dtype=np.int64)
        check_trainable(ids, cfg.window)
        vocab_size = len(corpus.vocab)
        self.counts_ = np.bincount(ids, minlength=vocab_size)
        start = time.perf_counter()
        X = cooccurrence(ids, vocab_size, cfg.window, corpus.vocab.eos_id, cfg.eos_pairs != "none").tocoo()
        self.cooccurrence_seconds_ = time.perf_counter() - start
        self.cooccurrence_ = X.tocsr()
        device = torch.device(cfg.device)
        rows = torch.as_tensor(X.row, dtype=torch.int64, device=device)
        cols = torch.as_tensor(X.col, dtype=torch.int64, device=device)
        x = torch.as_tensor(X.data, dtype=torch.float64)
        logx = torch.log(x).float().to(device)
        fx = weighting(x, cfg.x_max, cfg.alpha).float().to(device)
        nnz = len(x)
        if nnz == 0:  # e.g. one-word sentences with --eos-pairs none: nothing to fit
            raise PerplexError("the training text has no two tokens within a window of each other "
                               "(the co-occurrence matrix is empty); give more text")

        gen = torch.Generator().manual_seed(cfg.seed)
        d = cfg.dim
        # One parameter table: rows 0..V-1 hold [w_i | b_i], rows V..2V-1 hold [w~_j | b~_j],
        # so one gather and two scatters serve all four parameters of a non-zero.
        # glove.c's initialisation: every parameter uniform in +-0.5/d, AdaGrad sums at 1.
        table = ((torch.rand(2 * vocab_size, d + 1, generator=gen) - 0.5) / d).to(device)
        if cfg.adagrad == "element":
            gradsq = torch.ones_like(table)
        else:  # per row: [vector | bias] sums
            gradsq = torch.ones(2 * vocab_size, 2, device=device)
        # Shuffle the non-zeros once, into contiguous copies (glove.c's ``shuffle``), so that
        # a batch is a slice; each epoch visits the batches in a new random order.  (A full
        # reshuffle every epoch took a quarter of each epoch's time on PTB, serially.)
        order = torch.randperm(nnz, generator=gen).to(device)
        rows, cols = rows.index_select(0, order), cols.index_select(0, order) + vocab_size
        logx, fx = logx.index_select(0, order), fx.index_select(0, order)
        del order
        n_batches = math.ceil(nnz / cfg.batch_size)
        # With one-sided </s> pairs, the side of a non-zero whose partner is </s> does not move.
        hyper = dict(eta=cfg.eta, bias_eta=cfg.bias_eta, grad_clip=cfg.grad_clip, rowwise=cfg.adagrad == "row",
                     one_sided=corpus.vocab.eos_id if cfg.eos_pairs == "one-sided" else None)
        bar = progress_bar(cfg.epochs * nnz, progress, unit="non-zero")
        start = time.perf_counter()
        update = adagrad_step
        if cfg.compile and nnz >= cfg.batch_size:
            if bar is not None:
                bar.set_description("compiling the update")
            # The first call compiles; with f = 0 every gradient and squared gradient is 0, so it moves nothing.
            b = cfg.batch_size
            example = (table, gradsq, rows[:b], cols[:b], logx[:b], torch.zeros_like(fx[:b]))
            update = compiled(adagrad_step, example, hyper, what="the GloVe update")
            if bar is not None:
                bar.set_description(None)
        self.compile_seconds_ = time.perf_counter() - start
        self.losses_ = []
        start = time.perf_counter()
        for epoch in range(cfg.epochs):
            batch_order = torch.randperm(n_batches, generator=gen)
            sums = torch.zeros(cfg.workers, 2, dtype=torch.float64)  # per worker: loss, non-zeros done

            def step(k: int, worker: int) -> None:
                batch = int(batch_order[k])
                lo, hi = batch * cfg.batch_size, min((batch + 1) * cfg.batch_size, nnz)
                # the compiled update is specialised to full batches; the last one runs as plain torch calls
                run = update if hi - lo == cfg.batch_size else adagrad_step
                loss = run(table, gradsq, rows[lo:hi], cols[lo:hi], logx[lo:hi], fx[lo:hi], **hyper)
                sums[worker, 0] += float(loss)
                sums[worker, 1] += hi - lo

            def show_progress() -> None:
                bar.n = epoch * nnz + int(sums[:, 1].sum())
                bar.refresh()

            run_batches(n_batches, cfg.workers, step, shared=(table, gradsq, sums),
                        poll=show_progress if bar is not None else None)
            total = float(sums[:, 0].sum())
            mean = total / nnz
            if bar is not None:
                bar.set_postfix(epoch=epoch + 1, loss=f"{mean:.4f}")
            if not math.isfinite(mean):  # cannot happen with the clipping above; never hide it
                raise PerplexError(f"GloVe loss became {mean} in epoch {epoch + 1}; lower --lr (GloVe's eta)")
            self.losses_.append(mean)
        if bar is not None:
            bar.close()
        self.seconds_ = time.perf_counter() - start
        self.seconds_per_epoch_ = self.seconds_ / cfg.epochs
        self.nnz_ = nnz
        table = table.cpu().numpy()
        check_finite("GloVe", table)
        self.W_, self.W_tilde_ = table[:vocab_size, :d].copy(), table[vocab_size:, :d].copy()
        self.b_, self.b_tilde_ = table[:vocab_size, d].copy(), table[vocab_size:, d].copy()
        self.vectors_ = self.W_ + self.W_tilde_
        self.vocab = corpus.vocab
        return self

    def keyed_vectors(self):
        """W + W~ as gensim ``KeyedVectors`` keyed by the vocabulary."""
        from perplex.embeddings.vectors import to_keyed_vectors

        return to_keyed_vectors(self.vocab.tokens, self.vectors_)
