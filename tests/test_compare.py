import numpy as np
import pytest

from perplex.corpus import Vocabulary, encode
from perplex.eval import summarize
from perplex.eval.compare import interpolate, interpolation_weight, paired_bootstrap
from perplex.lm import train


def test_em_weight_by_hand():
    # P_a = (0.5, 0.1), P_b = (0.1, 0.5): symmetric, so the best weight is 1/2.
    assert interpolation_weight(np.log10([0.5, 0.1]), np.log10([0.1, 0.5])) == pytest.approx(0.5)
    # One model is always better: the weight goes to it.
    assert interpolation_weight(np.log10([0.5, 0.5]), np.log10([0.1, 0.1])) == pytest.approx(1.0, abs=1e-6)
    # Mixture of a single token: maximize lam*0.4 + (1-lam)*0.2 -> lam = 1.
    mix = interpolate(np.log10([0.4]), np.log10([0.2]), 0.25)
    assert 10 ** mix[0] == pytest.approx(0.25 * 0.4 + 0.75 * 0.2)


def test_em_weight_is_the_likelihood_maximum():
    rng = np.random.default_rng(0)
    a = np.log10(rng.uniform(0.01, 1, 500))
    b = np.log10(rng.uniform(0.01, 1, 500))
    lam = interpolation_weight(a, b)
    grid = np.linspace(0, 1, 2001)
    ll = [interpolate(a, b, g).sum() for g in grid]
    assert interpolate(a, b, lam).sum() >= max(ll) - 1e-9


def test_interpolation_on_valid_is_no_worse_than_either_model(ptb):
    train_data = ptb.train.subset(slice(0, 8000))
    valid = ptb.corpora["valid"]
    kn = train(train_data, "kn", 3)
    add = train(train_data, "addk", 2, alpha=0.05)
    la, lb = kn.log10_probs(valid), add.log10_probs(valid)
    lam = interpolation_weight(la, lb)
    mixed = summarize(interpolate(la, lb, lam), valid, "mix", "valid").perplexity
    best = min(summarize(la, valid, "a", "valid").perplexity, summarize(lb, valid, "b", "valid").perplexity)
    assert 0 < lam < 1 and mixed <= best


def test_paired_bootstrap_interval_contains_the_estimate_and_detects_a_real_gap(ptb):
    train_data = ptb.train.subset(slice(0, 8000))
    test = ptb.corpora["test"].subset(slice(0, 800))
    a = summarize(train(train_data, "kn", 3).log10_probs(test), test, "kn", "test")
    b = summarize(train(train_data, "laplace", 2).log10_probs(test), test, "laplace", "test")
    ci = paired_bootstrap(a, b, samples=500, seed=1)
    assert ci.low < a.perplexity < ci.high
    assert ci.ratio == pytest.approx(a.perplexity / b.perplexity)
    assert ci.ratio_high < 1.0  # KN is clearly better than add-one
    same = paired_bootstrap(a, a, samples=200)
    assert same.ratio_low == pytest.approx(1.0) and same.ratio_high == pytest.approx(1.0)
    with pytest.raises(ValueError):
        paired_bootstrap(a, summarize(np.zeros(5) - 1, encode([["x"] * 4], Vocabulary.build([["x"]])), "t", "test"))
