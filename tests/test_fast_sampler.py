"""The structural sampler (perplex.lm.fast_sampling) draws the model's own distributions.

Chi-square tests with fixed seeds (deterministic): next-word frequencies in
chosen histories against ``model.distributions``, sentence lengths against the
exact length distribution of a bigram model.
"""

import numpy as np
import pytest
from scipy.stats import chisquare

from perplex import cli
from perplex.corpus import Vocabulary, encode
from perplex.errors import PerplexError
from perplex.lm import sample_sentences, save_model, train
from perplex.lm import fast_sampling
from perplex.lm.fast_sampling import fast_sampler

P_MIN = 1e-4  # chi-square p-value floor: ~40 tests, fixed seeds (the same p every run)
DRAWS = 40_000


def _corpus(n_sent=1500, seed=0):
    """Sentences from a random sparse Markov source over 150 words (Zipf-ish), so that
    contexts have few and many continuations, and some words are rare."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(150)]
    weights = 1.0 / np.arange(1, 151)
    weights /= weights.sum()
    succ = [rng.choice(150, size=rng.integers(2, 20), replace=False, p=weights) for _ in range(150)]
    sents = []
    for _ in range(n_sent):
        cur, sent = rng.choice(150, p=weights), []
        while len(sent) < 15 and (not sent or rng.random() > 0.15):
            sent.append(words[cur])
            cur = rng.choice(succ[cur])
        sents.append(sent)
    return sents


SENTS = _corpus()
VOCAB = Vocabulary.build(SENTS)
DATA = encode(SENTS, VOCAB)


@pytest.fixture(scope="module", params=["kn", "ikn", "addk", "laplace", "mle"])
def model(request):
    return train(DATA, request.param, 3)


def _state(model, history):
    state = model.initial_state(1)
    for w in history:
        state = model.advance(state, model.vocab.ids([w]))
    return state


def _check(model, state, seed=0, draws=DRAWS):
    """Chi-square of the sampler's words after ``state`` against the model's distribution."""
    probs = model.distributions(state)[0]
    probs = probs / probs.sum()
    words, _ = fast_sampler(model).step(np.repeat(state, draws, axis=0), np.random.default_rng(seed))
    counts = np.bincount(words, minlength=len(probs))
    assert counts[probs == 0].sum() == 0, "drew a word of probability 0"
    expected = probs * draws
    big = expected >= 5  # pool the rare words into one bin
    obs = np.append(counts[big], counts[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    assert len(obs) > 1
    p = chisquare(obs, exp).pvalue
    assert p > P_MIN, (model.name, p)
    return p


def _histories(model):
    """A listed high-order context, one that must back off, and one with no listed continuation."""
    trie = model.trie
    tri = trie.ngram_ids(3)
    words = np.array(model.vocab.tokens + ["<s>"])
    listed = [list(words[t[:2]]) for t in tri if t[0] != trie.bos_id][:1]  # "a b" listed as a context
    # "a b" whose bigram never occurred: only the "b" context is listed
    bigrams = {tuple(t) for t in trie.ngram_ids(2).tolist()}
    a, b = next((x, y) for x in range(2, len(model.vocab)) for y in range(2, len(model.vocab))
                if (x, y) not in bigrams)
    return {"listed": listed[0], "backoff": [words[a], words[b]], "unseen": ["never-seen-word", "w1"]}


@pytest.mark.parametrize("where", ["listed", "backoff", "unseen", "start"])
def test_next_word_frequencies_match_the_distribution(model, where):
    history = [] if where == "start" else _histories(model)[where]
    state = _state(model, history)
    if model.smoothing == "mle" and where in ("backoff", "unseen"):
        with pytest.raises(PerplexError, match="no probability to any word"):
            fast_sampler(model).step(state, np.random.default_rng(0))
        return
    _check(model, state)


def test_unigram_level_after_an_unseen_word():
    """<unk> never occurs in training: a KN model after it draws from the unigram
    distribution (the rejection from every longer level is then empty)."""
    model = train(DATA, "kn", 4)
    state = _state(model, ["w3", "<unk>"])
    assert model.trie.child_ranges(2, state[:, 0])[1] - model.trie.child_ranges(2, state[:, 0])[0] == 0
    _check(model, state)


def test_exact_fallback_after_many_rejections(monkeypatch):
    """With no rejection rounds allowed, every backed-off row takes the exact conditional draw."""
    monkeypatch.setattr(fast_sampling, "MAX_ROUNDS", 0)
    model = train(DATA, "kn", 3)
    for history in _histories(model).values():
        _check(model, _state(model, history), seed=3)


def test_a_high_order_model_over_many_mixed_histories():
    """Rows in many different states at once (as in real sampling), checked per state."""
    model = train(DATA, "kn", 4)
    states = model.corpus_states(DATA)[:2000:97]
    for i, state in enumerate(states):
        _check(model, state[None, :], seed=i, draws=8000)


def test_sentence_lengths_follow_the_model():
    """A bigram model's exact length distribution (a Markov chain to </s>) against 20,000 sampled sentences."""
    model = train(DATA, "kn", 2)
    V = len(model.vocab)
    rows = model.distributions(np.arange(V + 1)[:, None])  # row V is after <s>
    eos = model.vocab.eos_id
    dist = rows[V].copy()
    max_len = 40
    p_len = []
    for _ in range(max_len):
        p_len.append(dist[eos])
        dist[eos] = 0.0
        dist = dist[:V] @ rows[:V]
    p_len.append(1.0 - sum(p_len))  # cut at max_len
    n = 20_000
    lengths = np.array([len(s) for s in sample_sentences(model, n, seed=11, max_len=max_len)])
    counts = np.bincount(lengths, minlength=max_len + 1)
    expected = np.array(p_len) * n
    big = expected >= 5
    p = chisquare(np.append(counts[big], counts[~big].sum()), np.append(expected[big], expected[~big].sum())).pvalue
    assert p > P_MIN
    assert abs(lengths.mean() - (np.arange(max_len + 1) * p_len).sum()) < 0.2


