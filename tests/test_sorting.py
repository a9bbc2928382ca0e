"""Sorting keys with their positions packed in (perplex.lm.sorting) gives exactly what numpy's
stable argsort and np.unique give, in each of its three ways: one packed sort, two passes for
keys too wide for one, and numpy's own for negative keys."""

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from perplex.lm import sorting
from perplex.lm.sorting import sort_with_positions, unique_counts


def check_against_numpy(keys: np.ndarray) -> None:
    ordered, perm = sort_with_positions(keys)
    expected = np.argsort(keys, kind="stable")
    np.testing.assert_array_equal(perm, expected)
    np.testing.assert_array_equal(ordered, keys[expected])
    distinct, inverse, counts, first = unique_counts(keys)
    ref, ref_first, ref_inverse, ref_counts = np.unique(keys, return_index=True, return_inverse=True,
                                                        return_counts=True)
    np.testing.assert_array_equal(distinct, ref)
    np.testing.assert_array_equal(inverse, ref_inverse)
    np.testing.assert_array_equal(counts, ref_counts)
    np.testing.assert_array_equal(first, ref_first)


@given(arrays(np.int64, st.integers(0, 300), elements=st.integers(0, 40)))
def test_small_keys_with_many_ties(keys):
    check_against_numpy(keys)


@given(arrays(np.int64, st.integers(1, 300), elements=st.integers(0, 2**63 - 1)))
def test_keys_too_wide_for_one_packed_sort(keys):
    check_against_numpy(keys)


@given(arrays(np.int64, st.integers(1, 100), elements=st.integers(-(2**62), 2**62)))
def test_negative_keys(keys):
    check_against_numpy(keys)


@pytest.mark.parametrize("bits", [20, 44, 62])
def test_each_way_on_a_million_keys(bits, monkeypatch):
    """n-gram-like keys (few values repeated often, a long tail) at widths that take one
    packed sort (20 + 20 bits), two passes (44 + 20 > 63) and two passes near the limit."""
    calls = []
    real_sort = np.sort
    monkeypatch.setattr(sorting.np, "sort", lambda a: calls.append(1) or real_sort(a))
    rng = np.random.default_rng(bits)
    keys = (rng.zipf(1.2, 1 << 20) * 2_654_435_761) % (1 << bits)
    check_against_numpy(keys)
    assert len(calls) == (1 if bits == 20 else 2) * 2  # sort_with_positions, then unique_counts
