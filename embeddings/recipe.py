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
                     progress: bool = False, score: bool = True) -> EmbeddingRun:
    """Train ``method`` on ``data.train``; with ``score``, turn it into a next-word model, fit
    its temperature on valid (when there is one) and evaluate it on every evaluation split."""
    from perplex.embeddings.language_model import glove_language_model, sgns_language_model

    name = model_name(method, backend)
    trainer = make_trainer(method, backend, config).fit(data.train, progress=progress)
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
