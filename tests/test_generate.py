"""``generate`` serves both families: n-gram files and Transformer checkpoints."""

import pytest

from perplex import cli
from perplex.corpus import Vocabulary, encode
from perplex.lm import save_model, train

SENTS = [s.split() for s in ["the cat sat on the mat", "the dog sat on the log", "a cat saw a dog"]] * 10


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_generate_continues_a_prompt_with_a_transformer_checkpoint(tmp_path, capsys):
    from perplex.attention.checkpoint import save_checkpoint
    from perplex.attention.model import TransformerConfig, TransformerLM
    from perplex.attention.train import set_seed

    vocab = Vocabulary.build(SENTS)
    set_seed(0)
    model = TransformerLM(TransformerConfig(vocab_size=len(vocab), context=16, n_layers=1, d_model=16, n_heads=2,
                                            cutoffs=(4,), dropout=0.0))
    ckpt = tmp_path / "tiny.pt"
    save_checkpoint(ckpt, model, vocab)
    code, out, err = run(capsys, "generate", "--model", ckpt, "--prompt", "the cat", "-n", "3", "--max-len", "30",
                         "--seed", "5")
    assert code == 0, err
    samples = out.rstrip("\n").split("\n\n")  # a blank line between samples
    assert len(samples) == 3 and all(sample.startswith("the cat") for sample in samples)
    # </s> ends a line, as for n-grams: it is never printed, and the random model does produce it
    assert all(w in vocab and w != "</s>" for line in out.splitlines() for w in line.split())
    assert len(out.splitlines()) > len(samples) + 2
    again = run(capsys, "generate", "--model", ckpt, "--prompt", "the cat", "-n", "3", "--max-len", "30", "--seed", "5")
    assert again[1] == out
    code, _, err = run(capsys, "generate", "--model", ckpt, "--prompt", "")
    assert code == 1 and err.strip().startswith("perplex: error:") and len(err.strip().splitlines()) == 1


def test_generate_with_a_saved_ngram_model_is_not_mistaken_for_a_checkpoint(tmp_path, capsys):
    vocab = Vocabulary.build(SENTS)
    path = tmp_path / "m.npz"  # also a zip file, like a torch checkpoint
    save_model(train(encode(SENTS, vocab), "laplace", 2), path)
    code, out, err = run(capsys, "generate", "--model", path, "-n", "2", "--seed", "1")
    assert code == 0, err
    assert len(out.splitlines()) == 2


def test_generate_refuses_a_non_finite_temperature_and_a_negative_ngram_seed(tmp_path, capsys):
    vocab = Vocabulary.build(SENTS)
    path = tmp_path / "m.npz"
    save_model(train(encode(SENTS, vocab), "laplace", 2), path)
    for bad in ("nan", "inf"):
        with pytest.raises(SystemExit) as usage:  # argparse: a usage error, status 2
            cli.main(["generate", "--model", str(path), "--temperature", bad])
        assert usage.value.code == 2 and "--temperature: must be a finite number" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        cli.main(["generate", "--model", str(path), "--seed", "-1"])
    assert usage.value.code == 2 and "--seed: must be from 0 to 4294967295, got -1" in capsys.readouterr().err
