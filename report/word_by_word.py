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


def backoff_paths(model, corpus, sentences: list[int]) -> list[list[dict]]:
    """For each chosen sentence, each token's path: its levels from the longest context down,
    their formulas, and the whole worked example as ``perplex explain ngram`` prints it."""
    from perplex.explain.ngram import ModelNumbers, token_worked
    from perplex.explain.worked import number, render

    numbers = ModelNumbers(model)
    out = []
    for s in sentences:
        log10 = model.log10_probs(corpus.subset([s]))
        history, paths = (numbers.bos,), []
        for i, w in enumerate(int(x) for x in corpus.sentence(s)):
            worked = token_worked(numbers, history, w, "en", i + 1, float(log10[i]))
            word = numbers.names[w]
            # the longest context first, each level with the formula explain prints for it
            levels = [{"order": lv["order"], "label": f"P({word} | {lv['context']})" if lv["context"] else f"P({word})",
                       "how": lv["formula"], "p": number(lv["p"])} for lv in reversed(worked.data["levels"])]
            paths.append({"levels": levels, "worked": render(worked, "text")})
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
