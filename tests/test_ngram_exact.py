"""Exactness of the n-gram models: hand-computed toy values and Σ_w P(w|h) = 1."""

import warnings
from collections import Counter

import numpy as np
import pytest

from perplex.corpus import Vocabulary, encode
from perplex.lm import DiscountWarning, NgramTrie, train
from perplex.lm.kneser_ney import adjusted_counts, modified_discounts, single_discount

# Toy corpus: "a b" and "a a".  Padded: <s> a b </s> ; <s> a a </s>.
# V = {</s>, <unk>, a, b}: |V| = 4.  Bigram counts: <s> a 2, a b 1, a a 1, a </s> 1, b </s> 1.
TOY = [["a", "b"], ["a", "a"]]


@pytest.fixture
def toy():
    vocab = Vocabulary.build(TOY)
    return vocab, encode(TOY, vocab)


def probs_of(model, vocab, history, words):
    """P(word | history) for each word, history a list of words after <s>."""
    state = model.initial_state(1)
    for w in history:
        state = model.advance(state, np.array([vocab.id(w)]))
    dist = model.distributions(state)[0]
    return [dist[vocab.id(w)] for w in words]


def quiet_train(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiscountWarning)
        return train(*args, **kw)


def test_modified_kn_bigram_by_hand(toy):
    vocab, data = toy
    with pytest.warns(DiscountWarning, match="D1=0.5 D2=1 D3\\+=1.5"):
        m = train(data, "kn", 2)
    # Both orders lack count-3 n-grams, so the fallback D = (0.5, 1, 1.5) applies.
    # Unigram continuation counts: a 2 (after <s>, a), b 1, </s> 2 -> total 5,
    # discounted mass 1 + 0.5 + 1 = 2.5, gamma = 0.5, uniform share 0.5 / 4 = 0.125:
    # p(a) = 1/5 + 0.125 = 0.325, p(b) = 0.5/5 + 0.125 = 0.225, p(</s>) = 0.325, p(<unk>) = 0.125.
    assert probs_of(m, vocab, [], ["a", "b", "</s>", "<unk>"]) == pytest.approx([0.6625, 0.1125, 0.1625, 0.0625])
    # After <s>: only "a" (count 2, D2 = 1): u = 1/2, gamma = 1/2 -> p(a|<s>) = 0.5 + 0.5 * 0.325.
    # After a: b, a, </s> once each (D1 = 0.5): u = 0.5/3, gamma = 1.5/3 = 0.5.
    assert probs_of(m, vocab, ["a"], ["b", "a", "</s>", "<unk>"]) == pytest.approx(
        [1 / 6 + 0.5 * 0.225, 1 / 6 + 0.5 * 0.325, 1 / 6 + 0.5 * 0.325, 0.5 * 0.125])
    lp = m.log10_probs(encode([["a", "b"]], vocab))
    assert 10**lp == pytest.approx([0.6625, 1 / 6 + 0.5 * 0.225, 0.5 + 0.5 * 0.325])


def test_single_discount_kn_bigram_by_hand(toy):
    vocab, data = toy
    m = quiet_train(data, "ikn", 2)
    # D = n1 / (n1 + 2 n2): order 2 has n1 = 4, n2 = 1 -> 2/3; order 1 has n1 = 1, n2 = 2 -> 1/5.
    assert m.info["discounts"][1][0] == pytest.approx(2 / 3)
    assert m.info["discounts"][0][0] == pytest.approx(0.2)
    # Unigram: gamma = 3 * 0.2 / 5 = 0.12; p(a) = 1.8/5 + 0.03 = 0.39, p(b) = 0.8/5 + 0.03 = 0.19.
    p_a, p_b = 0.39, 0.19
    # p(a|<s>) = (2 - 2/3)/2 + (2/3)/2 * p(a);  p(b|a) = (1 - 2/3)/3 + (3 * 2/3)/3 * p(b).
    assert probs_of(m, vocab, [], ["a"]) == pytest.approx([2 / 3 + p_a / 3])
    assert probs_of(m, vocab, ["a"], ["b"]) == pytest.approx([1 / 9 + 2 / 3 * p_b])


