"""Properties on random small corpora (hypothesis): every smoothed model is a distribution,
scores agree with the distributions, and ARPA round trips are exact."""

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perplex.corpus import Vocabulary, encode
from perplex.eval import evaluate
from perplex.lm import DiscountWarning, read_arpa, train, write_arpa

words = st.sampled_from(list("abcdefg"))
sentences = st.lists(st.lists(words, min_size=0, max_size=8), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(train_sents=sentences, test_sents=sentences, order=st.integers(1, 4),
       smoothing=st.sampled_from(["kn", "ikn", "laplace", "addk"]))
def test_random_corpora_give_distributions(train_sents, test_sents, order, smoothing):
    vocab = Vocabulary.build(train_sents)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiscountWarning)  # tiny data: fallback discounts
        model = train(encode(train_sents, vocab), smoothing, order, 0.3 if smoothing == "addk" else None)
    test = encode(test_sents, vocab)
    states = model.corpus_states(test)
    dist = model.distributions(states)
    assert np.allclose(dist.sum(axis=1), 1.0, atol=1e-9)
    assert np.allclose(np.log10(dist[np.arange(test.n_tokens), test.ids]), model.log10_probs(test), atol=1e-9)
    r = evaluate(model, test)
    assert r.zero_prob_tokens == 0 and np.isfinite(r.perplexity) and r.perplexity >= 1.0


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(train_sents=sentences, order=st.integers(1, 4))
def test_arpa_round_trip_on_random_corpora(tmp_path_factory, train_sents, order):
    vocab = Vocabulary.build(train_sents)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiscountWarning)
        model = train(encode(train_sents, vocab), "kn", order)
    path = tmp_path_factory.mktemp("arpa") / "m.arpa"
    write_arpa(model, path)
    back = read_arpa(path)
    data = encode(train_sents, back.vocab)
    assert np.allclose(back.log10_probs(data), model.log10_probs(encode(train_sents, vocab)), atol=1e-6)
