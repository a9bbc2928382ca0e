"""Hogwild training (Recht et al. 2011): workers update shared parameters without locks.

word2vec, gensim and GloVe's C code all train this way.  Each worker runs whole
mini-batches with single-threaded torch operations (the operations are small:
splitting each across cores costs more in synchronisation than it gains).

The workers are processes forked from the trainer, the parameters living in shared
memory: a mini-batch is some thirty small torch calls, and with threads the Python
code between them holds the GIL, so two threads of one process reached only 1.2-1.5x
one thread on PTB (even training separate models), while two processes each kept the
speed of one alone.  The shared memory is an anonymous mapping, not a file in
/dev/shm (``Tensor.share_memory_``), whose size containers often cap at 64 MB.  Off
Linux (no ``fork``, or a fork that macOS libraries do not survive) or with the tensors
on a GPU, the workers are threads.  With one worker the run is deterministic; with
more, the order of concurrent updates (and so the result) varies slightly from run to
run, as in gensim with ``workers > 1``.
"""

from __future__ import annotations

import contextlib
import mmap
import multiprocessing
import sys
import threading
from typing import Callable, Sequence


@contextlib.contextmanager
def single_threaded_ops(enabled: bool = True):
    """Run torch operations on one thread each (see the module docstring)."""
    import torch

    before = torch.get_num_threads()
    if enabled:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def can_fork(tensors: Sequence) -> bool:
    """Whether workers can be forked processes sharing ``tensors`` (Linux, all on the CPU)."""
    return sys.platform.startswith("linux") and all(t.device.type == "cpu" for t in tensors)


def share(tensor) -> None:
    """Move ``tensor``'s data, in place, to anonymous shared memory that forked
    processes write to and read from (a no-op the second time)."""
    import torch

    if getattr(tensor, "_perplex_shared", False):
        return
    buffer = mmap.mmap(-1, max(tensor.numel() * tensor.element_size(), 1))  # MAP_SHARED | MAP_ANONYMOUS
    shared = torch.frombuffer(buffer, dtype=tensor.dtype, count=tensor.numel()).view(tensor.shape)  # keeps buffer alive
    shared.copy_(tensor)
    tensor.set_(shared)
    tensor._perplex_shared = True


def run_batches(n_batches: int, workers: int, step: Callable[[int, int], None], shared: Sequence = (),
                poll: Callable[[], None] | None = None) -> None:
    """Call ``step(k, worker)`` for k in 0..n_batches-1 on ``workers`` workers.

    Worker w takes batches w, w + workers, w + 2 workers, ... (interleaved, so all workers
    move through the data, and a learning-rate schedule indexed by k, together).

    Parameters
    ----------
    shared : tensors
        Every tensor that ``step`` writes (parameters, per-worker sums).  For process
        workers they are moved to shared memory first (in place, :func:`share`), so the
        updates of each worker reach the others and the caller; a tensor left out
        would be updated in the workers' copies only.
    poll : callable, optional
        Called about ten times a second in the calling thread while workers run (to
        move a progress bar along from the per-worker sums), and once at the end.

    The first exception raised by a worker is re-raised here.
    """
    if workers == 1 or n_batches <= 1:
        with single_threaded_ops():
            for k in range(n_batches):
                step(k, 0)
                if poll is not None and k % 16 == 15:
                    poll()
    elif can_fork(shared):
        _run_processes(n_batches, workers, step, shared, poll)
    else:
        _run_threads(n_batches, workers, step, poll)
    if poll is not None:
        poll()


def _run_processes(n_batches, workers, step, shared, poll) -> None:
    import torch

    for t in shared:
        share(t)
    ctx = multiprocessing.get_context("fork")
    errors = ctx.SimpleQueue()

    def work(w: int) -> None:
        torch.set_num_threads(1)
        try:
            for k in range(w, n_batches, workers):
                step(k, w)
        except BaseException as exc:  # noqa: BLE001 - handed to the parent
            errors.put(exc)

    procs = [ctx.Process(target=work, args=(w,), daemon=True) for w in range(workers)]
    for p in procs:
        p.start()
    try:
        _wait(procs, poll)
    finally:
        for p in procs:  # on an interrupt, do not leave workers behind
            if p.is_alive():
                p.terminate()
            p.join()
    if not errors.empty():
        raise errors.get()
    failed = [p.exitcode for p in procs if p.exitcode]
    if failed:
        raise RuntimeError(f"a training worker died (exit code {failed[0]})")


def _run_threads(n_batches, workers, step, poll) -> None:
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
        _wait(threads, poll)
    if errors:
        raise errors[0]


def _wait(workers, poll) -> None:
    """Join ``workers`` (threads or processes), calling ``poll`` every 0.1 s meanwhile."""
    for w in workers:
        while True:
            w.join(0.1)
            if not w.is_alive():
                break
            if poll is not None:
                poll()