def test_additive_bigram_by_hand(toy):
    vocab, data = toy
    sentence = encode([["a", "b"]], vocab)
    # Laplace: (c(h w) + 1) / (c(h) + 4): p(a|<s>) = 3/6, p(b|a) = 2/7, p(</s>|b) = 2/5.
    assert 10 ** train(data, "laplace", 2).log10_probs(sentence) == pytest.approx([3 / 6, 2 / 7, 2 / 5])
    # add-0.5: 2.5/4, 1.5/5, 1.5/3.
    assert 10 ** train(data, "addk", 2, alpha=0.5).log10_probs(sentence) == pytest.approx([2.5 / 4, 1.5 / 5, 1.5 / 3])
    # MLE: 2/2, 1/3, 1/1; the unseen bigram "b a" gets 0.
    mle = train(data, "mle", 2)
    assert 10 ** mle.log10_probs(sentence) == pytest.approx([1.0, 1 / 3, 1.0])
    assert mle.log10_probs(encode([["b", "a"]], vocab))[1] == -np.inf
    # Unigram MLE: 6 tokens, a 3 times.
    assert 10 ** train(data, "mle", 1).log10_probs(encode([["a"]], vocab))[0] == pytest.approx(3 / 6)


def test_adjusted_counts_trigram_by_hand(toy):
    vocab, data = toy
    trie = NgramTrie.count(data, 3)
    a = adjusted_counts(trie)

    def adj(words):
        ids = [trie.bos_id if w == "<s>" else vocab.id(w) for w in words]
        idx = ids[0]
        for n in range(2, len(words) + 1):
            idx = int(trie.lookup(n, np.array([idx]), np.array([ids[n - 1]]))[0])
        return a[len(words) - 1][idx]

    assert adj(["<s>", "a"]) == 2  # starts with <s>: the raw count
    assert adj(["a", "b"]) == 1  # left extensions: <s> a b
    assert adj(["a", "</s>"]) == 1  # a a </s>
    assert adj(["a"]) == 2  # <s> a, a a
    assert adj(["<s>", "a", "b"]) == 1  # top order: raw count


def test_discount_formulas():
    # n1..n4 = 10, 5, 3, 2: Y = 10/20; D1 = 1 - 2Y(5/10) = 0.5, D2 = 2 - 3Y(3/5) = 1.1, D3+ = 3 - 4Y(2/3).
    a = np.array([1.0] * 10 + [2.0] * 5 + [3.0] * 3 + [4.0] * 2 + [9.0])
    d, reason = modified_discounts(a, 2)
    assert reason is None and d.tolist() == pytest.approx([0, 0.5, 1.1, 3 - 4 / 3])
    d1, _ = single_discount(a, 2)
    assert d1[1] == pytest.approx(0.5)
    d_bad, reason = modified_discounts(np.array([1.0, 1.0, 2.0]), 3)
    assert reason == "no 3-grams with adjusted count 3" and d_bad.tolist() == [0, 0.5, 1, 1.5]


def test_counts_match_a_naive_count_up_to_order_7():
    sents = [s.split() for s in ["a b a b a b a c", "a b c", "c c c c c c c c c", "b"]]
    vocab = Vocabulary.build(sents)
    trie = NgramTrie.count(encode(sents, vocab), 7)
    for n in range(2, 8):
        naive = Counter()
        for s in sents:
            padded = ["<s>"] + s + ["</s>"]
            naive.update(tuple(padded[i:i + n]) for i in range(len(padded) - n + 1))
        tokens = vocab.tokens + ["<s>"]
        ours = {tuple(tokens[i] for i in row): c for row, c in zip(trie.ngram_ids(n).tolist(), trie.counts[n - 1].tolist())}
        assert ours == dict(naive), n


@pytest.fixture(scope="module")
def small_ptb(ptb):
    return ptb.train.subset(slice(0, 3000)), ptb.corpora["valid"].subset(slice(0, 200))


