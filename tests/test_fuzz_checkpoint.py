"""Fuzzing the Transformer checkpoint reader: structure-aware mutations of a tiny valid
checkpoint (entries dropped, duplicated or retyped, tensors reshaped or poisoned with nan,
inf or huge values, bytes of the file flipped).

Whatever the mutation, reading the file ends in one of two ways: a one-line PerplexError
naming the file, or a model whose next-word distributions are finite and sum to 1 on a
sampled input (and, for a resumable file, a training state that takes an AdamW step and
keeps the weights finite).  Never another exception, never a silent nan.
"""

import copy
import functools
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, currently_in_test_context, event, find, given, settings
from hypothesis import strategies as st

from perplex.attention.checkpoint import last_path, load_checkpoint
from perplex.attention.config import TrainConfig, TransformerConfig
from perplex.attention.model import TransformerLM
from perplex.attention.recipe import build_trainer
from perplex.attention.train import Trainer, set_seed
from perplex.corpus import Splits, Vocabulary, encode
from perplex.errors import PerplexError

CPU = torch.device("cpu")
WORDS = "the cat sat on a mat dog ran to house big small red blue".split()
# No shrinking: a failure prints its draws as found (shrinking a torch round trip takes minutes).
FUZZ = dict(derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow],
            phases=[Phase.explicit, Phase.generate])


@functools.lru_cache(maxsize=None)
def _base() -> Path:
    """A tiny trained checkpoint (PATH and its resumable PATH.last), written once."""
    rng = np.random.default_rng(0)
    sentences = [[WORDS[i] for i in rng.integers(0, len(WORDS), rng.integers(3, 8))] for _ in range(60)]
    vocab = Vocabulary.build(sentences)
    set_seed(0)
    model = TransformerLM(TransformerConfig(vocab_size=len(vocab), context=8, n_layers=1, d_model=8, n_heads=2,
                                            cutoffs=(5, 10), dropout=0.1))
    path = Path(tempfile.mkdtemp(prefix="perplex-fuzz-")) / "base.pt"
    Trainer(model, vocab, TrainConfig(batch_size=4, steps=2, warmup=0.1), CPU, checkpoint=path).fit(encode(sentences, vocab))
    return path


@functools.lru_cache(maxsize=None)
def _state(path: Path) -> dict:
    return torch.load(path, weights_only=True)


# ------------------------------------------------------------------ mutations
def _slots(value, found=None):
    """Every (container, key) of the nested dicts and lists (tensors are leaves)."""
    found = [] if found is None else found
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in list(items):
        found.append((value, key))
        _slots(child, found)
    return found


ODD_VALUES = [None, True, -1, 0, 7, 2**70, 1.5, float("nan"), float("inf"), "x", "", [], [1, 2], {}, {"a": 1},
              (1, 2), torch.zeros(3), torch.ones(2, 2, dtype=torch.int64), torch.tensor(float("nan")),
              torch.zeros(0)]
ODD_NUMBERS = [-1, 0, 1, 3, 2**31, 10**12, -1e9, float("nan"), float("inf"), -float("inf"), 0.5, 1e-300]
POISON = [float("nan"), float("inf"), -float("inf"), 1e30, 3e38, 5e3, -5e3]


def _drop(data, container, key):
    del container[key]


def _duplicate(data, container, key):
    value = copy.deepcopy(container[key])
    if isinstance(container, list):
        container.insert(data.draw(st.integers(0, len(container))), value)
    elif data.draw(st.booleans()) and len(container) > 1:  # over another entry
        container[data.draw(st.sampled_from(sorted(map(str, container))))] = value
    else:
        container[f"{key}_copy"] = value


def _retype(data, container, key):
    container[key] = copy.deepcopy(data.draw(st.sampled_from(ODD_VALUES)))


def _renumber(data, container, key):
    container[key] = data.draw(st.sampled_from(ODD_NUMBERS))


