"""Refusing requests the machine cannot hold, before anything is allocated.

A size given on the command line (an n-gram order, a vector dimension, a
vocabulary announced by a file header) decides how much memory a run needs.
Instead of letting numpy or torch fail mid-run (or the kernel kill the process
after minutes of swapping), each family estimates its need up front and calls
:func:`check_memory`, which refuses with the estimate in the message.

>>> check_memory(1024, "a tiny table")            # fits: returns quietly
>>> format_bytes(3 * 2**30)
'3.0 GiB'
"""

from __future__ import annotations

import os

from perplex.errors import PerplexError


def available_memory() -> int:
    """Bytes this process may still allocate: the kernel's MemAvailable (Linux),
    else the physical memory; a cgroup limit lowers it when one is set."""
    limit = _physical_memory()
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    limit = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    for cgroup_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(cgroup_file) as f:
                text = f.read().strip()
            if text.isdigit():
                limit = min(limit, int(text))
        except OSError:
            continue
    return limit


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: do not refuse on a guess


def format_bytes(n: float) -> str:
    """A size in bytes as people read it (KiB ... PiB, then powers of ten)."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            break
        n /= 1024
    if unit == "PiB" and n >= 1024:
        return f"{n:.1e} PiB"
    return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"


def check_memory(needed: float, what: str, hint: str = "") -> None:
    """Refuse (one line) a request whose estimated size ``needed`` (bytes) exceeds
    the memory available now.

    Parameters
    ----------
    needed : float
        The estimate, in bytes (a float, so that products of huge sizes do not overflow).
    what : str
        What needs it, in the user's terms: ``"--dim 10000000 over 10,000 words"``.
    hint : str, optional
        What to do instead, appended to the message.
    """
    available = available_memory()
    if needed > available:
        message = f"{what} needs about {format_bytes(needed)} of memory; this machine has {format_bytes(available)} available"
        raise PerplexError(message + (f"; {hint}" if hint else ""))


_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """A memory size as ``lmplz -S`` takes it: ``500M``, ``4G``, ``1.5T``, ``2048K`` (powers of
    1024; ``KiB``/``MB`` spellings too), a plain number of bytes, or ``80%`` of physical memory.

    >>> parse_size("1G"), parse_size("512MiB"), parse_size("100")
    (1073741824, 536870912, 100)

    Raises
    ------
    ValueError
        With a message saying what is expected.
    """
    s = text.strip()
    try:
        if s.endswith("%"):
            share = float(s[:-1])
            if not 0 < share <= 100:
                raise ValueError
            return int(_physical_memory() * share / 100)
        head = s.rstrip("BbIiKkMmGgTt")
        unit = s[len(head):].upper().replace("IB", "").replace("B", "")
        value = float(head)
        if unit not in _UNITS or not 0 <= value < float("inf"):
            raise ValueError
        return int(value * _UNITS[unit])
    except ValueError:
        raise ValueError(f"expected a size such as 500M, 4G or 80% (of this machine's memory), got {text!r}") from None
