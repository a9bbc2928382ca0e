"""Writing files safely: a model file is either the old one or the new one.

Writers go to a temporary file in the destination folder and only an
``os.replace`` (atomic on POSIX) puts it in place, so an interrupted run never
leaves a half-written model behind.  Before that, a target is checked: it must be
a regular file (or not exist yet) in a folder we can write to, so a folder, a
device, a FIFO or a socket is never replaced by our file.  Commands call
:func:`check_output_file` / :func:`check_output_folder` for every output option
before a long run starts, so a bad ``--out`` fails in a second, not after an hour.

A temporary file is named ``.NAME.PID.XXXX.tmp``: hidden, never a model's name.
One left behind by a killed process (``kill -9`` gives no chance to clean up) is
removed by the next write to the same path.

>>> from perplex.fileio import atomic_write
>>> with atomic_write("/tmp/perplex-doctest.txt", "w") as f:
...     _ = f.write("hello")
>>> open("/tmp/perplex-doctest.txt").read()
'hello'
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterator

from perplex.errors import PerplexError

_KINDS = [(stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket")]


def _label(path, option: str | None) -> str:
    return f"{option} {path}" if option else str(path)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_writable_folder(folder: Path, label: str) -> None:
    """Refuse a folder we cannot create files in (read-only, /proc, /sys, no permission).

    Trying is the only reliable test: ``os.access`` says yes to root on a
    read-only mount and knows nothing of /proc's rules.
    """
    try:
        fd, probe = tempfile.mkstemp(prefix=".perplex-probe.", dir=folder)
    except OSError as exc:
        raise PerplexError(f"cannot write {label}: cannot create files in {folder} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def check_output_file(path: str | os.PathLike, option: str | None = None, make_folder: bool = False) -> Path:
    """Check that ``path`` can receive a file we write; return where the bytes will go.

    Refused (one line naming ``option``): an existing target that is not a regular
    file, a missing folder (unless ``make_folder``: the writer creates it, so its
    nearest existing ancestor must take it), a folder we cannot write to.  A symbolic
    link to a regular file is followed, so the link itself stays in place.
    """
    dest = Path(path)
    label = _label(path, option)
    if str(path).strip() == "" or dest.name in ("", ".", ".."):
        raise PerplexError(f"cannot write {label or repr(str(path))}: give a file name")
    if dest.is_symlink():
        dest = Path(os.path.realpath(dest))
    try:
        mode = os.stat(dest).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise PerplexError(f"cannot write {label}: {exc.strerror}") from None
    if mode is not None and not stat.S_ISREG(mode):
        raise PerplexError(f"cannot write {label}: it is {_kind(mode)}, not a regular file; give a file name")
    folder = dest.parent if str(dest.parent) else Path(".")
    if make_folder and not folder.exists():
        check_output_folder(folder, option)
    elif not folder.is_dir():
        raise PerplexError(f"cannot write {label}: folder {folder} does not exist")
    else:
        check_writable_folder(folder, label)
    return dest


def check_output_folder(path: str | os.PathLike, option: str | None = None) -> Path:
    """Check that ``path`` is (or can be made) a folder we can write files in."""
    folder = Path(path)
    label = _label(path, option)
    if str(path).strip() == "":
        raise PerplexError(f"cannot write {label or repr(str(path))}: give a folder name")
    if folder.exists() and not folder.is_dir():
        raise PerplexError(f"cannot write into {label}: it is {_kind(os.stat(folder).st_mode)}, not a folder")
    existing = folder
    while not existing.exists():  # the folder will be created: its nearest existing ancestor must take it
        existing = existing.parent
    if not existing.is_dir():
        raise PerplexError(f"cannot write into {label}: {existing} is not a folder")
    check_writable_folder(existing, label)
    return folder


def check_input_file(path: str | os.PathLike, what: str, hint: str = "", stream_ok: bool = False) -> Path:
    """Check that ``path`` is something a reader can take: a regular file, or with
    ``stream_ok`` a pipe too (``--train <(zcat corpus.gz)``).  A device (``/dev/zero``
    would be read until memory runs out), a socket or a folder is refused in one line."""
    p = Path(path)
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        raise PerplexError(f"{what} not found: {p}" + (f"; {hint}" if hint else "")) from None
    except OSError as exc:
        raise PerplexError(f"cannot read {what} {p}: {exc.strerror}") from None
    if stat.S_ISREG(mode) or (stream_ok and stat.S_ISFIFO(mode)):
        return p
    raise PerplexError(f"{p} is {_kind(mode)}, not a {what}; give a regular file")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success rename it onto ``path``.

    Parameters
    ----------
    path : str or PathLike
        The final destination: a regular file or a new name (see :func:`check_output_file`).
    mode : {"wb", "w"}
        Binary or text mode.
    encoding : str, optional
        Text encoding (default UTF-8 in text mode).

    Raises
    ------
    PerplexError
        If the destination is not a regular file, or its folder is missing or not writable.
    """
    if "b" not in mode and encoding is None:
        encoding = "utf-8"
    with atomic_path(path) as tmp, open(tmp, mode, encoding=encoding) as handle:
        yield handle


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """The path of a new empty temporary file beside ``path``, for writers that open it
    themselves (other processes among them); on success it is synced and renamed onto
    ``path``, on failure removed.  Refused as :func:`atomic_write` refuses."""
    dest = check_output_file(path)
    folder = dest.parent if str(dest.parent) else Path(".")
    remove_stale_temporaries(dest)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.{os.getpid()}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise PerplexError(f"cannot write {dest}: {exc.strerror}") from None
    os.close(fd)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        # mkstemp makes the file private (0600); give it the permissions open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, dest)
    except BaseException:  # KeyboardInterrupt and SIGTERM (see perplex.signals) included
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def reserve(fd: int, size: int) -> None:
    """Give the open file ``size`` bytes, their disk space reserved where the file system can,
    so that a full disk shows now, before other processes write into the file."""
    try:
        os.posix_fallocate(fd, 0, size)
    except (AttributeError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # cannot reserve
            raise
        os.ftruncate(fd, size)


def remove_stale_temporaries(dest: Path) -> list[Path]:
    """Delete the temporary files of earlier writes to ``dest`` whose process is gone."""
    pattern = re.compile(re.escape(f".{dest.name}.") + r"(\d+)\.[^.]+\.tmp")
    removed = []
    try:
        candidates = list(dest.parent.glob(f".{glob_escape(dest.name)}.*.tmp"))
    except OSError:
        return removed
    for candidate in candidates:
        match = pattern.fullmatch(candidate.name)
        if match and not process_alive(int(match.group(1))) and candidate.is_file():
            with contextlib.suppress(OSError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters made literal."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, leave its file alone
        return True
    except (OverflowError, ValueError):  # no process can have such a number
        return False
    return True


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask
