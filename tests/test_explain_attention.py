"""perplex explain attention: the weights shown are the model's (the heatmap's), the scores
and the output follow from Q, K and V, and the toy example gives the course's (0.731, 0.269)."""

from __future__ import annotations

import json
import math

import numpy as np

import pytest
import torch

from perplex.attention.checkpoint import save_checkpoint
from perplex.attention.heatmap import attention_maps
from perplex.attention.model import TransformerConfig, TransformerLM
from perplex.corpus.vocabulary import EOS, UNK, Vocabulary
from perplex.explain.attention import explain_checkpoint, explain_head, explain_toy
from perplex.explain.worked import render
from tests.cli_runner import every_format, explain_topic_runner

SENTENCE = "the animal did not cross the street because it was tired"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A randomly initialised 2-layer, 2-head model, saved as a checkpoint; its attention
    projections are scaled up so the heads do not attend (almost) uniformly."""
    words = sorted(set(SENTENCE.split()))
    vocab = Vocabulary([EOS, UNK] + words, np.array([10, 1] + [5] * len(words)))
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=len(vocab), context=16, n_layers=2, d_model=16, n_heads=2,
                               output="full", dropout=0.0)
    model = TransformerLM(config).eval()
    with torch.no_grad():
        for block in model.blocks:
            block.attn.in_proj.weight.mul_(20.0)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(path, model, vocab)
    return model, vocab, path


@pytest.fixture
def run_cli(monkeypatch, capsys):
    return explain_topic_runner(monkeypatch, capsys, "perplex.explain.attention")


# ------------------------------------------------------------------------ the toy, by hand
def test_toy_gives_the_course_numbers():
    w = explain_toy()
    e = math.e
    assert w.data["scores"] == pytest.approx([1.0, 0.0])
    assert w.data["weights"] == pytest.approx([e / (e + 1), 1 / (e + 1)], abs=1e-12)
    assert [round(x, 3) for x in w.data["weights"]] == [0.731, 0.269]
    # the output mixes V1 = [1, 2] and V2 = [3, 4] with those weights
    assert w.data["output"] == pytest.approx([0.731059 * 1 + 0.268941 * 3, 0.731059 * 2 + 0.268941 * 4], abs=1e-5)
    # the Transformer's variant divides by sqrt(d_k) = sqrt(2)
    s = 1 / math.sqrt(2)
    assert w.data["scaled_scores"] == pytest.approx([s, 0.0])
    assert w.data["scaled_weights"] == pytest.approx([math.exp(s) / (math.exp(s) + 1), 1 / (math.exp(s) + 1)])
    assert [round(x, 3) for x in w.data["scaled_weights"]] == [0.67, 0.33]
    text = render(w, "text")
    assert "w1 = e^1 / (e^1 + e^0) = 0.731059" in text and "w2 = e^0 / (e^1 + e^0) = 0.268941" in text
    assert "s1 = Q·K1 = 1×1 + 0×0 = 1" in text


# ------------------------------------------------------------------------ one head of a model
@pytest.mark.parametrize("layer, head, position", [(1, 1, None), (2, 2, 4), (1, 2, 0)])
def test_weights_are_the_models(tiny, layer, head, position):
    model, vocab, _ = tiny
    w = explain_head(model, vocab, SENTENCE, layer, head, position)
    maps = attention_maps(model, vocab, SENTENCE)
    expected = maps.weights[layer - 1, head - 1]
    assert np.array_equal(np.array(w.data["weights"]), expected)  # the heatmap's numbers, exactly
    assert np.abs(np.array(w.data["recomputed_weights"]) - expected).max() < 1e-6
    pos = len(maps.tokens) - 1 if position is None else position
    assert w.data["position"] == pos and w.data["tokens"] == maps.tokens
    soft = w.section("attention-softmax")
    shown = [s.value for s in soft.steps if s.label.startswith("weight of position")]
    assert shown == list(expected[pos, : pos + 1])
    assert max(expected[pos]) > 0.3  # the scaled projections make the heads pick


def test_scores_and_output_follow_from_q_k_v(tiny):
    model, vocab, _ = tiny
    w = explain_head(model, vocab, SENTENCE, layer=2, head=1, position=5)
    q, k, v = (np.array(w.data[m]) for m in "qkv")
    d_k = q.shape[1]
    assert d_k == 8 and w.data["d_k"] == 8
    scores = q[5] @ k[:6].T / math.sqrt(d_k)
    assert w.data["scores"][:6] == pytest.approx(list(scores), abs=1e-6)
    assert w.data["scores"][6:] == [None] * (len(w.data["tokens"]) - 6)  # the causal mask
    weights = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
    assert np.array(w.data["weights"])[5, :6] == pytest.approx(weights, abs=1e-6)
    assert np.array(w.data["weights"])[5, 6:] == pytest.approx(0.0)
    assert w.data["output"] == pytest.approx(list(weights @ v[:6]), abs=1e-6)
    out = w.section("attention-output")
    assert [s.value for s in out.steps] == pytest.approx(list((weights @ v[:6])[:4]), abs=1e-6)
    masked = [s for s in w.section("attention-scores").steps if s.value == "-inf"]
    assert len(masked) == len(w.data["tokens"]) - 6


def test_checkpoint_gives_the_same_numbers(tiny):
    model, vocab, path = tiny
    w = explain_checkpoint(path, SENTENCE, layer=2, head=2)
    assert np.array_equal(np.array(w.data["weights"]), attention_maps(model, vocab, SENTENCE).weights[1, 1])


def test_dims_and_oov_words(tiny):
    model, vocab, _ = tiny
    w = explain_head(model, vocab, "the zebra was tired", dims=2)
    text = render(w, "text")
    assert "… 6 more]" in text and "1:the  2:zebra→<unk>" in text
    assert r"\texttt{zebra}\rightarrow\texttt{\textless{}unk\textgreater{}}" in render(w, "latex")


# ------------------------------------------------------------------------ the command line
@pytest.mark.parametrize("argv", [["--toy"], [SENTENCE, "--layer", "2", "--head", "2", "--position", "3"]])
def test_cli_formats_and_languages(run_cli, tiny, argv):
    base = ["explain", "attention", *argv] + ([] if "--toy" in argv else ["--model", tiny[2]])
    text, fr_text = every_format(run_cli, base)
    assert "softmax" in text.lower() and ("requête" in fr_text or "ligne" in fr_text)


def test_cli_weights_are_the_heatmaps(run_cli, tiny):
    model, vocab, path = tiny
    code, out, _ = run_cli("explain", "attention", SENTENCE, "--model", path, "--layer", "1", "--head", "2", "--json")
    assert code == 0
    assert np.array_equal(np.array(json.loads(out)["data"]["weights"]),
                          attention_maps(model, vocab, SENTENCE).weights[0, 1])


@pytest.mark.parametrize("argv, mentions", [
    (["the cat", "--layer", "3"], "--layer 3 is out of range: this model has 2 layers"),
    (["the cat", "--layer", "0"], "--layer 0 is out of range"),
    (["the cat", "--head", "5"], "--head 5 is out of range: this model has 2 heads"),
    (["the cat", "--position", "3"], "--position 3 is out of range: the sentence has positions 0 (</s>) to 2"),
    (["the cat", "--dims", "0"], "--dims must be at least 1"),
    ([], "give a sentence"),
    (["   "], "the sentence is empty"),
    (["the " * 16], "longer than the model's context of 16"),
    (["--toy", "--dims", "0"], "--toy is the fixed 2-dimensional example; leave out --model, --dims"),
])
def test_bad_input_is_one_line(run_cli, tiny, argv, mentions):
    code, out, err = run_cli("explain", "attention", *argv, "--model", tiny[2])
    assert code == 1 and out == ""
    assert err.startswith("perplex: error: ") and err.count("\n") == 1 and mentions in err


def test_missing_checkpoint_says_to_train_first(run_cli, tmp_path, monkeypatch):
    code, _, err = run_cli("explain", "attention", "the cat", "--model", tmp_path / "none.pt")
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("perplex: error: checkpoint not found") and "perplex transformer" in err
    monkeypatch.chdir(tmp_path)  # the default, runs/transformer.pt, is not there
    code, _, err = run_cli("explain", "attention", "the cat")
    assert code == 1 and "runs/transformer.pt" in err and "train one with 'perplex transformer" in err
