"""The run's private folder under ``--temp-dir``: typed columns on disk, the budget, cleanup.

Every large array of the streaming estimator lives in a *column*: a flat file
of one numpy dtype, appended to in chunks and read back by slices
(``np.fromfile`` with an offset), so the process holds only the chunks it
works on.  Reads copy into fresh arrays rather than memory-mapping: mapped
file pages count in the process's resident memory, copies of a chunk do not
outlive it.

The folder is ``perplex-ngram-PID-XXXX`` inside ``--temp-dir``.  It is removed
on every exit, errors and Ctrl-C/SIGTERM included; one left by a killed
process (``kill -9``) is removed by the next run that uses the same
``--temp-dir``.  A write that finds the disk full is one line naming the
folder, what it holds and about how much the run still needed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from perplex.errors import PerplexError
from perplex.fileio import process_alive, check_writable_folder
from perplex.resources import format_bytes

PREFIX = "perplex-ngram-"
_STALE = re.compile(re.escape(PREFIX) + r"(\d+)-[A-Za-z0-9_]+")
# The fewest entries a piece of work holds, whatever the budget: below this, numpy's
# per-call overhead dominates (tests lower it to force many pieces on small data).
MIN_PIECE = 1 << 16
# Errors of a write that ran out of room: a full disk, a quota, a file size cap (ulimit -f).
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def piece(budget: int, bytes_per_entry: int) -> int:
    """Entries per piece of work when each costs ``bytes_per_entry`` bytes of the ``budget``."""
    return max(budget // bytes_per_entry, MIN_PIECE)


def check_temp_dir(path: str | os.PathLike) -> Path:
    """``--temp-dir``: an existing folder we can create files in."""
    p = Path(path)
    if not p.exists():
        raise PerplexError(f"--temp-dir {p} does not exist; create it or give another folder")
    if not p.is_dir():
        raise PerplexError(f"--temp-dir {p} is not a folder; give a folder on a disk with room for the sorted n-grams")
    check_writable_folder(p, f"--temp-dir {p}")
    return p


def remove_stale_workspaces(folder: Path) -> None:
    """Delete the workspaces of earlier runs whose process is gone (``kill -9``)."""
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            match = _STALE.fullmatch(entry.name)
            if match and not process_alive(int(match.group(1))) and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)


class Workspace:
    """A private temporary folder and the columns in it (use as a context manager).

    Parameters
    ----------
    temp_dir : path
        Where to create the folder (``--temp-dir``).
    """

    def __init__(self, temp_dir: str | os.PathLike):
        self.temp_dir = check_temp_dir(temp_dir)
        self.need: float | None = None  # the disk the run needs at its peak, once the text is read
        self.path: Path | None = None
        self._stage = "starting"  # what the run is doing, for messages
        self._since = time.perf_counter()
        self.seconds: dict[str, float] = {}  # wall seconds spent in each stage so far

    @property
    def stage(self) -> str:
        return self._stage

    @stage.setter
    def stage(self, name: str) -> None:
        """Enter a stage (the time spent in the previous one is recorded)."""
        now = time.perf_counter()
        self.seconds[self._stage] = self.seconds.get(self._stage, 0.0) + now - self._since
        self._stage, self._since = name, now

    def __enter__(self) -> "Workspace":
        remove_stale_workspaces(self.temp_dir)
        try:
            self.path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=self.temp_dir))
        except OSError as exc:
            raise PerplexError(f"cannot create a folder in --temp-dir {self.temp_dir}: {exc.strerror}") from None
        return self

    def __exit__(self, *exc) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None

    def column(self, name: str, dtype) -> "Column":
        """A new empty column in the folder (an existing one of that name is replaced)."""
        return Column.create(self.path / name, dtype)

    def disk_used(self) -> int:
        """Bytes held by this run's files now."""
        total = 0
        with contextlib.suppress(OSError):
            for f in self.path.iterdir():
                with contextlib.suppress(OSError):
                    total += f.stat().st_size
        return total

    @contextlib.contextmanager
    def writing(self):
        """Turn a write that ran out of room into one line naming the folder."""
        try:
            yield
        except OSError as exc:
            if exc.errno not in _NO_ROOM:
                raise PerplexError(f"cannot write in --temp-dir {self.temp_dir}: {exc.strerror or exc}") from None
            used = self.disk_used()
            need = self.need
            more = (f" and needed about {format_bytes(need - used)} more" if need and need > used else
                    " (a run needs about 32 bytes per n-gram of the text and order)")
            why = "a file size limit (ulimit -f)" if exc.errno == errno.EFBIG else exc.strerror
            raise PerplexError(
                f"no room left in --temp-dir {self.temp_dir} ({why}) while {self.stage}: it held "
                f"{format_bytes(used)} of this run's files{more}; free space there or give --temp-dir "
                "a folder on a larger disk (the run's files are removed)") from None


class Column:
    """A flat file of one dtype: append chunks, read slices, know its length.

    A column is a path, a dtype and a length, so it travels to worker processes
    (and Dask workers sharing the folder) and back.
    """

    def __init__(self, path: Path, dtype, length: int = 0):
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        self.length = length

    @classmethod
    def create(cls, path: Path, dtype) -> "Column":
        open(path, "wb").close()
        return cls(path, dtype)

    def __len__(self) -> int:
        return self.length

    def append(self, values: np.ndarray) -> None:
        values = np.ascontiguousarray(values, self.dtype)
        with open(self.path, "ab") as f:
            f.write(values.data)  # file.write, not ndarray.tofile: a full disk keeps its errno
        self.length += len(values)

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Entries ``start:stop`` as a new array."""
        stop = self.length if stop is None else min(stop, self.length)
        if stop <= start:
            return np.empty(0, self.dtype)
        return np.fromfile(self.path, self.dtype, count=stop - start, offset=start * self.dtype.itemsize)

    def chunks(self, size: int, start: int = 0, stop: int | None = None):
        """(offset, entries) over ``start:stop`` in pieces of at most ``size``."""
        stop = len(self) if stop is None else stop
        for lo in range(start, stop, size):
            yield lo, self.read(lo, min(lo + size, stop))

    def delete(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        self.length = 0


class Stacked(Column):
    """Columns read as one, in order: a table whose parts were written by different tasks."""

    def __init__(self, parts: list[Column]):
        self.parts = list(parts)
        self.dtype = self.parts[0].dtype if self.parts else np.dtype(np.int64)
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        stop = len(self) if stop is None else min(stop, len(self))
        if stop <= start:
            return np.empty(0, self.dtype)
        first = int(np.searchsorted(self.offsets, start, side="right")) - 1
        pieces = []
        for k in range(first, len(self.parts)):
            lo = int(self.offsets[k])
            if lo >= stop:
                break
            pieces.append(self.parts[k].read(max(start - lo, 0), stop - lo))
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def append(self, values):  # pragma: no cover - a stacked column is read-only
        raise TypeError("a stacked column is read-only")

    def delete(self) -> None:
        for p in self.parts:
            p.delete()
