import math

import numpy as np
import pytest

from perplex.corpus import Vocabulary, encode
from perplex.eval import UniformModel, entropy, evaluate, format_table, summarize, to_json
from perplex.errors import PerplexError


@pytest.fixture
def toy():
    vocab = Vocabulary.build([["a", "b", "c"]])  # </s> <unk> a b c -> |V| = 5
    corpus = encode([["a", "zz"], ["c"]], vocab)  # tokens: a <unk>(OOV) </s> c </s>
    return vocab, corpus


def test_uniform_model_has_perplexity_V(toy):
    vocab, corpus = toy
    r = evaluate(UniformModel(vocab), corpus)
    assert r.tokens == 5 and r.oovs == 1 and r.zero_prob_tokens == 0
    assert r.perplexity == pytest.approx(5.0, rel=1e-12)
    assert r.cross_entropy_bits == pytest.approx(math.log2(5), rel=1e-12)
    assert r.perplexity == pytest.approx(2**r.cross_entropy_bits, rel=1e-12)
    assert r.log10_prob == pytest.approx(-5 * math.log10(5))


def test_figures_by_hand(toy):
    vocab, corpus = toy
    # log10 P per token: a=-1, <unk>=-2, </s>=-1, c=-0.5, </s>=-0.5 -> total -5
    lp = np.array([-1.0, -2.0, -1.0, -0.5, -0.5])
    r = summarize(lp, corpus, "hand", "test")
    assert r.log10_prob == pytest.approx(-5.0)
    h = 5.0 * math.log2(10) / 5  # bits per token
    assert r.cross_entropy_bits == pytest.approx(h)
    assert r.perplexity == pytest.approx(10.0)
    # excluding the OOV: total -3 over 4 tokens
    assert r.perplexity_excl_oov == pytest.approx(10 ** (3 / 4))
    # characters: "a zz\n" = 5, "c\n" = 2 -> 7; total bits 5*log2(10)
    assert r.bits_per_char == pytest.approx(5 * math.log2(10) / 7)
    assert r.sentence_log10.tolist() == [-4.0, -1.0]
    assert r.sentence_perplexity.tolist() == pytest.approx([10 ** (4 / 3), 10 ** 0.5])


def test_zero_probability_is_infinite_and_counted(toy):
    vocab, corpus = toy
    lp = np.array([-1.0, -np.inf, -1.0, -0.5, -0.5])
    r = summarize(lp, corpus, "mle", "test")
    assert r.zero_prob_tokens == 1
    assert math.isinf(r.perplexity) and math.isinf(r.cross_entropy_bits) and math.isinf(r.bits_per_char)
    assert r.perplexity_excl_oov == pytest.approx(10 ** (3 / 4))  # the zero was the OOV
    rec = r.record()
    assert rec["perplexity"] == "inf" and rec["log10_prob"] == "-inf"
    assert "inf" in format_table([r])
    assert '"zero_prob_tokens": 1' in to_json([r])


def test_json_record_has_the_convention_keys(toy):
    vocab, corpus = toy
    rec = evaluate(UniformModel(vocab), corpus, split="valid").record()
    for key in ("model", "split", "tokens", "oovs", "zero_prob_tokens", "log10_prob",
                "cross_entropy_bits", "perplexity", "perplexity_excl_oov", "bits_per_char"):
        assert key in rec
    assert rec["split"] == "valid"


def test_prediction_entropy_of_uniform_is_log2_V(toy):
    vocab, corpus = toy
    r = evaluate(UniformModel(vocab), corpus, prediction_entropy=True)
    assert r.prediction_entropy_bits == pytest.approx(math.log2(5))


def test_entropy_function():
    assert entropy([0.25] * 4) == pytest.approx(2.0)
    assert entropy([1.0, 0.0, 0.0]) == 0.0
    rows = entropy(np.array([[0.5, 0.5], [1.0, 0.0]]), axis=1)
    assert rows.tolist() == [1.0, 0.0]


def test_vocabulary_mismatch_is_refused(toy):
    vocab, corpus = toy
    other = Vocabulary.build([["x"]])
    with pytest.raises(PerplexError, match="vocabulary"):
        evaluate(UniformModel(other), corpus)


def test_absurd_cross_entropy_gives_infinite_perplexity_not_an_error(toy):
    vocab, corpus = toy
    r = summarize(np.full(5, -400.0), corpus, "broken", "test")  # 1,329 bits per token
    assert r.cross_entropy_bits > 1024 and r.perplexity == math.inf and r.zero_prob_tokens == 0
