"""The bad-input catalogue: every subcommand crossed with every class of bad input.

Each case runs ``perplex`` in-process in a folder of prepared files and asserts what
the README promises: the expected exit status (2 for a usage error, 1 for anything
else), exactly one line on stderr, naming the option or file at fault, no
traceback, and not a single file of the folder created, changed or removed.
"""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path

import numpy as np
import pytest
import torch

from perplex import cli

# -------------------------------------------------------------------- the files

TINY_TRANSFORMER = ["--context", "8", "--d-model", "16", "--heads", "2", "--layers", "1", "--output", "full"]
SPLIT = ["--split", "80/10/10"]


def _run(argv, timeout=60):
    """(exit status, stdout, stderr) of ``perplex argv`` in-process; a hang fails the case."""
    import contextlib
    import io

    def _hung(signum, frame):
        raise TimeoutError(f"perplex {' '.join(argv)} ran for more than {timeout} s")

    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _hung)
    signal.alarm(timeout)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main([str(a) for a in argv])
            except SystemExit as exc:  # argparse's usage errors and --help
                code = exc.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Good models made by perplex itself, then every kind of bad file beside them."""
    from perplex.corpus.datasets import load_ptb

    root = tmp_path_factory.mktemp("catalogue")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        _make_files(root, load_ptb())
    finally:
        os.chdir(cwd)
    return root


def _make_files(root: Path, ptb) -> None:
    lines = [" ".join(s) for s in ptb["train"][:400]]
    (root / "train.txt").write_text("\n".join(lines) + "\n")
    (root / "test.txt").write_text("\n".join(" ".join(s) for s in ptb["test"][:40]) + "\n")
    for argv in (["ngram", "--train", "train.txt", *SPLIT, "--order", "3", "--arpa", "model.arpa", "--save", "model.npz"],
                 ["embed", "--train", "train.txt", *SPLIT, "--dim", "8", "--epochs", "1", "--no-eval", "--out", "vectors.txt"],
                 ["transformer", "--train", "train.txt", *SPLIT, *TINY_TRANSFORMER, "--steps", "2", "--checkpoint", "model.pt"]):
        code, _, err = _run(argv, timeout=300)
        assert code == 0, err
    # Bad text inputs.
    (root / "empty.txt").write_bytes(b"")
    (root / "blank.txt").write_bytes(b"  \n\t\n \n")
    (root / "binary.dat").write_bytes(bytes(range(256)) * 8)
    (root / "latin1.txt").write_bytes("le caf\xe9 est chaud\n".encode("latin-1"))
    (root / "empty-dir").mkdir()
    (root / "dir").mkdir()
    (root / "dir" / "keep.txt").write_text("a file inside a folder\n")
    os.mkfifo(root / "fifo")  # stands in for a device: something that is not a regular file
    (root / "fifo-report").mkdir()
    os.mkfifo(root / "fifo-report" / "report.md")  # the page, written last, cannot go there: known at once
    _make_impossible_files(root)


def _make_impossible_files(root: Path) -> None:
    """Files that parse but hold impossible values."""
    arpa = (root / "model.arpa").read_text()
    head, sep, rest = arpa.partition("\\1-grams:\n")
    first, nl, tail = rest.partition("\n")
    fields = first.split("\t")
    (root / "positive.arpa").write_text(head + sep + "\t".join(["0.5"] + fields[1:]) + nl + tail)
    (root / "nan.arpa").write_text(head + sep + "\t".join(["nan"] + fields[1:]) + nl + tail)
    (root / "miscounted.arpa").write_text(arpa.replace("ngram 1=", "ngram 1=1", 1))
    with np.load(root / "model.npz") as data:
        arrays = dict(data)
    header = json.loads(str(arrays["header"]))
    _save_npz(root / "negative-order.npz", arrays, header | {"order": -2})
    _save_npz(root / "nan.npz", arrays | {"logp2": np.full_like(arrays["logp2"], np.nan)}, header)
    _save_npz(root / "positive.npz", arrays | {"logp1": -arrays["logp1"]}, header)
    _save_npz(root / "unsorted.npz", arrays | {"keys2": arrays["keys2"][::-1].copy()}, header)
    _save_npz(root / "short.npz", arrays | {"logp3": arrays["logp3"][:-5]}, header)
    words = (root / "vectors.txt").read_text().splitlines()
    (root / "huge-header.txt").write_text("1000000000000 8\n" + "\n".join(words[1:]) + "\n")
    (root / "huge-dim.txt").write_text("3 1000000000\n" + "\n".join(words[1:4]) + "\n")
    (root / "nan-vectors.txt").write_text(words[0] + "\n" + words[1].rsplit(" ", 1)[0] + " nan\n" + "\n".join(words[2:]) + "\n")
    (root / "zero.txt").write_text("3 4\nnought 0 0 0 0\nbeta 1 0 0 0\ngamma 0 1 0 0\n")
    (root / "three.txt").write_text("3 2\nalpha 1 0\nbeta 0 1\ngamma 1 1\n")
    state = torch.load(root / "model.pt", weights_only=True)
    name = next(iter(state["model"]))
    nan_state = dict(state, model=dict(state["model"], **{name: torch.full_like(state["model"][name], float("nan"))}))
    torch.save(nan_state, root / "nan-weights.pt")
    torch.save(dict(state, config=dict(state["config"], d_model="sixteen")), root / "bad-config.pt")
    torch.save(dict(state, vocab=state["vocab"][:-1]), root / "short-vocab.pt")
    last = torch.load(root / "model.pt.last", weights_only=True)
    torch.save(dict(last, train={k: v for k, v in last["train"].items() if k != "optimizer"}), root / "no-optimizer.pt.last")
    (root / "no-optimizer.pt").write_bytes((root / "model.pt").read_bytes())


def _save_npz(path: Path, arrays: dict, header: dict) -> None:
    np.savez(path, **(arrays | {"header": np.array(json.dumps(header))}))


# -------------------------------------------------------------------- the table

# Commands reading a text file, with X where the file goes.
TEXT_READERS = {
    "ngram --train": ["ngram", "--train", "X", *SPLIT],
    "ngram --test": ["ngram", "--train", "train.txt", "--test", "X"],
    "score --test": ["score", "--arpa", "model.arpa", "--test", "X"],
    "embed --train": ["embed", "--train", "X", *SPLIT, "--dim", "8", "--out", "new.txt"],
    "transformer --train": ["transformer", "--train", "X", *SPLIT, *TINY_TRANSFORMER, "--checkpoint", "new.pt"],
    "transformer --eval-only --test": ["transformer", "--train", "train.txt", "--test", "X", "--eval-only",
                                       "--checkpoint", "model.pt", *TINY_TRANSFORMER],
    "report --train": ["report", "--train", "X", "--quick", "--out", "new-report"],
    "explain ngram --train": ["explain", "ngram", "the market", "--train", "X"],
}
# Commands reading a model or vectors file.
MODEL_READERS = {
    "score --arpa": ["score", "--arpa", "X", "--test", "test.txt"],
    "score --model": ["score", "--model", "X", "--test", "test.txt"],
    "generate --arpa": ["generate", "--arpa", "X", "--seed", "1"],
    "generate --model": ["generate", "--model", "X", "--seed", "1", "--prompt", "the"],
    "similar --vectors": ["similar", "the", "--vectors", "X"],
    "analogy --vectors": ["analogy", "a", "b", "c", "--vectors", "X"],
    "embed-eval": ["embed-eval", "X"],
    "embed-plot": ["embed-plot", "X", "--out", "new.png"],
    "attention --model": ["attention", "the market", "--model", "X", "--out", "new-maps"],
    "explain attention --model": ["explain", "attention", "the market", "--model", "X"],
    "explain ngram --arpa": ["explain", "ngram", "the market", "--arpa", "X"],
    "explain analogy --vectors": ["explain", "analogy", "a", "b", "c", "--vectors", "X"],
    "explain similar --vectors": ["explain", "similar", "the", "--vectors", "X"],
    "transformer --checkpoint --eval-only": ["transformer", "--train", "train.txt", *SPLIT, "--eval-only", "--checkpoint", "X"],
    "transformer --init-embeddings": ["transformer", "--train", "train.txt", *SPLIT, *TINY_TRANSFORMER,
                                      "--init-embeddings", "X", "--checkpoint", "new.pt"],
}
BAD_FILES = {"empty": "empty.txt", "whitespace": "blank.txt", "binary": "binary.dat", "non-UTF-8": "latin1.txt",
             "folder": "dir", "missing": "missing.txt", "device": "/dev/zero"}
# Text options take a folder of text files too: the bad folder for them is an empty one.
BAD_TEXTS = BAD_FILES | {"folder": "empty-dir"}

# Options that write a file, with X where the target goes.
FILE_WRITERS = {
    "ngram --arpa": ["ngram", "--train", "train.txt", *SPLIT, "--arpa", "X"],
    "ngram --save": ["ngram", "--train", "train.txt", *SPLIT, "--save", "X"],
    "embed --out": ["embed", "--train", "train.txt", *SPLIT, "--dim", "8", "--epochs", "1", "--out", "X"],
    "embed-plot --out": ["embed-plot", "vectors.txt", "--out", "X"],
    "transformer --checkpoint": ["transformer", "--train", "train.txt", *SPLIT, *TINY_TRANSFORMER, "--steps", "2",
                                 "--checkpoint", "X"],
    "transformer --log": ["transformer", "--train", "train.txt", *SPLIT, *TINY_TRANSFORMER, "--steps", "2",
                          "--checkpoint", "new.pt", "--log", "X"],
}
BAD_FILE_TARGETS = {"folder": "dir", "FIFO": "fifo", "/proc": "/proc/perplex-catalogue.out",
                    "missing folder": "nowhere/out.file", "under a file": "train.txt/out.file"}
MAKES_ITS_FOLDER = {"transformer --checkpoint", "transformer --log"}  # runs/ is created: a missing folder is fine
# Options that write a folder of files.
FOLDER_WRITERS = {
    "attention --out": ["attention", "the market", "--model", "model.pt", "--out", "X"],
    "report --out": ["report", "--train", "train.txt", *SPLIT, "--quick", "--out", "X"],
}
BAD_FOLDER_TARGETS = {"file": "train.txt", "FIFO": "fifo", "/proc": "/proc/perplex-catalogue"}


def _fill(argv, value):
    return [value if a == "X" else a for a in argv]


def _cases():
    for (reader, argv) in TEXT_READERS.items():
        for kind, name in BAD_TEXTS.items():
            yield pytest.param(_fill(argv, name), 1, name, id=f"{reader} {kind}")
    for (reader, argv) in MODEL_READERS.items():
        for kind, name in BAD_FILES.items():
            yield pytest.param(_fill(argv, name), 1, name, id=f"{reader} {kind}")
    for (writer, argv) in FILE_WRITERS.items():
        for kind, target in BAD_FILE_TARGETS.items():
            if kind == "missing folder" and writer in MAKES_ITS_FOLDER:
                continue
            yield pytest.param(_fill(argv, target), 1, writer.split()[-1], id=f"{writer} {kind}")
    for (writer, argv) in FOLDER_WRITERS.items():
        for kind, target in BAD_FOLDER_TARGETS.items():
            yield pytest.param(_fill(argv, target), 1, writer.split()[-1], id=f"{writer} {kind}")
    yield from NUMBERS
    yield from IMPOSSIBLE
    yield from DEGENERATE


def _case(name, argv, status, mentions):
    return pytest.param(argv, status, mentions, id=name)


NGRAM = ["ngram", "--train", "train.txt", *SPLIT]
ON_DISK = ["ngram", "--train", "train.txt", "--test", "train.txt"]
EMBED = ["embed", "--train", "train.txt", *SPLIT, "--out", "new.txt"]
TRANSFORMER = ["transformer", "--train", "train.txt", *SPLIT, "--checkpoint", "new.pt"]
NUMBERS = [
    _case("ngram --order 0", [*NGRAM, "--order", "0"], 2, "--order"),
    _case("ngram --order 1e3", [*NGRAM, "--order", "1e3"], 2, "--order"),
    _case("ngram --alpha nan", [*NGRAM, "--smoothing", "addk", "--alpha", "nan"], 2, "--alpha"),
    _case("ngram --alpha -1", [*NGRAM, "--smoothing", "addk", "--alpha", "-1"], 2, "--alpha"),
    _case("ngram --min-count 0", [*NGRAM, "--min-count", "0"], 2, "--min-count"),
    _case("ngram --split 0/0/0", ["ngram", "--train", "train.txt", "--split", "0/0/0"], 2, "--split"),
    _case("ngram --split inf", ["ngram", "--train", "train.txt", "--split", "inf/1/1"], 2, "--split"),
    _case("ngram --memory 1K", [*NGRAM, "--memory", "1K"], 1, "--memory"),
    _case("ngram --memory x", [*NGRAM, "--memory", "x"], 2, "--memory"),
    _case("ngram --memory 0%", [*NGRAM, "--memory", "0%"], 2, "--memory"),
    _case("ngram --memory nan", [*NGRAM, "--memory", "nan"], 2, "--memory"),
    _case("ngram --temp-dir missing", [*NGRAM, "--temp-dir", "no-such-folder"], 1, "--temp-dir"),
    _case("ngram --temp-dir a file", [*NGRAM, "--temp-dir", "train.txt"], 1, "--temp-dir"),
    _case("ngram --temp-dir /proc", [*NGRAM, "--temp-dir", "/proc"], 1, "--temp-dir"),
    _case("ngram --workers 0", [*NGRAM, "--workers", "0"], 2, "--workers"),
    _case("ngram --dask nonsense", [*ON_DISK, "--dask", "nonsense"], 1, "--dask"),
    _case("ngram --dask nobody listening", [*ON_DISK, "--dask", "tcp://127.0.0.1:9"], 1, "--dask"),
    _case("ngram --dask unknown host", [*ON_DISK, "--dask", "tcp://no-such-host.invalid:8786"], 1, "--dask"),
    _case("ngram --tokenize on the Penn Treebank", ["ngram", "--tokenize"], 1, "--tokenize"),
    _case("ngram --lowercase on the Penn Treebank, on disk", ["ngram", "--lowercase", "--memory", "4M"], 1, "--tokenize"),
    _case("ngram --train unknown protocol", ["ngram", "--train", "nosuch://corpus.txt", "--test", "train.txt"], 1,
          "nosuch://corpus.txt"),
    _case("ngram --train missing URL", ["ngram", "--train", "file:///no/such/corpus.txt", "--test", "train.txt"], 1,
          "file:///no/such/corpus.txt"),
    _case("ngram --train URL and --split", ["ngram", "--train", "file:///no/such/corpus.txt", "--split", "8/1/1"], 1,
          "--split"),
    _case("generate --seed -1", ["generate", "--arpa", "model.arpa", "--seed", "-1"], 2, "--seed"),
    _case("generate --temperature nan", ["generate", "--arpa", "model.arpa", "--temperature", "nan"], 2, "--temperature"),
    _case("generate --temperature inf (Transformer)", ["generate", "--model", "model.pt", "--prompt", "the",
                                                      "--temperature", "inf"], 2, "--temperature"),
    _case("generate --max-len 1e20 (Transformer)", ["generate", "--model", "model.pt", "--prompt", "the",
                                                   "--max-len", "100000000000000000000"], 1, "--max-len"),
    _case("embed --dim 1e9", [*EMBED, "--dim", "1000000000"], 1, "--dim"),
    _case("embed --dim 0", [*EMBED, "--dim", "0"], 2, "--dim"),
    _case("embed --window 1e9", [*EMBED, "--window", "1000000000"], 1, "--window"),
    _case("embed --negative 1e9", [*EMBED, "--negative", "1000000000"], 1, "--negative"),
    _case("embed --sample nan", [*EMBED, "--sample", "nan"], 2, "--sample"),
    _case("embed --lr inf", [*EMBED, "--lr", "inf"], 2, "--lr"),
    _case("embed --seed -1", [*EMBED, "--seed", "-1"], 2, "--seed"),
    _case("embed glove --x-max 0", [*EMBED, "--method", "glove", "--x-max", "0"], 2, "--x-max"),
    _case("transformer --d-model 1e9", [*TRANSFORMER, "--d-model", "1000000000", "--heads", "1"], 1, "--d-model"),
    _case("transformer --layers 1e6", [*TRANSFORMER, "--layers", "1000000"], 1, "--layers"),
    _case("transformer --d-ff 1e12", [*TRANSFORMER, "--d-ff", "1000000000000"], 1, "--d-ff"),
    _case("transformer --context 1e9", [*TRANSFORMER, "--context", "1000000000"], 1, "--context"),
    _case("transformer --dropout 1", [*TRANSFORMER, "--dropout", "1"], 1, "--dropout"),
    _case("transformer --dropout nan", [*TRANSFORMER, "--dropout", "nan"], 2, "--dropout"),
    _case("transformer --lr nan", [*TRANSFORMER, "--lr", "nan"], 2, "--lr"),
    _case("transformer --warmup inf", [*TRANSFORMER, "--warmup", "inf"], 2, "--warmup"),
    _case("transformer --seed 1e30", [*TRANSFORMER, "--seed", "1000000000000000000000000000000"], 2, "--seed"),
    _case("transformer --minutes nan", [*TRANSFORMER, "--minutes", "nan"], 2, "--minutes"),
    _case("transformer --stride 1e6, before training", [*TRANSFORMER, *TINY_TRANSFORMER, "--steps", "2",
                                                        "--stride", "1000000"], 1, "--stride"),
    _case("report --out holding a FIFO report.md", ["report", "--train", "train.txt", *SPLIT, "--quick",
                                                   "--out", "fifo-report"], 1, "report.md"),
    _case("report --transformer-steps 0", ["report", "--train", "train.txt", *SPLIT, "--transformer-steps", "0"], 2,
          "--transformer-steps"),
]
IMPOSSIBLE = [
    _case("ARPA positive log10 p", ["score", "--arpa", "positive.arpa", "--test", "test.txt"], 1, "positive.arpa"),
    _case("ARPA nan log10 p", ["score", "--arpa", "nan.arpa", "--test", "test.txt"], 1, "nan.arpa"),
    _case("ARPA counts differ", ["score", "--arpa", "miscounted.arpa", "--test", "test.txt"], 1, "miscounted.arpa"),
    _case("ARPA positive, generate", ["generate", "--arpa", "positive.arpa"], 1, "positive.arpa"),
    _case("npz negative order", ["score", "--model", "negative-order.npz", "--test", "test.txt"], 1, "negative-order.npz"),
    _case("npz nan log10 p", ["score", "--model", "nan.npz", "--test", "test.txt"], 1, "nan.npz"),
    _case("npz positive log10 p", ["score", "--model", "positive.npz", "--test", "test.txt"], 1, "positive.npz"),
    _case("npz unsorted keys", ["score", "--model", "unsorted.npz", "--test", "test.txt"], 1, "unsorted.npz"),
    _case("npz short array", ["score", "--model", "short.npz", "--test", "test.txt"], 1, "short.npz"),
    _case("npz short array, generate", ["generate", "--model", "short.npz"], 1, "short.npz"),
    _case("vectors header of 1e12 words", ["similar", "the", "--vectors", "huge-header.txt"], 1, "huge-header.txt"),
    _case("vectors dimension 1e9", ["embed-eval", "huge-dim.txt"], 1, "huge-dim.txt"),
    _case("vectors with nan", ["similar", "the", "--vectors", "nan-vectors.txt"], 1, "nan-vectors.txt"),
    _case("vectors with nan as Transformer init", [*TRANSFORMER, *TINY_TRANSFORMER, "--init-embeddings", "nan-vectors.txt"],
          1, "nan-vectors.txt"),
    _case("checkpoint nan weights, eval-only", ["transformer", "--train", "train.txt", *SPLIT, "--eval-only",
                                                "--checkpoint", "nan-weights.pt"], 1, "nan-weights.pt"),
    _case("checkpoint nan weights, attention", ["attention", "the market", "--model", "nan-weights.pt", "--out", "new-maps"],
          1, "nan-weights.pt"),
    _case("checkpoint nan weights, generate", ["generate", "--model", "nan-weights.pt", "--prompt", "the"], 1, "nan-weights.pt"),
    _case("checkpoint config of wrong type", ["attention", "the", "--model", "bad-config.pt", "--out", "new-maps"], 1, "d_model"),
    _case("checkpoint vocabulary too short", ["generate", "--model", "short-vocab.pt", "--prompt", "the"], 1, "short-vocab.pt"),
    _case("resume state without optimizer", [*TRANSFORMER[:-1], "no-optimizer.pt", *TINY_TRANSFORMER, "--steps", "4",
                                             "--resume"], 1, "optimizer"),
]
DEGENERATE = [
    _case("analogy, every candidate excluded", ["analogy", "alpha", "beta", "gamma", "--vectors", "three.txt"], 1, "gamma"),
    _case("similar to an all-zero vector", ["similar", "nought", "--vectors", "zero.txt"], 1, "nought"),
    _case("similar to an unknown word", ["similar", "zebra", "--vectors", "three.txt"], 1, "zebra"),
    _case("analogy with an unknown word", ["analogy", "alpha", "beta", "zebra", "--vectors", "three.txt"], 1, "zebra"),
    _case("embed-eval with no covered question", ["embed-eval", "three.txt"], 1, "three.txt"),
    _case("embed-plot of unknown words", ["embed-plot", "three.txt", "--words", "x,y", "--out", "new.png"], 1, "x"),
    _case("attention on unknown-only sentence", ["attention", "", "--model", "model.pt", "--out", "new-maps"], 1, "sentence"),
    _case("explain entropy of probabilities not summing to 1", ["explain", "entropy", "0.5", "0.2"], 1, "sum"),
    _case("explain softmax of nothing", ["explain", "softmax"], 2, "softmax"),
    _case("explain attention head out of range", ["explain", "attention", "the market", "--model", "model.pt",
                                                  "--head", "99"], 1, "head"),
]


def _snapshot(root: Path) -> dict:
    """Every entry under ``root``: its kind, size and modification time (FIFOs are stat'ed, never opened)."""
    entries = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = os.lstat(path)
            entries[str(path.relative_to(root))] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)
    return entries


