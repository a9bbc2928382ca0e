"""Reading a training text as a stream of sentence blocks, never whole.

:func:`perplex.corpus.text.read_sentences` holds the whole text and every
token as Python strings (about 70 bytes a token); a corpus of hundreds of
millions of tokens does not fit.  Here the text is read in blocks of about
``block_bytes`` bytes cut after a line break, and each block is split exactly
as the whole text would be (``str.splitlines`` never joins across ``\\n``;
raw text is cut at paragraph breaks, the unit :func:`tokenize_raw` works on),
so both readings give the same sentences.  The checks are those of
:func:`perplex.corpus.text.read_text`: missing, empty, binary or non-UTF-8
input is one line naming the file and, for bad bytes, their offset.
"""

from __future__ import annotations

import codecs
import os
import re
from pathlib import Path
from typing import Iterator

from perplex.corpus.remote import is_url, open_url, url_files
from perplex.corpus.text import Sentence, split_pretokenized, text_files, tokenize_raw
from perplex.errors import PerplexError

# A raw-text paragraph longer than this is cut at a line break (the only place
# where a streamed --tokenize reading can differ from the in-memory one).
MAX_PARAGRAPH_BYTES = 64 << 20
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def _file_blocks(path: Path, block_bytes: int) -> Iterator[str]:
    """Decoded blocks of one file, each ending just after a ``\\n`` (the last one anywhere)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    offset = 0
    pending = ""
    try:
        handle = _open(path)
    except OSError as exc:
        raise PerplexError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        while True:
            try:
                data = handle.read(block_bytes)
            except OSError as exc:
                raise PerplexError(f"cannot read {path}: {exc.strerror or exc}") from None
            if b"\x00" in data:
                raise PerplexError(f"{path} looks binary (it contains NUL bytes); give a UTF-8 text file")
            try:
                text = decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                raise PerplexError(f"{path} is not valid UTF-8 (byte {offset + exc.start}); convert it, "
                                   "e.g. iconv -t UTF-8") from None
            offset += len(data)
            pending += text
            if not data:
                if pending:
                    yield pending
                return
            cut = pending.rfind("\n") + 1
            if cut:
                yield pending[:cut]
                pending = pending[cut:]


def _open(path):
    """A binary file object of a local path or of a URL (:mod:`perplex.corpus.remote`)."""
    return open_url(path) if is_url(path) else open(path, "rb")


def _files(path) -> list[tuple]:
    """(file, size) of each file a training path or URL names; size None for a pipe."""
    if is_url(path):
        return url_files(path)
    return [(f, f.stat().st_size if f.is_file() else None) for f in text_files(Path(path))]


def text_blocks(path: str | os.PathLike, block_bytes: int = 16 << 20) -> Iterator[str]:
    """The text of a file (or of a folder's files, each ending a line) as blocks."""
    for f, _ in _files(path):
        last, blank = "\n", True
        for block in _file_blocks(f, block_bytes):
            last, blank = block, blank and not block.strip()
            yield block
        if blank:  # read_text refuses an empty file, alone or in a folder
            raise PerplexError(f"{f} is empty; give a file with at least one sentence")
        if not last.endswith("\n"):
            yield "\n"  # read_text joins files with a line break


def string_blocks(text: str, block_bytes: int = 16 << 20) -> Iterator[str]:
    """A text already in memory (the default corpus) as the same kind of blocks."""
    start = 0
    while start < len(text):
        cut = text.find("\n", start + block_bytes)
        end = len(text) if cut < 0 else cut + 1
        yield text[start:end]
        start = end


def sentence_blocks(blocks: Iterator[str], tokenize: bool = False, lowercase: bool = False,
                    source: str = "the text") -> Iterator[list[Sentence]]:
    """Sentences block by block, as :func:`perplex.corpus.text.read_sentences` would cut them.

    Raises
    ------
    PerplexError
        When the whole text holds no token (``source`` names it).
    """
    any_text = False
    found = False
    pending = ""
    for block in blocks:
        any_text = any_text or bool(block.strip())
        if not tokenize:
            sentences = split_pretokenized(block, lowercase)
        else:
            pending += block
            breaks = [m.end() for m in _PARAGRAPH_BREAK.finditer(pending)]
            if breaks:
                cut = breaks[-1]
            elif len(pending) > MAX_PARAGRAPH_BYTES:
                cut = pending.rfind("\n") + 1
            else:
                continue
            sentences, pending = tokenize_raw(pending[:cut], lowercase), pending[cut:]
        if sentences:
            found = True
            yield sentences
        sentences = None  # let the block go before the next one is read
    if tokenize and pending:
        sentences = tokenize_raw(pending, lowercase)
        if sentences:
            found = True
            yield sentences
    if not any_text:
        raise PerplexError(f"{source} is empty; give a file with at least one sentence")
    if not found:
        raise PerplexError(f"{source} contains no tokens; give a file with at least one sentence")


def text_size(path: str | os.PathLike) -> int | None:
    """Bytes of a training file or folder (or URL), or None when unknown (a pipe)."""
    sizes = [size for _, size in _files(path)]
    return None if None in sizes else sum(sizes)


def byte_pieces(path: str | os.PathLike, size: int) -> list[tuple[Path, int, int]]:
    """(file, start, stop) byte ranges of about ``size`` bytes covering a training file or
    folder (or URL: each file then a URL), each ending just after a line break (or at the file's end), so that pieces can
    be read and split into sentences independently (:func:`piece_sentences`)."""
    pieces = []
    for f, total in _files(path):
        if total == 0:
            raise PerplexError(f"{f} is empty; give a file with at least one sentence")
        with _open(f) as handle:
            start = 0
            while start < total:
                handle.seek(min(start + size, total))
                tail = handle.readline()  # up to the next line break: a UTF-8 character never holds one
                stop = min(start + size, total) + len(tail)
                pieces.append((f, start, stop))
                start = stop
    return pieces


def piece_sentences(path: Path, start: int, stop: int, lowercase: bool = False) -> list[Sentence]:
    """The sentences of one byte range of :func:`byte_pieces`, with :func:`read_text`'s checks
    (offsets of bad bytes are the file's)."""
    try:
        with _open(path) as handle:
            handle.seek(start)
            data = handle.read(stop - start)
    except OSError as exc:
        raise PerplexError(f"cannot read {path}: {exc.strerror or exc}") from None
    if b"\x00" in data:
        raise PerplexError(f"{path} looks binary (it contains NUL bytes); give a UTF-8 text file")
    try:
        text = data.decode("utf-8-sig" if start == 0 else "utf-8")
    except UnicodeDecodeError as exc:
        raise PerplexError(f"{path} is not valid UTF-8 (byte {start + exc.start}); convert it, "
                           "e.g. iconv -t UTF-8") from None
    return split_pretokenized(text, lowercase)


def check_pieces_hold_text(pieces: list, words_per_piece: list) -> None:
    """Refuse, as :func:`read_text` does, a file whose :func:`byte_pieces` hold no word: its
    text is only whitespace (split on whitespace, any other character makes a word)."""
    words: dict = {}
    for (path, _, _), n in zip(pieces, words_per_piece):
        words[path] = words.get(path, 0) + n
    empty = next((path for path, n in words.items() if n == 0), None)
    if empty is not None:
        raise PerplexError(f"{empty} is empty; give a file with at least one sentence")
