"""Train a Transformer language model and score it on every evaluation split: what
``perplex transformer`` and the report both run, from config objects (no command-line
options)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from perplex.attention.config import TrainConfig, TransformerConfig
from perplex.corpus.datasets import Splits
from perplex.errors import PerplexError
from perplex.eval.metrics import Evaluation, evaluate


@dataclass
class TransformerRun:
    """A trained (or loaded) Transformer and its evaluations.

    Attributes
    ----------
    model : TransformerLM
        With the best weights on valid.
    scorer : TransformerScorer
        The evaluation window of ``evaluations``.
    evaluations : list of Evaluation
        One per evaluation split present (valid, test).
    trainer : Trainer or None
        The training run (None when only scored); ``trainer.history`` is the curve.
    initialized_words : tuple of (int, int) or None
        With ``init_embeddings``: how many of the vocabulary's words the vectors covered.
    """

    model: object
    scorer: object
    evaluations: list[Evaluation] = field(default_factory=list)
    trainer: object = None
    initialized_words: tuple[int, int] | None = None

    def training(self, train_tokens: int) -> dict:
        """The run's size and speed, as JSON-ready figures (empty when only scored)."""
        t = self.trainer
        if t is None:
            return {}
        return {"train_minutes": round(t.train_seconds / 60, 3), "train_tokens": t.tokens_seen,
                "tokens_per_s": round(t.tokens_seen / max(t.train_seconds, 1e-9), 1), "steps": t.step,
                "epochs": round(t.tokens_seen / train_tokens, 3)}


def build_trainer(data: Splits, model_config: TransformerConfig, train_config: TrainConfig, device, *,
                  checkpoint: str | os.PathLike | None = None, log: str | os.PathLike | None = None,
                  init_embeddings: str | os.PathLike | None = None, resume: bool = False, progress: bool = False):
    """A fresh :class:`Trainer` (embeddings optionally copied from word vectors), or, with
    ``resume``, the one saved in ``checkpoint``'s resumable state.

    Returns (trainer, initialized_words or None).
    """
    from perplex.attention.checkpoint import last_path, load_checkpoint
    from perplex.attention.model import TransformerLM
    from perplex.attention.memory import training_bytes
    from perplex.attention.train import Trainer, check_finite_weights, set_seed
    from perplex.resources import check_memory

    if resume:
        if checkpoint is None:
            raise PerplexError("resuming needs the checkpoint of the interrupted run")
        if init_embeddings:
            raise PerplexError("--init-embeddings cannot be combined with --resume (the run already has its embeddings)")
        last = last_path(checkpoint)
        model, _, state = load_checkpoint(last, vocab=data.vocab, device=device)
        if "train" not in state:
            raise PerplexError(f"{last} holds no training state; start a new run without --resume")
        saved = state["train"]
        try:
            config = TrainConfig.from_saved(saved.get("config"), "train.config")
        except PerplexError as exc:
            raise PerplexError(f"{last} is a damaged checkpoint: {exc}; start a new run without --resume") from None
        c = model.config
        check_memory(training_bytes(c, config.batch_size, data.train.n_tokens),
                     f"resuming {last} ({c.n_layers} layers, d_model {c.d_model}, context {c.context}, "
                     f"train.config.batch_size {config.batch_size})")
        trainer = Trainer(model, data.vocab, config, device, checkpoint, log, progress, report=not progress)
        trainer.load_state_dict(saved, source=last)
        return trainer, None
    set_seed(train_config.seed)
    model = TransformerLM(model_config, data.vocab.counts)
    covered = None
    if init_embeddings:
        from perplex.attention.pretrained import embedding_matrix

        vectors, found = embedding_matrix(init_embeddings, data.vocab, model_config.d_model)
        model.init_embeddings(vectors, found)
        check_finite_weights(model, f"the embeddings initialised from {init_embeddings}")
        covered = (int(found.sum()), len(found))
    return Trainer(model, data.vocab, train_config, device, checkpoint, log, progress, report=not progress), covered


def score_transformer(model, data: Splits, *, context: int | None = None, stride: int | None = None,
                      prediction_entropy: bool = False, known: dict[str, Evaluation] | None = None) -> TransformerRun:
    """Score ``model`` on every evaluation split of ``data`` with a sliding window (``known``:
    evaluations already made with that window, used as they are)."""
    from perplex.attention.scoring import TransformerScorer

    scorer = TransformerScorer(model, data.vocab, context=context, stride=stride, name="Transformer")
    if prediction_entropy:
        known = {}
    known = {s: e for s, e in (known or {}).items() if e.extra.get("stride") == scorer.stride}
    evaluations = []
    for split in data.eval_names():
        e = known.get(split) or evaluate(scorer, data.corpora[split], split, prediction_entropy=prediction_entropy)
        e.model = scorer.name
        evaluations.append(e)
    return TransformerRun(model, scorer, evaluations)


def train_transformer(data: Splits, model_config: TransformerConfig, train_config: TrainConfig, *,
                      device: str = "auto", checkpoint: str | os.PathLike | None = None,
                      log: str | os.PathLike | None = None, init_embeddings: str | os.PathLike | None = None,
                      resume: bool = False, progress: bool = False, stride: int | None = None,
                      prediction_entropy: bool = False) -> TransformerRun:
    """Train within ``train_config``'s budget, keep the best model on valid, score it.

    ``stride`` is the evaluation window's stride (default context // 2), the same for the
    training curve's points and the final figures.  The best model goes to ``checkpoint``,
    the resumable state to ``checkpoint.last`` and the curve to ``log`` (JSON).
    """
    from perplex.device import resolve_device

    device = resolve_device(device)
    for path in (checkpoint, log):  # runs/ by default: made on demand (the CLI checked it can be)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    if stride is not None:
        train_config = dataclasses.replace(train_config, eval_stride=stride)
    trainer, covered = build_trainer(data, model_config, train_config, device, checkpoint=checkpoint, log=log,
                                     init_embeddings=init_embeddings, resume=resume, progress=progress)
    trainer.fit(data.train, data.corpora.get("valid"))
    # the curve scored valid with the same window: its best point is the kept model's valid figure
    known = {"valid": trainer.best_valid_evaluation} if trainer.best_valid_evaluation is not None else {}
    run = score_transformer(trainer.model, data, stride=stride, prediction_entropy=prediction_entropy, known=known)
    run.trainer, run.initialized_words = trainer, covered
    return run
