"""The settings of the two trainers, one dataclass each, validated on construction."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from perplex.errors import PerplexError
from perplex.seeding import MAX_SEED


# Ranges beyond which a setting is a typo, not a choice: they end a run in seconds
# instead of after days (epochs), a fork storm (workers) or a seed numpy refuses.
MAX_EPOCHS = 10_000  # word2vec and gensim default to 5, glove.c to 25
MAX_WORKERS = 256  # Hogwild processes beyond the cores only contend for them
MAX_NEGATIVE = 1_000  # word2vec uses 5-20; each noise word adds to every pair's cost and update


def _option(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def _check_positive(owner: str, **values) -> None:
    for name, value in values.items():
        if not value > 0:
            raise PerplexError(f"{owner}: {_option(name)} must be positive, got {value}")


def _check_at_most(owner: str, name: str, value, limit, why: str) -> None:
    if value > limit:
        raise PerplexError(f"{owner}: {_option(name)} must be at most {limit:,} ({why}), got {value:,}")


RARE_WORDS = ("drop", "unk")  # what the trainers do with the words below --min-count (training_stream)


def _check_common(owner: str, cfg) -> None:
    """The settings both trainers share: seed, epochs and workers in their sane ranges."""
    if cfg.rare_words not in RARE_WORDS:
        raise PerplexError(f"{owner}: --rare-words must be 'drop' or 'unk', got {cfg.rare_words!r}")
    if not 0 <= cfg.seed <= MAX_SEED:
        raise PerplexError(f"{owner}: --seed must be between 0 and {MAX_SEED} (numpy's range), got {cfg.seed}")
    _check_at_most(owner, "epochs", cfg.epochs, MAX_EPOCHS, "a few dozen passes is already many")
    _check_at_most(owner, "workers", cfg.workers, MAX_WORKERS, "more processes than cores only contend")


@dataclass
class SGNSConfig:
    """Skip-gram with negative sampling (Mikolov et al. 2013); defaults are word2vec's and gensim's."""

    dim: int = 100
    window: int = 5  # the largest window; each centre word draws its own from 1..window
    negative: int = 5  # K noise words per (centre, context) pair
    share_negatives: int = 4  # consecutive centres drawing their K noise words together (1: one draw per centre)
    sample: float = 1e-3  # subsampling threshold t (0 = keep every word)
    epochs: int = 5
    alpha: float = 0.025  # learning rate at the start, decayed linearly ...
    min_alpha: float = 1e-4  # ... to this at the end (word2vec, gensim)
    noise_power: float = 0.75  # P_n(w) ~ count(w)^0.75
    # centre words per update and worker. The updates of a batch are summed from the same parameters (the
    # words they meet often are damped, sgns.damping), and that staleness costs SimLex-999: on ptb-raw (15
    # epochs, 2 workers, means of seeds 1-3) 1,024 gave 0.163, 512 0.171, 256 0.180 and 64 0.185, gensim
    # 0.187-0.190; 256 takes 23 s there, gensim 22 s, 1,024 14 s (session 8, docs/embeddings.md)
    batch_size: int = 256
    workers: int = 2  # Hogwild processes (threads where fork is missing; 1 = deterministic)
    # words below --min-count: "drop" deletes them from the stream before windowing (word2vec, gensim),
    # "unk" trains them as one <unk> word
    rare_words: str = "drop"
    seed: int = 1
    device: str = "cpu"

    def __post_init__(self):
        _check_positive("sgns", dim=self.dim, window=self.window, negative=self.negative,
                        share_negatives=self.share_negatives, epochs=self.epochs,
                        alpha=self.alpha, batch_size=self.batch_size, workers=self.workers)
        if self.sample < 0:
            raise PerplexError(f"sgns: --sample must be 0 (off) or positive, got {self.sample}")
        if not 0 <= self.min_alpha <= self.alpha:
            raise PerplexError(f"sgns: min_alpha must lie in [0, alpha={self.alpha}], got {self.min_alpha}")
        _check_common("sgns", self)
        _check_at_most("sgns", "negative", self.negative, MAX_NEGATIVE, "word2vec uses 5 to 20")
        _check_at_most("sgns", "share_negatives", self.share_negatives, self.batch_size,
                       "the centres of one mini-batch")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GloVeConfig:
    """GloVe (Pennington et al. 2014); defaults are those of the reference C code (stanfordnlp/GloVe)."""

    dim: int = 100
    window: int = 10  # symmetric window; a co-occurrence at distance d counts 1/d
    epochs: int = 25  # the C code's "iterations"
    x_max: float = 100.0  # f(x) = min(1, (x / x_max)^alpha)
    alpha: float = 0.75
    eta: float = 0.05  # AdaGrad's initial learning rate of the vectors
    bias_eta: float = 1.0  # ... and of the biases (glove.c scales only the vectors' gradients by eta)
    grad_clip: float = 100.0  # |f(x) * error| is clipped here, as in GloVe's glove.c
    # </s> and the words beside it: "one-sided" counts the pairs but only </s> learns from them (the words
    # learn from glove.c's X alone, the next-word model gets its </s>); "both": both sides learn; "none": glove.c's X
    eos_pairs: str = "one-sided"
    adagrad: str = "row"  # "row": one squared-gradient sum per vector and bias; "element": per coordinate (glove.c)
    batch_size: int = 4096  # non-zeros per update (on PTB 2,048-8,192 ran alike; 1,024 was slower)
    workers: int = 2  # Hogwild processes (threads where fork is missing; 1 = deterministic)
    # torch.compile the update: 1.7x faster per epoch on PTB, after 5-20 s of compiling (cached on disk);
    # falls back to plain torch calls, with a warning, where compiling fails
    compile: bool = True
    rare_words: str = "drop"  # words below --min-count: deleted before windowing (glove.c's cooccur), or "unk"
    seed: int = 1
    device: str = "cpu"

    def __post_init__(self):
        _check_positive("glove", dim=self.dim, window=self.window, epochs=self.epochs, x_max=self.x_max,
                        alpha=self.alpha, eta=self.eta, bias_eta=self.bias_eta, grad_clip=self.grad_clip, batch_size=self.batch_size,
                        workers=self.workers)
        if self.eos_pairs not in ("one-sided", "both", "none"):
            raise PerplexError(f"glove: eos_pairs must be 'one-sided', 'both' or 'none', got {self.eos_pairs!r}")
        if self.adagrad not in ("row", "element"):
            raise PerplexError(f"glove: adagrad must be 'row' or 'element', got {self.adagrad!r}")
        _check_common("glove", self)

    def to_dict(self) -> dict:
        return asdict(self)
