"""The Transformer language model end to end: training, scoring through eval/, checkpoints,
resuming, generation with a key/value cache, attention maps, embeddings, and the CLI."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from perplex import cli
from perplex.attention.checkpoint import is_checkpoint, last_path, load_checkpoint, save_checkpoint
from perplex.attention.device import amp_dtype, autocast
from perplex.device import resolve_device
from perplex.attention.generate import generate_from_checkpoint, generate_ids, ids_to_text
from perplex.attention.heatmap import attention_maps, draw_heatmaps
from perplex.attention.model import TransformerConfig, TransformerLM
from perplex.attention.scoring import TransformerScorer
from perplex.attention.train import TrainConfig, Trainer, learning_rate, set_seed
from perplex.attention.windows import shifted_inputs
from perplex.corpus import Vocabulary, encode
from perplex.corpus.vocabulary import EOS, UNK
from perplex.eval import entropy, evaluate
from perplex.errors import PerplexError

CPU = torch.device("cpu")
WORDS = "the cat sat on a mat dog ran to house big small red blue".split()


def _sentences(n, seed):
    rng = np.random.default_rng(seed)
    return [[WORDS[i] for i in rng.integers(0, len(WORDS), rng.integers(3, 8))] for _ in range(n)]


@pytest.fixture(scope="module")
def toy():
    train = _sentences(120, 0)
    vocab = Vocabulary.build(train)
    return vocab, encode(train, vocab), encode(_sentences(20, 1), vocab), encode(_sentences(20, 2) + [["zebra", "the"]], vocab)


def _model(vocab, seed=0, **kw):
    set_seed(seed)
    cfg = dict(vocab_size=len(vocab), context=16, n_layers=1, d_model=16, n_heads=2, cutoffs=(5, 10), dropout=0.0)
    cfg.update(kw)
    return TransformerLM(TransformerConfig(**cfg))


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """cli.main with this part's subcommands (other parts' modules may not be on this branch)."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["perplex.attention.cli"])

    def run(*argv):
        code = cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err
    return run


@pytest.fixture(scope="module")
def toy_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("toy")
    for name, seed, n in (("train", 0, 120), ("valid", 1, 20), ("test", 2, 20)):
        (d / f"{name}.txt").write_text("\n".join(" ".join(s) for s in _sentences(n, seed)) + "\n")
    return d


# ------------------------------------------------------------------ training
def test_tiny_model_overfits_a_tiny_corpus():
    # A fixed cycle of 7 tokens: with a few tokens of context the next token is certain.
    sentence = "a b c d e f".split()
    vocab = Vocabulary.build([sentence])
    corpus = encode([sentence] * 40, vocab)
    model = _model(vocab, context=8, d_model=32, n_heads=4, cutoffs=(4,))
    trainer = Trainer(model, vocab, TrainConfig(batch_size=16, lr=1e-2, warmup=0.1, epochs=25, weight_decay=0.0), CPU)
    trainer.fit(corpus)
    x = shifted_inputs(corpus.ids)
    with torch.no_grad():
        loss = model.loss(torch.from_numpy(x[None, 1:9]), torch.from_numpy(x[None, 2:10])).item()
    assert loss < 0.05
    # Scored through eval/: after the first window every token is certain, so PPL is close to 1.
    assert evaluate(TransformerScorer(model, vocab, stride=4), corpus).perplexity < 1.1


def test_eval_perplexity_is_exp_of_mean_cross_entropy(toy):
    vocab, train, valid, test = toy
    model = _model(vocab).eval()
    scorer = TransformerScorer(model, vocab, stride=16)  # disjoint 16-token windows
    result = evaluate(scorer, test)
    # Independently: cut [</s>] + ids into 16-token chunks and average F.cross_entropy (nats).
    x = torch.from_numpy(shifted_inputs(test.ids))
    n = test.n_tokens
    nll = []
    with torch.no_grad():
        for s in range(0, n, 16):
            e = min(s + 16, n)
            if e - s < 16:  # the last window is the last 16 tokens, scoring only the new ones
                s_win = n - 16
                lp = model.log_prob(x[None, s_win:n])[0]
                nll.append(F.nll_loss(lp[s - s_win:], x[s + 1:n + 1], reduction="none"))
            else:
                lp = model.log_prob(x[None, s:e])[0]
                nll.append(F.nll_loss(lp, x[s + 1:e + 1], reduction="none"))
    nll = torch.cat(nll).double()
    assert len(nll) == n == result.tokens
    assert result.perplexity == pytest.approx(math.exp(nll.mean().item()), rel=1e-6)
    assert result.oovs == 1  # "zebra"


