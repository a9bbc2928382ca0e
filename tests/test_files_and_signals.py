"""What perplex promises about the files it writes: it never replaces something that
is not a regular file, an interrupted write (Ctrl-C, SIGTERM, kill -9) leaves the
previous file intact and no temporary file for good, and a killed Transformer run
resumes from its last checkpoint."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perplex import cli
from perplex.errors import PerplexError
from perplex.fileio import atomic_write, check_output_file, check_output_folder, remove_stale_temporaries

TINY_TRANSFORMER = ["--context", "8", "--d-model", "16", "--heads", "2", "--layers", "1", "--output", "full"]


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# ------------------------------------------------------------------ targets


@pytest.mark.parametrize("kind", ["folder", "fifo", "socket", "char device"])
def test_a_target_that_is_not_a_regular_file_is_refused_untouched(tmp_path, kind):
    target = tmp_path / "target"
    if kind == "folder":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(target))
    else:
        target = Path("/dev/null")
    before = os.stat(target)
    with pytest.raises(PerplexError, match="not a regular file"):
        with atomic_write(target, "w") as f:
            f.write("x")
    after = os.stat(target)
    assert (after.st_mode, after.st_ino, after.st_mtime_ns) == (before.st_mode, before.st_ino, before.st_mtime_ns)
    assert _temporaries(tmp_path) == []


def test_unwritable_places_are_refused_before_any_work(tmp_path):
    with pytest.raises(PerplexError, match=r"--arpa /proc/x\.arpa: cannot create files in /proc"):
        check_output_file("/proc/x.arpa", "--arpa")
    with pytest.raises(PerplexError, match="folder .*nowhere does not exist"):
        check_output_file(tmp_path / "nowhere" / "x.arpa", "--arpa")
    with pytest.raises(PerplexError, match="it is a folder"):
        check_output_file(tmp_path, "--save")
    (tmp_path / "file").write_text("x")
    with pytest.raises(PerplexError, match="--out .*file: it is a regular file, not a folder|not a folder"):
        check_output_folder(tmp_path / "file", "--out")
    assert check_output_folder(tmp_path / "new" / "deeper", "--out") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checking creates nothing
    if os.geteuid() != 0:  # root writes into read-only folders
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        with pytest.raises(PerplexError, match="cannot create files"):
            check_output_file(locked / "x.arpa", "--arpa")


def test_a_symbolic_link_to_a_file_is_written_through(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    with atomic_write(link, "w") as f:
        f.write("new")
    assert link.is_symlink() and real.read_text() == "new"


def test_temporary_files_of_dead_processes_are_removed_by_the_next_write(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".model.arpa.{dead.pid}.abc123.tmp"
    stale.write_text("half a model")
    alive = tmp_path / f".model.arpa.{os.getppid()}.def456.tmp"  # a running process's write in progress
    alive.write_text("being written")
    other = tmp_path / f".other.arpa.{dead.pid}.abc123.tmp"
    other.write_text("another file's")
    with atomic_write(tmp_path / "model.arpa", "w") as f:
        f.write("\\data\\\n")
    assert not stale.exists() and alive.exists() and other.exists()
    assert remove_stale_temporaries(tmp_path / "other.arpa") == [other]


# ------------------------------------------------------------------ signals during writes


def _signal_during_fsync(monkeypatch, signum):
    """Deliver ``signum`` to this process while the first file is being written (between
    its last byte and its rename), as a user's kill would at the worst moment."""
    import perplex.fileio as fileio

    real_fsync, fired = os.fsync, []

    def fsync(fd):
        real_fsync(fd)
        if not fired:
            fired.append(fd)
            os.kill(os.getpid(), signum)
    monkeypatch.setattr(fileio.os, "fsync", fsync)
    return fired


def _train_text(folder: Path) -> Path:
    from perplex.corpus.datasets import load_ptb

    path = folder / "train.txt"
    path.write_text("\n".join(" ".join(s) for s in load_ptb()["train"][:300]) + "\n")
    return path


