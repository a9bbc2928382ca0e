"""The embed / similar / analogy / embed-eval / embed-plot commands, good and bad input."""

import json

import numpy as np
import pytest

from perplex import cli
from perplex.embeddings.recipe import model_name
from perplex.embeddings.vectors import to_keyed_vectors


@pytest.fixture(autouse=True)
def only_embedding_commands(monkeypatch):
    # Build the parser from our module alone, so these tests do not depend on the others.
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["perplex.embeddings.cli"])


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def corpus_file(tmp_path):
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    lines = [" ".join(rng.choice(words, size=8)) for _ in range(300)]
    path = tmp_path / "train.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def gensim_vectors(tmp_path):
    """A vectors file written by gensim itself (binary word2vec format)."""
    royal, male, female, fruit = np.eye(4, dtype=np.float32)
    kv = to_keyed_vectors(["king", "queen", "man", "woman", "apple"],
                          np.stack([royal + male, royal + female, male, female, fruit + 0.1 * royal]))
    path = tmp_path / "gensim.bin"
    kv.save_word2vec_format(str(path), binary=True)
    return path


@pytest.mark.parametrize("method", ["sgns", "glove"])
def test_embed_trains_writes_vectors_and_prints_records(capsys, tmp_path, corpus_file, method):
    from gensim.models import KeyedVectors

    out = tmp_path / "v.txt"
    code, stdout, err = run(capsys, "embed", "--method", method, "--train", corpus_file, "--split", "80/10/10",
                            "--dim", 8, "--window", 3, "--epochs", 2, "--out", out, "--workers", 1, "--json")
    assert code == 0, err
    records = json.loads(stdout)
    assert [r["split"] for r in records] == ["valid", "test"]
    for r in records:
        assert r["model"] == model_name(method) and r["method"] == method and r["zero_prob_tokens"] == 0 and r["temperature"] > 0
        assert set(r) >= {"tokens", "oovs", "log10_prob", "cross_entropy_bits", "perplexity",
                          "perplexity_excl_oov", "bits_per_char"}
        assert r["perplexity"] == pytest.approx(2 ** r["cross_entropy_bits"])
    kv = KeyedVectors.load_word2vec_format(str(out), binary=False)
    assert kv.vectors.shape == (32, 8) and kv.index_to_key[:2] == ["</s>", "<unk>"]


def test_embed_gensim_backend_and_table(capsys, tmp_path, corpus_file):
    out = tmp_path / "v.bin"
    code, stdout, err = run(capsys, "embed", "--backend", "gensim", "--train", corpus_file, "--test", corpus_file,
                            "--dim", 8, "--epochs", 1, "--out", out)
    assert code == 0, err
    assert "SGNS next-word model (gensim)" in stdout and "temperature 1" in stdout and out.exists()


def test_embed_train_file_alone(capsys, tmp_path, corpus_file):
    code, stdout, _ = run(capsys, "embed", "--train", corpus_file, "--dim", 4, "--epochs", 1,
                          "--out", tmp_path / "v.bin")
    assert code == 0 and "no valid/test data" in stdout


def test_similar_and_analogy_on_gensim_vectors(capsys, gensim_vectors):
    code, stdout, _ = run(capsys, "analogy", "king", "man", "woman", "--vectors", gensim_vectors, "--json")
    assert code == 0 and json.loads(stdout)[0][0] == "queen"
    code, stdout, _ = run(capsys, "analogy", "king", "man", "woman", "--vectors", gensim_vectors,
                          "--method", "3cosmul", "--topn", 1)
    assert code == 0 and stdout.split()[0] == "queen"
    code, stdout, _ = run(capsys, "similar", "king", "--vectors", gensim_vectors, "--topn", 2, "--json")
    pairs = json.loads(stdout)  # cos(king, man) = 1/sqrt 2, cos(king, queen) = 1/2
    assert code == 0 and [w for w, _ in pairs] == ["man", "queen"] and pairs[1][1] == pytest.approx(0.5)


def test_embed_eval_json_keys(capsys, gensim_vectors):
    code, stdout, _ = run(capsys, "embed-eval", gensim_vectors, "--json")
    assert code == 0
    record = json.loads(stdout)
    assert {"analogy_accuracy", "analogy_covered", "ws353_spearman", "simlex_spearman"} <= set(record)
    # king/queen/man/woman appear in the file: "man woman king queen" style questions are covered
    assert record["analogy_covered"] > 0 and record["analogy_total"] == 19544
    code, stdout, _ = run(capsys, "embed-eval", gensim_vectors)
    assert code == 0 and "Google analogies" in stdout and "WordSim353" in stdout


