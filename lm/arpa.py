"""ARPA files: the backoff-model text format KenLM, SRILM and most decoders read.

Writing turns a :class:`~lm.backoff.BackoffModel` into sections of
``log10 p <TAB> words <TAB> log10 backoff`` lines; reading turns an ARPA file
(ours, KenLM's ``lmplz``, SRILM's ``ngram-count``) back into one, so any of
them can be scored by :mod:`eval`.  Both directions are array operations fed
by C-level iterators (``map``), with no Python loop per n-gram.
"""

from __future__ import annotations

import gzip
import os
import re
import warnings
import zlib
from itertools import chain
from operator import itemgetter
from pathlib import Path

import numpy as np

from perplex.corpus.vocabulary import BOS, EOS, UNK, Vocabulary
from perplex.lm.backoff import BackoffModel
from perplex.lm.trie import NgramTrie
from perplex.lm.validate import check_log10, check_normalized, first_true
from perplex.errors import PerplexError
from perplex.fileio import atomic_write, check_input_file

# KenLM gives <unk> this log10 probability when an ARPA file lacks it.
MISSING_UNK_LOG10 = -100.0


def write_arpa(model: BackoffModel, path: str | os.PathLike, progress=None) -> None:
    """Write ``model`` as an ARPA file (atomically; ``.gz`` names are gzipped).

    Numbers are written with 7 decimals (more than KenLM's float32 keeps).
    """
    trie = model.trie
    tokens = TokenBytes(model.vocab.tokens)

    def section(n: int):
        backoff = model.logbo[n - 1] if n < model.order else None
        for start in range(0, trie.size(n), _CHUNK_ROWS):
            index = np.arange(start, min(start + _CHUNK_ROWS, trie.size(n)))
            yield arpa_lines(model.logp[n - 1][index], trie.ngram_ids(n, index), tokens,
                             None if backoff is None else backoff[index])

    write_arpa_sections(path, [trie.size(n) for n in range(1, model.order + 1)], section, progress)


def arpa_header(counts: list[int]) -> bytes:
    """The ``\\data\\`` block: one ``ngram n=count`` line per order."""
    return ("\n\\data\\\n" + "".join(f"ngram {n}={c}\n" for n, c in enumerate(counts, 1))).encode()


def section_head(n: int) -> bytes:
    return f"\n\\{n}-grams:\n".encode()


ARPA_END = b"\n\\end\\\n"


def write_arpa_sections(path: str | os.PathLike, counts: list[int], section, progress=None) -> None:
    """Write an ARPA file around its sections' lines: ``section(n)`` yields the order-n lines in
    pieces, as bytes (see :func:`arpa_lines`) or as paths of files holding them.  The in-memory
    models and the on-disk estimator (:mod:`perplex.lm.streaming`, whose workers format the
    lines into files when the output is gzipped) both write through here, so their files are
    the same bytes."""
    path = Path(path)
    with atomic_write(path, "wb") as raw:
        out = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if path.suffix == ".gz" else raw
        out.write(arpa_header(counts))
        for n in range(1, len(counts) + 1):
            out.write(section_head(n))
            for lines in section(n):
                if isinstance(lines, bytes):
                    out.write(lines)
                else:
                    _copy_file(lines, out)
            if progress is not None:
                progress.update(1)
        out.write(ARPA_END)
        if out is not raw:
            out.close()


def _copy_file(path, out) -> None:
    """Append the file at ``path`` to ``out`` (by the kernel when both are plain files)."""
    with open(path, "rb") as source:
        if isinstance(out, gzip.GzipFile) or not hasattr(os, "copy_file_range"):
            while block := source.read(16 << 20):
                out.write(block)
            return
        out.flush()
        size = os.fstat(source.fileno()).st_size
        done = 0
        while done < size:
            copied = os.copy_file_range(source.fileno(), out.fileno(), size - done)
            if copied == 0:  # pragma: no cover - a file system that cannot: copy by hand
                source.seek(done)
                while block := source.read(16 << 20):
                    out.write(block)
                return
            done += copied


# Rows per piece of ARPA lines: they bound the memory of the piece's byte matrix.
_CHUNK_ROWS = 200_000
_TAB, _SPACE, _NEWLINE = (np.full((1, 1), ord(c), np.uint8) for c in "\t \n")


