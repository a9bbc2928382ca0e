"""Fuzzing the n-gram readers (hypothesis, derandomized): structure-aware mutations of a
small model's ARPA text and .npz arrays (lines or arrays dropped, duplicated, reordered;
bytes flipped; numbers made infinite, NaN, positive or nudged; keys shifted; header
fields changed) must end in a one-line PerplexError naming the file, or in a model
whose next-word distributions are finite and sum to 1 after every listed context and
every prefix of a few sentences."""

import gzip
import io
import json
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perplex.corpus import Vocabulary, encode
from perplex.errors import PerplexError
from perplex.lm import load_model, read_arpa, save_model, train, write_arpa
from perplex.lm.trie import BEFORE_START
from perplex.lm.validate import TOLERANCE

SENTS = [s.split() for s in ["the cat sat on the mat", "the dog sat on the log", "a cat saw a dog", "the end"]] * 2
PROBES = [s.split() for s in ["the cat sat on the log", "a dog saw the mat", "zebra the the end", ""]]
FUZZ = settings(derandomize=True, deadline=None, max_examples=300,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@lru_cache(maxsize=None)
def base_model(smoothing: str, order: int):
    vocab = Vocabulary.build(SENTS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny data: fallback discounts
        return train(encode(SENTS, vocab), smoothing, order, 0.2 if smoothing == "addk" else None)


def _written(write, model) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model"
        write(model, path)
        return path.read_bytes()


@lru_cache(maxsize=None)
def base_arpa(smoothing: str, order: int) -> bytes:
    return _written(write_arpa, base_model(smoothing, order))


@lru_cache(maxsize=None)
def base_npz(smoothing: str, order: int) -> tuple:
    """The file's bytes and its arrays (the header as a dict)."""
    raw = _written(save_model, base_model(smoothing, order))
    with np.load(io.BytesIO(raw)) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["header"] = json.loads(str(arrays["header"]))
    return raw, arrays


# ----------------------------------------------------------------- the property
def histories(model) -> np.ndarray:
    """States after every listed context (read after <s>) and after every prefix of the
    training and probe sentences."""
    states = [model.corpus_states(encode(SENTS + PROBES, model.vocab))]
    trie, eos = model.trie, model.vocab.eos_id
    for m in range(1, model.order):
        ids = trie.ngram_ids(m)
        ids = ids[~(ids == eos).any(axis=1)]  # nothing follows </s>
        for starts_bos in (True, False):
            rows = ids[(ids[:, 0] == trie.bos_id) == starts_bos][:, int(starts_bos):]
            state = model.initial_state(len(rows))
            for column in rows.T:
                state = model.advance(state, column)
            states.append(state)
    return np.concatenate(states)


def _seen_context(model, states: np.ndarray) -> np.ndarray:
    """Whether the context an additive model uses for each state (its longest, cut at <s>)
    was seen in training (a listed n-gram with a count above 0)."""
    if model.order == 1:
        return np.ones(len(states), bool)
    length = (states != BEFORE_START).sum(axis=1)
    ctx = states[np.arange(len(states)), length - 1]
    seen = ctx >= 0
    seen[seen] = np.array([model.trie.counts[m - 1][i] > 0 for m, i in zip(length[seen], ctx[seen])], bool)
    return seen


def refused_or_distributions(read, path) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no <unk>" and the like
            model = read(path)
    except PerplexError as exc:
        message = str(exc)
        assert str(path) in message and "\n" not in message, message
        return "refused"
    states = histories(model)
    dist = model.distributions(states)
    assert dist.shape[1] == len(model.vocab)
    assert np.all(np.isfinite(dist)) and np.all(dist >= 0)
    sums = dist.sum(axis=1)
    ok = np.abs(sums - 1) <= TOLERANCE + 1e-9
    if getattr(model, "alpha", None) == 0:  # MLE: no distribution after an unseen history (only)
        ok |= (sums == 0) & ~_seen_context(model, states)
    assert ok.all(), sums[~ok]
    with np.errstate(divide="ignore"):
        logp = model.log10_probs(encode(SENTS + PROBES, model.vocab))
    assert not np.any(np.isnan(logp)) and np.all(logp <= 1e-9)
    return "loaded"


# ----------------------------------------------------------------------- ARPA
SPECIAL_NUMBERS = ["inf", "-inf", "nan", "0", "-0", "0.5", "3", "1e309", "-1e309", "-99", "1e-300"]
numbers = st.sampled_from(SPECIAL_NUMBERS) | st.floats(-8, 2).map(lambda x: f"{x:.4f}")
# Line operations keep the \\data\\ counts in step (so that the file parses and its
# values are what gets tested) unless they are the raw ones ("flip", "truncate", "count").
ARPA_OPS = ["drop", "duplicate", "reorder", "reorder", "swap", "number", "nudge", "nudge", "word", "flip", "truncate",
            "count"]


def data_lines(lines: list) -> list:
    """(line index, order) of every n-gram line."""
    out, n = [], 0
    for i, line in enumerate(lines):
        if line.endswith(b"-grams:") and line[1:-7].isdigit():
            n = int(line[1:-7])
        elif n and b"\t" in line:
            out.append((i, n))
    return out


def add_to_count(lines: list, n: int, delta: int) -> None:
    prefix = b"ngram %d=" % n
    for j, line in enumerate(lines):
        if line.startswith(prefix) and line[len(prefix):].isdigit():
            lines[j] = prefix + str(int(line[len(prefix):]) + delta).encode()
            return


@st.composite
def arpa_files(draw):
    smoothing = draw(st.sampled_from(["kn", "ikn"]))
    order = draw(st.integers(1, 3))
    lines = base_arpa(smoothing, order).split(b"\n")
    words = [w.encode() for w in base_model(smoothing, order).vocab.tokens] + [b"<s>", b"zebra"]
    for op in draw(st.lists(st.sampled_from(ARPA_OPS), min_size=1, max_size=3)):
        listed = data_lines(lines)
        if not listed:
            break
        i, n = draw(st.sampled_from(listed))
        fields = lines[i].split(b"\t")
        if op == "drop":
            del lines[i]
            add_to_count(lines, n, -1)
        elif op == "duplicate":
            lines.insert(i, lines[i])
            add_to_count(lines, n, 1)
        elif op == "reorder":  # within the section: the file means the same
            j = draw(st.sampled_from([j for j, m in listed if m == n]))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "swap":  # anywhere
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "number":
            k = draw(st.sampled_from([0, len(fields) - 1])) if len(fields) > 1 else 0
            fields[k] = draw(numbers).encode()
            lines[i] = b"\t".join(fields)
        elif op == "nudge":  # a changed digit: the file stays well-formed
            k = draw(st.sampled_from([0, len(fields) - 1])) if len(fields) > 2 else 0
            try:
                value = float(fields[k]) + draw(st.sampled_from([-1, -0.1, -0.01, -1e-5, 1e-5, 0.01, 0.1, 1]))
            except ValueError:
                continue
            fields[k] = f"{value:.7f}".encode()
            lines[i] = b"\t".join(fields)
        elif op == "word" and len(fields) > 1:
            ngram = fields[1].split(b" ")
            ngram[draw(st.integers(0, len(ngram) - 1))] = draw(st.sampled_from(words))
            fields[1] = b" ".join(ngram)
            lines[i] = b"\t".join(fields)
        elif op == "count":
            add_to_count(lines, draw(st.integers(1, order)), draw(st.sampled_from([-1, 1, 10**12])))
        elif op in ("flip", "truncate"):
            text = b"\n".join(lines)
            pos = draw(st.integers(0, len(text) - 1))
            if op == "flip":
                text = text[:pos] + bytes([text[pos] ^ draw(st.integers(1, 255))]) + text[pos + 1:]
            lines = (text if op == "flip" else text[:pos]).split(b"\n")
    text = b"\n".join(lines)
    if draw(st.integers(0, 4)) == 0:  # sometimes gzipped, and then sometimes damaged
        text = gzip.compress(text, mtime=0)
        if draw(st.booleans()):
            pos = draw(st.integers(0, len(text) - 1))
            text = text[:pos] + bytes([text[pos] ^ draw(st.integers(1, 255))]) + text[pos + 1:]
    return text


@FUZZ
@given(text=arpa_files())
def test_fuzzed_arpa_files_are_refused_or_distributions(tmp_path, text):
    path = tmp_path / "fuzz.arpa"
    path.write_bytes(text)
    refused_or_distributions(read_arpa, path)


# ------------------------------------------------------------------------ npz
NPZ_OPS = ["drop", "duplicate", "permute", "swap", "value", "nudge", "shift", "truncate", "dtype", "header", "flip"]
special_values = st.sampled_from([np.inf, -np.inf, np.nan, 0.5, 3.0, -1.0, 0.0, 2**62, -(2**62)])


@st.composite
def npz_files(draw):
    smoothing = draw(st.sampled_from(["kn", "ikn", "mle", "laplace", "addk"]))
    order = draw(st.integers(1, 3))
    raw, base = base_npz(smoothing, order)
    arrays = {k: (dict(v) if k == "header" else v.copy()) for k, v in base.items()}
    radix = len(arrays["vocab"]) + 1
    ops = draw(st.lists(st.sampled_from(NPZ_OPS), min_size=1, max_size=3))
    if "flip" in ops:  # a byte of the file itself
        pos = draw(st.integers(0, len(raw) - 1))
        return raw[:pos] + bytes([raw[pos] ^ draw(st.integers(1, 255))]) + raw[pos + 1:], smoothing
    for op in ops:
        names = sorted(k for k in arrays if k != "header")
        name = draw(st.sampled_from(names))
        a = arrays[name]
        if op == "drop":
            del arrays[name]
        elif op == "duplicate":
            arrays[draw(st.sampled_from(names + [f"keys{order + 1}", f"logp{order + 1}", f"counts{order + 1}"]))] = a
        elif op == "permute" and len(a) > 1:
            arrays[name] = a[draw(st.permutations(range(len(a))))]
        elif op == "swap" and len(a) > 1:
            i, j = draw(st.integers(0, len(a) - 1)), draw(st.integers(0, len(a) - 1))
            a = a.copy()
            a[[i, j]] = a[[j, i]]
            arrays[name] = a
        elif op == "value" and len(a) and a.dtype.kind in "iuf":
            value = draw(special_values)
            exact = a.dtype.kind == "f" or (a.dtype.kind == "i" and float(value).is_integer())
            a = a.copy() if exact else a.astype(np.float64)
            a[draw(st.integers(0, len(a) - 1))] = value
            arrays[name] = a
        elif op == "nudge" and len(a) and a.dtype.kind in "if":  # a changed digit
            a = a.copy()
            delta = draw(st.sampled_from([-1, 1])) * (1 if a.dtype.kind in "iu" else draw(st.sampled_from([1e-5, 0.01, 0.3])))
            a[draw(st.integers(0, len(a) - 1))] += delta
            arrays[name] = a
        elif op == "shift" and name.startswith("keys") and len(a) and a.dtype.kind in "if":
            delta = draw(st.sampled_from([-1, 1, radix, -radix, 1 << 40]))
            arrays[name] = a + delta if draw(st.booleans()) else np.concatenate([a[:-1], a[-1:] + delta])
        elif op == "truncate" and len(a):
            arrays[name] = a[: draw(st.integers(0, len(a) - 1))]
        elif op == "dtype" and a.dtype.kind in "iuf":
            with np.errstate(invalid="ignore"):
                arrays[name] = a.astype(draw(st.sampled_from([np.float32, np.int32, np.float64, np.int64, np.uint64, str])))
        elif op == "header":
            field = draw(st.sampled_from(["order", "kind", "alpha", "version", "smoothing", "name"]))
            arrays["header"][field] = draw(st.sampled_from(
                {"order": [order - 1, order + 1, 0, -3, 2.0, "3", True, 10**9], "kind": ["backoff", "additive", "x", None],
                 "alpha": [float("nan"), -1, 0, 2, "1", None, float("inf")], "version": [0, 3, "1", True],
                 "smoothing": [None, 5, "kn"], "name": [None, 3, "x"]}[field]))
    header = arrays.pop("header")
    out = io.BytesIO()
    np.savez(out, header=np.array(json.dumps(header)), **arrays)
    return out.getvalue(), smoothing


@FUZZ
@given(file=npz_files())
def test_fuzzed_npz_files_are_refused_or_distributions(tmp_path, file):
    data, smoothing = file
    path = tmp_path / "fuzz.npz"
    path.write_bytes(data)
    refused_or_distributions(load_model, path)


def test_unmutated_files_load(tmp_path):
    # The property holds for the base files themselves (the fuzzing starts from valid models).
    for order in (1, 2, 3):
        for smoothing in ("kn", "ikn"):
            (tmp_path / "m.arpa").write_bytes(base_arpa(smoothing, order))
            assert refused_or_distributions(read_arpa, tmp_path / "m.arpa") == "loaded"
        for smoothing in ("kn", "ikn", "mle", "laplace", "addk"):
            (tmp_path / "m.npz").write_bytes(base_npz(smoothing, order)[0])
            assert refused_or_distributions(load_model, tmp_path / "m.npz") == "loaded"
