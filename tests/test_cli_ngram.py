"""The n-gram commands end to end, and every kind of bad input: one line, non-zero exit."""

import json

import pytest

from perplex import cli

TEXT = "\n".join(["the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "the end"] * 30) + "\n"


def run(capsys, *argv):
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def corpus_file(tmp_path):
    f = tmp_path / "corpus.txt"
    f.write_text(TEXT)
    return f


def test_ngram_json_records_arpa_and_score(capsys, corpus_file, tmp_path):
    arpa = tmp_path / "m.arpa"
    code, out, err = run(capsys, "ngram", "--train", str(corpus_file), "--split", "80/10/10",
                         "--order", "3", "--arpa", str(arpa), "--json")
    assert code == 0, err
    records = json.loads(out)
    assert [r["split"] for r in records] == ["valid", "test"]
    test = records[1]
    # 120 sentences: the last 12 are the test part, words + </s> each.
    assert test["tokens"] == sum(len(line.split()) + 1 for line in TEXT.splitlines()[-12:])
    assert set(test) >= {"model", "split", "tokens", "oovs", "zero_prob_tokens", "log10_prob",
                         "cross_entropy_bits", "perplexity", "perplexity_excl_oov", "bits_per_char"}
    assert arpa.exists()
    code, out, err = run(capsys, "score", "--arpa", str(arpa), "--test", str(corpus_file), "--json")
    assert code == 0, err
    assert json.loads(out)[0]["tokens"] == sum(len(line.split()) + 1 for line in TEXT.splitlines())


def test_the_same_figures_from_ngram_and_score(capsys, corpus_file, tmp_path):
    test_file = tmp_path / "test.txt"
    test_file.write_text("the cat sat on the log\na dog and a cat\n")
    saved = tmp_path / "m.npz"
    code, out, _ = run(capsys, "ngram", "--train", str(corpus_file), "--test", str(test_file),
                       "--smoothing", "addk", "--alpha", "0.1", "--order", "2", "--save", str(saved), "--json")
    assert code == 0
    trained = json.loads(out)[0]
    code, out, _ = run(capsys, "score", "--model", str(saved), "--test", str(test_file), "--json")
    scored = json.loads(out)[0]
    assert scored["tokens"] == trained["tokens"] == 7 + 6
    assert scored["perplexity"] == pytest.approx(trained["perplexity"], rel=1e-12)


def test_mle_reports_infinite_perplexity_and_counts_zeros(capsys, corpus_file, tmp_path):
    test_file = tmp_path / "test.txt"
    test_file.write_text("the mat sat\n")  # "the mat" is seen, "mat sat" is not
    code, out, _ = run(capsys, "ngram", "--train", str(corpus_file), "--test", str(test_file),
                       "--smoothing", "mle", "--order", "2", "--json")
    rec = json.loads(out)[0]
    assert code == 0 and rec["perplexity"] == "inf" and rec["zero_prob_tokens"] == 2  # mat->sat, sat-></s>
    code, out, _ = run(capsys, "ngram", "--train", str(corpus_file), "--test", str(test_file),
                       "--smoothing", "mle", "--order", "2")
    assert "inf" in out


def test_generate_is_seeded(capsys, corpus_file, tmp_path):
    saved = tmp_path / "m.npz"
    run(capsys, "ngram", "--train", str(corpus_file), "--split", "80/10/10", "--save", str(saved))
    first = run(capsys, "generate", "--model", str(saved), "-n", "4", "--seed", "3")
    second = run(capsys, "generate", "--model", str(saved), "-n", "4", "--seed", "3")
    assert first[0] == 0 and first[1] == second[1] and len(first[1].splitlines()) == 4
    code, out, _ = run(capsys, "generate", "--model", str(saved), "-n", "2", "--prompt", "the dog", "--seed", "1")
    assert all(line.startswith("the dog") for line in out.splitlines())


def one_line_error(code, err, expected_code, pattern):
    assert code == expected_code
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert pattern in lines[0], lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "content, pattern",
    [(b"", "is empty"), (b"\n \n", "is empty"), (b"\x00\x01binary", "looks binary"), (b"caf\xe9 au lait\n", "not valid UTF-8")],
)
def test_bad_training_files(capsys, tmp_path, content, pattern):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    code, _, err = run(capsys, "ngram", "--train", str(bad), "--split", "80/10/10")
    one_line_error(code, err, 1, pattern)


def test_missing_file(capsys, tmp_path):
    code, _, err = run(capsys, "ngram", "--train", str(tmp_path / "nope.txt"), "--split", "80/10/10")
    one_line_error(code, err, 1, "file not found")


@pytest.mark.parametrize(
    "argv, pattern",
    [
        (["ngram", "--order", "0"], "must be at least 1"),
        (["ngram", "--order", "two"], "whole number"),
        (["ngram", "--smoothing", "addk", "--alpha", "-0.5"], ">= 0"),
        (["ngram", "--smoothing", "witten-bell"], "invalid choice"),
        (["ngram", "--frobnicate"], "unrecognized arguments"),
        (["ngram", "--split", "80-20"], "80/10/10"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_bad_options(capsys, argv, pattern):
    code, _, err = run(capsys, *argv)
    one_line_error(code, err, 2, pattern)


def test_option_combinations(capsys, corpus_file):
    code, _, err = run(capsys, "ngram", "--train", str(corpus_file), "--split", "80/10/10", "--smoothing", "kn", "--alpha", "1")
    one_line_error(code, err, 1, "--alpha applies to --smoothing addk")
    code, _, err = run(capsys, "ngram", "--train", str(corpus_file))
    one_line_error(code, err, 1, "--test FILE")
    code, _, err = run(capsys, "ngram", "--train", str(corpus_file), "--split", "80/10/10", "--smoothing", "mle", "--arpa", "/tmp/x.arpa")
    one_line_error(code, err, 1, "not backoff models")


# A distribution: after <s>, "a" (0.794) + backoff 0.4114 x P(</s>) 0.5 = 1; after "a" likewise.
GOOD_ARPA = "\\data\\\nngram 1=3\nngram 2=2\n\n\\1-grams:\n-0.30103\t</s>\n-99\t<s>\t-0.38580\n-0.30103\ta\t-0.13189\n\n\\2-grams:\n-0.1\t<s> a\n-0.2\ta </s>\n\n\\end\\\n"


@pytest.mark.parametrize(
    "text, pattern",
    [
        (GOOD_ARPA.replace("\\end\\\n", ""), "truncated"),
        (GOOD_ARPA.replace("ngram 2=2", "ngram 2=3"), "declares 3 2-grams"),
        (GOOD_ARPA.replace("-0.2\ta </s>", "-0.2\tzz </s>"), "not among the unigrams"),
        (GOOD_ARPA.replace("-0.1\t<s> a", "abc\t<s> a"), "not a number"),
        ("hello world\n", "no \\data\\ header"),
        (GOOD_ARPA.replace("-0.30103\t</s>\n", "-0.30103\t</s>\textra\tfields\n"), "fields"),
    ],
)
def test_malformed_arpa_files(capsys, tmp_path, text, pattern):
    path = tmp_path / "bad.arpa"
    path.write_text(text)
    code, _, err = run(capsys, "score", "--arpa", str(path), "--test", str(path))
    one_line_error(code, err, 1, pattern)


def test_a_good_arpa_without_unk_scores_with_a_warning(capsys, tmp_path):
    path = tmp_path / "good.arpa"
    path.write_text(GOOD_ARPA)
    test = tmp_path / "t.txt"
    test.write_text("a\n")
    code, out, err = run(capsys, "score", "--arpa", str(path), "--test", str(test), "--json")
    assert code == 0 and "has no <unk>" in err
    rec = json.loads(out)[0]
    # p(a | <s>) = 10^-0.1, p(</s> | a) = 10^-0.2
    assert rec["log10_prob"] == pytest.approx(-0.3)


def test_corrupt_and_foreign_model_files(capsys, tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 this is not really a zip")
    code, _, err = run(capsys, "score", "--model", str(junk))
    one_line_error(code, err, 1, "not a readable perplex n-gram model")
    code, _, err = run(capsys, "generate", "--model", str(tmp_path / "missing.npz"))
    one_line_error(code, err, 1, "model file not found")