SMOOTHINGS = [("laplace", None), ("addk", 0.05), ("kn", None), ("ikn", None), ("mle", None)]


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("smoothing,alpha", SMOOTHINGS)
def test_distributions_sum_to_one_over_the_vocabulary(small_ptb, smoothing, alpha, order):
    train_data, heldout = small_ptb
    model = quiet_train(train_data, smoothing, order, alpha)
    rng = np.random.default_rng(order)
    seen = model.corpus_states(train_data)[rng.choice(train_data.n_tokens, 300, replace=False)]
    held = model.corpus_states(heldout)[rng.choice(heldout.n_tokens, 300, replace=False)]
    # Random word sequences: mostly unseen histories.
    random_states = model.initial_state(200)
    for _ in range(order):
        random_states = model.advance(random_states, rng.integers(0, len(model.vocab), 200))
    for states in (seen, held, random_states):
        sums = model.distributions(states).sum(axis=1)
        if smoothing == "mle":
            # MLE has a distribution only after a history seen in training (training
            # positions always are); after an unseen one every word gets 0, as in NLTK.
            assert np.all((sums == 0) | np.isclose(sums, 1.0, atol=1e-9))
            if states is seen:
                assert np.allclose(sums, 1.0, atol=1e-9)
        else:
            assert np.allclose(sums, 1.0, atol=1e-9), (smoothing, order, sums.min(), sums.max())
    # The per-token scores agree with the full distributions.
    states = model.corpus_states(heldout)[:500]
    dist = model.distributions(states)
    with np.errstate(divide="ignore"):
        expected = np.log10(dist[np.arange(500), heldout.ids[:500]])
    assert np.allclose(model.log10_probs(heldout)[:500], expected, atol=1e-9)


def test_fallback_discounts_on_repetitive_data_still_sum_to_one():
    sents = [["x", "y"]] * 50  # every n-gram has the same count: no valid discounts
    vocab = Vocabulary.build(sents)
    with pytest.warns(DiscountWarning) as record:
        model = train(encode(sents, vocab), "kn", 3)
    message = str(record[0].message)
    assert "D1=0.5 D2=1 D3+=1.5" in message and "order 3" in message
    assert np.allclose(model.distributions(model.initial_state(1)).sum(), 1.0, atol=1e-12)


@pytest.mark.parametrize("smoothing", ["mle", "laplace", "kn"])
def test_training_on_empty_sentences_only(smoothing):
    # Found by hypothesis: no n-gram of order >= 2 except "<s> </s>", none of order 3.
    sents = [[], []]
    vocab = Vocabulary.build(sents)
    model = quiet_train(encode(sents, vocab), smoothing, 3)
    lp = model.log10_probs(encode([[], ["x"]], vocab))
    assert lp.shape == (3,)
    if smoothing != "mle":
        assert np.allclose(model.distributions(model.corpus_states(encode([["x"]], vocab))).sum(axis=1), 1.0)


def test_recipe_tunes_add_k_on_valid_and_evaluates_every_split():
    from perplex.corpus import Splits
    from perplex.eval import evaluate
    from perplex.errors import PerplexError
    from perplex.lm.recipe import NgramConfig, train_ngram

    sents = [["a", "b", "c"], ["a", "c"], ["b", "c", "a"]] * 5
    vocab = Vocabulary.build(sents)
    valid, test = encode([["a", "b"], ["c", "b", "a"]], vocab), encode([["b", "a", "c"]], vocab)
    data = Splits(vocab, {"train": encode(sents, vocab), "valid": valid, "test": test}, "toy")
    grid = (0.01, 0.1, 1.0)
    run = train_ngram(data, NgramConfig("addk", 2, alpha_grid=grid))
    by_hand = {k: evaluate(train(data.train, "addk", 2, alpha=k), valid).perplexity for k in grid}
    assert run.alpha_scores == pytest.approx(by_hand)
    assert run.model.alpha == min(by_hand, key=by_hand.get)
    assert [e.split for e in run.evaluations] == ["valid", "test"]
    assert run.evaluations[1].perplexity == evaluate(train(data.train, "addk", 2, alpha=run.model.alpha), test).perplexity
    del data.corpora["valid"]
    with pytest.raises(PerplexError, match="needs valid data"):
        train_ngram(data, NgramConfig("addk", 2, alpha_grid=grid))
    with pytest.raises(PerplexError, match="tunes add-k only"):
        NgramConfig("kn", 2, alpha_grid=grid)
