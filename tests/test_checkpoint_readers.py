"""Transformer checkpoints and options that users (or disks) get wrong: every one is refused with
one line naming the file and the entry (never a traceback, never a silent nan), and sizes no
machine holds are refused before anything is allocated.

Each bad checkpoint is a valid one, written by the real ``save_checkpoint`` (or by a short
training run, for the resumable ``.last`` file), with exactly one thing corrupted.
"""

import math
import re

import numpy as np
import pytest
import torch

from perplex import cli
from perplex.attention.checkpoint import expected_shapes, last_path, load_checkpoint, save_checkpoint
from perplex.attention.config import TrainConfig, TransformerConfig
from perplex.attention.memory import loading_bytes, parameter_count, training_bytes
from perplex.attention.model import TransformerLM
from perplex.attention.recipe import build_trainer
from perplex.attention.train import Trainer, set_seed
from perplex.corpus import Splits, Vocabulary, encode
from perplex.errors import PerplexError
from perplex.resources import available_memory

CPU = torch.device("cpu")
WORDS = "the cat sat on a mat dog ran to house big small red blue".split()
TINY = dict(context=8, n_layers=1, d_model=16, n_heads=2, cutoffs=(5, 10), dropout=0.0)
CLI_TINY = ["--context", 8, "--d-model", 16, "--heads", 2, "--layers", 1, "--cutoffs", "5,10"]