def test_sliding_scores_equal_token_by_token_scoring(toy):
    vocab, _, _, test = toy
    model = _model(vocab, context=8).eval()
    scorer = TransformerScorer(model, vocab, stride=3)
    lp10 = scorer.log10_probs(test)
    # Brute force: each target t predicted from the window that scores it, one forward pass per token.
    from perplex.attention.windows import sliding_windows
    starts, first, length = sliding_windows(test.n_tokens, 8, 3)
    x = torch.from_numpy(shifted_inputs(test.ids))
    expected = []
    with torch.no_grad():
        for s, f in zip(starts, first):
            for t in range(s + f, s + length):
                expected.append(model.next_log_prob(x[None, s:t + 1])[0, x[t + 1]].item() / math.log(10))
    assert np.allclose(lp10, expected, atol=1e-5)
    # The distributions are the ones behind the scores and sum to 1.
    dists = np.concatenate(list(scorer.next_distributions(test, batch_size=10)))
    assert dists.shape == (test.n_tokens, len(vocab))
    assert np.allclose(dists.sum(1), 1.0, atol=1e-6)
    assert np.allclose(np.log10(dists[np.arange(test.n_tokens), test.ids]), lp10, atol=1e-5)


def test_ptb_test_token_count_matches_the_ngram_models(ptb):
    torch.manual_seed(0)
    model = TransformerLM(TransformerConfig(vocab_size=len(ptb.vocab), context=8, n_layers=1, d_model=8, n_heads=2))
    result = evaluate(TransformerScorer(model, ptb.vocab, batch_size=4096), ptb.corpora["test"], "test")
    assert result.tokens == 82_430
    assert math.isfinite(result.perplexity) and result.zero_prob_tokens == 0


def test_learning_rate_schedule():
    c = TrainConfig(lr=1.0, warmup=0.2, decay=1.0, min_lr_ratio=0.1, epochs=1)
    assert learning_rate(c, 0.0) == pytest.approx(0.01)  # the first step: lr / 100
    assert learning_rate(c, 0.1) == pytest.approx(0.5)  # halfway through the warm-up
    assert learning_rate(c, 0.2) == pytest.approx(1.0)  # cosine starts at the peak
    assert learning_rate(c, 0.6) == pytest.approx(0.1 + 0.45)  # halfway through the decay: floor + (peak - floor) / 2
    assert learning_rate(c, 1.0) == pytest.approx(0.1)
    assert learning_rate(c, 1.5) == pytest.approx(0.1)


