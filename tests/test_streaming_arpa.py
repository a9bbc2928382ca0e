"""The on-disk estimator's ARPA file (perplex.lm.streaming.output): every part's bytes are
measured before any is written, each task formats its part into its place, and the file is the
in-memory writer's, byte for byte; gzipped, the parts are compressed in order instead."""

import gzip
import random
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from perplex.corpus import Vocabulary, encode
from perplex.errors import PerplexError
from perplex.lm import train, write_arpa
from perplex.lm import arpa
from perplex.lm.arpa import TokenBytes, arpa_line_lengths, arpa_lines
from perplex.lm.streaming import output
from tests.test_streaming import on_disk, small_pieces  # noqa: F401 (a fixture)

real_jobs = output._jobs
# Words of 1 to 40 bytes, some of several bytes per character: lengths are counted in bytes.
WORDS = ["a", "to", "été", "naïve", "東京", "😀", "x" * 40, "Straße", "of", "the", "-", "<unk>"]


def varied_corpus(seed: int, n_sentences: int = 400) -> list[list[str]]:
    rng = random.Random(seed)
    weights = [1 / (i + 1) for i in range(len(WORDS))]
    return [rng.choices(WORDS, weights, k=rng.choice([1, 2, 3, 5, 8])) for _ in range(n_sentences)]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small texts: discounts from fallbacks
        yield


def memory_arpa(sentences, order, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_arpa(train(encode(sentences, Vocabulary.build(sentences)), "kn", order), path)
    return path.read_bytes()


@given(arrays(np.float64, st.integers(0, 50), elements=st.floats(-1e12, 1e12)))
def test_the_length_of_each_number_is_that_of_its_text(values):
    np.testing.assert_array_equal(arpa._decimal_lengths(values), (arpa._decimal_bytes(values) != 0).sum(axis=1))


@given(st.integers(1, 5), st.booleans(), st.integers(0, 2**32 - 1))
def test_line_lengths_add_up_to_the_lines(n, backoff, seed):
    rng = np.random.default_rng(seed)
    tokens = TokenBytes(WORDS)
    ids = rng.integers(0, len(WORDS) + 1, (30, n))  # <s> (id V) too
    logp = -rng.exponential(3, 30) * rng.choice([1, 1e-9, 0], 30)
    logbo = rng.normal(0, 2, 30) if backoff else None
    text = arpa_lines(logp, ids, tokens, logbo)
    lengths = arpa_line_lengths(logp, tokens.joined_length(ids), logbo)
    assert lengths.sum() == len(text)
    assert [len(line) + 1 for line in text.split(b"\n")[:-1]] == lengths.tolist()


@pytest.mark.parametrize("workers", [1, 2])
def test_parts_formatted_in_place_are_the_in_memory_file(tmp_path, workers, monkeypatch, small_pieces):
    """Many parts per order (a small budget), formatted in pieces of 7 lines."""
    monkeypatch.setattr(output, "ROWS_PER_PIECE", 7)
    jobs = []
    monkeypatch.setattr(output, "_jobs", lambda *a: jobs.extend(real_jobs(*a)) or list(jobs))
    sentences = varied_corpus(1)
    expected = memory_arpa(sentences, 4, tmp_path / "memory.arpa")
    work = tmp_path / "work"
    work.mkdir()
    with on_disk(sentences, "kn", 4, 20_000, work, workers=workers, arpa=tmp_path / "disk.arpa") as (_, stats):
        assert stats.stage_seconds["sizing the ARPA lines"] >= 0
    assert (tmp_path / "disk.arpa").read_bytes() == expected
    assert list(work.iterdir()) == []
    assert all(sum(n == m for m, _, _ in jobs) >= 3 for n in (2, 3, 4))  # parts per order


def test_a_gzipped_file_holds_the_same_lines(tmp_path):
    sentences = varied_corpus(2)
    expected = memory_arpa(sentences, 3, tmp_path / "memory.arpa")
    work = tmp_path / "work"
    work.mkdir()
    with on_disk(sentences, "kn", 3, 20_000, work, workers=2, arpa=tmp_path / "disk.arpa.gz"):
        pass
    assert gzip.decompress((tmp_path / "disk.arpa.gz").read_bytes()) == expected
    assert list(work.iterdir()) == []


def test_a_part_longer_than_measured_stops_the_run_and_leaves_no_file(tmp_path, monkeypatch):
    """Sizing and formatting must agree to the byte; if they ever did not, the run stops
    rather than leave a file with a gap or an overlap."""
    monkeypatch.setattr(output, "arpa_line_lengths", lambda *a: arpa_line_lengths(*a) - 1)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(PerplexError, match="internal error: the ARPA lines of 1-grams"):
        with on_disk(varied_corpus(3), "kn", 3, 20_000, work, arpa=tmp_path / "disk.arpa"):
            pass
    assert list(tmp_path.iterdir()) == [work] and list(work.iterdir()) == []


def test_a_worker_that_cannot_reach_the_file_says_so_in_one_line(tmp_path):
    vocab_file = tmp_path / "vocabulary.txt"
    vocab_file.write_text("a\nb\n")
    with pytest.raises(PerplexError, match="--save and --arpa must be in a folder every worker reaches"):
        output.arpa_part({"logp1": np.zeros(3)}, str(vocab_file), 3, 1, 1, 0, 3, str(tmp_path / "gone" / "x.arpa"),
                         offset=0, size=30)
