"""Reference numbers on the Penn Treebank: KenLM lmplz parity, add-1 figures, NLTK, and
interop with the kenlm Python module."""

import numpy as np
import pytest

from perplex.corpus import Vocabulary, encode
from perplex.eval import evaluate
from perplex.lm import load_model, read_arpa, sample_sentences, save_model, train, write_arpa

# KenLM lmplz (modified KN, default settings) on PTB train, scored by KenLM's query
# (82,430 test tokens, 73,760 valid tokens).
KENLM_TEST = {2: 185.705, 3: 148.281, 4: 142.716, 5: 141.186}
KENLM_VALID = {2: 199.018, 3: 157.765, 4: 149.896, 5: 148.007}


@pytest.fixture(scope="module")
def kn3(ptb):
    return train(ptb.train, "kn", 3)


@pytest.mark.parametrize("order", [2, 3, 4, 5])
def test_modified_kn_matches_kenlm_on_ptb(ptb, order):
    model = train(ptb.train, "kn", order)
    test = evaluate(model, ptb.corpora["test"])
    valid = evaluate(model, ptb.corpora["valid"], "valid")
    assert test.tokens == 82430 and valid.tokens == 73760
    # The issue asks for 0.1%; we hold ourselves to 0.01%.
    assert test.perplexity == pytest.approx(KENLM_TEST[order], rel=1e-4)
    assert valid.perplexity == pytest.approx(KENLM_VALID[order], rel=1e-4)


def test_first_test_sentence_word_by_word_as_kenlm(ptb, kn3):
    # KenLM's 3-gram on "no it was n't black monday </s>".
    kenlm_words = [-2.6589746, -2.9889686, -1.4688163, -1.067548, -4.079182, -1.9148556, -0.75890017]
    r = evaluate(kn3, ptb.corpora["test"])
    assert r.token_log10[:7] == pytest.approx(kenlm_words, abs=1e-4)
    assert r.sentence_log10[0] == pytest.approx(-14.937246, abs=1e-4)


@pytest.mark.parametrize("order,expected", [(2, 824.03), (3, 3307.92)])
def test_add_one_reference_perplexities(ptb, order, expected):
    r = evaluate(train(ptb.train, "laplace", order), ptb.corpora["test"])
    assert r.perplexity == pytest.approx(expected, abs=0.005)


def test_our_arpa_loads_in_kenlm_with_the_same_scores(ptb, kn3, tmp_path):
    kenlm = pytest.importorskip("kenlm")
    path = tmp_path / "ptb3.arpa"
    write_arpa(kn3, path)
    k = kenlm.Model(str(path))
    sentences = ptb.sentences["test"][:500]
    theirs = np.array([k.score(" ".join(s), bos=True, eos=True) for s in sentences])
    ours = evaluate(kn3, ptb.corpora["test"].subset(slice(0, 500))).sentence_log10
    assert np.max(np.abs(theirs - ours)) < 1e-4
    assert k.order == 3


def test_arpa_round_trip_gives_the_same_scores(ptb, kn3, tmp_path):
    path = tmp_path / "ptb3.arpa.gz"
    write_arpa(kn3, path)
    back = read_arpa(path)
    assert back.vocab == kn3.vocab
    test = ptb.corpora["test"]
    assert np.max(np.abs(back.log10_probs(test) - kn3.log10_probs(test))) < 1e-6


def test_saved_model_round_trip_and_sampling(ptb, kn3, tmp_path):
    path = tmp_path / "m.npz"
    save_model(kn3, path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary file left
    back = load_model(path)
    test = ptb.corpora["test"]
    assert np.array_equal(back.log10_probs(test), kn3.log10_probs(test))
    a = sample_sentences(back, 4, seed=7)
    assert a == sample_sentences(kn3, 4, seed=7) and a != sample_sentences(kn3, 4, seed=8)
    assert all(w in kn3.vocab for s in a for w in s)
    laplace = train(ptb.train.subset(slice(0, 500)), "laplace", 2)
    save_model(laplace, path)
    assert np.array_equal(load_model(path).log10_probs(test), laplace.log10_probs(test))


def test_mle_samples_only_seen_bigrams():
    sents = [s.split() for s in ["the cat sat", "the dog ran", "a cat ran"]]
    vocab = Vocabulary.build(sents)
    model = train(encode(sents, vocab), "mle", 2)
    seen = {(a, b) for s in sents for a, b in zip(["<s>"] + s, s + ["</s>"])}
    for s in sample_sentences(model, 30, seed=0):
        words = ["<s>"] + s
        assert all(pair in seen for pair in zip(words, words[1:]))


@pytest.fixture(scope="module")
def nltk_setup(ptb):
    from nltk.lm import MLE, Laplace
    from nltk.lm.preprocessing import pad_both_ends
    from nltk.lm.vocabulary import Vocabulary as NltkVocabulary
    from nltk.util import everygrams

    sents = ptb.sentences["train"][:400]
    test_sents = ptb.sentences["test"][:60]

    class WithoutStart(NltkVocabulary):
        # NLTK counts <s> as a vocabulary word (ours does not: it is never predicted),
        # and lists <unk> twice when the text already contains it (the PTB does).
        # Those are the differences in definitions, so compare with |V| without them.
        def __len__(self):
            return len(set(self)) - 1

    def fit(cls):
        padded = [list(pad_both_ends(s, n=2)) for s in sents]
        vocab = WithoutStart([w for s in padded for w in s], unk_cutoff=1, unk_label="<unk>")
        model = cls(2, vocabulary=vocab)
        model.fit([list(everygrams(s, max_len=2)) for s in padded])
        return model

    vocab = Vocabulary.build(sents)
    data = encode(sents, vocab)
    return fit, MLE, Laplace, data, encode(test_sents, vocab), test_sents


@pytest.mark.parametrize("which", ["MLE", "Laplace"])
def test_nltk_gives_the_same_per_token_values(nltk_setup, which):
    fit, MLE, Laplace, data, test, test_sents = nltk_setup
    nltk_model = fit({"MLE": MLE, "Laplace": Laplace}[which])
    ours = train(data, which.lower(), 2)
    assert len(nltk_model.vocab) == len(ours.vocab)
    expected = []
    for s in test_sents:
        words = ["<s>"] + [w if w in ours.vocab else "<unk>" for w in s] + ["</s>"]
        expected += [nltk_model.score(w, [h]) for h, w in zip(words, words[1:])]
    with np.errstate(divide="ignore"):
        assert np.allclose(10 ** ours.log10_probs(test), expected, rtol=1e-12, atol=0)