def test_a_time_budget_warms_up_over_at_least_150_steps():
    """On a loaded machine the warm-up's share of the minutes holds few steps: the rate
    then also climbs over MIN_WARMUP_STEPS steps; step and epoch budgets keep their schedule."""
    from perplex.attention.train import MIN_WARMUP_STEPS

    timed = TrainConfig(lr=1.0, warmup=0.15, minutes=10)
    assert MIN_WARMUP_STEPS == 150
    assert learning_rate(timed, 0.15, step=60) == pytest.approx(60 / 150)  # the share is over, the steps are not
    assert learning_rate(timed, 0.5, step=75) == pytest.approx(0.5)
    assert learning_rate(timed, 0.075, step=140) == pytest.approx(0.5)  # idle: the time share binds, as before
    assert learning_rate(timed, 0.5, step=150) == pytest.approx(1.0)
    assert learning_rate(timed, 0.0, step=0) == pytest.approx(0.01)
    stepped = TrainConfig(lr=1.0, warmup=0.15, steps=100)
    assert learning_rate(stepped, 0.5, step=50) == pytest.approx(1.0)
    # warmup-stable-decay: the peak holds until the last `decay` share of the budget
    w = TrainConfig(lr=1.0, warmup=0.1, decay=0.4, min_lr_ratio=0.1, epochs=1)
    assert learning_rate(w, 0.05) == pytest.approx(0.5)
    assert learning_rate(w, 0.3) == learning_rate(w, 0.6) == pytest.approx(1.0)
    assert learning_rate(w, 0.8) == pytest.approx(0.1 + 0.45)  # halfway through the decay
    assert learning_rate(w, 1.0) == pytest.approx(0.1)
    with pytest.raises(PerplexError, match="--decay"):
        TrainConfig(decay=0.0)
    assert TrainConfig().minutes == 10.0  # no budget given: 10 minutes


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_seed_reproducibility_on_cpu(toy):
    vocab, train, valid, _ = toy
    runs = []
    for seed in (0, 0, 1):
        model = _model(vocab, seed=seed, dropout=0.1)
        trainer = Trainer(model, vocab, TrainConfig(batch_size=4, epochs=2, seed=seed, warmup=0.1), CPU).fit(train, valid)
        assert [r["epoch"] for r in trainer.history] == [1.0, 2.0]  # an epoch budget evaluates after each epoch
        runs.append(_weights(model))
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not all(torch.equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_interrupted_run_resumes_exactly(toy, tmp_path):
    vocab, train, valid, _ = toy
    config = TrainConfig(batch_size=4, epochs=2, warmup=0.1)
    model = _model(vocab, dropout=0.1)
    Trainer(model, vocab, config, CPU).fit(train)
    uninterrupted = _weights(model)

    def interrupt(trainer):
        if trainer.step == 9:  # in the middle of the first epoch
            raise KeyboardInterrupt

    ckpt = tmp_path / "m.pt"
    with pytest.raises(KeyboardInterrupt):
        Trainer(_model(vocab, dropout=0.1), vocab, config, CPU, checkpoint=ckpt, on_step=interrupt).fit(train)
    torch.manual_seed(123)  # the resumed run must not depend on the global RNG state
    resumed_model, _, state = load_checkpoint(last_path(ckpt), vocab=vocab)
    assert state["train"]["step"] == 9
    trainer = Trainer(resumed_model, vocab, TrainConfig.from_dict(state["train"]["config"]), CPU, checkpoint=ckpt)
    trainer.load_state_dict(state["train"])
    trainer.fit(train)
    assert trainer.step > 9 and trainer.epoch == 2
    assert all(torch.equal(uninterrupted[k], resumed_model.state_dict()[k]) for k in uninterrupted)


def test_sigterm_saves_the_resumable_state(toy, tmp_path):
    import os
    import signal

    vocab, train, _, _ = toy
    ckpt = tmp_path / "t.pt"

    def terminate(trainer):
        if trainer.step == 4:
            os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        Trainer(_model(vocab), vocab, TrainConfig(batch_size=4, epochs=1), CPU, checkpoint=ckpt, on_step=terminate).fit(train)
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is restored
    assert load_checkpoint(last_path(ckpt), vocab=vocab)[2]["train"]["step"] == 4


def test_time_budget_and_best_checkpoint(toy, tmp_path):
    vocab, train, valid, _ = toy
    ckpt = tmp_path / "best.pt"
    log = tmp_path / "log.json"
    config = TrainConfig(batch_size=4, minutes=0.01, eval_every_minutes=0.002, warmup=0.1)
    trainer = Trainer(_model(vocab), vocab, config, CPU, checkpoint=ckpt, log_path=log).fit(train, valid, track={"test": valid})
    assert trainer.train_seconds >= 0.6  # it ran until 0.01 minutes of training time were spent, then stopped
    curve = json.loads(log.read_text())
    assert len(curve) >= 2 and all("valid_perplexity" in r and "test_perplexity" in r for r in curve)
    assert curve[-1]["minutes"] >= 0.01
    best = min(r["valid_perplexity"] for r in curve)
    assert trainer.best_valid == pytest.approx(best)
    # The model ends with the best weights, and PATH holds them.
    saved, _, _ = load_checkpoint(ckpt, vocab=vocab)
    # the curve scores with the final scores' window (stride context // 2), so the two figures agree
    assert evaluate(TransformerScorer(saved, vocab), valid).perplexity == pytest.approx(best, rel=1e-9)
    assert last_path(ckpt).exists()


def test_step_budget_gives_the_same_run_and_a_five_point_curve(toy):
    vocab, train, valid, _ = toy

    def run():
        config = TrainConfig(batch_size=4, steps=12, warmup=0.1, seed=3)
        return Trainer(_model(vocab, seed=3, dropout=0.1), vocab, config, CPU).fit(train, valid)

    first, second = run(), run()
    assert first.step == 12 and first.epoch == 0  # the steps ended the run, not an epoch
    # a fifth of the budget between evaluations: steps 2, 4, 6, 8, 10, then the end
    assert [r["step"] for r in first.history] == [2, 4, 6, 8, 10, 12]
    assert [r["valid_perplexity"] for r in first.history] == [r["valid_perplexity"] for r in second.history]
    assert all(r["eval_stride"] == first.model.config.context // 2 for r in first.history)
    assert TrainConfig(steps=100, eval_every_steps=7).eval_interval_steps() == 7
    # the recipe reuses the curve's best valid score as the final one: it is the kept model's
    from perplex.attention.recipe import train_transformer
    from perplex.corpus import Splits

    data = Splits(vocab, {"train": train, "valid": valid}, "toy")
    run = train_transformer(data, first.model.config, TrainConfig(batch_size=4, steps=12, seed=3), device="cpu")
    fresh = evaluate(TransformerScorer(run.model, vocab), valid, "valid")
    assert run.evaluations[0].perplexity == pytest.approx(fresh.perplexity, rel=1e-12)
    assert run.evaluations[0] is run.trainer.best_valid_evaluation
    with pytest.raises(PerplexError, match="--steps"):
        TrainConfig(steps=0)


def test_checkpoint_round_trip_and_errors(toy, tmp_path):
    vocab, _, _, test = toy
    model = _model(vocab).eval()
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, vocab)
    loaded, loaded_vocab, _ = load_checkpoint(path, vocab=vocab)
    assert loaded_vocab == vocab and is_checkpoint(path)
    assert np.array_equal(TransformerScorer(model, vocab).log10_probs(test), TransformerScorer(loaded, vocab).log10_probs(test))
    other = Vocabulary.build([["x", "y"]])
    with pytest.raises(PerplexError, match="different vocabulary"):
        load_checkpoint(path, vocab=other)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(path.read_bytes()[:300])
    assert is_checkpoint(corrupt)  # looks like one, so loading says what is wrong
    with pytest.raises(PerplexError, match="not a readable perplex Transformer checkpoint"):
        load_checkpoint(corrupt)
    text = tmp_path / "model.arpa"
    text.write_text("\\data\\\nngram 1=3\n")
    assert not is_checkpoint(text) and not is_checkpoint(tmp_path / "missing.pt")
    np.savez(tmp_path / "ngram.npz", counts=np.arange(3))  # also a zip archive, but not torch's
    assert not is_checkpoint(tmp_path / "ngram.npz")
    with pytest.raises(PerplexError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")


# ---------------------------------------------------------------- generation
def _varied_model(vocab, context=6):
    model = _model(vocab, context=context, n_layers=2)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.6)  # large random weights: varied greedy choices
    return model.eval()


def test_greedy_generation_is_the_same_with_and_without_cache(toy):
    vocab = toy[0]
    model = _varied_model(vocab)
    prompt = [0, 3, 4]
    cached = generate_ids(model, prompt, 25, temperature=0)  # crosses the 6-token window several times
    plain = generate_ids(model, prompt, 25, temperature=0, use_cache=False)
    assert cached == plain and len(cached) == 25 and len(set(cached)) > 1
    # Greedy = the argmax of the model's distribution given the window, checked for the first token.
    with torch.no_grad():
        assert cached[0] == int(model.next_log_prob(torch.tensor([prompt]))[0].argmax())
    sampled = [generate_ids(model, prompt, 25, temperature=1.0, top_k=3, seed=s) for s in (5, 5, 6)]
    assert sampled[0] == sampled[1] != sampled[2]
    assert sampled[0] == generate_ids(model, prompt, 25, temperature=1.0, top_k=3, seed=5, use_cache=False)


def test_top_k_one_is_greedy(toy):
    model = _varied_model(toy[0])
    assert generate_ids(model, [0, 2], 10, temperature=1.5, top_k=1, seed=3) == generate_ids(model, [0, 2], 10, temperature=0)


def test_generate_from_checkpoint(toy, tmp_path):
    vocab = toy[0]
    path = tmp_path / "g.pt"
    save_checkpoint(path, _varied_model(vocab), vocab)
    text = generate_from_checkpoint(path, "the cat", 12, 0.8, 5, 1, "cpu")
    assert text == generate_from_checkpoint(path, "the cat", 12, 0.8, 5, 1, "cpu")
    assert len(text.split()) + text.count("\n") >= 1 and set(text.split()) <= set(vocab.tokens)
    assert ids_to_text([2, 0, 3], vocab.tokens) == f"{vocab.tokens[2]}\n{vocab.tokens[3]}"
    for prompt, n, temp, k, message in (("  ", 5, 1.0, None, "prompt is empty"), ("the", 0, 1.0, None, "at least 1"),
                                        ("the", 5, -1.0, None, "temperature"), ("the", 5, 1.0, 0, "top-k")):
        with pytest.raises(PerplexError, match=message):
            generate_from_checkpoint(path, prompt, n, temp, k, 0, "cpu")
    (tmp_path / "bad.pt").write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(PerplexError, match="not a readable"):
        generate_from_checkpoint(tmp_path / "bad.pt", "the", 3, 1.0, None, 0, "cpu")


# ---------------------------------------------------------- attention maps
def test_attention_maps_and_heatmaps(toy, tmp_path):
    vocab = toy[0]
    model = _model(vocab, n_layers=2, n_heads=2)
    maps = attention_maps(model, vocab, "the cat zebra")
    assert maps.tokens == ["</s>", "the", "cat", "zebra→<unk>"]
    w = maps.weights
    assert w.shape == (2, 2, 4, 4)
    assert np.allclose(w.sum(-1), 1.0) and np.allclose(np.triu(w, 1), 0.0)
    assert np.allclose(maps.row_entropy(), entropy(w, axis=-1))
    assert maps.row_entropy()[..., 0].max() == pytest.approx(0.0)  # position 0 sees only itself
    assert np.all(maps.head_entropy() <= np.log2(4) + 1e-9)
    paths = draw_heatmaps(maps, tmp_path / "maps")
    assert len(paths) == 4 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)
    with pytest.raises(PerplexError, match="longer than the model's context"):
        attention_maps(model, vocab, " ".join(["the"] * 16))


