"""Hogwild workers (embeddings.parallel): processes where fork exists, threads otherwise."""

import pytest
import torch

from perplex.embeddings import parallel
from perplex.embeddings.parallel import run_batches
from perplex.errors import PerplexError


@pytest.fixture(params=["processes", "threads"])
def mode(request, monkeypatch):
    if request.param == "threads":
        monkeypatch.setattr(parallel, "can_fork", lambda tensors: False)
    elif not parallel.can_fork([torch.zeros(1)]):
        pytest.skip("no fork on this platform")
    return request.param


def test_every_batch_runs_once_and_updates_reach_the_caller(mode):
    done = torch.zeros(37)
    workers_seen = torch.zeros(2)
    polls = []

    def step(k, worker):
        done[k] += 1
        workers_seen[worker] += 1

    run_batches(37, 2, step, shared=(done, workers_seen), poll=lambda: polls.append(1))
    assert done.tolist() == [1.0] * 37  # written in the workers, seen here
    assert workers_seen.tolist() == [19.0, 18.0]  # batches w, w + 2, w + 4, ...
    assert polls  # called at least once, at the end


def test_a_worker_error_is_raised_in_the_caller(mode):
    def step(k, worker):
        if k == 5:
            raise PerplexError("batch 5 failed")

    with pytest.raises(PerplexError, match="batch 5 failed"):
        run_batches(12, 2, step, shared=(torch.zeros(1),))


def test_one_worker_runs_in_order():
    order = []
    run_batches(5, 1, lambda k, w: order.append((k, w)))
    assert order == [(k, 0) for k in range(5)]


def test_share_moves_data_in_place_once():
    t = torch.arange(12, dtype=torch.float64).view(3, 4)
    view_before = t
    parallel.share(t)
    assert t is view_before and t.tolist() == torch.arange(12, dtype=torch.float64).view(3, 4).tolist()
    pointer = t.data_ptr()
    parallel.share(t)  # the second time changes nothing
    assert t.data_ptr() == pointer
