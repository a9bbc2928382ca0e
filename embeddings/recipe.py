"""Train word vectors and score them as next-word models: what ``perplex embed`` and the
report both run, from a config object (no command-line options involved)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from perplex.corpus.datasets import Splits
from perplex.embeddings.config import GloVeConfig, SGNSConfig
from perplex.errors import PerplexError
from perplex.eval.metrics import Evaluation, evaluate

# The one registry of trainers: (method, backend) -> (config class, "module:class", table name).
# The classes load on demand: torch and gensim stay out of ``perplex --help``.
TRAINERS = {
    ("sgns", "torch"): (SGNSConfig, "perplex.embeddings.sgns:SGNS", "SGNS next-word model"),
    ("sgns", "gensim"): (SGNSConfig, "perplex.embeddings.gensim_backend:GensimSGNS", "SGNS next-word model (gensim)"),
    ("glove", "torch"): (GloVeConfig, "perplex.embeddings.glove:GloVe", "GloVe next-word model"),
}
METHODS = tuple(dict.fromkeys(method for method, _ in TRAINERS))  # ("sgns", "glove")
BACKENDS = tuple(dict.fromkeys(backend for _, backend in TRAINERS))  # ("torch", "gensim")


def _entry(method: str, backend: str):
    try:
        return TRAINERS[(method, backend)]
    except KeyError:
        choices = ", ".join(f"{m} ({b})" for m, b in TRAINERS)
        raise PerplexError(f"no trainer for --method {method} --backend {backend}; choose one of {choices}") from None


def model_name(method: str, backend: str = "torch") -> str:
    """The name of the method's next-word model, as every table and progress line shows it."""
    return _entry(method, backend)[2]


def default_config(method: str, backend: str = "torch", **settings):
    """The method's config with ``settings`` changed (its own defaults otherwise)."""
    return _entry(method, backend)[0](**settings)


def make_trainer(method: str, backend: str = "torch", config=None):
    """An unfitted trainer of the registry (``config`` defaults to the method's own)."""
    config_class, target, _ = _entry(method, backend)
    config = config_class() if config is None else config
    if not isinstance(config, config_class):
        raise PerplexError(f"--method {method} takes a {config_class.__name__}, got a {type(config).__name__}")
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)(config)


@dataclass
class EmbeddingRun:
    """A trained embedding method and its next-word model's evaluations.

    Attributes
    ----------
    name : str
        The next-word model's name (:func:`model_name`).
    trainer : SGNS, GloVe or GensimSGNS
        Fitted; ``trainer.keyed_vectors()`` gives the vectors.
    language_model : BilinearNextWordModel or None
        P(w | previous word) from the trained parameters (None when not scored).
    evaluations : list of Evaluation
        One per evaluation split present (valid, test).
    temperature_fitted_on : str or None
        The split the next-word model's temperature was fitted on ("valid"), or None (T = 1).
    """

    name: str
    trainer: object
    language_model: object = None
    evaluations: list[Evaluation] = field(default_factory=list)
    temperature_fitted_on: str | None = None

    @property
    def temperature(self) -> float:
        return self.language_model.temperature if self.language_model is not None else 1.0


def train_embeddings(data: Splits, method: str = "sgns", backend: str = "torch", config=None, *,
                     progress: bool = False, score: bool = True, window_option: str | None = "--window",
                     too_short_hint: str | None = None) -> EmbeddingRun:
    """Train ``method`` on ``data.train``; with ``score``, turn it into a next-word model, fit
    its temperature on valid (when there is one) and evaluate it on every evaluation split.

    Before anything is allocated, a training text shorter than the window and a run that
    needs more memory than available are refused (:class:`PerplexError`).  The first
    message names the window as ``window_option`` (``perplex embed``'s ``--window``; None
    says "the context window") and ends with ``too_short_hint`` when given, so that a
    caller without a ``--window`` option (the report) can name its own options.
    """
    from perplex.embeddings.language_model import glove_language_model, sgns_language_model
    from perplex.embeddings.training import check_trainable

    name = model_name(method, backend)
    trainer = make_trainer(method, backend, config)
    check_trainable(data.train.ids, trainer.config.window, window_option, too_short_hint)
    check_training_memory(method, backend, trainer.config, data.train, score)
    trainer = trainer.fit(data.train, progress=progress)
    run = EmbeddingRun(name, trainer)
    if not score or not data.eval_names():
        return run
    run.language_model = (glove_language_model if method == "glove" else sgns_language_model)(trainer)
    run.language_model.name = name
    if "valid" in data.corpora:
        run.language_model.fit_temperature(data.corpora["valid"])
        run.temperature_fitted_on = "valid"
    run.evaluations = [evaluate(run.language_model, data.corpora[s], s) for s in data.eval_names()]
    for e in run.evaluations:
        e.extra.update(temperature=run.temperature, context="previous token", method=method, backend=backend)
    return run


