"""What the trainers share: the training stream, the input check, the progress bar and
the compiled update."""

from __future__ import annotations

import warnings

import numpy as np

from perplex.corpus.encoded import EncodedCorpus
from perplex.embeddings.config import RARE_WORDS
from perplex.errors import PerplexError


def training_stream(corpus: EncodedCorpus, rare_words: str = "drop") -> tuple[EncodedCorpus, float]:
    """The tokens the embedding trainers learn from, and the share of ``corpus`` left out.

    ``rare_words="drop"`` (the default) does what word2vec, gensim and GloVe's
    ``cooccur`` do with the words below their minimum count: they are deleted from the
    stream before any window is drawn, so the windows reach past them to real words.
    Here those are the tokens the vocabulary turned into ``<unk>`` (``corpus.oov``); a
    ``<unk>`` written in the text itself, as in the Penn Treebank, is a word and stays.
    Each sentence keeps its ``</s>``.  ``"unk"`` trains on ``corpus`` as it is, the rare
    words as one ``<unk>`` word.

    Returns
    -------
    stream : EncodedCorpus
        The same vocabulary and sentences, without the dropped tokens.
    dropped_share : float
        Dropped tokens / tokens of ``corpus`` (0 for ``"unk"``): the next-word models
        give ``<unk>`` this probability (:mod:`perplex.embeddings.language_model`).
    """
    if rare_words not in RARE_WORDS:
        raise PerplexError(f"rare_words must be one of {', '.join(RARE_WORDS)}, got {rare_words!r}")
    oov = np.asarray(corpus.oov, bool)
    if rare_words == "unk" or not oov.any():
        return corpus, 0.0
    keep = ~oov
    kept_per_sentence = np.add.reduceat(keep.astype(np.int64), corpus.offsets[:-1]) if corpus.n_sentences else np.zeros(0, np.int64)
    offsets = np.zeros(corpus.n_sentences + 1, np.int64)
    np.cumsum(kept_per_sentence, out=offsets[1:])
    stream = EncodedCorpus(np.asarray(corpus.ids)[keep], offsets, oov[keep], corpus.sentence_chars, corpus.vocab)
    return stream, float(oov.sum()) / len(oov)


def check_trainable(ids: np.ndarray, window: int, option: str | None = "--window", hint: str | None = None) -> None:
    """Refuse a stream too short to hold one full window.

    ``option`` names the window the way the caller's user set it (``perplex embed``'s
    ``--window`` by default; None: "the context window", for callers without such an
    option), and ``hint`` replaces the advice at the end of the message.
    """
    if len(ids) >= window + 1:
        return
    if option:
        problem = f"fewer than {option} {window} + 1"
        hint = f"give more text or a smaller {option}" if hint is None else hint
    else:
        problem = f"fewer than the {window + 1} that a context window of {window} tokens needs"
        hint = "give a longer training text" if hint is None else hint
    raise PerplexError(f"the training text has {len(ids)} tokens (</s> included), {problem}; {hint}")


def check_finite(what: str, *arrays) -> None:
    """Refuse trained parameters holding nan or inf rather than writing them out."""
    for a in arrays:
        if not np.all(np.isfinite(a)):
            raise PerplexError(f"{what} produced non-finite vectors (nan or inf); lower --lr")


def progress_bar(total: float, enabled: bool, unit: str = "word"):
    """A tqdm bar counting ``unit``s, with their rate per second (None when disabled)."""
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, unit_scale=True, dynamic_ncols=True, leave=False)


def compiled(fn, example_args: tuple, example_kwargs: dict, what: str):
    """``fn`` compiled by ``torch.compile``, or ``fn`` itself where compiling fails.

    Inductor turns the twenty-odd torch calls of a mini-batch update, each a pass over
    (batch, d) arrays, into one C++ loop that keeps the batch in cache (on CUDA it writes
    Triton kernels instead: not tried here, for want of a GPU).  ``fn`` is compiled for
    the shapes of ``example_args`` and run once on them, so that call must change nothing
    (a batch of zero weights).  Compiling GloVe's update took 5-20 s the first time on
    this 2-core machine and about 4 s later on, Inductor caching its work on disk.
    Compiled with one thread per operation, as the Hogwild workers run it.  Without a C++
    compiler (or on a platform Inductor does not support) ``fn`` runs as plain torch
    calls, after a one-line warning.
    """
    import torch

    from perplex.embeddings.parallel import single_threaded_ops

    fast = torch.compile(fn, dynamic=False, fullgraph=True)
    try:
        with single_threaded_ops():
            fast(*example_args, **example_kwargs)
    except Exception as exc:  # noqa: BLE001 - any compiler failure means: run uncompiled
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        warnings.warn(f"torch.compile could not build {what} ({type(exc).__name__}: {reason[:200]}); "
                      "it runs as plain torch calls, about 1.7x slower (--no-compile skips the attempt)", stacklevel=2)
        return fn
    return fast