def _reshape(data, container, key):
    t = container[key]
    if not isinstance(t, torch.Tensor) or t.numel() == 0:
        return _retype(data, container, key)
    flat = t.flatten()
    options = [flat, flat[: max(1, flat.numel() // 2)], torch.cat([flat, flat]), t.unsqueeze(0),
               t.t() if t.dim() == 2 else flat[:-1], flat.reshape(-1, 1)]
    container[key] = data.draw(st.sampled_from(options)).clone()


def _poison(data, container, key):
    t = container[key]
    if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.numel() == 0:
        return _renumber(data, container, key)
    t = t.clone()
    flat = t.view(-1)
    for _ in range(data.draw(st.integers(1, 3))):
        flat[data.draw(st.integers(0, flat.numel() - 1))] = data.draw(st.sampled_from(POISON))
    container[key] = t


def _scale(data, container, key):
    """Large but plausible weights: most of these files are accepted, so their predictions get checked."""
    t = container[key]
    if not isinstance(t, torch.Tensor) or not t.is_floating_point():
        return _retype(data, container, key)
    container[key] = t * data.draw(st.sampled_from([0.0, -1.0, 10.0, 100.0, 1e3, 1e5]))


MUTATIONS = [_drop, _duplicate, _retype, _renumber, _reshape, _poison, _scale]


def _count(what: str) -> None:
    """Tally outcomes (pytest --hypothesis-show-statistics shows how many of each)."""
    if currently_in_test_context():
        event(what)


def _mutated(data, state: dict, n_max: int = 3) -> dict:
    """``state`` with 1 to ``n_max`` mutations; half the time only plausible ones (floating-point
    tensors rescaled), which mostly load, so that the properties of a loaded model get exercised."""
    state = copy.deepcopy(state)
    mild = data.draw(st.booleans())
    for _ in range(data.draw(st.integers(1, n_max))):
        slots = [(c, k) for c, k in _slots(state)
                 if not mild or (isinstance(c[k], torch.Tensor) and c[k].is_floating_point())]
        if not slots:
            break
        container, key = slots[data.draw(st.integers(0, len(slots) - 1))]
        data.draw(st.sampled_from([_scale] if mild else MUTATIONS))(data, container, key)
    return state


# ------------------------------------------------------------------- outcomes
def _read(path: Path, data):
    """Load ``path``: None after a proper refusal, else (model, state) after checking its predictions."""
    try:
        model, vocab, state = load_checkpoint(path)
    except PerplexError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc), str(exc)
        _count("refused on reading")
        return None
    _count("read")
    c = model.config
    ids = data.draw(st.lists(st.integers(0, c.vocab_size - 1), min_size=1, max_size=c.context))
    with torch.no_grad():
        log_p = model.log_prob(torch.tensor([ids]))
    assert log_p.shape == (1, len(ids), c.vocab_size) and torch.isfinite(log_p).all()
    assert torch.allclose(log_p.double().exp().sum(-1), torch.ones(1, len(ids), dtype=torch.float64), atol=1e-4)
    return model, state


def _resume_and_step(path: Path, model, state: dict, data) -> None:
    """Continue the saved run as ``--resume`` does: a proper refusal, or a trainer whose
    AdamW step keeps the weights finite."""
    checkpoint = path.with_suffix("")  # PATH.last -> PATH
    vocab = Vocabulary(state["vocab"])
    try:
        trainer, _ = build_trainer(Splits(vocab, {"train": encode([["the"]], vocab)}, "fuzz"), model.config,
                                   TrainConfig(), CPU, checkpoint=checkpoint, resume=True)
    except PerplexError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc), str(exc)
        _count("refused on resuming")
        return
    _count("resumed")
    model, c = trainer.model, trainer.model.config
    ids = torch.tensor([data.draw(st.lists(st.integers(0, c.vocab_size - 1), min_size=2, max_size=c.context + 1))])
    model.train()
    for group in trainer.optimizer.param_groups:
        group["lr"] = 1e-3  # as the schedule sets it at every step
    model.loss(ids[:, :-1], ids[:, 1:]).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), trainer.config.grad_clip)
    trainer.optimizer.step()
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.fixture(autouse=True)
def _keep_global_rng():
    """A loaded training state sets torch's global generator: give the other tests theirs back."""
    saved = torch.get_rng_state()
    yield
    torch.set_rng_state(saved)


@settings(max_examples=100, **FUZZ)
@given(st.data())
def test_mutated_model_checkpoints_are_refused_or_predict_distributions(data):
    state = _mutated(data, _state(_base()))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mutated.pt"
        torch.save(state, path)
        _read(path, data)


@settings(max_examples=80, **FUZZ)
@given(st.data())
def test_mutated_training_states_are_refused_or_resume(data):
    base = _state(last_path(_base()))
    state = copy.deepcopy(base)
    state["train"] = _mutated(data, base["train"])  # the training state only: the model part is fuzzed above
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mutated.pt.last"
        torch.save(state, path)
        loaded = _read(path, data)
        if loaded is not None:
            _resume_and_step(path, *loaded, data)


@settings(max_examples=150, **FUZZ)
@given(st.data())
def test_files_with_flipped_bytes_are_refused_or_predict_distributions(data):
    raw = bytearray((last_path(_base()) if data.draw(st.booleans()) else _base()).read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "flipped.pt.last"
        path.write_bytes(bytes(raw))
        loaded = _read(path, data)
        if loaded is not None and "train" in loaded[1]:
            _resume_and_step(path, *loaded, data)


class _Simplest:
    """A stand-in for ``st.data()`` outside Hypothesis's engine: every draw is the simplest value."""

    @staticmethod
    def draw(strategy):
        return find(strategy, lambda _: True)


def test_the_unmutated_files_load_and_resume():
    """The fuzzing's starting point is accepted (so the properties above are not vacuous)."""
    assert _read(_base(), _Simplest) is not None
    model, state = _read(last_path(_base()), _Simplest)
    _resume_and_step(last_path(_base()), model, state, _Simplest)
