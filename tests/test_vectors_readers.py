"""Bad vectors files, degenerate queries, absurd training settings and strict JSON.

Every file here is made by hand: each kind of damage must end in one PerplexError
naming the file (never an allocation error, a traceback or a silently wrong matrix),
and each degenerate query in one line on stderr.
"""

from __future__ import annotations

import json
import math
import struct
import tracemalloc
import warnings

import numpy as np
import pytest

from perplex import cli
from perplex.embeddings.queries import analogy, most_similar, unit_vectors
from perplex.embeddings.vectors import load_vectors, save_vectors, sniff_format, to_keyed_vectors
from perplex.errors import PerplexError
from perplex.jsonout import dumps, json_safe, loads_strict

WORDS = ["king", "queen", "man", "woman"]
MATRIX = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1]], np.float32)


def f32(*values) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def binary(entries, header=None) -> bytes:
    """A word2vec binary file: 'V d' header, then word, space, float32s, newline."""
    dim = len(entries[0][1])
    head = header if header is not None else f"{len(entries)} {dim}"
    return head.encode() + b"\n" + b"".join(w.encode() + b" " + f32(*v) + b"\n" for w, v in entries)


TEXT_OK = "4 3\nking 1 1 0\nqueen 1 0 1\nman 0 1 0\nwoman 0 0 1\n"
GLOVE_OK = "king 1 1 0\nqueen 1 0 1\nman 0 1 0\nwoman 0 0 1\n"
BINARY_OK = binary(list(zip(WORDS, MATRIX.tolist())))

# (file name, content, a fragment the one-line message must hold besides the file name)
BAD_FILES = [
    ("huge-count.txt", "1000000000000 3\n" + TEXT_OK.split("\n", 1)[1], "1,000,000,000,000 vectors"),
    ("huge-dim.txt", "4 1000000000\n" + TEXT_OK.split("\n", 1)[1], "dimension 1,000,000,000"),
    ("huge-count.bin", b"1000000000000 3\n" + BINARY_OK.split(b"\n", 1)[1], "truncated"),
    ("huge-dim.bin", b"4 1000000000\n" + BINARY_OK.split(b"\n", 1)[1], "truncated"),
    ("cut-in-vector.bin", BINARY_OK[:-7], "truncated"),
    ("cut-in-word.bin", binary([("king", [1, 1, 0]), ("queen", [1, 0, 1])], header="3 3") + b"wom", "truncated"),
    ("nan.txt", TEXT_OK.replace("man 0 1 0", "man 0 nan 0"), "line 4 holds nan"),
    ("inf.txt", TEXT_OK.replace("man 0 1 0", "man 0 -inf 0"), "line 4 holds -inf"),
    ("overflow.txt", TEXT_OK.replace("man 0 1 0", "man 0 1e39 0"), "float32"),
    ("nan.bin", binary([("king", [1, 1, 0]), ("queen", [1, float("nan"), 1])]), "vector 2 ('queen')"),
    ("inf.bin", binary([("king", [1, float("inf"), 0])]), "nan or inf"),
    ("inf.glove.txt", GLOVE_OK.replace("queen 1 0 1", "queen 1 inf 1"), "line 2 holds inf"),
    ("duplicate.txt", TEXT_OK.replace("woman", "king"), "'king' has two vectors (line 2 and line 5)"),
    ("duplicate.bin", binary([("king", [1, 1, 0]), ("man", [0, 1, 0]), ("king", [0, 0, 1])]), "'king' has two"),
    ("duplicate.glove.txt", GLOVE_OK + "man 1 1 1\n", "'man' has two vectors"),
    ("latin1.txt", "2 3\ncaf\xe9 1 1 0\nman 0 1 0\n".encode("latin-1"), "not UTF-8"),
    ("latin1.bin", b"1 1\ncaf\xe9 " + f32(1.0), "not UTF-8"),
    ("header-only.txt", "4 3\n", "no vector follows"),
    ("header-zero.txt", "0 3\n", "nothing to load"),
    ("too-many.txt", TEXT_OK.replace("4 3", "3 3"), "line 5 is vector 4"),
    ("too-few.txt", TEXT_OK.replace("4 3", "5 3"), "truncated"),
    ("short-line.txt", TEXT_OK.replace("man 0 1 0", "man 0 1"), "line 4 has 2 numbers"),
    ("long-line.glove.txt", GLOVE_OK.replace("man 0 1 0", "man 0 1 0 7"), "line 3 has 4 numbers"),
    ("word-as-number.txt", TEXT_OK.replace("man 0 1 0", "man 0 one 0"), "'one' where a number should be"),
    ("trailing-junk.bin", BINARY_OK + b"and then some more bytes that are no vector", "bytes follow"),
    ("space-word.bin", b"1 1\n " + f32(1.0) + b"\n", "empty"),
    ("notes.txt", "hello world\nthis is prose\n", "not a vectors file"),
    ("empty.txt", "", "empty"),
]