def test_same_seed_same_sentences(monkeypatch):
    import perplex.lm.sampling as sampling

    model = train(DATA, "kn", 3)
    a = sample_sentences(model, 50, seed=7, prompt=["w1"])
    assert a == sample_sentences(model, 50, seed=7, prompt=["w1"])
    assert a != sample_sentences(model, 50, seed=8, prompt=["w1"])
    assert all(s[0] == "w1" and "<s>" not in s and "</s>" not in s for s in a)
    monkeypatch.setattr(sampling, "STEP_BYTES", 1)  # one sentence per batch: still deterministic
    one = sample_sentences(model, 5, seed=7, max_len=4)
    assert one == sample_sentences(model, 5, seed=7, max_len=4) and all(len(s) <= 4 for s in one)


def test_fast_path_only_for_the_models_own_distribution(monkeypatch):
    import perplex.lm.sampling as sampling

    model = train(DATA, "kn", 3)
    used = []
    real = sampling.fast_sampler
    monkeypatch.setattr(sampling, "fast_sampler", lambda m: used.append(m) or real(m))
    sample_sentences(model, 3, seed=1)
    assert len(used) == 1
    sample_sentences(model, 3, seed=1, temperature=0.7)
    sample_sentences(model, 3, seed=1, top_k=5)
    assert len(used) == 1  # the distribution-building path serves reshaped distributions


def test_generate_output_format(tmp_path, capsys):
    path = tmp_path / "m.npz"
    save_model(train(DATA, "kn", 3), path)
    argv = ["generate", "--model", str(path), "-n", "6", "--seed", "2", "--prompt", "w1 w2", "--max-len", "12"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 6 and all(line.startswith("w1 w2") for line in lines)
    assert all(w in VOCAB and w not in ("<s>", "</s>") for line in lines for w in line.split())
    assert all(len(line.split()) <= 2 + 12 for line in lines)
    assert cli.main(argv) == 0 and capsys.readouterr().out == out
