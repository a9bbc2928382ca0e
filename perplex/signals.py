"""SIGTERM treated like Ctrl-C, so every command cleans up the same way.

``kill PID`` (and a batch scheduler's time limit) sends SIGTERM, whose default
action ends the process at once: no ``finally`` runs, and a half-written
temporary file stays behind.  Raising :class:`Terminated`, a
``KeyboardInterrupt``, instead lets atomic writes delete their temporary file and
training save its state, exactly as an interrupt does.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""


def _raise_terminated(signum, frame):
    raise Terminated


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (main thread only:
    Python installs signal handlers nowhere else); the previous handler is restored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
