"""perplex explain ngram / perplexity: the explained terms recompose to the model's own
log-probability, hand-computed cases, every format, French, bad input."""

import functools
import json
import math

import numpy as np
import pytest

from perplex.corpus import Vocabulary, encode
from perplex.explain.ngram import explain_sentence
from perplex.explain.perplexity import explain_perplexity
from perplex.lm.smoothing import estimate
from perplex.lm.trie import NgramTrie
from tests.cli_runner import every_format, run_perplex

SMOOTHINGS = ("mle", "laplace", "addk", "kn", "ikn")
TRAIN_SENTENCES = 12000  # a slice of PTB train: every order and smoothing estimated in a few seconds


def run(capsys, *argv):
    return run_perplex(capsys, "explain", *argv)


@pytest.fixture(scope="module")
def ptb_slice(ptb):
    return ptb.train.subset(slice(0, TRAIN_SENTENCES))


@pytest.fixture(scope="module")
def test_sentences(ptb):
    rng = np.random.default_rng(15)
    test = ptb.sentences["test"]
    return [test[i] for i in rng.choice(len(test), 3, replace=False)]


def recompose(levels: list[dict]) -> float:
    """log10 P from the explained terms only, as a student would redo them on paper."""
    p = None
    log10 = 0.0
    for lv in levels:
        kind = lv["kind"]
        if kind == "additive":
            num, den = lv["c_hw"] + lv["alpha"], lv["c_h"] + lv["alpha"] * lv["vocabulary"]
            p = num / den if den > 0 else 0.0
        elif kind in ("kn_unigram", "kn"):
            a, D = lv["a"], lv["discounts"]
            # the discount is the one its count calls for: none, D1, D2 or D3+
            assert lv["discount"] == (0.0 if a == 0 else D[min(int(a), 3) - 1])
            k1, k2, k3 = lv["k"]
            gamma = (k1 * D[0] + k2 * D[1] + k3 * D[2]) / lv["a_sum"]
            assert gamma == pytest.approx(lv["gamma"], rel=1e-12)
            lower = lv["uniform"] if kind == "kn_unigram" else p
            assert kind == "kn_unigram" or lv["lower"] == pytest.approx(p, rel=1e-12)
            p = (a - lv["discount"]) / lv["a_sum"] + gamma * lower
        elif kind == "kn_unseen_context":
            assert lv["gamma"] == 1.0  # p unchanged: the lower order's
        elif kind == "arpa_listed":
            log10 += lv["log10"]
        elif kind == "arpa_backoff":
            log10 += lv["log10_backoff"]
        else:  # pragma: no cover
            raise AssertionError(kind)
    if p is None:
        return log10
    return math.log10(p) if p > 0 else -math.inf


def tokens_of(worked):
    return [s for s in worked.sections if s.kind == "ngram-token"]


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_explained_terms_recompose_to_the_models_log10(ptb_slice, test_sentences, order):
    trie = NgramTrie.count(ptb_slice, order)
    for smoothing in SMOOTHINGS:
        model = estimate(ptb_slice, trie, smoothing)
        for words in test_sentences:
            expected = model.log10_probs(encode([words], model.vocab))
            sections = tokens_of(explain_sentence(model, words))
            assert len(sections) == len(words) + 1  # </s> is predicted, <s> is not
            history = ["<s>"] + [w if w in model.vocab else "<unk>" for w in words]
            for i, (section, want) in enumerate(zip(sections, expected)):
                got = recompose(section.data["levels"])
                if math.isinf(want):
                    assert got == want == -math.inf, (smoothing, order, section.title)
                else:
                    assert got == pytest.approx(want, abs=1e-9), (smoothing, order, section.title)
                # the context shown is the one the model reads: the last order - 1 tokens, cut at <s>
                context = " ".join(history[: i + 1][-(order - 1):]) if order > 1 else "∅"
                assert section.data["context"] == context


def test_the_summary_is_the_evaluations(ptb_slice, test_sentences):
    from perplex.eval import evaluate

    model = estimate(ptb_slice, NgramTrie.count(ptb_slice, 3), "kn")
    words = test_sentences[0]
    summary = explain_sentence(model, words).sections[-1]
    result = evaluate(model, encode([words], model.vocab))
    assert summary.data["tokens"] == len(words) + 1
    assert summary.data["log10_prob"] == result.log10_prob
    assert summary.data["cross_entropy_bits"] == result.cross_entropy_bits
    assert summary.data["perplexity"] == result.perplexity
    assert summary.data["perplexity"] == pytest.approx(10 ** (-result.log10_prob / (len(words) + 1)), rel=1e-12)