# --------------------------------------------------------------- embeddings
def test_init_embeddings_from_gensim_vectors(toy, tmp_path):
    from gensim.models import KeyedVectors

    from perplex.attention.pretrained import embedding_matrix
    vocab = toy[0]
    kv = KeyedVectors(vector_size=16)
    words = vocab.tokens[2:8]
    kv.add_vectors(words, np.random.default_rng(0).normal(size=(len(words), 16)).astype(np.float32))
    glove = tmp_path / "glove.txt"  # GloVe's own text format: no "COUNT DIM" header line
    glove.write_text("".join(w + " " + " ".join(map(str, v)) + "\n" for w, v in zip(words, kv.vectors)))
    for path in (glove, tmp_path / "v0.w2v", tmp_path / "v1.w2v"):
        if path.suffix == ".w2v":
            kv.save_word2vec_format(str(path), binary=path.stem == "v1")
        vectors, found = embedding_matrix(path, vocab, 16)
        assert found.tolist() == [False, False] + [True] * 6 + [False] * (len(vocab) - 8)
        assert np.allclose(vectors[2:8].numpy(), kv.vectors, atol=1e-6)
    model = _model(vocab)
    before = model.tok_emb.weight.detach().clone()
    model.init_embeddings(vectors, found)
    after = model.tok_emb.weight.detach()
    assert torch.equal(after[~found], before[~found])
    ratio = after[2:8] / vectors[2:8]  # the copied rows are the vectors rescaled to RMS 0.02
    assert after[2:8].pow(2).mean().sqrt().item() == pytest.approx(0.02, rel=1e-5)
    assert torch.allclose(ratio, ratio[0, 0].expand_as(ratio), rtol=1e-4)
    with pytest.raises(PerplexError, match="16-dimensional vectors but --d-model is 32"):
        embedding_matrix(path, vocab, 32)


