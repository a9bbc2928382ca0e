"""Training text named by a URL that fsspec opens (``s3://``, ``gs://``, ``hdfs://``,
``file://``, ...): on a cluster every worker reads its own byte ranges of the text from
storage they all reach, so nothing is copied through the client.

fsspec is imported only when a URL is given (it comes with ``dask[distributed]``); the
protocol's own package (``s3fs``, ``gcsfs``, ...) is needed for that protocol.
"""

from __future__ import annotations

import posixpath
import re

from perplex.errors import PerplexError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path) -> bool:
    """Whether ``path`` is a URL (``protocol://...``) rather than a local path."""
    return isinstance(path, str) and bool(_URL.match(path))


def _filesystem(url: str):
    """fsspec's file system for ``url`` and the path in it, or one line saying what is missing."""
    try:
        import fsspec
    except ImportError:
        raise PerplexError(f"reading {url} needs fsspec: pip install fsspec (with the package of its protocol, "
                           "e.g. s3fs)") from None
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:  # fsspec names the package the protocol needs
        raise PerplexError(f"cannot read {url}: {exc}") from None
    except (ValueError, TypeError) as exc:  # an unknown protocol, a malformed URL
        raise PerplexError(f"cannot read {url}: {exc}") from None


def url_files(url: str) -> list[tuple[str, int]]:
    """The files a training URL names, as (URL, size): itself, or a folder's files (hidden
    ones aside) sorted by name, as :func:`perplex.corpus.text.text_files` lists a local folder."""
    fs, path = _filesystem(url)
    try:
        if fs.isdir(path):
            files = sorted(f for f in fs.find(path) if not posixpath.basename(f.rstrip("/")).startswith("."))
            if not files:
                raise PerplexError(f"folder {url} contains no files; give a text file or a folder of them")
        elif fs.exists(path):
            files = [path]
        else:
            raise PerplexError(f"{url} does not exist")
        return [(fs.unstrip_protocol(f), int(fs.size(f))) for f in files]
    except OSError as exc:
        raise PerplexError(f"cannot read {url}: {exc.strerror or exc}") from None


def open_url(url: str):
    """A binary file object reading ``url`` (seekable, as fsspec's files are)."""
    fs, path = _filesystem(url)
    return fs.open(path, "rb")