def _sentences(n, seed):
    rng = np.random.default_rng(seed)
    return [[WORDS[i] for i in rng.integers(0, len(WORDS), rng.integers(3, 8))] for _ in range(n)]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Toy text files, a valid best-model checkpoint and its resumable ``.last`` twin."""
    d = tmp_path_factory.mktemp("ckpt")
    for name, seed, n in (("train", 0, 120), ("valid", 1, 20), ("test", 2, 20)):
        (d / f"{name}.txt").write_text("\n".join(" ".join(s) for s in _sentences(n, seed)) + "\n")
    train = _sentences(120, 0)
    vocab = Vocabulary.build(train)
    set_seed(0)
    model = TransformerLM(TransformerConfig(vocab_size=len(vocab), **TINY))
    ckpt = d / "good.pt"
    Trainer(model, vocab, TrainConfig(batch_size=4, steps=3, warmup=0.1), CPU, checkpoint=ckpt).fit(encode(train, vocab))
    assert ckpt.exists() and last_path(ckpt).exists()
    return d, vocab, ckpt


def _corrupt(src, dst, mutate):
    """Write ``dst``: the checkpoint ``src`` with ``mutate(state)`` applied."""
    state = torch.load(src, weights_only=True)
    mutate(state)
    torch.save(state, dst)
    return dst


def _one_line(message, path, *needles, given=()):
    """One line naming ``path`` and no command-line option but those ``given``."""
    assert "\n" not in message and str(path) in message
    unasked = set(re.findall(r"(?:^|\s)(--[a-z-]+)", message)) - set(given)
    assert not unasked, f"names options the user never gave ({unasked}): {message}"
    for needle in needles:
        assert needle in message, message


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def mutate(state):
        target = state
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return mutate


def _drop(*keys):
    def mutate(state):
        target = state
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
    return mutate


def _poison(name, value):
    def mutate(state):
        state["model"][name].view(-1)[0] = value
    return mutate


N_WORDS = 16  # </s>, <unk> and the 14 words
MODEL_CASES = {
    "negative d_model": (_set("config", "d_model", -3), "config.d_model must be at least 1, got -3"),
    "d_model as text": (_set("config", "d_model", "16"), "config.d_model is '16', expected a whole number"),
    "dropout nan": (_set("config", "dropout", float("nan")), "config.dropout is nan, expected a finite number"),
    "dropout 1": (_set("config", "dropout", 1.0), "config.dropout must be in [0, 1), got 1.0"),
    "heads do not divide": (_set("config", "n_heads", 3), "config.n_heads 3 does not divide config.d_model 16"),
    "cutoffs decreasing": (_set("config", "cutoffs", [9, 3]), "config.cutoffs must be increasing"),
    "unknown positional": (_set("config", "positional", "rotary"), "config.positional must be learned or sinusoidal"),
    "tie as int": (_set("config", "tie_embeddings", 1), "config.tie_embeddings is 1, expected true or false"),
    "missing field": (_drop("config", "context"), "config lacks context"),
    "unknown field": (_set("config", "rope", True), "config has unknown field(s) 'rope'"),
    "config a list": (_set("config", [16, 8]), "config is [16, 8], expected a dictionary"),
    "huge layers": (_set("config", "n_layers", 10**9), "asks for 1000000000 layers"),
    "huge context": (_set("config", "context", 10**12), "model['pos_enc.table.weight'] has shape (8, 16), its config needs (1000000000000, 16)"),
    "beyond any machine": (_set("config", "d_model", 10**40), "config.d_model is a number of about 40 digits, more than any machine"),
    "vocab_size off": (_set("config", "vocab_size", N_WORDS + 1), f"vocab has {N_WORDS} words but config.vocab_size is {N_WORDS + 1}"),
    "duplicate word": (lambda s: s["vocab"].__setitem__(3, s["vocab"][2]), "twice"),
    "empty word": (_set("vocab", 4, ""), "vocab[4] is '', expected a non-empty string"),
    "word as int": (_set("vocab", 4, 7), "vocab[4] is 7, expected a non-empty string"),
    "vocab a tuple": (lambda s: s.__setitem__("vocab", tuple(s["vocab"])), "vocab is a tuple, expected a list of words"),
    "no </s>": (lambda s: s["vocab"].reverse(), "not </s>, <unk>"),
    "short counts": (lambda s: s.__setitem__("vocab_counts", s["vocab_counts"][:-1]), f"vocab_counts has {N_WORDS - 1} counts for {N_WORDS} words"),
    "negative count": (_set("vocab_counts", 3, -5), "negative count (-5)"),
    "float counts": (lambda s: s.__setitem__("vocab_counts", s["vocab_counts"].double()), "expected a 1-d tensor of whole numbers"),
    "missing weight": (_drop("model", "ln_f.bias"), "model lacks ln_f.bias"),
    "extra weight": (_set("model", "ln_g.bias", torch.zeros(16)), "model has unexpected 'ln_g.bias'"),
    "wrong shape": (_set("model", "ln_f.bias", torch.zeros(3)), "model['ln_f.bias'] has shape (3,), its config needs (16,)"),
    "integer weights": (_set("model", "ln_f.bias", torch.zeros(16, dtype=torch.int64)), "expected floating-point weights"),
    "weights a list": (_set("model", "ln_f.bias", [0.0] * 16), "model['ln_f.bias'] is a list"),
    "nan weight": (_poison("blocks.0.attn.in_proj.weight", float("nan")), "model['blocks.0.attn.in_proj.weight'] holds nan or inf"),
    "inf weight": (_poison("tok_emb.weight", float("-inf")), "model['tok_emb.weight'] holds nan or inf"),
    "absurd weight": (_poison("ln_f.weight", 1e38), "model['ln_f.weight'] holds a weight of 1e+38"),
    "no model": (_drop("model"), "it lacks model"),
    "unknown entry": (_set("notes", "hi"), "it has unknown entries 'notes'"),
    "train a list": (_set("train", [1]), "train is [1], expected a dictionary"),
    "version 2": (_set("version", 2), "has checkpoint version 2"),
    "version a tensor": (_set("version", torch.ones(3)), "has checkpoint version a Tensor"),
    "another format": (_set("format", "perplex-ngram"), "is not a perplex Transformer checkpoint"),
}


@pytest.mark.parametrize("case", MODEL_CASES)
def test_a_damaged_checkpoint_is_refused_naming_the_entry(files, tmp_path, case):
    mutate, needle = MODEL_CASES[case]
    path = _corrupt(files[2], tmp_path / "bad.pt", mutate)
    with pytest.raises(PerplexError) as refused:
        load_checkpoint(path)
    _one_line(str(refused.value), path, needle)


def test_the_valid_checkpoint_loads_and_predicts(files):
    _, vocab, ckpt = files
    model, saved_vocab, state = load_checkpoint(ckpt, vocab=vocab)
    assert saved_vocab == vocab and "train" not in state
    probs = model.log_prob(torch.tensor([[0, 3, 4, 5]])).exp()
    assert torch.allclose(probs.sum(-1), torch.ones(1, 4), atol=1e-5)


def test_truncated_and_missing_files(files, tmp_path):
    cut = tmp_path / "cut.pt"
    cut.write_bytes(files[2].read_bytes()[:500])
    with pytest.raises(PerplexError) as refused:
        load_checkpoint(cut)
    _one_line(str(refused.value), cut, "not a readable perplex Transformer checkpoint")


def test_weights_that_overflow_together_are_refused(files, tmp_path, monkeypatch):
    """Weights each allowed can still overflow together (in a wide model): the probe sentence
    run after loading catches what the per-tensor bound lets through (here a laxer bound)."""
    from perplex.attention import checkpoint

    monkeypatch.setattr(checkpoint, "MAX_WEIGHT", 1e30)

    def mutate(state):
        for name, t in state["model"].items():
            if name.endswith("weight"):
                t.fill_(1e20)
    path = _corrupt(files[2], tmp_path / "big.pt", mutate)
    with pytest.raises(PerplexError) as refused:
        load_checkpoint(path)
    _one_line(str(refused.value), path, "nan or inf probabilities")


def test_a_config_too_large_to_build_is_refused_by_memory(files, tmp_path):
    """A sinusoidal model has no positional weights in the file: a damaged context is only
    caught by the memory estimate, before the table is built."""
    _, vocab, _ = files
    path = tmp_path / "sin.pt"
    save_checkpoint(path, TransformerLM(TransformerConfig(vocab_size=len(vocab), positional="sinusoidal", **TINY)), vocab)
    bad = _corrupt(path, tmp_path / "sin-big.pt", _set("config", "context", 10**15))
    with pytest.raises(PerplexError) as refused:
        load_checkpoint(bad)
    _one_line(str(refused.value), bad, "needs about", "context 1000000000000000")


# ------------------------------------------------------------------------ resuming
def _data(vocab):
    return Splits(vocab, {"train": encode(_sentences(120, 0), vocab)}, "toy")


def _resume(files, tmp_path, mutate):
    """build_trainer(resume=True) on the ``.last`` file with ``mutate`` applied."""
    _, vocab, ckpt = files
    target = tmp_path / "run.pt"
    _corrupt(last_path(ckpt), last_path(target), mutate)
    config = TransformerConfig(vocab_size=len(vocab), **TINY)
    return build_trainer(_data(vocab), config, TrainConfig(), CPU, checkpoint=target, resume=True), last_path(target)


def _moment(key, fn):
    def mutate(state):
        entry = state["train"]["optimizer"]["state"][0]
        entry[key] = fn(entry[key])
    return mutate


RESUME_CASES = {
    "no optimizer": (_drop("train", "optimizer"), "train lacks optimizer"),
    "no history": (_drop("train", "history"), "train lacks history"),
    "no rng": (_drop("train", "torch_rng"), "train lacks torch_rng"),
    "unknown entry": (_set("train", "momentum", 0.9), "train has unknown entries 'momentum'"),
    "negative step": (_set("train", "step", -1), "train.step is -1, expected a whole number >= 0"),
    "step as text": (_set("train", "step", "3"), "train.step is '3'"),
    "nan seconds": (_set("train", "train_seconds", float("nan")), "train.train_seconds is nan"),
    "nan best": (_set("train", "best_valid", float("nan")), "train.best_valid is nan"),
    "history not json": (_set("train", "history", "[{"), "train.history is '[{'"),
    "history of numbers": (_set("train", "history", "[1, 2]"), "train.history"),
    "rng of floats": (_set("train", "torch_rng", torch.zeros(5056)), "train.torch_rng is a torch.float32 tensor"),
    "rng too short": (lambda s: s["train"].__setitem__("torch_rng", s["train"]["torch_rng"][:100]),
                      "train.torch_rng is not a random-generator state (100 bytes)"),
    "scaler a list": (_set("train", "scaler", []), "train.scaler is [], expected a dictionary"),
    "scaler nan scale": (_set("train", "scaler", {"scale": float("nan")}), "train.scaler.scale is nan"),
    "config batch 0": (_set("train", "config", "batch_size", 0), "train.config.batch_size must be at least 1, got 0"),
    "config lr nan": (_set("train", "config", "lr", float("nan")), "train.config.lr is nan, expected a finite number"),
    "config lr negative": (_set("train", "config", "lr", -1.0), "train.config.lr must be a positive finite number"),
    "config seed": (_set("train", "config", "seed", 2**40), "train.config.seed must be a whole number from 0 to 4294967295"),
    "config lacks seed": (_drop("train", "config", "seed"), "train.config lacks seed"),
    "optimizer a list": (_set("train", "optimizer", [1]), "train.optimizer is [1], expected an optimizer state"),
    "one group": (lambda s: s["train"]["optimizer"]["param_groups"].pop(), "expected a list of 2 parameter groups"),
    "group params": (_set("train", "optimizer", "param_groups", 0, "params", [0, 1]), "param_groups[0].params is [0, 1]"),
    "group eps 0": (_set("train", "optimizer", "param_groups", 0, "eps", 0.0), "param_groups[0].eps is 0.0, but this run's is 1e-08"),
    "group betas": (_set("train", "optimizer", "param_groups", 1, "betas", (0.9, 1.5)), "param_groups[1].betas"),
    "group amsgrad": (_set("train", "optimizer", "param_groups", 0, "amsgrad", True), "param_groups[0].amsgrad is True, but this run's is False"),
    "group weight decay": (_set("train", "optimizer", "param_groups", 0, "weight_decay", 1e30), "param_groups[0].weight_decay is 1e+30"),
    "group lacks eps": (_drop("train", "optimizer", "param_groups", 0, "eps"), "param_groups[0] lacks eps"),
    "group lr nan": (_set("train", "optimizer", "param_groups", 0, "lr", float("nan")), "param_groups[0].lr is nan"),
    "moment shape": (_moment("exp_avg", lambda t: t.flatten()[:5].clone()), "train.optimizer.state[0].exp_avg is a torch.float32 tensor of shape (5,), expected a float tensor of shape (16, 16)"),
    "moment nan": (_moment("exp_avg", lambda t: t.fill_(float("nan"))), "train.optimizer.state[0].exp_avg holds values outside"),
    "second moment negative": (_moment("exp_avg_sq", lambda t: t.fill_(-1.0)), "train.optimizer.state[0].exp_avg_sq holds values outside"),
    "moment step negative": (_moment("step", lambda t: torch.tensor(-1.0)), "train.optimizer.state[0].step is -1.0"),
    "moment missing": (lambda s: s["train"]["optimizer"]["state"][0].pop("exp_avg_sq"), "AdamW's step, exp_avg and exp_avg_sq"),
    "state index": (lambda s: s["train"]["optimizer"]["state"].__setitem__(999, {}), "a key of train.optimizer.state is 999"),
}


@pytest.mark.parametrize("case", RESUME_CASES)
def test_a_damaged_training_state_is_refused_naming_the_entry(files, tmp_path, case):
    mutate, needle = RESUME_CASES[case]
    with pytest.raises(PerplexError) as refused:
        _resume(files, tmp_path, mutate)
    _one_line(str(refused.value), last_path(tmp_path / "run.pt"), needle, "start a new run without --resume",
              given=("--resume",))


def test_an_intact_training_state_resumes(files, tmp_path):
    (trainer, _), _ = _resume(files, tmp_path, lambda s: None)
    assert trainer.step == 3 and trainer.optimizer.state_dict()["state"]
    # a state saved by a disabled (CPU) gradient scaler is empty: accepted, not loaded
    (trainer, _), _ = _resume(files, tmp_path, _set("train", "scaler", {}))
    assert trainer.step == 3


def test_a_best_model_file_is_not_a_training_state(files, tmp_path):
    _, vocab, ckpt = files
    target = tmp_path / "run.pt"
    last_path(target).write_bytes(ckpt.read_bytes())
    with pytest.raises(PerplexError, match="holds no training state"):
        build_trainer(_data(vocab), TransformerConfig(vocab_size=len(vocab), **TINY), TrainConfig(), CPU,
                      checkpoint=target, resume=True)


# --------------------------------------------------------------- configs and sizes
def test_config_messages_name_options_or_the_file_s_fields():
    with pytest.raises(PerplexError, match="^--d-model must be at least 1, got -3$"):
        TransformerConfig(d_model=-3)
    saved = TransformerConfig(vocab_size=50, **TINY).to_dict() | {"d_model": -3}
    with pytest.raises(PerplexError, match=r"^config\.d_model must be at least 1, got -3$"):
        TransformerConfig.from_saved(saved, "config")
    with pytest.raises(PerplexError, match="^--seed must be a whole number from 0 to 4294967295, got -1$"):
        TrainConfig(seed=-1)
    with pytest.raises(PerplexError, match="^--weight-decay must be a finite number >= 0, got inf$"):
        TrainConfig(weight_decay=math.inf)
    good = TrainConfig(steps=5).to_dict()
    assert TrainConfig.from_saved(good, "train.config") == TrainConfig(steps=5)


CONFIGS = [dict(vocab_size=50, context=8, n_layers=1, d_model=16, n_heads=2, cutoffs=(10, 30)),
           dict(vocab_size=50, context=8, n_layers=3, d_model=12, n_heads=3, d_ff=7, cutoffs=(10, 30, 40),
                tie_embeddings=False, positional="sinusoidal"),
           dict(vocab_size=50, context=8, n_layers=2, d_model=16, n_heads=2, output="full", tie_embeddings=False),
           dict(vocab_size=50, context=5, n_layers=2, d_model=16, n_heads=2, output="full"),
           dict(vocab_size=50, context=5, n_layers=1, d_model=16, n_heads=2, cutoffs=(60,)),
           dict(vocab_size=900, context=4, n_layers=1, d_model=8, n_heads=1, cutoffs=list(range(1, 800)))]


@pytest.mark.parametrize("kw", CONFIGS)
def test_shapes_and_sizes_computed_without_a_model_are_the_model_s(kw):
    config = TransformerConfig(**kw)
    model = TransformerLM(config)
    assert expected_shapes(config) == {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert parameter_count(config) == model.n_parameters()
    assert loading_bytes(config) >= 8 * model.n_parameters()


def test_the_training_estimate_grows_with_each_size_and_is_capped_by_the_data():
    base = TransformerConfig(vocab_size=10_000)
    default = training_bytes(base, 32)
    assert 100 * 2**20 < default < 2 * 2**30  # the default run: hundreds of MiB, under 2 GiB
    for field in ("d_model", "n_layers", "context"):
        bigger = TransformerConfig(**base.to_dict() | {field: getattr(base, field) * 4})
        assert training_bytes(bigger, 32) > 1.5 * default, field
    assert training_bytes(base, 10**9) > available_memory()
    # a batch holds no more windows than the data has (600 tokens: 4 windows of 128)
    assert training_bytes(base, 10**9, n_tokens=600) == training_bytes(base, 4, n_tokens=600)


# ------------------------------------------------------------------ the commands
@pytest.fixture
def run_cli(monkeypatch, capsys):
    """cli.main with the Transformer's and generate's subcommands; (exit code, stdout, stderr)."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["perplex.cli_generate", "perplex.attention.cli"])

    def run(*argv):
        try:
            code = cli.main([str(a) for a in argv])
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err
    return run


