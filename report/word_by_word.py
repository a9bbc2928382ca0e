"""Word by word: a few test sentences whose words show, on hover, how the best n-gram
computes their probability (its backoff path, term by term, from ``perplex explain``) and
the probability every compared model gives them (the same per-token numbers the
comparison table's perplexities are made of)."""

from __future__ import annotations

import numpy as np

from perplex.report.cache import ResultCache
from perplex.report.document import Interactive, Section, Table, md_table

SENTENCES = 4
LENGTHS = (6, 25)  # words of a sentence shown: enough context to back off from, short enough to read


def pick_sentences(corpus, n: int = SENTENCES, lengths: tuple[int, int] = LENGTHS) -> list[int]:
    """The first ``n`` test sentences with ``lengths`` words (</s> not counted), or the first
    ``n`` sentences when too few are that long."""
    words = np.diff(corpus.offsets) - 1
    fit = np.flatnonzero((words >= lengths[0]) & (words <= lengths[1]))
    chosen = fit[:n] if len(fit) else np.arange(min(n, corpus.n_sentences))
    return [int(i) for i in chosen]


def _how(level: dict, word: str) -> tuple[str, str]:
    """A level of the path as (what it computes, its formula with the numbers in)."""
    from perplex.explain.worked import number

    given = f"P({word} | {level['context']})" if level.get("context") else f"P({word})"
    kind = level["kind"]
    if kind == "additive":
        how = (f"({number(level['c_hw'])} + {number(level['alpha'])}) / ({number(level['c_h'])} + "
               f"{number(level['alpha'])} × {level['vocabulary']})")
    elif kind == "kn_unigram":
        how = (f"({number(level['a'])} − {number(level['discount'])}) / {number(level['a_sum'])} + "
               f"{number(level['gamma'])} × 1/{level['vocabulary']}")
    elif kind == "kn":
        how = (f"({number(level['a'])} − {number(level['discount'])}) / {number(level['a_sum'])} + "
               f"{number(level['gamma'])} × {number(level['lower'])}")
    elif kind == "kn_unseen_context":
        how = "context never seen in training: γ = 1, the shorter context's probability"
    else:  # an ARPA file's stored log10 terms
        how = ", ".join(f"{k} {number(v)}" for k, v in level.items() if k.startswith("log10"))
    return given, how


def backoff_paths(model, corpus, sentences: list[int]) -> list[list[dict]]:
    """For each chosen sentence, each token's path: its levels from the longest context down,
    their formulas, and the whole worked example as ``perplex explain ngram`` prints it."""
    from perplex.explain.ngram import ModelNumbers, token_worked
    from perplex.explain.worked import number, render

    numbers = ModelNumbers(model)
    out = []
    for s in sentences:
        lo, hi = int(corpus.offsets[s]), int(corpus.offsets[s + 1])
        ids = [int(x) for x in corpus.ids[lo:hi]]
        log10 = model.log10_probs(corpus.subset([s]))
        history, paths = (numbers.bos,), []
        for i, w in enumerate(ids):
            worked = token_worked(numbers, history, w, "en", i + 1, float(log10[i]))
            levels = []
            for level in reversed(worked.data["levels"]):  # the longest context first
                label, how = _how(level, numbers.names[w])
                levels.append({"order": level["order"], "label": label, "how": how,
                               "p": number(level["p"]) if "p" in level else ""})
            paths.append({"levels": levels, "worked": render(worked, "text"), "log10": worked.data["log10"]})
            history += (w,)
        out.append(paths)
    return out


def word_by_word_section(run, cache: ResultCache, reference: tuple[str, int, float | None], name: str) -> Section:
    """The section: ``reference`` is the best n-gram's (smoothing, order, add-k's k), ``name``
    its name; the models are the comparison table's (``run.compared``)."""
    from perplex.lm import train

    test = run.data.corpora["test"]
    sentences = pick_sentences(test)
    smoothing, order, alpha = reference

    def compute():
        model = train(run.data.train, smoothing, order, alpha)
        return [], {"paths": backoff_paths(model, test, sentences)}

    settings = {"smoothing": smoothing, "order": order, "alpha": alpha, "sentences": sentences}
    with run.step("word by word"):
        _, extra, _ = cache.get_or_compute("word-by-word", settings, compute)
    names = [m for m, _ in run.compared]
    shown = []
    for s, paths in zip(sentences, extra["paths"]):
        lo, hi = int(test.offsets[s]), int(test.offsets[s + 1])
        shown.append({"tokens": [test.vocab.tokens[i] for i in test.ids[lo:hi]], "oov": test.oov[lo:hi].tolist(),
                      "log10": [[float(x) for x in e.token_log10[lo:hi]] for _, e in run.compared],
                      "paths": paths})
    data = {"reference": name, "config": {"smoothing": smoothing, "order": order, "alpha": alpha},
            "sentences_index": sentences, "models": names, "sentences": shown}
    first = shown[0]
    table = Table(["token", *names], [[t, *(_p(first["log10"][m][i]) for m in range(len(names)))]
                                      for i, t in enumerate(first["tokens"])],
                  "The first sentence: P(token | history) under each model")
    what = "hovering a word of these sentences shows its backoff path and every model's probability for it"
    return Section("Word by word: test sentences under every model").add(
        f"{len(sentences)} sentences of the test set, as every model of the comparison scores them: each word's "
        f"probability given the sentence so far, and how {name} computes it, from the longest context it uses "
        "down to the uniform term (`perplex explain ngram` prints the same terms).",
        Interactive("words", data, what, md_table(table)))


def _p(log10: float) -> str:
    return f"{10 ** log10:.6g}" if np.isfinite(log10) else "0"