WRITES = {
    "ARPA": (["ngram", "--order", "3", "--arpa", "OUT"], "out.arpa"),
    "vectors": (["embed", "--dim", "8", "--epochs", "1", "--no-eval", "--out", "OUT"], "out.txt"),
    "checkpoint": (["transformer", *TINY_TRANSFORMER, "--steps", "4", "--checkpoint", "OUT"], "out.pt"),
}


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("what", list(WRITES))
def test_a_signal_during_a_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch, capsys, default_sigint,
                                                                     what, signum, status):
    argv, name = WRITES[what]
    out = tmp_path / name
    out.write_bytes(b"the previous file")
    train = _train_text(tmp_path)
    fired = _signal_during_fsync(monkeypatch, signum)
    code = cli.main([*(str(out) if a == "OUT" else a for a in argv), "--train", str(train), "--split", "80/10/10"])
    err = capsys.readouterr().err
    assert fired, "the write never happened"
    assert code == status, err
    assert err.strip().splitlines()[-1] == ("perplex: terminated" if signum == signal.SIGTERM else "perplex: interrupted")
    assert out.read_bytes() == b"the previous file"
    assert _temporaries(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(signal.getsignal(signal.SIGTERM))


@pytest.fixture
def default_sigint():
    """Ctrl-C raises KeyboardInterrupt, even where the test runner inherited SIGINT
    ignored (a job started in the background by a non-interactive shell)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _perplex(*argv, **kw):
    """``python -m perplex argv`` in a child whose SIGINT does what Ctrl-C does (a child of a
    background job inherits SIGINT ignored, and Python then keeps it ignored)."""
    return subprocess.Popen([sys.executable, "-m", "perplex", *map(str, argv)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kw)


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_killing_perplex_while_it_writes_an_arpa_file(tmp_path, signum, status):
    """The real thing: another process signals ``perplex ngram`` once its temporary file appears."""
    out = tmp_path / "ptb.arpa"
    out.write_text("the previous file")
    proc = _perplex("ngram", "--order", "4", "--arpa", out, "--json", cwd=tmp_path)
    deadline = time.monotonic() + 300
    while not _temporaries(tmp_path) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "perplex finished before it could be signalled"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    assert "Traceback" not in err
    assert out.read_text() == "the previous file"
    assert _temporaries(tmp_path) == []


def test_a_transformer_killed_with_sigkill_resumes_and_finishes(tmp_path):
    """kill -9 leaves no chance to save: --resume continues from the last checkpoint written
    before the kill, and the run reaches its step budget."""
    train = _train_text(tmp_path)
    ckpt = tmp_path / "run.pt"
    argv = ["transformer", "--train", train, "--split", "80/10/10", *TINY_TRANSFORMER, "--steps", "200",
            "--batch-size", "4", "--eval-every-steps", "10", "--checkpoint", ckpt, "--json"]
    proc = _perplex(*argv, cwd=tmp_path)
    last = Path(f"{ckpt}.last")
    deadline = time.monotonic() + 300
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    import torch

    saved_step = torch.load(last, weights_only=True)["train"]["step"]
    assert 0 < saved_step < 200
    resumed = _perplex(*argv, "--resume", cwd=tmp_path)
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    log = json.loads(Path(f"{ckpt}.log.json").read_text())
    assert max(record["step"] for record in log) == 200
    assert torch.load(last, weights_only=True)["train"]["step"] == 200
    assert json.loads(out)[0]["perplexity"] > 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_pipe_is_read_as_text_but_a_device_is_refused(tmp_path):
    """``--train <(zcat corpus.gz)`` hands perplex a pipe: it is read like a file.  A
    character device such as /dev/zero would be read until memory runs out: refused."""
    import threading

    from perplex.corpus.text import read_text

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    writer = threading.Thread(target=lambda: pipe.write_text("the cat sat\na dog ran\n"))
    writer.start()
    assert read_text(pipe) == "the cat sat\na dog ran\n"
    writer.join()
    with pytest.raises(PerplexError, match="/dev/zero is a character device, not a file"):
        read_text("/dev/zero")