def _refused(result, code, *needles):
    status, _, err = result
    lines = err.strip().splitlines()
    assert status == code and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("perplex: error: " if code == 1 else "perplex transformer: error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_commands_refuse_a_nan_checkpoint_in_one_line(files, tmp_path, run_cli):
    d, _, ckpt = files
    bad = _corrupt(ckpt, tmp_path / "nan.pt", _poison("blocks.0.attn.in_proj.weight", float("nan")))
    data = ["--train", d / "train.txt", "--test", d / "test.txt"]
    for argv in (["transformer", *data, "--eval-only", "--checkpoint", bad],
                 ["attention", "the cat sat", "--model", bad, "--out", tmp_path / "maps"],
                 ["generate", "--model", bad, "--prompt", "the cat", "--max-len", 3]):
        _refused(run_cli(*argv), 1, str(bad), "holds nan or inf")
    assert not (tmp_path / "maps").exists()


def test_resume_refuses_a_state_without_its_optimizer(files, tmp_path, run_cli):
    d, _, ckpt = files
    target = tmp_path / "run.pt"
    _corrupt(last_path(ckpt), last_path(target), _drop("train", "optimizer"))
    _refused(run_cli("transformer", "--train", d / "train.txt", "--test", d / "test.txt", "--resume",
                     "--checkpoint", target), 1, str(last_path(target)), "train lacks optimizer")


EXTREMES = [
    (["--d-model", 1_000_000], 1, ["needs about", "--d-model 1000000"]),
    (["--layers", 100_000_000], 1, ["needs about", "--layers 100000000"]),
    (["--context", 10**12], 1, ["needs about", "--context 1000000000000"]),
    (["--d-ff", 10_000_000_000], 1, ["needs about", "--d-ff 10000000000"]),
    (["--context", 10**12, "--positional", "sinusoidal"], 1, ["needs about"]),
    (["--d-model", 10**20], 1, ["--d-model is 100000000000000000000, more than any machine can hold"]),
    (["--heads", 10**6], 1, ["--heads 1000000 does not divide --d-model 16"]),
    (["--d-ff", -3], 1, ["--d-ff must be positive (or 0 for 4 x d-model), got -3"]),
    (["--dropout", "nan"], 2, ["argument --dropout: must be a finite number"]),
    (["--dropout", 1], 1, ["--dropout must be in [0, 1), got 1.0"]),
    (["--dropout", -0.5], 1, ["--dropout must be in [0, 1)"]),
    (["--warmup", "inf"], 2, ["argument --warmup"]),
    (["--warmup", 1], 1, ["--warmup is a share of the budget in [0, 1)"]),
    (["--decay", "nan"], 2, ["argument --decay"]),
    (["--decay", 0], 1, ["--decay is a share of the budget in (0, 1]"]),
    (["--weight-decay", "inf"], 2, ["argument --weight-decay"]),
    (["--weight-decay", -1], 1, ["--weight-decay must be a finite number >= 0, got -1.0"]),
    (["--seed", -1], 2, ["argument --seed: must be from 0 to 4294967295, got -1"]),
    (["--seed", 2**32], 2, ["argument --seed"]),
    (["--seed", 2**64], 2, ["argument --seed"]),
    (["--lr", "inf"], 2, ["argument --lr"]),
    (["--batch-size", 0], 2, ["argument --batch-size"]),
]


@pytest.mark.parametrize("extra, code, needles", EXTREMES, ids=lambda v: " ".join(map(str, v)) if isinstance(v, list) else None)
def test_extreme_options_are_refused_in_one_line(files, tmp_path, run_cli, extra, code, needles):
    d = files[0]
    result = run_cli("transformer", "--train", d / "train.txt", "--test", d / "test.txt", "--steps", 1, *CLI_TINY,
                     "--checkpoint", tmp_path / "x.pt", *extra)
    _refused(result, code, *needles)
    assert not (tmp_path / "x.pt").exists()


def test_the_largest_seed_and_a_batch_larger_than_the_data_train(files, tmp_path, run_cli):
    d = files[0]
    code, out, err = run_cli("transformer", "--train", d / "train.txt", "--test", d / "test.txt", "--steps", 1,
                             *CLI_TINY, "--seed", 2**32 - 1, "--batch-size", 10**9, "--checkpoint", tmp_path / "s.pt")
    assert code == 0, err


# ------------------------------------------------------------- initial embeddings
def _vectors(path, value):
    rows = [f"{w} " + " ".join([str(value)] + ["0.5"] * 15) for w in ("the", "cat")]
    path.write_text("2 16\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("value, needles", [(1e38, ["a component of 1e+38"]), (3e6, ["a component of 3e+06"]),
                                            ("nan", []), ("-inf", [])])  # the vectors reader refuses nan and inf
