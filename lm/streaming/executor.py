"""Where the on-disk estimator's tasks run: here, in worker processes, or on a Dask cluster.

Each stage is a list of independent tasks (count this chunk, merge that key
range, estimate this part of a table), plain functions of paths and numbers
that read and write files in the run's folder.  An executor runs a list of
them and returns their results in order; the orchestration (:mod:`~.count`,
:mod:`~.estimate`) is the same whatever runs them.  The folder must be one
that every worker reaches: on a cluster, ``--temp-dir`` on shared storage.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

from perplex.errors import PerplexError

# Seconds to wait for a Dask scheduler before giving up.
CONNECT_TIMEOUT = 10


class SerialExecutor:
    """Every task in this process, one after another.

    Every executor's ``map(fn, *iterables, done=None)`` returns the results in
    order and calls ``done(i)`` as task i's result arrives.
    """

    workers = 1
    where = "this process"

    def task_budget(self, budget: int) -> int:
        """The memory one task may use: a share of ``budget`` when the workers share this machine."""
        return budget // self.workers

    def map(self, fn, *iterables, done=None) -> list:
        results = []
        for result in self._results(fn, *iterables):
            results.append(result)
            if done is not None:
                done(len(results) - 1)
        return results

    def _results(self, fn, *iterables):
        """The tasks' results, in order, as they arrive."""
        return (fn(*args) for args in zip(*iterables))

    def close(self) -> None:
        pass


class ProcessExecutor(SerialExecutor):
    """Tasks spread over ``workers`` forked processes of this machine."""

    def __init__(self, workers: int):
        self.workers = workers
        self.where = f"{workers} processes"
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                        initializer=_die_with_parent, initargs=(os.getpid(),))

    def _results(self, fn, *iterables):
        return self.pool.map(fn, *iterables)

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


# Seconds between a worker's checks that the process that forked it is alive.
PARENT_CHECK_SECONDS = 1.0


def _die_with_parent(parent: int) -> None:
    """Worker start: a thread that ends this worker once the perplex process that forked
    it is gone, even killed by ``kill -9``, instead of leaving it waiting forever for tasks
    (the run's files are then removed by the next run).  Not Linux's PR_SET_PDEATHSIG:
    that fires when the forking *thread* ends, and the pool forks workers from whichever
    thread submits (a background one, :class:`InBackground`), nor anything that enters the
    dynamic loader in a child forked from a process with threads (ctypes deadlocked there)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="perplex-parent-watch").start()


class DaskExecutor(SerialExecutor):
    """Tasks spread over the workers of a ``dask.distributed`` scheduler; each worker
    (a machine of its own, as a rule) may use the whole budget."""

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError:
            raise PerplexError("--dask needs the dask.distributed package: pip install 'dask[distributed]'") from None
        _probe(address)  # a Client that fails to connect hangs in its finalizer; fail before making one
        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise PerplexError(_unreachable(address, type(exc).__name__)) from None
        self.workers = max(len(self.client.scheduler_info().get("workers", {})), 1)
        self.where = f"{self.workers} Dask workers at {address}"

    def task_budget(self, budget: int) -> int:
        return budget

    def _results(self, fn, *iterables):
        # Earlier tasks first (the scheduler's default order among independent tasks is not
        # theirs): the client takes the results in order (a .gz ARPA file's parts as they come).
        futures = [self.client.submit(fn, *args, pure=False, priority=-i) for i, args in enumerate(zip(*iterables))]
        return (future.result() for future in futures)

    def close(self) -> None:
        self.client.close()


def unreachable(path) -> str:
    """What a task says when it cannot open an output file it writes into."""
    return (f"a worker cannot open {path}: with --dask, --save and --arpa must be in a folder every worker reaches "
            "(shared storage, as --temp-dir)")


class InBackground:
    """``executor.map(fn, *iterables)`` run by a thread of this process, so that the client
    can work meanwhile (write the model while the workers format the ARPA lines), and
    take the results as they come: :meth:`wait` returns once task ``i`` and every task
    before it are done (every executor reports its results in order)."""

    def __init__(self, executor, fn, *iterables):
        self._done = 0
        self._error: BaseException | None = None
        self._results: list = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, args=(executor, fn, iterables), daemon=True)
        self._thread.start()

    def _run(self, executor, fn, iterables) -> None:
        try:
            self._results = executor.map(fn, *iterables, done=self._advance)
        except BaseException as exc:  # handed to the thread that waits
            with self._changed:
                self._error = exc
                self._changed.notify_all()

    def _advance(self, i: int) -> None:
        with self._changed:
            self._done = i + 1
            self._changed.notify_all()

    def ready(self, i: int) -> bool:
        """Whether tasks 0..i are done."""
        return self._done > i

    def results(self) -> list:
        """Every task's result, in order, once all are done; a task's error is raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._results

    def wait(self, i: int) -> None:
        """Block until tasks 0..i are done; a task's error is raised here."""
        with self._changed:
            while self._done <= i and self._error is None:
                self._changed.wait()
            if self._done <= i:
                raise self._error


def _unreachable(address: str, why: str) -> str:
    return (f"cannot reach the Dask scheduler at --dask {address} ({why}); start one with 'dask scheduler' and "
            "workers with 'dask worker ADDRESS', and check the address (tcp://HOST:PORT, port 8786 by default)")


def _probe(address: str) -> None:
    """Refuse an address that is malformed or where nothing listens (TCP schemes)."""
    import socket

    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address, strict=False)
        if scheme not in ("tcp", "tls"):
            return  # inproc:// and other transports: let the client try
        host, port = parse_host_port(location, default_port=8786)
    except (ValueError, TypeError):
        raise PerplexError(_unreachable(address, "not an address of the form tcp://HOST:PORT")) from None
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise PerplexError(_unreachable(address, exc.strerror or type(exc).__name__)) from None


def make_executor(workers: int = 1, dask: str | None = None):
    """The executor for ``--dask ADDRESS``, else ``workers`` local processes (1: this process)."""
    if dask:
        return DaskExecutor(dask)
    return ProcessExecutor(workers) if workers > 1 else SerialExecutor()