@pytest.mark.parametrize("argv, status, mentions", list(_cases()))
def test_bad_input(folder, monkeypatch, argv, status, mentions):
    monkeypatch.chdir(folder)
    before = _snapshot(folder)
    code, out, err = _run(argv)
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert code == status, f"exit {code}, stderr: {err!r}"
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert lines[0].startswith(("perplex: error:", "perplex ")), lines[0]
    assert mentions in lines[0], f"the message should name {mentions!r}: {lines[0]}"
    assert _snapshot(folder) == before, "files changed"
    assert not Path("/proc/perplex-catalogue.out").exists()


def test_catalogue_covers_every_subcommand():
    """At least 100 cases, and every subcommand has some."""
    cases = list(_cases())
    assert len(cases) >= 100
    used = {p.values[0][0] for p in cases}
    commands = set(cli.build_parser()._subparsers._group_actions[0].choices)
    assert commands <= used, f"no case for {sorted(commands - used)}"


# Extreme but meaningful requests: answered (exit 0), with at most a warning, never a hang.
VALID_EXTREMES = [
    _case("ngram --order 5000 is the longest sentence's order", [*NGRAM, "--order", "5000", "--json"], 0, "order 5000"),
    _case("ngram --order 10000000, mle", [*NGRAM, "--smoothing", "mle", "--order", "10000000", "--json"], 0, "order"),
    _case("generate --max-len 1e20 stops at </s>", ["generate", "--arpa", "model.arpa", "-n", "3", "--seed", "1",
                                                     "--max-len", "100000000000000000000"], 0, ""),
    _case("similar --topn above the vocabulary", ["similar", "alpha", "--vectors", "three.txt", "--topn", "1000000000"],
          0, ""),
    _case("generate --seed 4294967295", ["generate", "--arpa", "model.arpa", "--seed", "4294967295", "-n", "2"], 0, ""),
]


@pytest.mark.parametrize("argv, status, mentions", VALID_EXTREMES)
def test_extreme_but_valid_requests(folder, monkeypatch, argv, status, mentions):
    monkeypatch.chdir(folder)
    before = _snapshot(folder)
    code, out, err = _run(argv)
    assert "Traceback" not in err
    assert code == status, f"exit {code}, stderr: {err!r}"
    assert out.strip(), "no answer"
    assert all(line.startswith("perplex: warning:") for line in err.strip().splitlines()), err
    assert mentions in err
    assert _snapshot(folder) == before