@pytest.mark.parametrize("name, content, fragment", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_vectors_file_is_one_line_naming_it(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(PerplexError) as exc:
        load_vectors(path)
    message = str(exc.value)
    assert "\n" not in message and str(path) in message and fragment in message, message


def test_huge_header_is_refused_before_allocating(tmp_path):
    # 2 million vectors of dimension 50 would be a 400 MB matrix: numpy allocates that
    # lazily, so only the size check keeps it from being requested at all
    path = tmp_path / "lying.bin"
    path.write_bytes(b"2000000 50\n" + BINARY_OK.split(b"\n", 1)[1])
    tracemalloc.start()
    try:
        with pytest.raises(PerplexError, match="truncated"):
            load_vectors(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


@pytest.mark.parametrize("name, content, fmt", [
    ("v.txt", TEXT_OK, "text"), ("v.glove", GLOVE_OK, "glove"), ("v.bin", BINARY_OK, "binary"),
    ("crlf.glove", GLOVE_OK.replace("\n", "\r\n") + "\r\n\r\n", "glove"),
    ("tabs-and-blank-lines.txt", "\n".join(["4 3", "", *TEXT_OK.splitlines()[1:]]).replace(" 0", "\t0") + "\n\n", "text"),
    ("no-newlines.bin", b"4 3\n" + b"".join(w.encode() + b" " + f32(*v) for w, v in zip(WORDS, MATRIX.tolist())), "binary"),
])
def test_good_files_read_exactly(tmp_path, name, content, fmt):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    assert sniff_format(path) == fmt
    kv = load_vectors(path)
    assert kv.index_to_key == WORDS and kv.vectors.dtype == np.float32
    np.testing.assert_array_equal(kv.vectors, MATRIX)


def test_round_trip_matches_gensim_reader(tmp_path):
    from gensim.models import KeyedVectors

    rng = np.random.default_rng(0)
    words = ["the", "café", "naïve", "ab", "東京", "x"]
    kv = to_keyed_vectors(words, rng.normal(size=(6, 5)).astype(np.float32) * 1e3)
    for name, binary_file in (("r.txt", False), ("r.bin", True)):
        save_vectors(kv, tmp_path / name)
        ours = load_vectors(tmp_path / name)
        theirs = KeyedVectors.load_word2vec_format(str(tmp_path / name), binary=binary_file)
        assert ours.index_to_key == words == theirs.index_to_key
        np.testing.assert_array_equal(ours.vectors, kv.vectors)
        np.testing.assert_array_equal(ours.vectors, theirs.vectors)
    # only ASCII whitespace separates fields: a no-break space (fastText has such words) is part of a word
    (tmp_path / "nbsp.txt").write_text("2 2\na\u00a0b 1 2\nc 3 4\n", encoding="utf-8")
    assert load_vectors(tmp_path / "nbsp.txt").index_to_key == ["a\u00a0b", "c"]


def test_unit_vectors_of_huge_values_keep_their_direction():
    # squares of 1e30 overflow float32: the norm must not become inf (and the row 0)
    kv = to_keyed_vectors(["a", "b", "c"], np.array([[3e30, 4e30], [1e-30, 0], [0, 0]], np.float32))
    unit = unit_vectors(kv)
    np.testing.assert_allclose(unit, [[0.6, 0.8], [1, 0], [0, 0]], rtol=1e-6)
    assert most_similar(kv, "b", topn=5) == [("a", pytest.approx(0.6))]  # c (all zeros) is no neighbour


# -- degenerate queries -------------------------------------------------------------------

def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(code, err, *fragments):
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("perplex: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def vectors(tmp_path):
    def write(name, text):
        path = tmp_path / name
        path.write_text(text)
        return path
    return write


def test_analogy_with_every_candidate_excluded(capsys, vectors):
    path = vectors("three.txt", "3 2\nalpha 1 0\nbeta 0 1\ngamma 1 1\n")
    code, out, err = run(capsys, "analogy", "alpha", "beta", "gamma", "--vectors", path)
    one_line(code, err, "only 3 words, all in the query", "alpha - beta + gamma")
    assert out == ""
    with pytest.raises(PerplexError, match="no word is left"):
        analogy(load_vectors(path), "alpha", "beta", "gamma", method="3cosmul")


def test_zero_vectors_have_no_neighbours_and_are_no_neighbours(capsys, vectors):
    path = vectors("zero.txt", "4 3\nnought 0 0 0\nbeta 1 0 0\ngamma 0 1 0\ndelta 1 1 0\n")
    code, _, err = run(capsys, "similar", "nought", "--vectors", path)
    one_line(code, err, "'nought' is all zeros", "no neighbours")
    code, _, err = run(capsys, "analogy", "beta", "nought", "gamma", "--vectors", path)
    one_line(code, err, "'nought' is all zeros")
    code, out, _ = run(capsys, "similar", "beta", "--vectors", path, "--topn", 1000, "--json")
    assert code == 0 and [w for w, _ in json.loads(out)] == ["delta", "gamma"]  # --topn beyond |V|: all there is


def test_vocabulary_of_one_word(capsys, vectors):
    path = vectors("one.txt", "1 2\nsolo 1 0\n")
    code, _, err = run(capsys, "similar", "solo", "--vectors", path)
    one_line(code, err, "a single word", "'solo' has no neighbours")
    code, _, err = run(capsys, "embed-plot", path, "--out", path.with_suffix(".png"))
    one_line(code, err, "at least 2 words")


def test_pca_map_of_degenerate_vectors(capsys, vectors, tmp_path):
    png = tmp_path / "map.png"
    same = vectors("same.txt", "3 2\na 1 1\nb 2 2\nc 3 3\n")  # one direction: one point on the map
    code, _, err = run(capsys, "embed-plot", same, "--out", png)
    one_line(code, err, "all have the same direction")
    zero = vectors("zero.txt", "3 2\nnought 0 0\nbeta 1 0\ngamma 0 1\n")
    code, _, err = run(capsys, "embed-plot", zero, "--words", "beta,nought", "--out", png)
    one_line(code, err, "'nought' is all zeros")
    assert not png.exists()
    code, out, _ = run(capsys, "embed-plot", zero, "--out", png)
    assert code == 0 and out.startswith("2 words drawn") and png.exists()  # the zero vector is left out


def test_analogy_whose_unit_vectors_cancel(capsys, vectors):
    # a - m + p = 0 for unit vectors at 60 and 120 degrees: no direction to look in
    s = math.sqrt(3) / 2
    path = vectors("cancel.txt", f"4 2\na 1 0\nm 0.5 {s}\np -0.5 {s}\nq 0 1\n")
    code, _, err = run(capsys, "analogy", "a", "m", "p", "--vectors", path)
    one_line(code, err, "a - m + p add up to zero")
    code, out, _ = run(capsys, "analogy", "a", "m", "p", "--vectors", path, "--method", "3cosmul", "--json")
    assert code == 0 and [w for w, _ in json.loads(out)] == ["q"]  # 3CosMul has no sum to cancel


def test_embed_eval_with_no_covered_question(capsys, vectors):
    path = vectors("three.txt", "3 2\nalpha 1 0\nbeta 0 1\ngamma 1 1\n")
    for extra in ([], ["--json"]):
        code, out, err = run(capsys, "embed-eval", path, *extra)
        one_line(code, err, str(path), "covers none of the evaluation sets")
        assert out == ""


def test_embed_eval_json_is_strict_when_analogies_are_not_covered(capsys, vectors):
    rng = np.random.default_rng(1)
    words = ["love", "sex", "book", "paper", "television", "radio", "bread", "butter", "doctor", "nurse"]
    path = vectors("similar.txt", f"{len(words)} 4\n" + "".join(
        f"{w} {' '.join(str(x) for x in rng.normal(size=4))}\n" for w in words))
    code, out, err = run(capsys, "embed-eval", path, "--json")
    assert code == 0, err
    record = loads_strict(out)  # a bare NaN would raise here
    assert record["analogy_covered"] == 0 and record["analogy_accuracy"] is None
    assert all(s["accuracy"] is None for s in record["analogy_sections"])
    assert record["ws353_pairs"] >= 4 and isinstance(record["ws353_spearman"], float)
    code, out, _ = run(capsys, "embed-eval", path)
    assert code == 0 and "nan" not in out and "none of the 19,544 questions" in out


def test_question_without_candidates_is_wrong_not_right(tmp_path):
    from perplex.embeddings.evaluation import evaluate_analogies

    # b : c :: a : a with only these three words: every candidate is excluded, and
    # argmax over an all -inf row (row 0 = 'a', the expected word) must not count as a hit
    kv = to_keyed_vectors(["a", "b", "c"], np.eye(3, dtype=np.float32))
    questions = tmp_path / "q.txt"
    questions.write_text(": tiny\nb c a a\n")
    result = evaluate_analogies(kv, questions)
    assert (result.covered, result.correct) == (1, 0)


def test_constant_cosines_give_no_correlation_and_no_warning(tmp_path):
    from perplex.embeddings.evaluation import evaluate_word_pairs

    kv = to_keyed_vectors(["a", "b", "c"], np.ones((3, 2), np.float32))  # every cosine is 1
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("a\tb\t1\nb\tc\t5\na\tc\t9\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = evaluate_word_pairs(kv, pairs)
    assert result.pairs == 3 and math.isnan(result.spearman)


# -- strict JSON ------------------------------------------------------------------------

def test_json_helper_converts_every_non_finite_value():
    value = {"a": float("nan"), "b": [float("inf"), -np.inf, np.float32(1.5), np.int64(7)],
             "c": np.array([1.0, np.nan]), "d": (1, "x", None)}
    assert json_safe(value) == {"a": None, "b": ["inf", "-inf", 1.5, 7], "c": [1.0, None], "d": [1, "x", None]}
    assert loads_strict(dumps(value)) == json_safe(value)
    with pytest.raises(ValueError, match="not strict JSON"):
        loads_strict(json.dumps(float("nan")))


def test_evaluation_records_with_infinite_values_are_strict_json():
    from perplex.corpus import Vocabulary, encode
    from perplex.eval import summarize, to_json

    vocab = Vocabulary.build([["a", "b"]])
    corpus = encode([["a", "b"], ["zz"]], vocab)
    r = summarize(np.array([-1.0, -np.inf, -1.0, -0.5, -0.5]), corpus, "mle", "test")
    r.extra.update(curve=[1.0, float("nan"), float("inf")], temperature=np.float64(2.0))
    records = loads_strict(to_json([r]))
    assert records[0]["perplexity"] == "inf" and records[0]["log10_prob"] == "-inf"
    assert records[0]["curve"] == [1.0, None, "inf"] and records[0]["temperature"] == 2.0


# -- absurd training settings ----------------------------------------------------------------

@pytest.fixture
def corpus_file(tmp_path):
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    path = tmp_path / "train.txt"
    path.write_text("\n".join(" ".join(rng.choice(words, size=8)) for _ in range(200)) + "\n")
    return path


@pytest.mark.parametrize("option, value, fragment", [
    ("--dim", 1_000_000_000, "--dim 1000000000 needs about"),
    ("--dim", 10**15, "--dim 1000000000000000 needs about"),
    ("--negative", 1_000_000_000, "--negative must be at most 1,000"),
    ("--window", 1_000_000_000, "fewer than --window 1000000000 + 1"),
    ("--epochs", 10**12, "--epochs must be at most 10,000"),
    ("--share-negatives", 10**6, "--share-negatives must be at most 256 (the centres of one mini-batch)"),
    ("--workers", 10**6, "--workers must be at most 256"),
])
def test_absurd_sizes_are_refused_before_training(capsys, tmp_path, corpus_file, option, value, fragment):
    out = tmp_path / "v.bin"
    code, _, err = run(capsys, "embed", "--train", corpus_file, option, value, "--out", out)
    line = one_line(code, err, fragment)
    assert ("memory" in line) == ("needs about" in fragment)
    assert not out.exists()


@pytest.mark.parametrize("value", ["-1", str(2**32), "1e3", "nan"])
def test_seed_outside_numpys_range_is_a_usage_error(capsys, value):
    with pytest.raises(SystemExit) as exc:
        cli.main(["embed", "--seed", value])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and "--seed" in err[0]


def test_memory_refusal_names_the_setting_and_what_fits(monkeypatch):
    from perplex import resources
    from perplex.corpus import Vocabulary, encode
    from perplex.embeddings.config import GloVeConfig, SGNSConfig
    from perplex.embeddings.recipe import check_training_memory, training_memory

    sents = [[f"w{i % 50}" for i in range(j, j + 9)] for j in range(300)]
    corpus = encode(sents, Vocabulary.build(sents))
    monkeypatch.setattr(resources, "available_memory", lambda: 2**30)
    for method, backend, config in (("sgns", "torch", SGNSConfig(dim=10**8)), ("sgns", "gensim", SGNSConfig(dim=10**8)),
                                    ("glove", "torch", GloVeConfig(dim=10**8))):
        with pytest.raises(PerplexError, match="--dim 100000000 needs about") as exc:
            check_training_memory(method, backend, config, corpus)
        fits = int(str(exc.value).rsplit("at most about ", 1)[1].replace(",", ""))
        ok, too_big = type(config)(dim=fits), type(config)(dim=fits + 1)
        assert training_memory(method, backend, ok, corpus) <= 2**30 < training_memory(method, backend, too_big, corpus)
        check_training_memory(method, backend, ok, corpus)  # the value it names does fit
    # with every size at its default, the vocabulary is what to shrink
    big = [[f"w{i}" for i in range(j, j + 10)] for j in range(0, 20_000, 10)]
    monkeypatch.setattr(resources, "available_memory", lambda: 2**20)
    with pytest.raises(PerplexError, match="shrink the vocabulary with --max-vocab or --min-count"):
        check_training_memory("sgns", "torch", SGNSConfig(), encode(big, Vocabulary.build(big)))


def test_window_far_beyond_any_sentence_gives_the_same_cooccurrences():
    from perplex.embeddings.glove import cooccurrence

    rng = np.random.default_rng(3)
    ids = rng.integers(1, 12, size=400)
    ids[rng.random(400) < 0.15] = 0  # sentence ends
    longest = int(np.diff(np.flatnonzero(ids == 0)).max()) + 2
    for boundary_pairs in (True, False):
        exact = cooccurrence(ids, 12, longest, 0, boundary_pairs)
        huge = cooccurrence(ids, 12, 10**9, 0, boundary_pairs)  # one pass per distance would never end
        assert (exact != huge).nnz == 0


def test_too_short_text_message_can_name_the_callers_options():
    from perplex.corpus import Vocabulary, encode
    from perplex.corpus.datasets import Splits
    from perplex.embeddings.recipe import train_embeddings

    sents = [["a", "b"], ["c"]]
    vocab = Vocabulary.build(sents)
    data = Splits(vocab, {"train": encode(sents, vocab)}, "two sentences")
    with pytest.raises(PerplexError, match=r"fewer than --window 5 \+ 1; give more text or a smaller --window"):
        train_embeddings(data, "sgns")
    with pytest.raises(PerplexError) as exc:
        train_embeddings(data, "glove", window_option=None, too_short_hint="give --train a longer text")
    assert "--window" not in str(exc.value)
    assert str(exc.value).endswith("the 11 that a context window of 10 tokens needs; give --train a longer text")
