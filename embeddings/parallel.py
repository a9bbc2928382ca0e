"""Hogwild training (Recht et al. 2011): worker threads update shared parameters without locks.

word2vec, gensim and GloVe's C code all train this way.  torch releases the GIL inside
its kernels, so Python threads that each run whole mini-batches (every operation
single-threaded) keep every core busy with far less per-operation overhead than one
thread whose small operations are split across cores.  With one worker the run is
deterministic; with more, the order of concurrent updates (and so the result) varies
slightly from run to run, as in gensim with ``workers > 1``.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Callable


@contextlib.contextmanager
def single_threaded_ops(enabled: bool = True):
    """Run torch operations on one thread each.

    The mini-batch operations are small (a few hundred kB): splitting each across
    cores costs more in synchronisation than it gains, and on a busy machine the
    spinning intra-op threads make it many times slower.  Parallelism comes from the
    worker threads instead.
    """
    import torch

    before = torch.get_num_threads()
    if enabled:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_batches(n_batches: int, workers: int, step: Callable[[int, int], None]) -> None:
    """Call ``step(k, worker)`` for k in 0..n_batches-1 on ``workers`` threads.

    Worker w takes batches w, w + workers, w + 2 workers, ... (interleaved, so all workers
    move through the data, and a learning-rate schedule indexed by k, together).  The
    first exception raised by a worker is re-raised here.
    """
    if workers == 1 or n_batches <= 1:
        with single_threaded_ops():
            for k in range(n_batches):
                step(k, 0)
        return
    errors: list[BaseException] = []

    def work(w: int) -> None:
        try:
            for k in range(w, n_batches, workers):
                if errors:
                    return
                step(k, w)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in range(workers)]
    with single_threaded_ops():
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