# -- memory: estimated before anything is allocated ---------------------------------------
FLOAT = 4  # bytes of a float32 parameter
SIZE_SETTINGS = ("dim", "window", "negative", "share_negatives")  # the config fields that size a run


def training_memory(method: str, backend: str, config, corpus, score: bool = True) -> float:
    """Estimated peak memory of training ``method`` on ``corpus``, in bytes (a float, so
    that huge settings cannot overflow).

    It adds up: the parameter matrices with the copies a run makes of them (SGNS: input
    and output vectors, their numpy copies, the saved KeyedVectors; GloVe: [W | b] and
    [W~ | b~], AdaGrad's sums, W, W~, W + W~ and its KeyedVectors); SGNS's noise words of
    an epoch (int64 ids and the float64 uniforms drawn for them); a mini-batch's arrays
    per worker; GloVe's co-occurrence non-zeros (scipy's and torch's copies, about 100
    bytes each, at most 2 x tokens x window of them); the token stream's per-token
    arrays; and, when scoring, the next-word model's (512, V) float64 softmax blocks.
    """
    V, d, n = float(len(corpus.vocab)), float(config.dim), float(len(corpus.ids))
    window = float(min(config.window, max(corpus.longest_sentence(), 1)))  # the trainers' effective window
    total = 64 * n + (4 * 8 * 512 * V if score else 0.0)
    if method == "glove":
        sums = 2 * V * (d + 1) if config.adagrad == "element" else 4 * V
        total += FLOAT * (2 * V * (d + 1) + sums + 4 * V * d)
        total += 100 * min(V * V, 2 * n * window) + 50 * n
        return total + config.workers * FLOAT * 8 * config.batch_size * (d + 1)
    total += FLOAT * 5 * V * d
    if backend != "torch":  # gensim: its own two matrices are among the five
        return total
    from perplex.embeddings.sgns import batch_centres

    c, k = float(config.share_negatives), float(config.negative)
    groups = batch_centres(config, int(V)) / c
    rows = c + 2 * window  # context rows of a group
    batch = groups * rows * (4 * c + 2 * d + 2 * k) + 2 * groups * (c + k) * d + 2 * (groups * c + 2 * window) * d
    return total + 16 * (n / c + 1) * k + config.workers * FLOAT * batch


def check_training_memory(method: str, backend: str, config, corpus, score: bool = True) -> None:
    """Refuse (one line, :func:`perplex.resources.check_memory`) a run whose estimate
    exceeds the available memory, naming the setting that makes it so large and the
    largest value of it that fits."""
    from dataclasses import replace

    from perplex.resources import available_memory, check_memory

    needed = training_memory(method, backend, config, corpus, score)
    available = available_memory()
    if needed <= available:
        return
    defaults = type(config)()
    estimate = lambda **change: training_memory(method, backend, replace(config, **change), corpus, score)  # noqa: E731
    # the setting whose default value saves the most memory is the one to blame
    candidates = [(estimate(**{f: getattr(defaults, f)}), f) for f in SIZE_SETTINGS
                  if hasattr(config, f) and getattr(config, f) > getattr(defaults, f)]
    best, field = min(candidates, default=(needed, None))
    what = f"{model_name(method, backend).split(' next-word')[0]} on {len(corpus.ids):,} tokens of {len(corpus.vocab):,} words"
    if field is None or best > needed / 2:  # no single setting is to blame: the vocabulary is
        check_memory(needed, what + f" with --dim {config.dim}",
                     "lower --dim or shrink the vocabulary with --max-vocab or --min-count")
        return
    option = "--" + field.replace("_", "-")
    lo, hi = getattr(defaults, field), getattr(config, field)  # the default fits; find the largest value that does
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if estimate(**{field: mid}) <= available else (lo, mid)
    fits = f" to at most about {lo:,}" if estimate(**{field: lo}) <= available else ""
    check_memory(needed, f"{what} with {option} {getattr(config, field)}", f"lower {option}{fits}")