def test_bad_initial_vectors_are_blamed_not_the_learning_rate(files, tmp_path, run_cli, value, needles):
    d = files[0]
    vec = _vectors(tmp_path / "v.txt", value)
    code, _, err = run_cli("transformer", "--train", d / "train.txt", "--test", d / "test.txt", "--steps", 1,
                           *CLI_TINY, "--init-embeddings", vec, "--checkpoint", tmp_path / "e.pt")
    _refused((code, "", err), 1, str(vec), *needles)
    assert "--lr" not in err and "loss" not in err


def test_large_but_finite_vectors_are_rescaled_without_overflow(files):
    _, vocab, _ = files
    model = TransformerLM(TransformerConfig(vocab_size=len(vocab), **TINY))
    vectors = torch.zeros(len(vocab), 16)
    vectors[2:4] = 1e30  # float32's squares overflow: the rescaling runs in float64
    found = torch.zeros(len(vocab), dtype=torch.bool)
    found[2:4] = True
    model.init_embeddings(vectors, found)
    rows = model.tok_emb.weight[2:4].detach()
    assert torch.isfinite(rows).all() and rows.pow(2).mean().sqrt().item() == pytest.approx(0.02, rel=1e-5)


def test_training_from_nan_weights_is_not_blamed_on_the_learning_rate(files):
    _, vocab, _ = files
    model = TransformerLM(TransformerConfig(vocab_size=len(vocab), **TINY))
    with torch.no_grad():
        model.ln_f.weight[0] = float("nan")
    trainer = Trainer(model, vocab, TrainConfig(batch_size=4, steps=1), CPU)
    with pytest.raises(PerplexError, match=r"initial weights hold nan or inf values \(in ln_f.weight\)"):
        trainer.fit(encode(_sentences(20, 0), vocab))
