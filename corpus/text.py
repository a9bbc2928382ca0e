"""Reading text files into sentences of tokens.

Two ways to read, as KenLM and SRILM users expect:

* pre-tokenized (the default): one sentence per line, tokens separated by
  whitespace, blank lines skipped;
* raw text (``tokenize=True``): lines, or hard-wrapped paragraphs
  (:func:`paragraphs`), are cut into sentences by a regular expression and
  tokenized with NLTK's Treebank word tokenizer, which needs no downloaded data.

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


# Hard-wrapped text (a book, an e-mail) has lines of at most about this many characters.
WRAP_WIDTHS = (40, 100)


def _hard_wrapped(lines: list[str]) -> bool:
    """Whether a block's lines were wrapped at a width: each line break stands where the
    next word would have overflowed the block's longest line."""
    width = max(map(len, lines), default=0)
    if len(lines) < 2 or not WRAP_WIDTHS[0] <= width <= WRAP_WIDTHS[1]:
        return False
    return all(len(line) + 1 + len(after.split(" ", 1)[0]) > width for line, after in zip(lines, lines[1:]))


def paragraphs(text: str) -> list[str]:
    r"""The units sentences are cut from, each on one line.

    Blank lines separate blocks.  A block whose lines were hard-wrapped (every line
    break where the next word would have overflowed, lines of 40-100 characters) is one
    paragraph, its line breaks spaces.  In any other block each line is its own unit,
    one sentence or one paragraph per line (KenLM's input, a Wikipedia dump): there a
    line may end without punctuation and the next begin in lower case, so the line
    break is the only sign of a sentence's end.

    >>> paragraphs("mr. unk is chairman of unk n.v.\npierre unk N years old will join the board\nit fell")
    ['mr. unk is chairman of unk n.v.', 'pierre unk N years old will join the board', 'it fell']
    >>> paragraphs("It was the best of times, it was the worst of\ntimes, it was the age of wisdom.")
    ['It was the best of times, it was the worst of times, it was the age of wisdom.']
    """
    units = []
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in (" ".join(line.split()) for line in block.splitlines()) if line]
        units.extend([" ".join(lines)] if _hard_wrapped(lines) else lines)
    return units


# Words whose full stop does not end a sentence though a capital follows ("Mr. Smith",
# "J. S. Bach", "Washington, D.C. The"...: the last one is cut wrongly, the common cases are not).
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|St|Sr|Jr|Mt|Gen|Gov|Sen|Rep|Lt|Col|Capt|Sgt|Rev|Hon|No|Nos|Vol|Fig|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Inc|Co|Corp|Ltd|vs|etc|approx|ca|cf|al|e\.g|i\.e)"
    r"|(?-i:\b[A-Z]))\.$", re.IGNORECASE)


def _sentences(paragraph: str) -> list[str]:
    """A paragraph cut at the sentence ends of :data:`_SENTENCE_END`, except after an
    abbreviation or an initial."""
    out: list[str] = []
    for chunk in _SENTENCE_END.split(paragraph):
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] += " " + chunk
        else:
            out.append(chunk)
    return out


def tokenize_raw(text: str, lowercase: bool = False) -> list[Sentence]:
    """Cut raw text into sentences and tokenize them (Penn Treebank conventions).

    >>> tokenize_raw("The cat didn't sit. It ran away!")
    [['The', 'cat', 'did', "n't", 'sit', '.'], ['It', 'ran', 'away', '!']]
    """
    from nltk.tokenize import TreebankWordTokenizer

    tokenizer = TreebankWordTokenizer()
    sentences = []
    for paragraph in paragraphs(text):
        # Sentences are cut before lowercasing: the capital letter that starts one is the cue
        # that tells "mr. smith" from the end of a sentence.
        for chunk in _sentences(paragraph):
            tokens = tokenizer.tokenize(chunk.lower() if lowercase else chunk)
            if tokens:
                sentences.append(tokens)
    return sentences


def read_sentences(path: str | os.PathLike, tokenize: bool = False, lowercase: bool = False) -> list[Sentence]:
    """Read a file or folder into sentences (see the module docstring for the two modes)."""
    text = read_text(path)
    sentences = tokenize_raw(text, lowercase) if tokenize else split_pretokenized(text, lowercase)
    if not sentences:
        raise PerplexError(f"{path} contains no tokens; give a file with at least one sentence")
    return sentences