# A corpus small enough to count by hand: V = {</s>, <unk>, a, b, c}.
TINY = [["a", "b"], ["a", "c"]]


def tiny_model(smoothing, order=2):
    vocab = Vocabulary.build(TINY)
    corpus = encode(TINY, vocab)
    return estimate(corpus, NgramTrie.count(corpus, order), smoothing)


def test_laplace_bigram_by_hand():
    w = explain_sentence(tiny_model("laplace"), ["a", "b"])
    p = [s.data["probability"] for s in tokens_of(w)]
    # P(a | <s>) = (2 + 1) / (2 + 5), P(b | a) = (1 + 1) / (2 + 5), P(</s> | b) = (1 + 1) / (1 + 5)
    assert p == [pytest.approx(3 / 7, abs=1e-15), pytest.approx(2 / 7, abs=1e-15), pytest.approx(1 / 3, abs=1e-15)]
    first = tokens_of(w)[0].data["levels"][0]
    assert (first["c_hw"], first["c_h"], first["vocabulary"]) == (2.0, 2.0, 5)
    summary = w.sections[-1].data
    assert summary["perplexity"] == pytest.approx((3 / 7 * 2 / 7 * 1 / 3) ** (-1 / 3), rel=1e-12)


def test_mle_zero_and_why():
    w = explain_sentence(tiny_model("mle"), ["a", "zebra"])
    second = tokens_of(w)[1]
    assert second.data["token"] == "<unk>" and second.data["probability"] == 0.0
    assert second.data["log10"] == second.data["model_log10"] == -math.inf
    assert "never occurs in training" in " ".join(second.notes)
    assert any("not in the vocabulary" in n for n in w.notes)
    summary = w.sections[-1].data
    assert summary["perplexity"] == math.inf and summary["zero_prob_tokens"] == 2  # <unk> and </s> after it


def test_kneser_ney_on_tiny_data_shows_the_fallback_discounts():
    from perplex.lm.kneser_ney import DiscountWarning

    with pytest.warns(DiscountWarning):
        model = tiny_model("kn")
    w = explain_sentence(model, ["a", "c"])
    discounts = w.sections[0]
    assert discounts.kind == "ngram-discounts" and discounts.data["discounts"][1] == [0.5, 1.0, 1.5]
    assert any("fallback" in s.label for s in discounts.steps)
    expected = model.log10_probs(encode([["a", "c"]], model.vocab))
    assert [recompose(s.data["levels"]) for s in tokens_of(w)] == pytest.approx(list(expected), abs=1e-12)


def test_kneser_ney_discount_choice_and_continuation_counts(ptb_slice):
    model = estimate(ptb_slice, NgramTrie.count(ptb_slice, 3), "kn")
    market = tokens_of(explain_sentence(model, ["the", "stock", "market"]))[2].data["levels"]
    unigram, bigram, trigram = market
    assert [lv["kind"] for lv in market] == ["kn_unigram", "kn", "kn"]
    assert bigram["count"] == "continuation" and trigram["count"] == "raw"
    assert trigram["context"] == "the stock" and bigram["context"] == "stock"
    assert trigram["a"] >= 3 and trigram["discount"] == model.info["discounts"][2][2]  # D3+ of the 3-grams
    assert unigram["uniform"] == 1 / len(model.vocab)


def test_perplexity_topic_means_of_surprises_and_entropies(ptb_slice, test_sentences):
    from perplex.eval import entropy, evaluate

    model = estimate(ptb_slice, NgramTrie.count(ptb_slice, 2), "kn")
    w = explain_perplexity(model, test_sentences[:2])
    tokens = w.data["per_token"]
    corpus = encode(test_sentences[:2], model.vocab)
    result = evaluate(model, corpus, prediction_entropy=True)
    assert len(tokens) == result.tokens
    assert np.mean([t["surprise_bits"] for t in tokens]) == pytest.approx(result.cross_entropy_bits, rel=1e-12)
    assert w.data["perplexity"] == result.perplexity
    assert 2 ** w.data["cross_entropy_bits"] == pytest.approx(w.data["perplexity"], rel=1e-12)
    rows = np.concatenate(list(model.next_distributions(corpus)))
    assert [t["entropy_bits"] for t in tokens] == pytest.approx(list(entropy(rows, axis=1)), rel=1e-12)
    assert w.data["prediction_entropy_bits"] == pytest.approx(np.mean([t["entropy_bits"] for t in tokens]))