def test_embed_plot_writes_png(capsys, tmp_path, gensim_vectors):
    out = tmp_path / "map.png"
    code, stdout, _ = run(capsys, "embed-plot", gensim_vectors, "--out", out)
    assert code == 0 and "5 words" in stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = run(capsys, "embed-plot", gensim_vectors, "--words", "king,unicorn", "--out", out)
    assert code == 1 and "'unicorn'" in err


def one_line_error(code, err, *fragments, status=1):
    assert code == status
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for f in fragments:
        assert f in lines[0]


def test_bad_input_is_one_line_error(capsys, tmp_path, corpus_file, gensim_vectors):
    code, _, err = run(capsys, "similar", "unicorn", "--vectors", gensim_vectors)
    one_line_error(code, err, "perplex: error:", "'unicorn' is not in the vocabulary")
    code, _, err = run(capsys, "analogy", "king", "man", "unicorn", "--vectors", gensim_vectors)
    one_line_error(code, err, "'unicorn'")

    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    code, _, err = run(capsys, "embed", "--train", empty, "--out", tmp_path / "v.bin")
    one_line_error(code, err, "empty")

    tiny = tmp_path / "tiny.txt"
    tiny.write_text("a b\n")
    code, _, err = run(capsys, "embed", "--train", tiny, "--window", 5, "--out", tmp_path / "v.bin")
    one_line_error(code, err, "fewer than --window 5")
    assert not (tmp_path / "v.bin").exists()

    truncated = tmp_path / "cut.bin"
    truncated.write_bytes(gensim_vectors.read_bytes()[:-10])
    code, _, err = run(capsys, "similar", "king", "--vectors", truncated)
    one_line_error(code, err, "truncated")

    unknown = tmp_path / "notes.txt"
    unknown.write_text("hello world\nnot vectors\n")
    code, _, err = run(capsys, "embed-eval", unknown)
    one_line_error(code, err, "not a vectors file")

    binary = tmp_path / "junk.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    code, _, err = run(capsys, "embed-plot", binary)
    one_line_error(code, err, "junk.bin")

    code, _, err = run(capsys, "similar", "king", "--vectors", tmp_path / "none.bin")
    one_line_error(code, err, "not found")

    code, _, err = run(capsys, "embed", "--method", "glove", "--backend", "gensim", "--train", corpus_file)
    one_line_error(code, err, "--backend gensim")


@pytest.mark.parametrize("argv,fragment", [
    (["embed", "--dim", "0"], "must be at least 1, got 0"),
    (["embed", "--sample", "-1"], "--sample"),
    (["embed", "--method", "cbow"], "invalid choice"),
    (["analogy", "king", "man", "woman", "--method", "3coswhat"], "invalid choice"),
    (["embed", "--nonsense"], "unrecognized arguments"),
])
def test_bad_options_are_one_line_usage_errors(capsys, argv, fragment):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    _, err = capsys.readouterr()
    one_line_error(exc.value.code, err, fragment, status=2)


def test_cuda_requested_without_a_device(capsys, corpus_file):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    code, _, err = run(capsys, "embed", "--device", "cuda", "--train", corpus_file)
    one_line_error(code, err, "--device cuda")


def test_glove_compiles_its_update_unless_told_not_to():
    from perplex.embeddings.cli import build_config

    parser = cli.build_parser()
    assert build_config(parser.parse_args(["embed", "--method", "glove"])).compile is True
    assert build_config(parser.parse_args(["embed", "--method", "glove", "--no-compile"])).compile is False


def test_command_line_defaults_are_the_configs_defaults():
    # the options read their defaults from SGNSConfig and GloVeConfig, so the two cannot drift apart
    from perplex.embeddings.cli import build_config
    from perplex.embeddings.config import GloVeConfig, SGNSConfig

    parser = cli.build_parser()
    assert build_config(parser.parse_args(["embed", "--device", "cpu"])) == SGNSConfig()
    assert build_config(parser.parse_args(["embed", "--method", "glove", "--device", "cpu"])) == GloVeConfig()
