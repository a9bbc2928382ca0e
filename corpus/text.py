"""Reading text files into sentences of tokens.

Two ways to read, as KenLM and SRILM users expect:

* pre-tokenized (the default): one sentence per line, tokens separated by
  whitespace, blank lines skipped;
* raw text (``tokenize=True``): paragraphs are cut into sentences by a regular
  expression and tokenized with NLTK's Treebank word tokenizer, which needs no
  downloaded data.

Every failure a user can cause (missing, empty, binary or non-UTF-8 file) is a
one-line :class:`~perplex.errors.PerplexError`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from perplex.errors import PerplexError
from perplex.fileio import check_input_file

Sentence = list[str]

# A sentence ends at . ! or ? (optionally followed by closing quotes/brackets)
# when whitespace and an upper-case letter, digit or opening quote follow.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])")


def text_files(path: Path) -> list[Path]:
    """The files a training path names: itself, or a folder's files (hidden ones aside) sorted by name."""
    if path.is_dir():
        files = sorted(f for f in path.rglob("*") if f.is_file() and not f.name.startswith("."))
        if not files:
            raise PerplexError(f"folder {path} contains no files; give a text file or a folder of them")
        return files
    check_input_file(path, "file", stream_ok=True)
    return [path]


def read_text(path: str | os.PathLike) -> str:
    """Return the UTF-8 text of a file, or of every file in a folder (sorted by name).

    Raises
    ------
    PerplexError
        Missing path, empty folder or file, binary (NUL bytes) or non-UTF-8 content.
    """
    p = Path(path)
    if p.is_dir():
        return "\n".join(read_text(f) for f in text_files(p))
    check_input_file(p, "file", stream_ok=True)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise PerplexError(f"cannot read {p}: {exc.strerror}") from None
    if b"\x00" in data:
        raise PerplexError(f"{p} looks binary (it contains NUL bytes); give a UTF-8 text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PerplexError(
            f"{p} is not valid UTF-8 (byte {exc.start}); convert it, e.g. iconv -t UTF-8"
        ) from None
    if not text.strip():
        raise PerplexError(f"{p} is empty; give a file with at least one sentence")
    return text


def split_pretokenized(text: str, lowercase: bool = False) -> list[Sentence]:
    """One sentence per non-blank line, whitespace-separated tokens."""
    if lowercase:
        text = text.lower()
    return [words for words in map(str.split, text.splitlines()) if words]


def tokenize_raw(text: str, lowercase: bool = False) -> list[Sentence]:
    """Cut raw text into sentences and tokenize them (Penn Treebank conventions).

    >>> tokenize_raw("The cat didn't sit. It ran away!")
    [['The', 'cat', 'did', "n't", 'sit', '.'], ['It', 'ran', 'away', '!']]
    """
    from nltk.tokenize import TreebankWordTokenizer

    tokenizer = TreebankWordTokenizer()
    if lowercase:
        text = text.lower()
    sentences = []
    # Blank lines separate paragraphs; inside one, line breaks are just spaces.
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        # Lowercased text has lost the capital-letter cue, so accept any letter there.
        pattern = _LOWER_SENTENCE_END if lowercase else _SENTENCE_END
        for chunk in pattern.split(paragraph):
            tokens = tokenizer.tokenize(chunk)
            if tokens:
                sentences.append(tokens)
    return sentences


_LOWER_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[a-z0-9])")


def read_sentences(path: str | os.PathLike, tokenize: bool = False, lowercase: bool = False) -> list[Sentence]:
    """Read a file or folder into sentences (see the module docstring for the two modes)."""
    text = read_text(path)
    sentences = tokenize_raw(text, lowercase) if tokenize else split_pretokenized(text, lowercase)
    if not sentences:
        raise PerplexError(f"{path} contains no tokens; give a file with at least one sentence")
    return sentences
