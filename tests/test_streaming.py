"""The on-disk (bounded-memory) estimator gives the in-memory model, bit for bit.

Small budgets force many sorted runs, many merge blocks, partitioned counts and
gathers; every table, probability and backoff is compared with the in-memory
model's, and the ARPA files with each other byte for byte.
"""

from __future__ import annotations

import json
import random
import warnings
import zipfile

import numpy as np
import pytest

from perplex.corpus import Vocabulary, encode, load_ptb
from perplex.corpus.stream import byte_pieces, sentence_blocks, string_blocks
from perplex.eval import evaluate
from perplex.lm import save_model, train, write_arpa
from perplex.lm.recipe import NgramConfig
from perplex.lm.streaming import build_on_disk
from perplex.lm.streaming import workspace
from perplex.lm.streaming import count
from perplex.lm.streaming import model_file
from perplex.lm.streaming.count import sentence_chunks
from perplex.lm.streaming.tokens import TextPieces
from perplex.lm.streaming.runs import merge_part

SMOOTHINGS = ["kn", "ikn", "addk", "mle", "laplace"]
# With pieces of 16 entries, 20 kB cut a 300-sentence text into about 10 sorted runs
# per order and the higher orders' probabilities are gathered range by range.
BUDGET = 20_000


@pytest.fixture
def small_pieces(monkeypatch):
    """Pieces of a few entries, so that small texts go through every partitioned path."""
    monkeypatch.setattr(workspace, "MIN_PIECE", 16)


@pytest.fixture
def tiny_pieces(monkeypatch, small_pieces):
    """As small_pieces, and yields {order: (sorted runs, parts merged)}."""
    merged = {}

    def recording_merge(runs, lo, hi, folder, name):
        n = int(name[len("table"):].split(".")[0])
        merged[n] = (len(runs), merged.get(n, (0, 0))[1] + 1)
        return merge_part(runs, lo, hi, folder, name)

    monkeypatch.setattr(count, "merge_part", recording_merge)
    yield merged


def on_disk(sentences, smoothing, order, budget, tmp_path, **kw):
    text = "\n".join(" ".join(s) for s in sentences) + "\n"
    blocks = sentence_blocks(string_blocks(text, 97))  # many small blocks of text
    return build_on_disk(blocks, NgramConfig(smoothing, order), budget=budget, temp_dir=tmp_path, **kw)


def same_model(a, b):
    """Every table and number of the two models is equal."""
    assert a.vocab.tokens == b.vocab.tokens and a.vocab.counts.tolist() == b.vocab.counts.tolist()
    assert a.order == b.order and a.name == b.name and a.smoothing == b.smoothing
    for n in range(2, a.order + 1):
        assert np.array_equal(np.asarray(a.trie.keys[n - 1]), np.asarray(b.trie.keys[n - 1])), f"keys of order {n}"
    if hasattr(a, "logp"):
        for n in range(1, a.order + 1):
            assert np.array_equal(np.asarray(a.logp[n - 1]), np.asarray(b.logp[n - 1])), f"log10 p of order {n}"
        for n in range(1, a.order):
            assert np.array_equal(np.asarray(a.logbo[n - 1]), np.asarray(b.logbo[n - 1])), f"backoffs of order {n}"
        assert a.info == b.info
    else:
        assert a.alpha == b.alpha
        for n in range(1, a.order + 1):
            assert np.array_equal(np.asarray(a.trie.counts[n - 1]), np.asarray(b.trie.counts[n - 1]))