class TokenBytes:
    """UTF-8 bytes of every vocabulary token and of ``<s>`` (id V) padded with NUL bytes, which
    no token holds (the readers refuse them): ``matrix`` (id -> row), and ``spaced``, each
    token after a space as one fixed-size item, so that the words after the first of many
    n-grams are gathered in one step."""

    def __init__(self, vocabulary: list[str]):
        encoded = [t.encode() for t in list(vocabulary) + [BOS]]
        self.width = max(map(len, encoded))
        self.matrix = np.frombuffer(b"".join(b.ljust(self.width, b"\0") for b in encoded), np.uint8).reshape(-1, self.width)
        self.spaced = np.frombuffer(b"".join(b" " + b.ljust(self.width, b"\0") for b in encoded), f"V{self.width + 1}")
        self.lengths = np.array([len(b) for b in encoded], np.int64)

    def joined_length(self, ids: np.ndarray) -> np.ndarray:
        """Bytes of each row's words joined by spaces."""
        return self.lengths[ids].sum(axis=1) + ids.shape[1] - 1


# The bytes "0000" to "9999", each as one uint32: digits are looked up four at a time.
_DIGITS4 = np.frombuffer(b"".join(f"{i:04d}".encode() for i in range(10**4)), np.uint32)


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """The ``width`` decimal digits of each whole float64 in [0, 10**width) (zero-padded) as a
    bytes matrix.  Float division is exact here (values below 2**53 / 10**4) and, unlike
    int64 division, vectorized by the CPU."""
    groups = -(-width // 4)
    words = np.empty((len(values), groups), np.uint32)
    rest = values
    for g in range(groups - 1, 0, -1):
        high = np.floor(rest / 1e4)
        words[:, g] = _DIGITS4[(rest - high * 1e4).astype(np.intp)]
        rest = high
    words[:, 0] = _DIGITS4[rest.astype(np.intp)]
    return words.view(np.uint8)[:, groups * 4 - width :]


def _decimal_bytes(values: np.ndarray, decimals: int = 7) -> np.ndarray:
    """Fixed-point text of each value as a bytes matrix, e.g. -2.6589746, NUL where the row's
    text is shorter (no leading zeros, no sign on zero).

    Digits come from arithmetic on all values at once, four at a time.
    """
    scaled = np.rint(np.abs(values) * 10**decimals)
    if len(values) and not scaled.max() < 2**52:  # beyond exact float division: as int64
        return _decimal_bytes_int(values, decimals)
    whole = np.floor(scaled / 10**decimals)
    top = int(whole.max()) if len(whole) else 0
    width = len(str(top))
    chars = np.empty((len(values), width + decimals + 2), np.uint8)
    chars[:, 0] = np.where((values < 0) & (scaled > 0), ord("-"), 0)
    chars[:, 1 : width + 1] = _digits(whole, width)
    if width > 1:  # no leading zeros (keep the units digit)
        chars[:, 1:width][whole[:, None] < 10.0 ** np.arange(width - 1, 0, -1)] = 0
    chars[:, width + 1] = ord(".")
    chars[:, width + 2 :] = _digits(scaled - whole * 10**decimals, decimals)
    return chars


def _decimal_bytes_int(values: np.ndarray, decimals: int) -> np.ndarray:
    """:func:`_decimal_bytes` of values too large for exact float digits (no model has them)."""
    texts = [f"{abs(v):.{decimals}f}" for v in values.tolist()]
    signs = ["-" if v < 0 and t.strip("0.") else "" for v, t in zip(values.tolist(), texts)]
    width = max(map(len, texts)) + 1
    joined = "".join((sign + t).rjust(width, "\0") for sign, t in zip(signs, texts))
    return np.frombuffer(joined.encode(), np.uint8).reshape(len(values), width)


def arpa_lines(logp: np.ndarray, ids: np.ndarray, tokens: TokenBytes, logbo: np.ndarray | None) -> bytes:
    """The bytes of ARPA lines ``logp<TAB>w1 w2 ...[<TAB>logbo]`` for the given n-grams.

    The lines are assembled as one byte matrix, a row per n-gram, each field padded with
    NUL bytes; dropping the NULs leaves the text.
    """
    k, n = ids.shape
    w = tokens.width
    fields = [_decimal_bytes(logp), _TAB, tokens.matrix[ids[:, 0]]]
    if n > 1:  # " w2 w3 ...": one gather of fixed-size items, seen as bytes
        fields.append(tokens.spaced[ids[:, 1:]].view(np.uint8).reshape(k, (n - 1) * (w + 1)))
    if logbo is not None:
        fields += [_TAB, _decimal_bytes(logbo)]
    fields.append(_NEWLINE)
    chars = np.empty((k, sum(f.shape[1] for f in fields)), np.uint8)
    at = 0
    for f in fields:
        chars[:, at : at + f.shape[1]] = f  # the separators broadcast down the rows
        at += f.shape[1]
    return chars[chars != 0].tobytes()


def arpa_line_lengths(logp: np.ndarray, word_bytes: np.ndarray, logbo: np.ndarray | None) -> np.ndarray:
    """The byte length of each line :func:`arpa_lines` writes, from its numbers and the bytes of
    its words with the spaces between them: what places a part of a file before it is written."""
    length = _decimal_lengths(logp) + word_bytes + 2  # a tab and the newline
    if logbo is not None:
        length += _decimal_lengths(logbo) + 1
    return length


def _decimal_lengths(values: np.ndarray, decimals: int = 7) -> np.ndarray:
    """The length of each value's text in :func:`_decimal_bytes`."""
    scaled = np.rint(np.abs(values) * 10**decimals)
    if len(values) and not scaled.max() < 2**52:
        return (_decimal_bytes_int(values, decimals) != 0).sum(axis=1)
    whole = np.floor(scaled / 10**decimals)
    digits = np.ones(len(values), np.int64)
    for k in range(1, len(str(int(whole.max()))) if len(values) else 1):
        digits += whole >= 10.0**k
    return digits + ((values < 0) & (scaled > 0)) + 1 + decimals


def _read_text(path: Path) -> str:
    check_input_file(path, "ARPA file", stream_ok=True)
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        return data.decode("utf-8")
    except (OSError, EOFError, zlib.error) as exc:
        raise PerplexError(f"cannot read ARPA file {path}: {exc}; is it truncated or corrupt?") from None
    except UnicodeDecodeError:
        raise PerplexError(f"{path} is not a UTF-8 ARPA text file (is it a KenLM binary? give the .arpa)") from None


def read_arpa(path: str | os.PathLike, name: str | None = None) -> BackoffModel:
    """Read an ARPA file into a :class:`BackoffModel` with the file's vocabulary.

    The vocabulary is the file's unigrams (``<s>`` aside), ``</s>`` and
    ``<unk>`` first.  A file without ``<unk>`` gets one with log10 p = -100, as
    KenLM does.

    Raises
    ------
    PerplexError
        Missing or truncated file, no ``\\data\\`` header, counts that do not
        match the sections, malformed lines, unknown words, missing prefixes,
        n-grams or unigrams listed twice, ``<s>`` inside an n-gram, non-finite
        values, log10 probabilities above 0, or next-word distributions that do
        not sum to 1 (:func:`perplex.lm.validate.check_normalized`).
    """
    path = Path(path)
    text = _read_text(path)
    where = f"malformed ARPA file {path}"
    start = text.find("\\data\\")
    if start < 0:
        raise PerplexError(f"{where}: no \\data\\ header (is this an ARPA file?)")
    parts = re.split(r"^\\(\d+)-grams:\s*$", text[start:], flags=re.M)
    header, sections = parts[0], parts[1:]
    declared = _declared_counts(header, where)
    order = len(declared)
    if not sections or "\\end\\" not in sections[-1]:
        raise PerplexError(f"{where}: no \\end\\ line; the file is truncated")
    sections[-1] = sections[-1].split("\\end\\")[0]
    found = [int(n) for n in sections[0::2]]
    if found != list(range(1, order + 1)):
        raise PerplexError(f"{where}: expected sections \\1-grams: to \\{order}-grams:, found {found}")

    parsed = [_parse_section(body, n, declared[n], n == order, where) for n, body in zip(found, sections[1::2])]

    # Vocabulary from the unigrams.
    words = parsed[0][1]
    if EOS not in words:
        raise PerplexError(f"{where}: no {EOS} unigram")
    if len(set(words)) != len(words):
        unique, counts = np.unique(np.array(words), return_counts=True)
        raise PerplexError(f"{where}: the unigram {str(unique[np.argmax(counts)])!r} is listed twice")
    others = [w for w in words if w not in (EOS, UNK, BOS)]
    vocab = Vocabulary([EOS, UNK] + others)
    V = len(vocab)
    index = dict(vocab.index)
    index[BOS] = V

    keys, logp, logbo = [None], [], []
    uni_ids = np.fromiter(map(index.__getitem__, words), np.int64, count=len(words))
    lp1 = np.full(V + 1, -99.0)
    bo1 = np.zeros(V + 1)
    lp1[uni_ids], bo1[uni_ids] = parsed[0][0], parsed[0][2]
    if UNK not in words:
        lp1[vocab.unk_id] = MISSING_UNK_LOG10
    logp.append(lp1)
    logbo.append(bo1)
    trie = NgramTrie(order, V, keys)
    for n in range(2, order + 1):
        lp, flat_words, bo = parsed[n - 1]
        try:
            ids = np.fromiter(map(index.__getitem__, flat_words), np.int64, count=len(flat_words)).reshape(-1, n)
        except KeyError as exc:
            raise PerplexError(f"{where}: {n}-gram word {exc.args[0]!r} is not among the unigrams") from None
        ngram_name = _section_namer(flat_words, n)
        misplaced = first_true((ids[:, 1:] == V).any(axis=1))
        if misplaced is not None:
            raise PerplexError(f"{where}: the {n}-gram {ngram_name(misplaced)} has {BOS} after its first word")
        parent = trie.index(ids[:, :-1])
        bad = first_true(parent < 0)
        if bad is not None:
            raise PerplexError(f"{where}: the {n}-gram {ngram_name(bad)} has no {n - 1}-gram prefix entry")
        key = parent * (V + 1) + ids[:, -1]
        order_idx = np.argsort(key, kind="stable")
        key = key[order_idx]
        twice = np.flatnonzero(key[1:] == key[:-1])
        if len(twice):
            bad = int(order_idx[twice[0]])
            raise PerplexError(f"{where}: the {n}-gram {ngram_name(bad)} is listed twice")
        keys.append(key)
        logp.append(lp[order_idx])
        logbo.append(bo[order_idx])
    model = BackoffModel(vocab, trie, logp, logbo[: order - 1], name or f"ARPA {order}-gram ({path.name})")
    model.smoothing = "arpa"
    check_normalized(model, where)
    if UNK not in words:  # warned only once the whole file has been checked
        warnings.warn(f"{path} has no {UNK}: giving it log10 p = {MISSING_UNK_LOG10} as KenLM does", stacklevel=2)
    return model


def _declared_counts(header: str, where: str) -> dict[int, int]:
    """{order: count} of the ``\\data\\`` block, which holds nothing but ``ngram N=count``
    lines (KenLM is as strict): orders 1..N, each once."""
    lines = [line.strip() for line in header.splitlines()[1:] if line.strip()]
    found = [re.fullmatch(r"ngram\s+(\d+)\s*=\s*(\d+)", line) for line in lines]
    if None in found:
        bad = lines[found.index(None)]
        raise PerplexError(f"{where}: the \\data\\ header has a line that is not 'ngram N=count': {bad[:80]!r}")
    pairs = [(int(m[1]), int(m[2])) for m in found]
    declared = dict(pairs)
    order = len(declared)
    if order == 0 or len(pairs) != order or sorted(declared) != list(range(1, order + 1)):
        raise PerplexError(f"{where}: the \\data\\ header should list 'ngram N=count' once for each order 1..N")
    return declared


def _parse_section(body: str, n: int, count: int, top: bool, where: str):
    """(log10 p, the n * count words in order, log10 backoff) of one n-gram section.

    Fast path: tab-separated fields (KenLM, SRILM and our files) split in one
    C call; otherwise (space-separated files, optional backoffs) line by line,
    still through ``map``.
    """
    body = body.strip()
    fields = body.replace("\t", "\n").split("\n") if body else []
    width = 2 if top else 3
    if len(fields) == count * width:
        words = " ".join(fields[1::width]).split(" ")
        if len(words) == count * n:
            lp = _floats(fields[0::width], n, where)
            bo = _floats(fields[2::width], n, where) if not top else np.zeros(count)
            return _checked(lp, words, bo, n, where)
    rows = list(filter(None, map(str.split, body.splitlines())))
    if len(rows) != count:
        raise PerplexError(f"{where}: the header declares {count} {n}-grams but the section has {len(rows)}; the file is truncated or corrupt")
    lengths = np.fromiter(map(len, rows), np.int64, count=count)
    wrong = (lengths != n + 1) & ((lengths != n + 2) | top)
    if np.any(wrong):
        bad = int(np.flatnonzero(wrong)[0])
        raise PerplexError(f"{where}: {n}-gram line {bad + 1} has {lengths[bad]} fields: {' '.join(rows[bad])!r}")
    lp = _floats(list(map(itemgetter(0), rows)), n, where)
    words = list(chain.from_iterable(map(itemgetter(slice(1, n + 1)), rows)))
    bo = np.zeros(count)
    has_bo = np.flatnonzero(lengths == n + 2)
    if len(has_bo):
        bo[has_bo] = _floats(list(map(itemgetter(-1), map(rows.__getitem__, has_bo.tolist()))), n, where)
    return _checked(lp, words, bo, n, where)


def _section_namer(words: list, n: int):
    """Names the i-th n-gram of a section from its flat word list, for error messages."""
    return lambda i: repr(" ".join(words[i * n:(i + 1) * n]))


def _checked(lp: np.ndarray, words: list, bo: np.ndarray, n: int, where: str):
    """The parsed section, once its values are known to be finite and its probabilities <= 1."""
    name = _section_namer(words, n)
    check_log10(where, lp, n, name)
    check_log10(where, bo, n, name, backoff=True)
    return lp, words, bo


def _floats(texts: list, n: int, where: str) -> np.ndarray:
    try:
        values = np.fromiter(map(float, texts), np.float64, count=len(texts))
    except ValueError as exc:
        raise PerplexError(f"{where}: a {n}-gram line has a value that is not a number ({exc})") from None
    return values