# ---------------------------------------------------------------------- CLI
def test_cli_trains_evaluates_and_prints_json(run_cli, toy_files, tmp_path):
    ckpt = tmp_path / "c.pt"
    code, out, err = run_cli("transformer", "--train", toy_files / "train.txt", "--valid", toy_files / "valid.txt",
                             "--test", toy_files / "test.txt", "--epochs", 1, "--context", 16, "--d-model", 16,
                             "--heads", 2, "--layers", 1, "--cutoffs", "5,10", "--batch-size", 8,
                             "--checkpoint", ckpt, "--json")
    assert code == 0, err
    records = json.loads(out)
    assert [r["split"] for r in records] == ["valid", "test"]
    for key in ("model", "tokens", "oovs", "zero_prob_tokens", "log10_prob", "cross_entropy_bits", "perplexity",
                "perplexity_excl_oov", "bits_per_char", "context", "stride", "train_minutes", "tokens_per_s"):
        assert key in records[1]
    assert records[1]["context"] == 16 and records[1]["stride"] == 8
    assert ckpt.exists() and last_path(ckpt).exists() and (tmp_path / "c.pt.log.json").exists()
    assert "valid PPL" in err and "tokens/s" in err  # one line per evaluation on stderr (no terminal here)
    # --resume of a finished run: restores model, optimizer and clock from c.pt.last, trains no further
    code, out2, err = run_cli("transformer", "--train", toy_files / "train.txt", "--valid", toy_files / "valid.txt",
                              "--test", toy_files / "test.txt", "--resume", "--checkpoint", ckpt, "--json")
    assert code == 0, err
    again = json.loads(out2)[1]
    assert again["steps"] == records[1]["steps"] and again["perplexity"] == pytest.approx(records[1]["perplexity"])
    # --eval-only with a shorter window and a table
    code, out, _ = run_cli("transformer", "--train", toy_files / "train.txt", "--test", toy_files / "test.txt",
                           "--eval-only", "--checkpoint", ckpt, "--context", 8, "--stride", 2, "--prediction-entropy")
    assert code == 0 and "context 8 tokens, stride 2" in out and "mean pred. H" in out
    code, out, err = run_cli("attention", "the cat sat", "--model", ckpt, "--out", tmp_path / "maps", "--json")
    assert code == 0, err
    assert len(json.loads(out)) == 2 and (tmp_path / "maps" / "attention_layer1_head2.png").exists()