def random_corpus(seed, n_sentences=300, vocab=40):
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocab)] + ["<unk>"]
    weights = [1 / (i + 1) for i in range(len(words))]  # Zipf-like: KN discounts have data at every count
    return [rng.choices(words, weights, k=rng.choice([1, 1, 2, 3, 5, 8, 13])) for _ in range(n_sentences)]


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("order", [1, 2, 3, 5, 7])
def test_small_corpora_every_order_and_smoothing(smoothing, order, tmp_path, tiny_pieces):
    sentences = random_corpus(order)
    test = random_corpus(100 + order, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fallback discounts on small data, the same in both
        memory = train(encode(sentences, Vocabulary.build(sentences)), smoothing, order)
        with on_disk(sentences, smoothing, order, BUDGET, tmp_path) as (model, stats):
            same_model(model, memory)
            assert stats.sizes == [memory.trie.size(n) for n in range(1, memory.order + 1)]
            ours = evaluate(model, encode(test, model.vocab)).perplexity
            assert ours == evaluate(memory, encode(test, memory.vocab)).perplexity
    assert list(tmp_path.iterdir()) == []  # the workspace is gone
    assert sorted(tiny_pieces) == list(range(2, order + 1))
    assert all(runs >= 8 and parts >= 2 for runs, parts in tiny_pieces.values())  # many runs and parts per order


def test_min_count_max_vocab_and_unk_in_text(tmp_path, tiny_pieces):
    sentences = random_corpus(3, 400, 60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for min_count, max_vocab in [(3, None), (1, 12), (2, 20)]:
            vocab = Vocabulary.build(sentences, min_count=min_count, max_vocab=max_vocab)
            memory = train(encode(sentences, vocab), "kn", 4)
            with on_disk(sentences, "kn", 4, BUDGET, tmp_path, min_count=min_count, max_vocab=max_vocab) as (model, _):
                same_model(model, memory)


def test_order_above_the_longest_sentence_is_capped_the_same_way(tmp_path):
    sentences = [["a", "b"], ["b", "a", "a"], ["a"]]
    with pytest.warns(UserWarning, match="above the longest n-gram"):
        with on_disk(sentences, "mle", 9, 1 << 20, tmp_path) as (model, stats):
            assert model.order == stats.order == 5  # the longest sentence, its <s> and </s>


def test_ptb_five_gram_under_a_small_budget_gives_the_same_arpa_file(tmp_path):
    """PTB, order 5, 4 MiB: about 28 sorted runs per order; the ARPA files are identical
    bytes and the test perplexity is the same number."""
    ptb = load_ptb()
    vocab = Vocabulary.build(ptb["train"])
    memory = train(encode(ptb["train"], vocab), "kn", 5)
    write_arpa(memory, tmp_path / "memory.arpa")
    work = tmp_path / "work"
    work.mkdir()
    with on_disk(ptb["train"], "kn", 5, 4 << 20, work, arpa=tmp_path / "disk.arpa",
                 save=tmp_path / "disk.npz") as (model, _):
        same_model(model, memory)
        test = encode(ptb["test"], vocab)
        assert evaluate(model, test).perplexity == evaluate(memory, test).perplexity
    assert (tmp_path / "disk.arpa").read_bytes() == (tmp_path / "memory.arpa").read_bytes()
    assert list(work.iterdir()) == []


def test_sentence_chunks_cut_between_sentences(tmp_path):
    sentences = random_corpus(5, 200)
    with workspace.Workspace(tmp_path) as ws:
        from perplex.lm.streaming.tokens import read_token_stream

        stream = read_token_stream([sentences[:70], sentences[70:]], ws)
        tokens = stream.tokens.read()
        for size in (stream.longest + 2, 50, 333):
            chunks = sentence_chunks(stream.tokens, stream.bos_id, size)
            assert chunks[0][0] == 0 and chunks[-1][1] == len(tokens)
            assert all(b == c for (_, b), (c, _) in zip(chunks, chunks[1:]))
            assert all(tokens[a] == stream.bos_id and b - a <= size for a, b in chunks)


def test_worker_processes_give_the_same_model(tmp_path, small_pieces):
    sentences = random_corpus(11, 400)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memory = train(encode(sentences, Vocabulary.build(sentences)), "kn", 4)
        with on_disk(sentences, "kn", 4, BUDGET, tmp_path, workers=2) as (model, stats):
            same_model(model, memory)
            assert stats.where == "2 processes"


def test_worker_processes_write_the_model_file_range_by_range(tmp_path, small_pieces, monkeypatch):
    """Each column copied into the .npz by the workers in many ranges, read in small pieces:
    the archive's every CRC-32 checks, and it holds save_model's arrays for the same model."""
    monkeypatch.setattr(model_file, "PLACE_ENTRIES", 1000)
    monkeypatch.setattr(model_file, "PLACE_PIECE", 300)
    sentences = random_corpus(12, 1500, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memory = train(encode(sentences, Vocabulary.build(sentences)), "kn", 4)
        save_model(memory, tmp_path / "memory.npz")
        work = tmp_path / "work"
        work.mkdir()
        with on_disk(sentences, "kn", 4, BUDGET, work, workers=2, save=tmp_path / "disk.npz") as (model, _):
            same_model(model, memory)
    with zipfile.ZipFile(tmp_path / "disk.npz") as z:
        assert z.testzip() is None
    with np.load(tmp_path / "disk.npz") as disk, np.load(tmp_path / "memory.npz") as mem:
        assert sorted(disk.files) == sorted(mem.files) and len(disk["keys4"]) > 3 * model_file.PLACE_ENTRIES
        assert json.loads(str(disk["header"])) == json.loads(str(mem["header"]))
        for name in set(mem.files) - {"header"}:
            assert np.array_equal(disk[name], mem[name]), name


def test_a_dask_cluster_gives_the_same_model(tmp_path):
    """A LocalCluster of 2 worker processes runs the counting, merging and estimating tasks,
    first on sentences read by the client, then on a text the workers read from a URL."""
    distributed = pytest.importorskip("distributed")
    ptb = load_ptb()
    train_sentences = ptb["train"][:6000]
    memory = train(encode(train_sentences, Vocabulary.build(train_sentences)), "kn", 3)
    text_file = tmp_path / "train.txt"
    text_file.write_text("\n".join(" ".join(s) for s in train_sentences) + "\n")
    work = tmp_path / "work"
    work.mkdir()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with on_disk(train_sentences, "kn", 3, 1 << 20, work, dask=cluster.scheduler_address) as (model, stats):
            same_model(model, memory)
            assert stats.where == f"2 Dask workers at {cluster.scheduler_address}"
        text = TextPieces(byte_pieces(text_file.as_uri(), 20_000))
        assert len(text.pieces) > 10 and all(str(f).startswith("file://") for f, _, _ in text.pieces)
        with build_on_disk(text, NgramConfig("kn", 3), budget=1 << 20, temp_dir=work,
                           dask=cluster.scheduler_address) as (model, _):
            same_model(model, memory)
    assert list(work.iterdir()) == []


def test_text_read_by_the_workers_in_pieces_gives_the_same_model(tmp_path, small_pieces):
    """A file cut into byte ranges that worker processes read and number on their own."""
    sentences = random_corpus(13, 500, 80)
    path = tmp_path / "train.txt"
    path.write_text("\n".join(" ".join(s) for s in sentences) + "\n")
    work = tmp_path / "work"
    work.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memory = train(encode(sentences, Vocabulary.build(sentences, min_count=2)), "kn", 3)
        text = TextPieces(byte_pieces(path, 200))
        assert len(text.pieces) > 10
        with build_on_disk(text, NgramConfig("kn", 3), budget=BUDGET, temp_dir=work, workers=2,
                           min_count=2) as (model, _):
            same_model(model, memory)


def _fails_at_three(i):
    if i == 3:
        raise ValueError("task 3 failed")
    return i


@pytest.mark.parametrize("workers", [1, 2])
def test_tasks_in_the_background_are_waited_for_in_order_and_their_error_raised(workers):
    """The ARPA lines are formatted (and the model file written) by tasks run from a thread
    while the client appends the lines; the client takes part i once tasks 0..i are done,
    all the results at the end, and a task's error reaches it."""
    from perplex.lm.streaming.executor import InBackground, make_executor

    executor = make_executor(workers)
    try:
        background = InBackground(executor, _fails_at_three, range(6))
        background.wait(2)
        assert background.ready(2)
        with pytest.raises(ValueError, match="task 3 failed"):
            background.wait(3)
        with pytest.raises(ValueError, match="task 3 failed"):
            background.wait(5)
        assert not background.ready(3)
        with pytest.raises(ValueError, match="task 3 failed"):
            background.results()
        assert InBackground(executor, _fails_at_three, range(3)).results() == [0, 1, 2]
    finally:
        executor.close()