def test_perplexity_topic_by_hand():
    # Laplace unigram: counts </s> 2, <unk> 0, a 2, b 1, c 1 over N = 6 tokens, |V| = 5
    w = explain_perplexity(tiny_model("laplace", order=1), [["a"]])
    p = np.array([3, 1, 3, 2, 2]) / 11
    a, eos = w.data["per_token"]
    assert a["probability"] == pytest.approx(3 / 11) and eos["probability"] == pytest.approx(3 / 11)
    assert a["surprise_bits"] == pytest.approx(-math.log2(3 / 11))
    assert a["entropy_bits"] == pytest.approx(-(p * np.log2(p)).sum())


@pytest.fixture(scope="module")
def train_file(tmp_path_factory, ptb):
    path = tmp_path_factory.mktemp("explain") / "train.txt"
    path.write_text("\n".join(" ".join(s) for s in ptb.sentences["train"][:5000]) + "\n")
    return str(path)


@pytest.mark.parametrize("topic", ["ngram", "perplexity"])
def test_cli_prints_text_md_latex_and_json(capsys, train_file, topic):
    argv = [topic, "the stock market fell", "--train", train_file, "--order", "3"]
    text, _ = every_format(functools.partial(run, capsys), argv)
    assert "perplexity" in text
    assert "&lt;s>" in run(capsys, *argv, "--format", "md")[1]  # <s> is no HTML tag in Markdown
    assert json.loads(run(capsys, *argv, "--json")[1])["kind"] == topic


def test_cli_ngram_json_values_and_french_text(capsys, train_file):
    code, out, err = run(capsys, "ngram", "the stock market fell", "--train", train_file, "--order", "2",
                         "--smoothing", "laplace", "--json")
    assert code == 0, err
    sections = json.loads(out)["sections"]
    tokens = [s for s in sections if s["kind"] == "ngram-token"]
    assert [t["data"]["token"] for t in tokens] == ["the", "stock", "market", "fell", "</s>"]
    assert [t["data"]["log10"] for t in tokens] == pytest.approx([t["data"]["model_log10"] for t in tokens], abs=1e-12)
    summary = sections[-1]["data"]
    assert summary["log10_prob"] == pytest.approx(sum(t["data"]["model_log10"] for t in tokens), abs=1e-12)
    code, text, _ = run(capsys, "ngram", "the stock market fell", "--train", train_file, "--order", "2", "--lang", "fr")
    assert "La phrase entière" in text and "perplexité" in text


def test_cli_explains_an_arpa_file(capsys, ptb_slice, tmp_path, test_sentences):
    from perplex.lm import read_arpa, write_arpa

    path = tmp_path / "m.arpa"
    write_arpa(estimate(ptb_slice, NgramTrie.count(ptb_slice, 3), "kn"), path)  # backoffs at orders 2 and 3
    words = test_sentences[0]
    code, out, err = run(capsys, "ngram", " ".join(words), "--arpa", str(path), "--json")
    assert code == 0, err
    expected = read_arpa(path).log10_probs(encode([words], ptb_slice.vocab))
    tokens = [s for s in json.loads(out)["sections"] if s["kind"] == "ngram-token"]
    assert [recompose(t["data"]["levels"]) for t in tokens] == pytest.approx(list(expected), abs=1e-9)


@pytest.mark.parametrize("argv, message", [
    (["ngram", "the market", "--smoothing", "nope"], "unknown smoothing 'nope'"),
    (["ngram", "   "], "the sentence is empty"),
    (["perplexity", ""], "the sentence is empty"),
    (["ngram", "the </s> market"], "leave </s> out"),
    (["ngram", "a b", "--arpa", "m.arpa", "--order", "2"], "--arpa explains the file's own model"),
    (["ngram", "a b", "--smoothing", "laplace", "--alpha", "0.1"], "--alpha applies to --smoothing addk only"),
    (["ngram", "a b", "--order", "0"], "the order must be a whole number >= 1"),
    (["perplexity", " ".join(["the"] * 250)], "at most 200"),
])
def test_bad_input_is_one_error_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith("perplex: error: ") and err.count("\n") == 1 and message in err
    assert "Traceback" not in err
