"""Saved n-gram models open memory-mapped (perplex.lm.storage.load_model): the arrays are
np.memmap views of the .npz, scoring and sampling give the numbers and sentences of the
in-memory model, a file above FULL_CHECK_BYTES (forced here with full_check=False) gets
the structural and sampled checks and builds no whole-table array, and damage the
sampled checks cover is refused in one line."""

import io
import json
import struct
import warnings
import zlib

import numpy as np
import pytest
from hypothesis import given

from perplex import cli
from perplex.errors import PerplexError
from perplex.eval import evaluate
from perplex.lm import load_model, sample_sentences, save_model, storage, train
from perplex.lm import base as lm_base
from perplex.lm import mapped as lm_mapped
from perplex.lm import trie as lm_trie
from perplex.lm.trie import FENCE_STRIDE, NgramTrie, fence_of
from perplex.lm.validate import sample_contexts, sample_positions
from tests.test_fuzz_ngram_readers import FUZZ, npz_files, refused_or_distributions


@pytest.fixture(scope="module")
def models(ptb, tmp_path_factory):
    """A Kneser-Ney trigram and an add-0.1 trigram of PTB train, in memory and saved."""
    folder = tmp_path_factory.mktemp("mmap")
    out = {}
    for smoothing in ("kn", "addk"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = train(ptb.corpora["train"], smoothing, 3, 0.1 if smoothing == "addk" else None)
        path = folder / f"{smoothing}.npz"
        save_model(model, path)
        out[smoothing] = (model, path)
    return out


def is_mapped(a) -> bool:
    """``a`` is an np.memmap or a view of one."""
    while isinstance(a, np.ndarray):
        if isinstance(a, np.memmap):
            return True
        a = a.base
    return False


def tables(model) -> list:
    """The model's arrays past order 1 (those that grow with the model)."""
    trie = model.trie
    values = model.logp[1:] + model.logbo[1:] if hasattr(model, "logp") else trie.counts[1:]
    return [k for k in trie.keys if k is not None] + values


# ------------------------------------------------------------------ same numbers
@pytest.mark.parametrize("smoothing", ["kn", "addk"])
@pytest.mark.parametrize("full_check", [None, False])
def test_a_loaded_model_is_mapped_and_scores_the_same(models, ptb, smoothing, full_check):
    model, path = models[smoothing]
    back = load_model(path, full_check=full_check)
    assert back.trie.out_of_core == (full_check is False)  # the PTB files are small: fully checked by default
    arrays = tables(back)
    if full_check is None:  # unaligned key tables of a small file are copied (numpy would copy them per search)
        arrays = [a for a in arrays if not any(a is k for k in back.trie.keys)]
    assert arrays and all(is_mapped(a) for a in arrays)
    test = ptb.corpora["test"]
    with np.errstate(divide="ignore"):
        assert np.array_equal(back.log10_probs(test), model.log10_probs(test))
    assert evaluate(back, test).perplexity == evaluate(model, test).perplexity
    states = model.corpus_states(test)[:3000]
    assert np.array_equal(back.distributions(states), model.distributions(states))


@pytest.mark.parametrize("smoothing", ["kn", "addk"])
def test_generation_gives_the_same_sentences(models, smoothing):
    model, path = models[smoothing]
    for full_check in (None, False):
        back = load_model(path, full_check=full_check)
        for n, kwargs in ((200, {"seed": 3}), (200, {"seed": 4, "prompt": ["the"]}), (5, {"seed": 5, "temperature": 0.8})):
            assert sample_sentences(back, n, **kwargs) == sample_sentences(model, n, **kwargs), (full_check, kwargs)


def test_the_cli_scores_and_generates_the_same_on_the_large_file_path(models, monkeypatch, capsys, tmp_path):
    _, path = models["kn"]
    test = tmp_path / "t.txt"
    test.write_text("the company said it expects to report\nshares rose N cents\n")
    runs = {}
    for threshold in (storage.FULL_CHECK_BYTES, 0):  # 0: every file is "large"
        monkeypatch.setattr(storage, "FULL_CHECK_BYTES", threshold)
        assert cli.main(["score", "--model", str(path), "--test", str(test), "--json"]) == 0
        assert cli.main(["generate", "--model", str(path), "-n", "5", "--seed", "1"]) == 0
        runs[threshold] = capsys.readouterr().out
    assert runs[0] == runs[storage.FULL_CHECK_BYTES] and "perplexity" in runs[0]


# ------------------------------------------------------- no whole-table arrays
class WholeTableRead(AssertionError):
    pass


class Guarded(np.ndarray):
    """A view of a table that refuses numpy work over more than half of it (gathering
    entries, slicing and searching are fine: they read what they are asked for)."""

    def __array_finalize__(self, obj):
        self.limit = getattr(obj, "limit", None)

    def _check(self, what):
        if self.limit is not None and self.size > self.limit:
            raise WholeTableRead(f"{what} over {self.size:,} entries of a table")

    @staticmethod
    def _plain(x):
        return x.view(np.ndarray) if isinstance(x, Guarded) else x

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        for x in inputs + tuple(kwargs.get("out", ())):
            if isinstance(x, Guarded):
                x._check(f"{ufunc.__name__}.{method}")
        return getattr(ufunc, method)(*map(self._plain, inputs), **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if func is not np.searchsorted:
            for x in list(args) + list(kwargs.values()):
                if isinstance(x, Guarded):
                    x._check(func.__name__)
        return func(*map(self._plain, args), **{k: self._plain(v) for k, v in kwargs.items()})

    def __getitem__(self, index):
        plain = self.view(np.ndarray)
        out = plain[index]
        if isinstance(out, np.ndarray) and np.shares_memory(out, plain):  # a slice: still the table
            out = out.view(Guarded)
            out.limit = self.limit
        return out

    def astype(self, dtype, *args, **kwargs):
        if np.dtype(dtype) == self.dtype and kwargs.get("copy", True) is False:
            return self
        self._check("astype")
        return self.view(np.ndarray).astype(dtype, *args, **kwargs)

    def tolist(self):
        self._check("tolist")
        return self.view(np.ndarray).tolist()


def test_the_guard_catches_whole_table_work():
    table = np.arange(1000).view(Guarded)
    table.limit = 500
    for work in (lambda t: t % 7, lambda t: t.sum(), lambda t: np.diff(t), lambda t: np.cumsum(t), lambda t: t.tolist(),
                 lambda t: np.bincount(t[:10], weights=t), lambda t: t.astype(float), lambda t: t[::1] // 2):
        with pytest.raises(WholeTableRead):
            work(table)
    assert table[np.array([3, 999])].tolist() == [3, 999] and np.searchsorted(table, 500) == 500
    assert int(table[10:20].sum()) == 145


@pytest.mark.parametrize("smoothing", ["kn", "addk"])
def test_the_large_file_path_builds_no_whole_table_array(models, ptb, monkeypatch, smoothing):
    model, path = models[smoothing]
    real_map = storage._map

    def guarded_map(path, entry):
        array = real_map(path, entry)
        name = entry.info.filename
        if name[:-4] in ("keys2", "keys3", "logp2", "logp3", "logbo2", "counts2", "counts3"):
            assert len(array) > 40_000  # tables much larger than the sampled checks read
            array = array.view(Guarded)
            array.limit = len(array) // 2
        return array

    monkeypatch.setattr(storage, "_map", guarded_map)
    back = load_model(path, full_check=False)
    assert sum(isinstance(a, Guarded) for a in tables(back)) >= 4
    test = ptb.corpora["test"]
    with np.errstate(divide="ignore"):
        assert np.array_equal(back.log10_probs(test), model.log10_probs(test))
    states = model.corpus_states(test)[:2000]
    assert np.array_equal(back.distributions(states), model.distributions(states))
    assert sample_sentences(back, 100, seed=2) == sample_sentences(model, 100, seed=2)
    trie = back.trie
    assert trie._parent == trie._word == trie._suffix == {}  # the whole-table caches stayed empty
    assert getattr(back, "_linear_cache", None) is None and getattr(back, "_context_total", {}) == {}
    assert all(len(at) <= 4096 for at, _ in trie._fence.values())


def test_unaligned_tables_are_searched_without_numpy_copying_them():
    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(0, 10**6, 50_000))
    raw = np.zeros(len(keys) * 8 + 8, np.uint8)
    unaligned = raw[4 : 4 + len(keys) * 8].view(np.int64)
    unaligned[:] = keys
    assert not unaligned.flags.aligned
    trie = NgramTrie(2, 10, [None, unaligned])
    queries = np.concatenate([rng.integers(-5, 10**6 + 5, 3000), keys[:20], keys[-20:]])
    for few in (queries[:3], queries):  # the fence grows with the queries
        for side in ("left", "right"):
            assert np.array_equal(trie.search(2, few, side), np.searchsorted(keys, few, side))
    assert np.array_equal(NgramTrie(2, 10, [None, unaligned[:0]]).search(2, queries), np.zeros(len(queries)))


@pytest.mark.parametrize("size", [0, 1, FENCE_STRIDE - 1, FENCE_STRIDE, FENCE_STRIDE + 1, 7 * FENCE_STRIDE, 50_000])
def test_a_fenced_table_is_searched_as_numpy_searches_it(size):
    rng = np.random.default_rng(size)
    keys = np.unique(rng.integers(0, 10**6, size * 2))[:size]
    trie = NgramTrie(2, 10, [None, keys])
    trie.fences[2] = fence_of(keys)
    assert len(trie.fences[2]) == -(-size // FENCE_STRIDE)
    queries = np.concatenate([rng.integers(-5, 10**6 + 5, 3000), keys[:20], keys[-20:], keys[::FENCE_STRIDE],
                              keys[::FENCE_STRIDE] - 1, keys[::FENCE_STRIDE] + 1]).astype(np.int64)
    for side in ("left", "right"):
        assert np.array_equal(trie.search(2, queries, side), np.searchsorted(keys, queries, side))
    # a fence of a column read in pieces is the fence of the whole column
    pieces = [fence_of(keys[a : a + 1000], a) for a in range(0, size, 1000)]
    assert np.array_equal(np.concatenate(pieces) if pieces else np.zeros(0, np.int64), trie.fences[2])


def test_scoring_a_mapped_model_unmaps_its_pages_part_by_part(models, ptb, monkeypatch):
    model, path = models["kn"]
    back = load_model(path, full_check=False)
    assert set(back.trie.fences) == {2, 3} and len(back.trie.mapped) >= 7
    released = []
    real = lm_trie.release
    monkeypatch.setattr(lm_trie, "release", lambda arrays: (released.append(len(arrays)), real(arrays)))
    monkeypatch.setattr(lm_base, "MAPPED_BATCH_TOKENS", 1000)
    monkeypatch.setattr(lm_base, "MAPPED_RESIDENT_BYTES", 0)
    test = ptb.corpora["test"]
    with np.errstate(divide="ignore"):
        assert np.array_equal(back.log10_probs(test), model.log10_probs(test))
    assert len(released) >= test.n_tokens // 1000 - 1  # after (nearly) every part of 1000 tokens
    monkeypatch.setattr(lm_base, "MAPPED_RESIDENT_BYTES", 1 << 50)  # never above: never released
    released.clear()
    with np.errstate(divide="ignore"):
        assert np.array_equal(back.log10_probs(test), model.log10_probs(test))
    assert released == []
    parts = list(lm_base.sentence_batches(test, 1000))
    assert len(parts) >= test.n_tokens // 1000 and sum(p.n_tokens for p in parts) == test.n_tokens
    assert max(p.n_tokens for p in parts) < 1000 + max(np.diff(test.offsets))


def _mapped_file(path, values):
    values.tofile(path)
    return np.memmap(path, values.dtype, mode="r", shape=values.shape)


def test_a_walk_reads_what_indexing_reads_and_leaves_few_pages_mapped(tmp_path, monkeypatch):
    # 64 MB of float64, read at 200,000 random places: indexing maps most of the file
    # (every page is hit), the walk unmaps each chunk's pages once read.
    rng = np.random.default_rng(0)
    values = rng.random(8 << 20)
    array = _mapped_file(tmp_path / "values.bin", values)
    index = rng.integers(0, len(values), 200_000)
    for few in (index[:0], index[:1], index[:5000], np.sort(index), index, np.repeat(index[:3], 5000)):
        assert np.array_equal(lm_mapped.take(array, few), values[few])
    assert np.array_equal(lm_mapped.take(values, index), values[index])  # an array in memory: indexing
    lm_mapped.release([array])
    before = lm_mapped.resident_file_bytes()
    lm_mapped.take(array, index)
    walked = lm_mapped.resident_file_bytes() - before
    array[index].sum()
    indexed = lm_mapped.resident_file_bytes() - before
    assert walked < 8 << 20 and indexed > 48 << 20, (walked, indexed)


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_a_mapped_fenced_table_is_searched_chunk_by_chunk_as_numpy_searches_it(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(lm_trie, "WALK_CHUNK", chunk)
    rng = np.random.default_rng(chunk)
    keys = np.unique(rng.integers(0, 10**7, 300_000))
    trie = NgramTrie(2, 10, [None, _mapped_file(tmp_path / "keys.bin", keys)])
    trie.fences[2] = fence_of(keys)
    queries = np.concatenate([rng.integers(-5, 10**7 + 5, 20_000), keys[:20], keys[-20:], keys[::FENCE_STRIDE] + 1])
    queries = queries[: 200 if chunk == 1 else None]
    for side in ("left", "right"):
        assert np.array_equal(trie.search(2, queries, side), np.searchsorted(keys, queries, side))
    found = trie.lookup(2, queries // 11, queries % 11)
    wanted = np.searchsorted(keys, queries // 11 * 11 + queries % 11)
    listed = (queries // 11 >= 0) & (keys[np.minimum(wanted, len(keys) - 1)] == queries // 11 * 11 + queries % 11)
    assert np.array_equal(found, np.where(listed, wanted, -1))


@pytest.mark.parametrize("full_check", [None, False])
def test_a_version_1_file_without_fences_is_read_and_scores_the_same(models, ptb, tmp_path, full_check):
    model, path = models["kn"]
    arrays = {k: v for k, v in npz_arrays(path).items() if not k.startswith("fence")}
    header = json.loads(str(arrays["header"][()]))
    assert header["version"] == 2
    arrays["header"] = np.array(json.dumps({**header, "version": 1}))
    old = write_npz(tmp_path / "v1.npz", arrays)
    back = load_model(old, full_check=full_check)
    assert back.trie.fences == {}
    test = ptb.corpora["test"]
    with np.errstate(divide="ignore"):
        assert np.array_equal(back.log10_probs(test), model.log10_probs(test))


def test_a_wrong_fence_is_refused(models, tmp_path):
    model, path = models["kn"]
    good = npz_arrays(path)
    bad = tmp_path / "bad.npz"
    fence = good["fence3"]

    def with_fence(change):
        arrays = {k: v.copy() for k, v in good.items()}
        change(arrays["fence3"])
        return write_npz(bad, arrays)

    at = sample_positions(len(fence), run=4)
    outside = int(np.setdiff1d(np.arange(len(fence)), at)[0])  # a fence entry the sampled check does not read
    for full_check in (True, False):
        refused(with_fence(lambda f: f.__setitem__(int(at[1]), f[int(at[1])] + 1)), "the 3-gram fence differs", full_check)
        refused(with_fence(lambda f: f.__setitem__(outside, f[outside - 1])), "the 3-gram fence differs", full_check)
    refused(write_npz(bad, {**good, "fence3": fence[:-1]}), "the 3-gram fence", full_check=False)


# --------------------------------------------------------------- what is checked
def npz_arrays(path) -> dict:
    with np.load(path) as data:
        return {k: np.array(data[k]) for k in data.files}


def write_npz(path, arrays, savez=np.savez):
    savez(path, **arrays)
    return path


def refused(path, pattern, full_check=False):
    with pytest.raises(PerplexError) as info:
        load_model(path, full_check=full_check)
    message = str(info.value)
    assert str(path) in message and "\n" not in message and pattern in message, message


def sampled(n: int, k: int = 0) -> int:
    """An entry of a table of n entries that the sampled checks read (one followed by its
    neighbour in the same run)."""
    at = sample_positions(n)
    inside = at[:-1][np.diff(at) == 1]
    return int(inside[len(inside) // 2 + k])


def test_the_large_file_path_refuses_damage_where_it_looks(models, tmp_path):
    model, path = models["kn"]
    good = npz_arrays(path)
    bad = tmp_path / "bad.npz"

    def damaged(name, change):
        arrays = {k: v.copy() for k, v in good.items()}
        change(arrays[name])
        return write_npz(bad, arrays)

    p = sampled(len(good["logp3"]))
    refused(damaged("logp3", lambda a: a.__setitem__(p, np.nan)), "log10 probability nan")
    refused(damaged("logp2", lambda a: a.__setitem__(sampled(len(a)), 0.5)), "log10 probability 0.5 > 0")
    refused(damaged("logbo2", lambda a: a.__setitem__(sampled(len(a)), -np.inf)), "log10 backoff -inf")
    k = sampled(len(good["keys3"]))
    refused(damaged("keys3", lambda a: a.__setitem__([k, k + 1], a[[k + 1, k]])), "the 3-gram keys are not strictly increasing")
    refused(damaged("keys2", lambda a: a.__setitem__(-1, a[-1] + 10**9)), "the 2-gram keys point outside")
    _, lo, hi = sample_contexts(model.trie, 2)  # a sampled context's continuation made certain
    child = int(lo[np.flatnonzero(hi > lo)[0]])
    refused(damaged("logp3", lambda a: a.__setitem__(child, 0.0)), "the distribution after")
    refused(damaged("logbo2", lambda a: a.__iadd__(0.5)), "the distribution after")  # every context: the sample sees it
    refused(damaged("logp3", lambda a: a.__setitem__(slice(None), a - 0.3)), "the distribution after")
    data = path.read_bytes()
    bad.write_bytes(data[: len(data) * 2 // 3])
    refused(bad, "not a readable perplex n-gram model")


def test_the_large_file_path_checks_counts_where_it_looks(models, tmp_path):
    model, path = models["addk"]
    good = npz_arrays(path)
    bad = tmp_path / "bad.npz"
    arrays = dict(good, counts3=good["counts3"].copy())
    arrays["counts3"][sampled(len(arrays["counts3"]))] = 0
    refused(write_npz(bad, arrays), "has count 0")
    at, _, _ = sample_contexts(model.trie, 2)  # the bigrams whose continuations are summed
    candidates = at[model.trie.word_of(2, at) != model.vocab.eos_id]  # nothing follows </s>
    ctx = int(candidates[len(candidates) // 2])
    arrays = dict(good, counts2=good["counts2"].copy())
    arrays["counts2"][ctx] += 1
    refused(write_npz(bad, arrays), "but its continuations count")


def test_damage_outside_the_sample_is_seen_only_by_the_full_check(models, tmp_path):
    model, path = models["kn"]
    arrays = npz_arrays(path)
    at = sample_positions(len(arrays["logp3"]))
    gap = int(np.argmax(np.diff(at)))
    outside = int(at[gap] + np.diff(at)[gap] // 2)
    arrays["logp3"][outside] = np.nan
    bad = write_npz(tmp_path / "bad.npz", arrays)
    load_model(bad, full_check=False)  # the documented limit of the large-file path
    refused(bad, "log10 probability nan", full_check=None)  # a small file: every entry is checked
    flipped = bytearray(path.read_bytes())
    flipped[len(flipped) // 2] ^= 0x01  # one bit of one value: only the CRC sees it
    bad.write_bytes(bytes(flipped))
    refused(bad, "not a readable perplex n-gram model", full_check=None)


def test_a_fortran_order_array_is_refused(models, tmp_path):
    arrays = npz_arrays(models["kn"][1])
    arrays["logp2"] = np.asfortranarray(np.zeros((2, 3)))
    refused(write_npz(tmp_path / "f.npz", arrays), "the array logp2 is stored in Fortran order", full_check=None)


def test_a_compressed_file_is_read_into_memory(models, ptb, tmp_path):
    model, path = models["kn"]
    compressed = write_npz(tmp_path / "c.npz", npz_arrays(path), np.savez_compressed)
    back = load_model(compressed)
    assert not back.trie.out_of_core and not any(is_mapped(a) for a in tables(back))
    test = ptb.corpora["test"]
    assert np.array_equal(back.log10_probs(test), model.log10_probs(test))


def write_aligned_npz(path, arrays: dict, align: int = 64):
    """A .npz whose entries pad their *local* headers' extra field so that each array starts
    at a multiple of ``align`` (as a streaming writer may do); the central directory lists no
    extra field, so a reader must take the data offset from the local header."""
    body, central = bytearray(), bytearray()
    for name, array in arrays.items():
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=False)
        data, fname, offset = buffer.getvalue(), f"{name}.npy".encode(), len(body)
        pad = -(offset + 30 + len(fname) + 4) % align  # the .npy header itself is a multiple of 64 bytes
        extra = struct.pack("<HH", 0xD935, pad) + bytes(pad)
        crc = zlib.crc32(data)
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0x21, crc, len(data), len(data), len(fname),
                            len(extra)) + fname + extra + data
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0x21, crc, len(data), len(data),
                               len(fname), 0, 0, 0, 0, 0, offset) + fname
    count = len(arrays)
    path.write_bytes(bytes(body + central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(central),
                                                         len(body), 0)))
    return path


def test_entries_padded_in_their_local_headers_are_mapped_aligned(models, ptb, tmp_path):
    model, path = models["kn"]
    arrays = npz_arrays(path)
    aligned = write_aligned_npz(tmp_path / "a.npz", arrays)
    with np.load(aligned) as data:  # numpy reads it too
        assert json.loads(str(data["header"])) == json.loads(str(arrays["header"]))
    test = ptb.corpora["test"]
    for full_check in (None, False):
        back = load_model(aligned, full_check=full_check)
        assert all(is_mapped(a) and a.flags.aligned for a in tables(back))
        assert np.array_equal(back.log10_probs(test), model.log10_probs(test))


# ----------------------------------------------------------------- fuzzing

@FUZZ
@given(file=npz_files())
def test_fuzzed_npz_files_on_the_large_file_path(tmp_path, file):
    """The fuzzer's small files through the sampled checks: their arrays are shorter than a
    sample, so every entry and context is still checked (only the CRCs are not), and each
    file is refused in one line or loads to finite distributions that sum to 1."""
    path = tmp_path / "fuzz.npz"
    path.write_bytes(file[0])
    refused_or_distributions(lambda p: load_model(p, full_check=False), path)