def test_cli_init_embeddings(run_cli, toy_files, tmp_path):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=16)
    kv.add_vectors(["the", "cat"], np.ones((2, 16), np.float32))
    kv.save_word2vec_format(str(tmp_path / "v.txt"))
    code, out, err = run_cli("transformer", "--train", toy_files / "train.txt", "--test", toy_files / "test.txt",
                             "--epochs", 1, "--context", 16, "--d-model", 16, "--heads", 2, "--layers", 1,
                             "--init-embeddings", tmp_path / "v.txt", "--checkpoint", tmp_path / "e.pt")
    assert code == 0, err
    assert "2 of" in err and "initialised" in err


def _one_line_error(code, err, *needles):
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("perplex: error: ")
    for needle in needles:
        assert needle in lines[0]


def test_cli_bad_input(run_cli, toy_files, tmp_path, toy):
    data = ["--train", toy_files / "train.txt", "--test", toy_files / "test.txt"]
    tiny = ["--epochs", 1, "--context", 8, "--d-model", 16, "--heads", 2, "--layers", 1]
    _one_line_error(*run_cli("transformer", *data, "--d-model", 32, "--heads", 3)[::2], "--heads 3 does not divide --d-model 32")
    ckpt = tmp_path / "m.pt"
    assert run_cli("transformer", *data, *tiny, "--checkpoint", ckpt)[0] == 0
    # context longer than the model's
    _one_line_error(*run_cli("transformer", *data, "--eval-only", "--checkpoint", ckpt, "--context", 9)[::2],
                    "--context 9 is longer than the model's context of 8")
    # a checkpoint from another vocabulary
    other = tmp_path / "other.txt"
    other.write_text("completely different words here\nand more of them\n")
    _one_line_error(*run_cli("transformer", "--train", other, "--test", other, "--eval-only", "--checkpoint", ckpt)[::2],
                    "different vocabulary")
    # a corrupt checkpoint
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(ckpt.read_bytes()[: len(ckpt.read_bytes()) // 2])
    _one_line_error(*run_cli("transformer", *data, "--eval-only", "--checkpoint", corrupt)[::2], "corrupt")
    _one_line_error(*run_cli("attention", "the cat", "--model", corrupt)[::2], "corrupt")
    # an empty sentence, a sentence longer than the context, a missing model
    _one_line_error(*run_cli("attention", "   ", "--model", ckpt, "--out", tmp_path / "m")[::2], "sentence is empty")
    _one_line_error(*run_cli("attention", "the " * 9, "--model", ckpt, "--out", tmp_path / "m")[::2], "longer than the model's context of 8")
    _one_line_error(*run_cli("attention", "the cat", "--model", tmp_path / "none.pt")[::2], "checkpoint not found")
    # resume without a saved state; vectors that are not vectors
    _one_line_error(*run_cli("transformer", *data, "--resume", "--checkpoint", tmp_path / "fresh.pt")[::2], "not found")
    (tmp_path / "junk.vec").write_bytes(b"\x00\x01 not vectors")
    _one_line_error(*run_cli("transformer", *data, *tiny, "--init-embeddings", tmp_path / "junk.vec",
                             "--checkpoint", tmp_path / "j.pt")[::2], "word2vec")
    if not torch.cuda.is_available():
        _one_line_error(*run_cli("transformer", *data, *tiny, "--device", "cuda", "--checkpoint", tmp_path / "k.pt")[::2],
                        "no CUDA GPU")
    _one_line_error(*run_cli("transformer", *data, *tiny, "--d-ff", -4)[::2], "--d-ff must be positive")
    _one_line_error(*run_cli("transformer", *data, *tiny, "--weight-decay", -1)[::2], "--weight-decay")
    _one_line_error(*run_cli("transformer", *data, *tiny, "--cutoffs", "9,3")[::2], "--cutoffs")
    with pytest.raises(SystemExit) as usage:  # argparse: a usage error, status 2
        run_cli("transformer", "--heads", "0")
    assert usage.value.code == 2


def test_device_choice_and_mixed_precision_setup():
    assert resolve_device("cpu") == CPU and amp_dtype(CPU) is None
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with autocast(CPU):  # a no-op on the CPU: float32 stays float32
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    with pytest.raises(PerplexError, match="--device must be one of"):
        resolve_device("tpu")


def test_the_output_layer_is_sized_from_the_training_counts():
    """The adaptive softmax's clusters cover 87% and 96.8% of the training tokens: the
    Penn Treebank's classic 2000,6000, and cutoffs inside any other vocabulary."""
    from perplex.attention.cli import build_configs
    from perplex.attention.config import cluster_bounds, coverage_cutoffs
    from perplex.attention.rare import class_counts
    from perplex.corpus import load_ptb

    ptb = Vocabulary.build(load_ptb()["train"])
    assert coverage_cutoffs(ptb.counts) == (2000, 6000)
    rng = np.random.default_rng(0)
    for size in (40, 700, 30_000):  # Zipf-like raw text of growing vocabularies
        words = [f"w{i}" for i in rng.zipf(1.3, size * 20) if i <= size]
        vocab = Vocabulary.build([words])
        cutoffs = coverage_cutoffs(vocab.counts)
        covered = np.cumsum(vocab.counts) / vocab.counts.sum()
        assert list(cutoffs) == sorted(set(cutoffs)) and 0 < cutoffs[0] and cutoffs[-1] < len(vocab)
        if len(cutoffs) == 2:  # each cutoff is its share's rank, to two digits
            assert covered[cutoffs[0] - 1] == pytest.approx(0.87, abs=0.03)
        args = cli.build_parser().parse_args(["transformer", "--rare-below", "1"])
        model, _ = build_configs(args, vocab)
        assert model.cutoffs == cutoffs and len(cluster_bounds(len(vocab), model.cutoffs)) >= 3
        # by default the words seen once or twice share <unk>'s class: the cutoffs cover the classes' counts
        model, _ = build_configs(cli.build_parser().parse_args(["transformer"]), vocab)
        assert model.cutoffs == coverage_cutoffs(class_counts(vocab.counts, model.classes))
        assert model.classes == 2 + int((vocab.counts[2:] >= 3).sum()) and model.cutoffs[-1] < model.classes
    args = cli.build_parser().parse_args(["transformer", "--cutoffs", "10,20"])
    assert build_configs(args, vocab)[0].cutoffs == (10, 20)  # given cutoffs are kept
    assert TransformerConfig(vocab_size=50).cutoffs == coverage_cutoffs(1 / np.arange(1, 51))  # no counts: Zipf


def test_command_line_defaults_are_the_configs_defaults():
    from perplex.attention.cli import build_configs
    from perplex.attention.config import TrainConfig, TransformerConfig

    args = cli.build_parser().parse_args(["transformer"])
    vocab = Vocabulary([EOS, UNK] + [f"w{i}" for i in range(9_998)], np.full(10_000, 5, np.int64))
    model, train = build_configs(args, vocab)
    assert model == TransformerConfig(vocab_size=10_000, cutoffs=(8700, 9700))  # uniform counts: 87% and 96.8%
    assert train == TrainConfig()


# ---- rare words share <unk>'s class ----------------------------------------------------------

def _rare_vocab():
    """</s>, <unk> (never seen), 6 frequent words, then words seen twice and once."""
    counts = [50, 0, 40, 30, 20, 10, 6, 3, 2, 2, 1, 1, 1]
    return Vocabulary([EOS, UNK] + [f"w{i}" for i in range(len(counts) - 2)], np.array(counts))


def test_rare_words_share_the_unk_class_split_by_discounted_counts():
    """Hand-computed: the class holds <unk> (count 0), two words seen twice and three seen
    once; D = n1 / (n1 + 2 n2) = 3 / 7, C = 7, and <unk> gets D times the 5 seen members."""
    from perplex.attention.rare import class_counts, class_ids, class_shares, own_classes

    vocab = _rare_vocab()
    assert own_classes(vocab.counts, 3) == 8 and own_classes(vocab.counts, 1) == len(vocab)
    assert own_classes(vocab.counts, 100) == 2  # every word rare: only </s> and <unk> are classes
    q = class_shares(vocab.counts, 8)
    d = 3 / 7
    assert q[:8].tolist() == pytest.approx([1, 5 * d / 7, 1, 1, 1, 1, 1, 1])
    assert q[8:].tolist() == pytest.approx([(2 - d) / 7] * 2 + [(1 - d) / 7] * 3)
    assert q[1] + q[8:].sum() == pytest.approx(1.0, abs=1e-15)
    assert class_ids(len(vocab), 8).tolist() == list(range(8)) + [1] * 5
    assert class_counts(vocab.counts, 8).tolist() == [50, 7, 40, 30, 20, 10, 6, 3]
    # only singletons: the discount is capped so that each keeps a share
    q = class_shares([9, 0, 5, 1, 1], 3)
    assert q[3:].tolist() == pytest.approx([0.05, 0.05]) and q[1] == pytest.approx(0.9)
    # a <unk> seen in training (the Penn Treebank's) is discounted like a word
    q, d = class_shares([9, 4, 5, 2, 1], 3), 1 / 3  # one word seen once, one twice
    assert q[1] + q[3:].sum() == pytest.approx(1.0) and q[1] == pytest.approx((4 - d + 3 * d) / 7)


@pytest.fixture(scope="module")
def shared_model():
    vocab = _rare_vocab()
    config = TransformerConfig(vocab_size=len(vocab), classes=8, context=8, n_layers=1, d_model=16, n_heads=2,
                               cutoffs=(4,))
    torch.manual_seed(0)
    return vocab, TransformerLM(config, vocab.counts).eval()


def test_a_model_with_a_shared_class_predicts_every_word_and_sums_to_one(shared_model):
    from perplex.attention.rare import class_shares

    vocab, model = shared_model
    assert model.tok_emb.weight.shape == (8, 16)  # rare words have no row of their own
    idx = torch.tensor([[0, 2, 9, 3, 11, 1, 4, 12]])
    lp = model.log_prob(idx).double().detach()
    assert lp.shape == (1, 8, len(vocab))
    assert torch.allclose(lp.exp().sum(-1), torch.ones(1, 8, dtype=torch.float64), atol=1e-5)
    # a rare word's probability is its class's times its share: the ratio of two rare words is their shares'
    q = class_shares(vocab.counts, 8)
    assert (lp[0, :, 8] - lp[0, :, 10]).numpy() == pytest.approx(np.full(8, math.log(q[8] / q[10])), abs=1e-5)
    targets = torch.tensor([[2, 9, 3, 11, 1, 4, 12, 0]])
    assert torch.allclose(model.target_log_prob(idx, targets).double(), lp.gather(2, targets[..., None])[..., 0],
                          atol=1e-5)
    # two rare words read as input are the same class: the same hidden states
    other = idx.clone()
    other[0, 2], other[0, 4] = 12, 8
    assert torch.equal(model.hidden(idx)[0], model.hidden(other)[0])
    nxt = model.next_log_prob(idx)
    assert torch.allclose(nxt, lp[:, -1].float(), atol=1e-5)


def test_a_model_with_a_shared_class_needs_the_counts_and_round_trips(shared_model, tmp_path):
    vocab, model = shared_model
    with pytest.raises(PerplexError, match="needs the 13 training counts"):
        TransformerLM(model.config)
    path = tmp_path / "shared.pt"
    save_checkpoint(path, model, vocab)
    loaded, saved_vocab, _ = load_checkpoint(path, vocab=vocab)
    idx = torch.tensor([[0, 5, 10, 2]])
    assert saved_vocab == vocab and torch.equal(loaded.log_prob(idx), model.log_prob(idx))
    # a checkpoint written before the field existed reads as every word its own class
    old = model.config.to_dict()
    del old["classes"]
    assert TransformerConfig.from_saved(old, "config").classes == len(vocab)


def test_the_command_line_shares_the_rare_words_class_and_scores_the_whole_vocabulary(tmp_path, run_cli):
    """--rare-below sizes the classes from the counts (default 3, 1 = none) and the scores
    stay over the n-grams' vocabulary: the same tokens, the same OOVs."""
    from perplex.attention.cli import build_configs

    vocab = _rare_vocab()
    assert build_configs(cli.build_parser().parse_args(["transformer"]), vocab)[0].classes == 8
    assert build_configs(cli.build_parser().parse_args(["transformer", "--rare-below", "1"]), vocab)[0].classes == 13
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice([f"w{i}" for i in range(25)], 8)) for _ in range(200)]
    lines += ["w1 r1 w2", "w3 r2 w4 r2", "s1 w5"]  # seen once, twice, once
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "test.txt").write_text("w1 r1 zz w2\nw3 s1 w4\n")
    code, out, err = run_cli("transformer", "--train", tmp_path / "train.txt", "--test", tmp_path / "test.txt",
                             "--steps", "3", "--context", "8", "--d-model", "16", "--heads", "2", "--json",
                             "--checkpoint", tmp_path / "m.pt")
    assert code == 0, err
    record = next(r for r in json.loads(out) if r["split"] == "test")
    assert record["tokens"] == 9 and record["oovs"] == 1
    model, saved, _ = load_checkpoint(tmp_path / "m.pt")
    assert model.config.classes == 27 and model.config.vocab_size == len(saved) == 30
