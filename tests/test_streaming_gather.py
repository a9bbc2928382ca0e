"""The join by sorting (perplex.lm.streaming.gather) gives ``values[index]`` exactly, for
indices spread over every part of the values, repeated, or falling in no part at all."""

import contextlib

import numpy as np
import pytest

from perplex.lm.streaming.executor import make_executor
from perplex.lm.streaming.gather import delete_answers, gather_parts
from perplex.lm.streaming.workspace import Column, Stacked


def column(folder, name, values, dtype):
    c = Column.create(folder / name, dtype)
    c.append(np.asarray(values, dtype))
    return c


@pytest.mark.parametrize("workers", [1, 2])
def test_every_part_gets_its_values_in_its_own_order(tmp_path, workers):
    rng = np.random.default_rng(workers)
    sizes = [5, 0, 300, 1, 94]  # an empty part of the values too
    whole = rng.normal(size=sum(sizes))
    cuts = np.cumsum([0] + sizes)
    values = Stacked([column(tmp_path, f"v{k}", whole[a:b], np.float64) for k, (a, b) in enumerate(zip(cuts, cuts[1:]))])
    wanted = [rng.integers(0, len(whole), 1000),  # every part of the values, repeats
              np.full(50, 7),  # one value, many times
              np.zeros(0, np.int64),  # nothing
              rng.integers(305, 306, 20)]  # all in one part
    indices = [column(tmp_path, f"i{j}", w, np.int64) for j, w in enumerate(wanted)]
    with contextlib.closing(make_executor(workers)) as executor:
        gathered = gather_parts(values, indices, executor, str(tmp_path), "g")
        for g, w in zip(gathered, wanted):
            np.testing.assert_array_equal(g.read(), whole[w])
    delete_answers(gathered)
    kept = {p.name for p in tmp_path.iterdir()}
    assert kept == {f"v{k}" for k in range(len(sizes))} | {f"i{j}" for j in range(len(wanted))}
