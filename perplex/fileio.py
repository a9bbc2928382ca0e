"""Atomic file writing: a model file is either the old one or the new one.

Writers go to a temporary file in the destination folder and only an
``os.replace`` (atomic on POSIX) puts it in place, so an interrupted run never
leaves a half-written model behind.

>>> from perplex.fileio import atomic_write
>>> with atomic_write("/tmp/perplex-doctest.txt", "w") as f:
...     _ = f.write("hello")
>>> open("/tmp/perplex-doctest.txt").read()
'hello'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

from perplex.errors import PerplexError


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success rename it onto ``path``.

    Parameters
    ----------
    path : str or PathLike
        The final destination.
    mode : {"wb", "w"}
        Binary or text mode.
    encoding : str, optional
        Text encoding (default UTF-8 in text mode).

    Raises
    ------
    PerplexError
        If the destination folder does not exist or is not writable.
    """
    dest = Path(path)
    folder = dest.parent if str(dest.parent) else Path(".")
    if not folder.is_dir():
        raise PerplexError(f"cannot write {dest}: folder {folder} does not exist")
    if "b" not in mode and encoding is None:
        encoding = "utf-8"
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise PerplexError(f"cannot write {dest}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); give it the permissions open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask
