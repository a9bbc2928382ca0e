"""``--backend gensim``: the same skip-gram configuration trained by gensim, for comparison.

gensim reads the tokens our trainer reads: each sentence with its ``</s>`` (so that
``</s>`` gets vectors for the next-word model), windows stopping at sentence ends, with
``min_count=1``: the words below the vocabulary's own ``--min-count`` are already
deleted from the stream (:func:`~perplex.embeddings.training.training_stream`), as
gensim's own ``min_count`` would delete them.  One difference remains: our ``</s>`` also pairs with the first
words of the next sentence, which gensim's sentences cannot express.  The result is
put back in our vocabulary's id order, so the same queries, files and language-model
wrapper apply.
"""

from __future__ import annotations

import time

import numpy as np

from perplex.corpus.encoded import EncodedCorpus
from perplex.embeddings.config import SGNSConfig
from perplex.embeddings.training import check_finite, check_trainable, training_stream


def sentences_with_eos(corpus: EncodedCorpus) -> list[list[str]]:
    """Each sentence of ``corpus`` as tokens ending with ``</s>`` (every token of
    ``corpus.ids`` once; gensim trains on the first 10,000 tokens of a longer sentence)."""
    tokens = np.array(corpus.vocab.tokens, dtype=object)[np.asarray(corpus.ids)].tolist()
    bounds = corpus.offsets.tolist()
    return [tokens[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


class GensimSGNS:
    """gensim ``Word2Vec(sg=1, negative=K)`` with the attributes of :class:`embeddings.sgns.SGNS`."""

    def __init__(self, config: SGNSConfig | None = None):
        self.config = config or SGNSConfig()

    def fit(self, corpus: EncodedCorpus, progress: bool = False) -> "GensimSGNS":
        from gensim.models import Word2Vec

        cfg = self.config
        corpus, self.dropped_share_ = training_stream(corpus, cfg.rare_words)
        ids = np.asarray(corpus.ids, np.int64)
        check_trainable(ids, cfg.window)
        pieces = sentences_with_eos(corpus)
        start = time.perf_counter()
        model = Word2Vec(
            pieces, vector_size=cfg.dim, window=cfg.window, negative=cfg.negative, sample=cfg.sample,
            epochs=cfg.epochs, alpha=cfg.alpha, min_alpha=cfg.min_alpha, ns_exponent=cfg.noise_power,
            sg=1, hs=0, min_count=1, workers=cfg.workers, seed=cfg.seed,
        )
        self.seconds_ = time.perf_counter() - start
        self.words_per_second_ = len(ids) * cfg.epochs / max(self.seconds_, 1e-9)
        vocab_size = len(corpus.vocab)
        # gensim orders its vocabulary itself; put the rows in our id order (unseen ids stay 0).
        rows = np.array([model.wv.key_to_index.get(t, -1) for t in corpus.vocab.tokens])
        seen = rows >= 0
        self.input_vectors_ = np.zeros((vocab_size, cfg.dim), np.float32)
        self.output_vectors_ = np.zeros((vocab_size, cfg.dim), np.float32)
        self.input_vectors_[seen] = model.wv.vectors[rows[seen]]
        self.output_vectors_[seen] = model.syn1neg[rows[seen]]
        check_finite("gensim's SGNS", self.input_vectors_, self.output_vectors_)
        self.counts_ = np.bincount(ids, minlength=vocab_size)
        self.losses_ = []
        self.vocab = corpus.vocab
        return self

    def keyed_vectors(self):
        from perplex.embeddings.vectors import to_keyed_vectors

        return to_keyed_vectors(self.vocab.tokens, self.input_vectors_)
