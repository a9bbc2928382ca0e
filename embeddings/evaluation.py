"""The standard intrinsic evaluations of word vectors, batched.

* Google analogies (``questions-words.txt``, Mikolov et al. 2013): accuracy by section
  and in total over the questions whose four words are in the vocabulary (the
  "covered" ones), as gensim's ``evaluate_word_analogies`` counts it.
* WordSim353 and SimLex-999: Spearman correlation between human scores and cosines,
  over the pairs with both words in the vocabulary, with the share of pairs left out.

The files ship with gensim (``gensim.test.utils.datapath``).  Matching is case
insensitive and, when two vocabulary entries differ only by case, the more frequent
(earlier) one is used, as in gensim.  The vectors object is never modified.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from perplex.embeddings.queries import COSMUL_EPSILON, analogy_scores, unit_vectors, zero_rows
from perplex.errors import PerplexError
from perplex.jsonout import json_safe

ANALOGY_FILE = "questions-words.txt"
WS353_FILE = "wordsim353.tsv"
SIMLEX_FILE = "simlex999.txt"


def dataset_path(name: str) -> str:
    """Path of an evaluation file shipped with gensim."""
    from gensim.test.utils import datapath

    return datapath(name)


def _case_folded_index(kv, restrict_vocab: int | None = None) -> dict[str, int]:
    """Lowercased word -> row, the earliest (most frequent) row winning ties.

    Words whose vector is all zeros are left out: their cosine with anything is
    undefined, so a question or pair using one is not covered (rather than answered
    by an arbitrary word)."""
    keys = kv.index_to_key[:restrict_vocab]
    usable = ~zero_rows(np.asarray(kv.vectors[: len(keys)]))
    index: dict[str, int] = {}
    for i, k in enumerate(keys):
        if usable[i]:
            index.setdefault(str(k).lower(), i)
    return index


def _read_lines(path: str | os.PathLike) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PerplexError(f"cannot read evaluation file {path}: {exc}") from None


@dataclass
class AnalogySection:
    name: str
    correct: int
    covered: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.covered if self.covered else float("nan")


@dataclass
class AnalogyResult:
    """Accuracy over the covered questions, in total and per section."""

    sections: list[AnalogySection]
    method: str

    @property
    def correct(self) -> int:
        return sum(s.correct for s in self.sections)

    @property
    def covered(self) -> int:
        return sum(s.covered for s in self.sections)

    @property
    def total(self) -> int:
        return sum(s.total for s in self.sections)

    @property
    def accuracy(self) -> float:
        return self.correct / self.covered if self.covered else float("nan")


def evaluate_analogies(
    kv, path: str | os.PathLike | None = None, method: str = "3cosadd",
    restrict_vocab: int | None = 300_000, batch_size: int = 256, epsilon: float = COSMUL_EPSILON,
) -> AnalogyResult:
    """Answer every covered question a : b :: c : ? and count the exact hits.

    Parameters
    ----------
    kv : gensim.models.KeyedVectors
    path : str, optional
        Analogy file (``: section`` lines, then ``a b c d`` questions); default
        gensim's copy of ``questions-words.txt``.
    method : {"3cosadd", "3cosmul"}
    restrict_vocab : int, optional
        Only the first (most frequent) words are question words or answers
        (gensim's default 300,000).
    batch_size : int
        Questions scored per (batch, V) matrix product.
    epsilon : float
        3CosMul's epsilon (see :func:`embeddings.queries.analogy_scores`).

    Returns
    -------
    AnalogyResult
        The prediction is the best word other than a, b and c (gensim's rule);
        questions with a word out of vocabulary are counted in ``total`` only.
    """
    index = _case_folded_index(kv, restrict_vocab)
    unit = unit_vectors(kv)[: len(kv.index_to_key[:restrict_vocab])]
    names: list[str] = []
    totals: list[int] = []
    rows: list[list[int]] = []  # (section, a, b, c, expected) for covered questions
    for line in _read_lines(path or dataset_path(ANALOGY_FILE)):
        if line.startswith(":"):
            names.append(line[1:].strip())
            totals.append(0)
            continue
        words = line.lower().split()
        if len(words) != 4:
            continue
        if not names:
            names.append("(no section)")
            totals.append(0)
        totals[-1] += 1
        ids = [index.get(w) for w in words]
        if None not in ids:
            rows.append([len(names) - 1, *ids])
    q = np.array(rows, dtype=np.int64).reshape(-1, 5)
    hits = np.zeros(len(q), bool)
    for start in range(0, len(q), batch_size):
        s, a, b, c, d = q[start : start + batch_size].T
        scores = analogy_scores(unit, a, b, c, method, epsilon)
        # a question with no candidate left (every word excluded) has no answer: wrong
        hits[start : start + len(s)] = (scores.argmax(axis=1) == d) & np.isfinite(scores.max(axis=1))
    correct = np.bincount(q[:, 0], weights=hits, minlength=len(names)).astype(int)
    covered = np.bincount(q[:, 0], minlength=len(names))
    sections = [AnalogySection(n, int(k), int(c), t) for n, k, c, t in zip(names, correct, covered, totals)]
    return AnalogyResult(sections, method)


@dataclass
class PairResult:
    """Spearman (and Pearson) correlation of cosines with human similarity scores."""

    name: str
    spearman: float
    pearson: float
    pairs: int
    oov_pairs: int

    @property
    def oov_share(self) -> float:
        total = self.pairs + self.oov_pairs
        return self.oov_pairs / total if total else float("nan")


def evaluate_word_pairs(kv, path: str | os.PathLike, name: str | None = None) -> PairResult:
    """Correlate cosine similarities with a word-pair file (``w1 TAB w2 TAB score``).

    Lines starting with ``#`` are comments.  Pairs with a word out of vocabulary are
    left out and counted in ``oov_pairs`` (gensim's ``dummy4unknown=False``).
    """
    from scipy import stats

    index = _case_folded_index(kv)
    left, right, gold, oov = [], [], [], 0
    for line in _read_lines(path):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        a, b = index.get(parts[0].lower()), index.get(parts[1].lower())
        if a is None or b is None:
            oov += 1
            continue
        left.append(a)
        right.append(b)
        gold.append(float(parts[2]))
    name = name or os.path.basename(str(path))
    unit = unit_vectors(kv)
    cos = np.einsum("ij,ij->i", unit[left], unit[right])  # (P,) row-wise dot products
    if len(gold) < 2 or np.ptp(gold) == 0 or np.ptp(cos) == 0:  # no correlation is defined (nan, no warning)
        return PairResult(name, float("nan"), float("nan"), len(gold), oov)
    return PairResult(name, float(stats.spearmanr(gold, cos)[0]), float(stats.pearsonr(gold, cos)[0]), len(gold), oov)


@dataclass
class EmbeddingScores:
    """Everything ``perplex embed-eval`` prints."""

    analogies: AnalogyResult
    ws353: PairResult
    simlex: PairResult
    extra: dict = field(default_factory=dict)

    def record(self) -> dict:
        """One JSON object (keys promised by the issue first, then details)."""
        out = {
            "analogy_accuracy": self.analogies.accuracy,
            "analogy_covered": self.analogies.covered,
            "ws353_spearman": self.ws353.spearman,
            "simlex_spearman": self.simlex.spearman,
            "analogy_correct": self.analogies.correct,
            "analogy_total": self.analogies.total,
            "analogy_method": self.analogies.method,
            "ws353_pairs": self.ws353.pairs,
            "ws353_oov_share": self.ws353.oov_share,
            "simlex_pairs": self.simlex.pairs,
            "simlex_oov_share": self.simlex.oov_share,
            "analogy_sections": [dict(asdict(s), accuracy=s.accuracy) for s in self.analogies.sections],
        }
        out.update(self.extra)
        return json_safe(out)  # a figure with nothing to compute it from (nan) is null

    def format(self) -> str:
        a = self.analogies
        if a.covered:
            lines = [f"Google analogies ({a.method}): {a.accuracy:.2%} of {a.covered:,} covered questions "
                     f"({a.correct:,} correct; {a.total:,} in the file)"]
            for s in a.sections:
                acc = "    -" if not s.covered else f"{s.accuracy:6.1%}"
                lines.append(f"  {s.name:<28} {acc}  ({s.correct:,}/{s.covered:,} covered of {s.total:,})")
        else:
            lines = [f"Google analogies ({a.method}): no accuracy: none of the {a.total:,} questions has all four "
                     "words in the vocabulary"]
        lines += [_format_pairs(r) for r in (self.ws353, self.simlex)]
        return "\n".join(lines)

    def covers_nothing(self) -> bool:
        """No analogy question covered and fewer than 2 pairs of either set: nothing to measure."""
        return not self.analogies.covered and self.ws353.pairs < 2 and self.simlex.pairs < 2


def _format_pairs(r: PairResult) -> str:
    oov = f"{r.oov_share:.1%} of pairs out of vocabulary"
    if r.pairs < 2:
        return f"{r.name}: no correlation: {r.pairs} pair{'s' * (r.pairs != 1)} with both words in the vocabulary ({oov})"
    if math.isnan(r.spearman):
        return f"{r.name}: no correlation: the cosines or the human scores of its {r.pairs} pairs are all equal"
    return f"{r.name}: Spearman {r.spearman:.3f} (Pearson {r.pearson:.3f}) over {r.pairs} pairs, {oov}"


def check_covered(scores: EmbeddingScores, vectors: str | os.PathLike) -> None:
    """Refuse (one line) vectors that no evaluation set covers: every figure would be empty."""
    if scores.covers_nothing():
        raise PerplexError(
            f"the vocabulary of {vectors} covers none of the evaluation sets: no question of {ANALOGY_FILE} has all "
            f"four words in it and fewer than 2 pairs of {WS353_FILE} or {SIMLEX_FILE} have both (with a non-zero "
            "vector); train on a larger English text"
        )


def evaluate_all(kv, method: str = "3cosadd") -> EmbeddingScores:
    """Google analogies, WordSim353 and SimLex-999 on gensim's copies of the files."""
    return EmbeddingScores(
        evaluate_analogies(kv, method=method),
        evaluate_word_pairs(kv, dataset_path(WS353_FILE), "WordSim353"),
        evaluate_word_pairs(kv, dataset_path(SIMLEX_FILE), "SimLex-999"),
    )
