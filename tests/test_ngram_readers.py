"""The n-gram readers refuse impossible files with one line naming the file (ARPA and
.npz, one invariant per case), still read good ones to the same numbers, and extreme
orders and sampling options end in a model or a one-line error, never a traceback."""

import json
import warnings

import numpy as np
import pytest

from perplex.corpus import Vocabulary, encode
from perplex.errors import PerplexError
from perplex.eval import evaluate
from perplex.lm import BackoffModel, NgramTrie, load_model, read_arpa, sample_sentences, save_model, train, write_arpa
from perplex.lm.validate import TOLERANCE, check_normalized
from tests.cli_runner import run_perplex as run

SENTS = [s.split() for s in ["the cat sat on the mat", "the dog sat on the log", "a cat saw a dog", "the end"]] * 3
VOCAB = Vocabulary.build(SENTS)
DATA = encode(SENTS, VOCAB)
V = len(VOCAB)


def fit(smoothing, order):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny data: fallback discounts
        return train(DATA, smoothing, order, 0.1 if smoothing == "addk" else None)


def refused(read, path, pattern):
    """``read(path)`` raises a one-line PerplexError naming ``path`` and matching ``pattern``."""
    with pytest.raises(PerplexError) as info:
        read(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message, message
    assert pattern in message, message
    return message


# ----------------------------------------------------------------------------- ARPA
# A normalized bigram model: p(</s>) = p(a) = 0.5, p(a | <s>) = 10^-0.1, p(</s> | a) = 10^-0.2,
# the backoffs making each distribution sum to 1 (<unk> gets KenLM's 10^-100).
ARPA = ("\\data\\\nngram 1=3\nngram 2=2\n\n\\1-grams:\n-0.30103\t</s>\n-99\t<s>\t-0.38580\n-0.30103\ta\t-0.13189\n\n"
        "\\2-grams:\n-0.1\t<s> a\n-0.2\ta </s>\n\n\\end\\\n")


def arpa_file(tmp_path, text):
    path = tmp_path / "m.arpa"
    path.write_text(text)
    return path


def test_the_reference_arpa_is_good(tmp_path):
    with pytest.warns(UserWarning, match="has no <unk>"):
        model = read_arpa(arpa_file(tmp_path, ARPA))
    assert model.log10_probs(encode([["a"]], model.vocab)).sum() == pytest.approx(-0.3)
    dist = model.distributions(model.corpus_states(encode([["a", "a"]], model.vocab)))
    assert np.allclose(dist.sum(axis=1), 1, atol=1e-5)


@pytest.mark.parametrize("old, new, pattern", [
    ("-0.1\t<s> a", "0.1\t<s> a", "'<s> a' has log10 probability 0.1 > 0"),
    ("-0.30103\ta", "nan\ta", "'a' has log10 probability nan"),
    ("-0.30103\ta\t-0.13189", "-0.30103\ta\tinf", "'a' has log10 backoff inf"),
    ("-0.2\ta </s>", "-inf\ta </s>", "'a </s>' has log10 probability -inf"),
    ("-0.30103\ta\t", "-0.30103\t</s>\n-0.30103\ta\t", "declares 3 1-grams but the section has 4"),
    ("-0.30103\ta\t-0.13189", "-0.30103\ta\t-0.13189\n-0.30103\ta\t-0.13189", "declares 3 1-grams"),
    ("-0.2\ta </s>", "-0.2\ta </s>\n-0.2\ta </s>", "declares 2 2-grams"),
    ("ngram 2=2", "ngram 2=3", "declares 3 2-grams"),
    ("-0.2\ta </s>", "-0.2\ta <s>", "the 2-gram 'a <s>' has <s> after its first word"),
    ("ngram 2=2\n", "ngram 2=2\nngram 2=2\n", "once for each order"),
    ("ngram 2=2\n", "ngram 2=2\nhello\n", "not 'ngram N=count': 'hello'"),
    ("-0.30103\t</s>", "-0.2\t</s>", "the unigram distribution sums to 1.13"),
    ("-0.1\t<s> a", "-0.01\t<s> a", "the distribution after '<s>' sums to 1.18"),
    ("\ta\t-0.13189", "\ta\t-0.03189", "the distribution after 'a' sums to 1.0955"),
])
def test_impossible_arpa_files_are_refused(tmp_path, old, new, pattern):
    assert old in ARPA
    refused(read_arpa, arpa_file(tmp_path, ARPA.replace(old, new, 1)), pattern)


def test_duplicate_and_missing_prefix_ngrams_are_named(tmp_path):
    text = ARPA.replace("ngram 1=3", "ngram 1=4").replace("-0.30103\ta\t-0.13189", "-0.30103\ta\t-0.13189\n-0.5\ta\t0")
    refused(read_arpa, arpa_file(tmp_path, text), "the unigram 'a' is listed twice")
    text = ARPA.replace("ngram 2=2", "ngram 2=3").replace("-0.2\ta </s>", "-0.2\ta </s>\n-0.3\ta </s>")
    refused(read_arpa, arpa_file(tmp_path, text), "the 2-gram 'a </s>' is listed twice")
    text = ARPA.replace("ngram 2=2\n", "ngram 2=2\nngram 3=1\n").replace("\\end\\", "\\3-grams:\n-0.1\ta a </s>\n\n\\end\\")
    refused(read_arpa, arpa_file(tmp_path, text), "'a a </s>' has no 2-gram prefix")


def test_a_probability_of_one_is_fine(tmp_path):
    # p(a | <s>) = 1 (log10 0): the backoff of <s> must then carry no mass.
    text = ARPA.replace("-0.1\t<s> a", "0\t<s> a").replace("-99\t<s>\t-0.38580", "-99\t<s>\t-99")
    with pytest.warns(UserWarning):
        model = read_arpa(arpa_file(tmp_path, text))
    assert model.log10_probs(encode([["a"]], model.vocab))[0] == 0.0


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("smoothing", ["kn", "ikn"])
def test_our_arpa_files_read_back_to_the_same_perplexity(tmp_path, smoothing, order):
    model = fit(smoothing, order)
    write_arpa(model, tmp_path / "m.arpa")
    back = read_arpa(tmp_path / "m.arpa")
    data = encode(SENTS, back.vocab)
    assert evaluate(back, data).perplexity == pytest.approx(evaluate(model, DATA).perplexity, rel=1e-6)


def test_ptb_arpa_reads_back_and_agrees_with_kenlm(ptb, tmp_path):
    kn3 = train(ptb.train, "kn", 3)
    path = tmp_path / "ptb3.arpa"
    write_arpa(kn3, path)
    back = read_arpa(path)
    test = ptb.corpora["test"]
    assert evaluate(back, test).perplexity == pytest.approx(148.281, rel=1e-4)  # KenLM's query on lmplz's file
    kenlm = pytest.importorskip("kenlm")
    k = kenlm.Model(str(path))
    sentences = ptb.sentences["test"][:200]
    theirs = np.array([k.score(" ".join(s), bos=True, eos=True) for s in sentences])
    assert np.max(np.abs(theirs - evaluate(back, test.subset(slice(0, 200))).sentence_log10)) < 1e-4


def test_our_ptb_models_of_orders_1_to_5_are_distributions(ptb, tmp_path):
    from perplex.lm import estimate_kneser_ney

    counted = NgramTrie.count(ptb.train, 5)
    V = len(ptb.train.vocab)
    for order in range(1, 6):  # the first tables of the 5-gram trie are the lower orders' tries
        trie = NgramTrie(order, V, counted.keys[:order], counted.counts[:order])
        for modified in (True, False) if order in (3, 5) else (True,):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = estimate_kneser_ney(ptb.train, order, modified, trie=trie)
            check_normalized(model, "PTB", tolerance=1e-9)
            if modified:
                kn = model
    path = tmp_path / "kn5.npz"
    save_model(kn, path)
    assert evaluate(load_model(path), ptb.corpora["test"]).perplexity == pytest.approx(141.186, rel=1e-4)


# ------------------------------------------------------------------------------ npz
def npz_arrays(model, tmp_path):
    path = tmp_path / "good.npz"
    save_model(model, path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["header"] = json.loads(str(arrays["header"]))
    return arrays


def write_npz(path, arrays):
    arrays = dict(arrays)
    arrays["header"] = np.array(json.dumps(arrays["header"]))
    np.savez(path, **arrays)
    return path


def with_header(**changes):
    return lambda a: a["header"].update(changes)


def setitem(name, index, value):
    def mutate(a):
        a[name] = a[name].astype(np.result_type(a[name], type(value)))
        a[name][index] = value
    return mutate


def replace(name, fn):
    return lambda a: a.__setitem__(name, fn(a[name]))


def swap_first_two(x):
    x = x.copy()
    x[[0, 1]] = x[[1, 0]]
    return x


BACKOFF_CASES = [
    (with_header(order=-1), "the header's order is -1"),
    (with_header(order=2.0), "the header's order is 2.0"),
    (with_header(order=2), "this file lacks [] and has ['fence3', 'keys3', 'logbo2', 'logp3'] besides"),
    (with_header(order=4), "lacks ['fence4', 'keys4', 'logbo3', 'logp4']"),
    (with_header(order=10**12), "holds only"),
    (with_header(kind="neural"), "kind is 'neural'"),
    (with_header(name=None), "name is None"),
    (lambda a: a.pop("logbo2"), "lacks ['logbo2']"),
    (replace("vocab", lambda v: v.reshape(1, -1)), "the vocabulary should be a 1-D array of strings"),
    (replace("vocab", lambda v: np.concatenate([v[:-1], v[2:3]])), "the same token twice"),
    (replace("vocab", lambda v: np.array(v.tolist()[:3] + ["two words"] + v.tolist()[4:])), "with whitespace"),
    (replace("vocab", swap_first_two), "a vocabulary starts with </s> and <unk>"),
    (replace("vocab_counts", lambda c: c[:-1]), f"the vocabulary counts has {V - 1} entries, the model needs {V}"),
    (setitem("vocab_counts", 2, -5), "negative"),
    (replace("keys2", lambda k: k[::-1]), "the 2-gram keys are not strictly increasing at entry 1"),
    (replace("keys3", lambda k: np.sort(np.concatenate([k, k[:1]]))), "the 3-gram keys are not strictly increasing"),
    (replace("keys2", lambda k: k + (V + 1) * 3), "the 2-gram keys point outside the 13 1-grams"),
    (replace("keys3", lambda k: k - 10**6), "the 3-gram keys point outside"),
    (replace("keys2", lambda k: k.astype(np.float64)), "the 2-gram keys should be a 1-D array of integers"),
    (replace("keys2", lambda k: np.sort(np.append(k, 2 * (V + 1) + V))), "has <s> after its first word"),
    (replace("logp3", lambda p: p[:-2]), "the 3-gram log10 probabilities has"),
    (replace("logp2", lambda p: p.astype(np.int64)), "the 2-gram log10 probabilities should be a 1-D array of floats"),
    (setitem("logp2", 4, np.nan), "log10 probability nan"),
    (setitem("logp1", 3, 0.25), "log10 probability 0.25 > 0"),
    (setitem("logbo1", 3, np.inf), "log10 backoff inf"),
    (setitem("logbo2", 0, -np.inf), "log10 backoff -inf"),
    (replace("logp1", lambda p: p - 0.1), "the unigram distribution sums to 0.79"),
    (replace("logp2", lambda p: p + np.where(p < -0.2, 0.2, 0)), "the distribution after"),
    (replace("logbo2", lambda b: b + 0.5), "the distribution after"),
]


@pytest.mark.parametrize("mutate, pattern", BACKOFF_CASES)
def test_impossible_backoff_npz_files_are_refused(tmp_path, mutate, pattern):
    arrays = npz_arrays(fit("kn", 3), tmp_path)
    mutate(arrays)
    refused(load_model, write_npz(tmp_path / "bad.npz", arrays), pattern)


ADDITIVE_CASES = [
    (with_header(alpha=float("nan")), "the header's alpha is nan"),
    (with_header(alpha=-1), "the header's alpha is -1"),
    (with_header(alpha="1"), "the header's alpha is '1'"),
    (with_header(kind="backoff"), "lacks ['logbo1', 'logbo2', 'logp1', 'logp2', 'logp3']"),
    (setitem("counts2", 0, -1), "has count -1"),
    (setitem("counts2", 0, 0), "has count 0"),
    (replace("counts3", lambda c: c.astype(np.float64)), "the 3-gram counts should be a 1-D array of integers"),
    (replace("counts1", lambda c: c[:-1]), "the 1-gram counts has 12 entries, the model needs 13"),
    (setitem("counts1", V, 4), "<s> has unigram count 4"),
    (replace("counts2", lambda c: c + 1), "but its continuations count"),
    (replace("counts1", lambda c: np.zeros_like(c)), "the unigram counts are all 0"),
]


@pytest.mark.parametrize("mutate, pattern", ADDITIVE_CASES)
def test_impossible_additive_npz_files_are_refused(tmp_path, mutate, pattern):
    arrays = npz_arrays(fit("mle", 3), tmp_path)
    mutate(arrays)
    refused(load_model, write_npz(tmp_path / "bad.npz", arrays), pattern)


def test_a_corrupt_npy_header_or_zip_is_refused(tmp_path):
    import zipfile

    path = tmp_path / "m.npz"
    save_model(fit("kn", 2), path)
    # keys2.npy declaring 10^11 entries (800 GB) over the bytes of its 19: refused before numpy allocates.
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    keys = np.load(__import__("io").BytesIO(members["keys2.npy"]))
    header = __import__("io").BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<i8", "fortran_order": False, "shape": (10**11,)})
    members["keys2.npy"] = header.getvalue() + keys.tobytes()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    refused(load_model, path, "not a readable perplex n-gram model")
    good = tmp_path / "good.npz"
    save_model(fit("kn", 2), good)
    data = good.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    refused(load_model, path, "not a readable perplex n-gram model")
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF  # inside an array: the zip's CRC catches it
    path.write_bytes(bytes(flipped))
    with pytest.raises(PerplexError, match=str(path)):
        load_model(path)


@pytest.mark.parametrize("smoothing", ["kn", "ikn", "mle", "laplace", "addk"])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_good_npz_files_still_load_to_the_same_numbers(tmp_path, smoothing, order):
    model = fit(smoothing, order)
    save_model(model, tmp_path / "m.npz")
    back = load_model(tmp_path / "m.npz")
    assert np.array_equal(back.log10_probs(DATA), model.log10_probs(DATA))
    assert back.smoothing == model.smoothing and back.order == model.order


def test_the_cli_prints_the_refusal_in_one_line(capsys, tmp_path):
    arrays = npz_arrays(fit("kn", 2), tmp_path)
    arrays["logp2"] = arrays["logp2"] + 0.3
    path = write_npz(tmp_path / "bad.npz", arrays)
    test = tmp_path / "t.txt"
    test.write_text("the cat\n")
    code, out, err = run(capsys, "score", "--model", path, "--test", test)
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith(f"perplex: error: corrupt model file {path}: ")


# ----------------------------------------------------------------- extreme numbers
def test_an_order_above_the_longest_sentence_is_capped_with_the_same_numbers(capsys, tmp_path):
    train_file, test_file = tmp_path / "train.txt", tmp_path / "test.txt"
    train_file.write_text("a b c\nb c d\na c\n")
    test_file.write_text("a b c d a b c\nd d\n")
    figures = {}
    for order in (5, 5000, 10_000_000):
        code, out, err = run(capsys, "ngram", "--train", train_file, "--test", test_file, "--order", order, "--json")
        assert code == 0, err
        figures[order] = json.loads(out)[0]["perplexity"]
        assert ("above the longest n-gram of the training text (5 tokens" in err) == (order > 5)
    assert figures[5000] == figures[10_000_000] == figures[5]


@pytest.mark.parametrize("smoothing", ["kn", "ikn", "mle", "addk"])
def test_orders_above_the_longest_ngram_change_no_probability(monkeypatch, smoothing):
    # Build the uncapped model (empty tables above order 5) and compare it with the capped one.
    import perplex.lm.trie as trie_module

    sents = [s.split() for s in ["a b c", "b c d", "a c"]]
    vocab = Vocabulary.build(sents)
    test = encode([["a", "b", "c", "d", "a", "b", "c"], ["d", "d"], ["a", "b", "c"]], vocab)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        capped = train(encode(sents, vocab), smoothing, 9, 0.3 if smoothing == "addk" else None)
        monkeypatch.setattr(trie_module, "useful_order", lambda corpus, order: order)
        full = train(encode(sents, vocab), smoothing, 9, 0.3 if smoothing == "addk" else None)
    assert capped.order == 5 and full.order == 9 and full.trie.size(6) == 0
    with np.errstate(divide="ignore"):
        assert np.array_equal(capped.log10_probs(test), full.log10_probs(test))
    assert np.allclose(capped.distributions(capped.corpus_states(test)), full.distributions(full.corpus_states(test)),
                       rtol=0, atol=1e-15)


def test_thousands_of_orders_need_no_recursion():
    sentence = [f"w{i % 50}" for i in range(1200)]  # beyond Python's recursion limit
    vocab = Vocabulary.build([sentence])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = train(encode([sentence], vocab), "kn", 1201)
    assert model.order == 1201 and model.trie.size(1201) == 2  # "<s> w0 ... w1199" and "w0 ... w1199 </s>"
    assert model.trie.suffix(1201).tolist() == [1, 0]  # each 1201-gram's last 1200 words, in table 1200
    r = evaluate(model, encode([sentence[:40]], vocab))
    assert np.isfinite(r.perplexity)


def test_an_order_the_memory_cannot_hold_is_refused(capsys, tmp_path):
    one_line = tmp_path / "one_line.txt"
    one_line.write_text(" ".join(f"w{i % 1000}" for i in range(300_000)) + "\n")
    code, _, err = run(capsys, "ngram", "--train", one_line, "--test", one_line, "--order", 300_000)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "perplex: error: an order-300000 n-gram model of 300,001 training tokens needs about" in err
    assert "TiB of memory" in err


def test_scoring_with_a_huge_order_is_refused_before_allocating():
    trie = NgramTrie(10**12, V, [None])
    model = BackoffModel(VOCAB, trie, [np.zeros(V + 1)], [])
    with pytest.raises(PerplexError, match="scoring 3 tokens with an order-1000000000000 model needs about"):
        model.log10_probs(encode([["the", "cat"]], VOCAB))


def test_ptb_order_10_keeps_its_figure(ptb):
    assert evaluate(train(ptb.train, "kn", 10), ptb.corpora["test"]).perplexity == pytest.approx(140.76135, rel=1e-6)


def test_generate_with_extreme_options(capsys, tmp_path):
    path = tmp_path / "m.npz"
    save_model(fit("kn", 3), path)
    code, out, err = run(capsys, "generate", "--model", path, "-n", 4, "--seed", 3, "--max-len", 10**20)
    assert code == 0, err
    assert len(out.splitlines()) == 4 and all(w in VOCAB for w in out.split())
    code, out, _ = run(capsys, "generate", "--model", path, "-n", 3, "--seed", 2**32 - 1, "--temperature", "1e-300")
    assert code == 0 and len(out.splitlines()) == 3 and all(w in VOCAB for w in out.split())
    for seed in (-1, 2**32, 10**30):
        code, _, err = run(capsys, "generate", "--model", path, "--seed", seed)
        assert code == 2 and f"--seed: must be from 0 to 4294967295, got {seed}" in err
    code, _, err = run(capsys, "generate", "--model", path, "--temperature", "-2")
    assert code == 1 and err == "perplex: error: --temperature must be a finite number > 0, got -2.0\n"
    code, _, err = run(capsys, "generate", "--model", path, "--temperature", "nan")
    assert code == 2 and "must be a finite number" in err


def test_a_tiny_temperature_is_greedy_not_nan():
    from perplex.lm.sampling import reshape_distribution

    probs = np.array([[0.5, 0.3, 0.2, 0.0], [0.1, 0.1, 0.8, 0.0]])
    assert reshape_distribution(probs, 1e-300).tolist() == [[1, 0, 0, 0], [0, 0, 1, 0]]
    assert np.allclose(reshape_distribution(probs, 1e300), [[1 / 3, 1 / 3, 1 / 3, 0]] * 2)


def test_sampling_goes_by_batches_of_sentences(monkeypatch):
    import perplex.lm.sampling as sampling

    model = fit("kn", 2)
    assert sample_sentences(model, 7, seed=4) == sample_sentences(model, 7, seed=4)
    monkeypatch.setattr(sampling, "STEP_BYTES", 1)  # one sentence per batch
    batched = sample_sentences(model, 7, seed=4, max_len=3)
    assert len(batched) == 7 and all(1 <= len(s) <= 3 or s == [] for s in batched)
    assert batched == sample_sentences(model, 7, seed=4, max_len=3)
    assert all(w in VOCAB for s in batched for w in s)


def test_a_transformer_refuses_a_negative_seed_and_an_endless_max_len(capsys, tmp_path):
    pytest.importorskip("torch")
    from perplex.attention.checkpoint import save_checkpoint
    from perplex.attention.model import TransformerConfig, TransformerLM

    model = TransformerLM(TransformerConfig(vocab_size=V, context=8, n_layers=1, d_model=8, n_heads=2, cutoffs=(4,),
                                            dropout=0.0))
    ckpt = tmp_path / "t.pt"
    save_checkpoint(ckpt, model, VOCAB)
    code, _, err = run(capsys, "generate", "--model", ckpt, "--prompt", "the", "--max-len", 10**20)
    assert code == 1 and err.startswith("perplex: error: --max-len 100,000,000,000,000,000,000 needs about")
    code, _, err = run(capsys, "generate", "--model", ckpt, "--prompt", "the", "--seed", -1)
    assert code == 2 and "--seed: must be from 0 to 4294967295, got -1" in err
    code, _, err = run(capsys, "generate", "--model", ckpt, "--prompt", "the", "--seed", 2, "-n", 2**64)
    assert code == 1 and "below 2**64" in err
    code, out, err = run(capsys, "generate", "--model", ckpt, "--prompt", "the", "--seed", 2**32 - 1, "-n", 2,
                         "--max-len", 3)
    assert code == 0, err


def test_tolerance_is_what_the_readers_use():
    assert 1e-4 <= TOLERANCE <= 1e-3
