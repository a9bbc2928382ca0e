"""The word-embeddings section: ours and gensim's skip-gram and GloVe, their vectors
queried and evaluated, and each method's next-word model scored like every other model.

Every trainer runs with one worker, so the same command gives the same vectors.
"""

from __future__ import annotations

from pathlib import Path

from perplex.report.cache import ResultCache
from perplex.report.document import Figure, Section, Table
from perplex.report.embedding_map import embedding_map
from perplex.report.ngram_section import fmt

EXAMPLE_QUERIES = [("king", "man", "woman"), ("stocks", "stock", "bond"), ("japan", "tokyo", "paris")]
EXAMPLE_WORDS = ["market", "president", "company", "billion"]
# (method, backend, label in the vectors table)
METHODS = [("sgns", "torch", "SGNS (ours)"), ("sgns", "gensim", "SGNS (gensim, reference)"), ("glove", "torch", "GloVe (ours)")]


def train_vectors(run, cache: ResultCache, method: str, backend: str, epochs: int, dim: int = 100,
                  score: bool = True, purpose: str = "") -> tuple[list, dict, Path]:
    """(evaluations of its next-word model, extra, vectors path) for one method, trained by
    :func:`perplex.embeddings.recipe.train_embeddings` or read back from the cache."""
    from perplex.embeddings.recipe import default_config, model_name, train_embeddings
    from perplex.embeddings.vectors import save_vectors

    config = default_config(method, backend, epochs=epochs, dim=dim, workers=1)  # one worker: reproducible
    name = model_name(method, backend) if score else f"{model_name(method, backend).split()[0]} vectors, {dim}-d"
    name += f" ({purpose})" if purpose else ""
    # every training setting goes into the key, so a changed default never reuses an old result
    settings = {"method": method, "backend": backend, "config": config.to_dict(), "score": score}
    vectors_path = cache.path(f"vectors-{method}-{backend}", settings).with_suffix(".bin")

    def compute():
        trained = train_embeddings(run.data, method, backend, config, score=score, window_option=None,
                                   too_short_hint="give --train a longer text")
        save_vectors(trained.trainer.keyed_vectors(), vectors_path)
        return trained.evaluations, {"seconds": trained.trainer.seconds_, "temperature": trained.temperature,
                                     "name": name}

    evals, extra, cached = cache.get_or_compute(f"embed-{method}-{backend}", settings, compute, artifact=vectors_path)
    done = f"test perplexity {evals[-1].perplexity:.2f}" if evals else f"trained in {extra['seconds']:.1f} s"
    run.log(f"  {name}: {done}" + (" (cached)" if cached else ""))
    return evals, extra, vectors_path


def _example_queries(kv, n: int = 3) -> list[tuple[str, str, str]]:
    """Analogy queries the vectors' vocabulary covers: ours (chosen on the Penn Treebank), then
    the first covered question of each section of questions-words, as a b c (a − b + c)."""
    from perplex.embeddings.evaluation import ANALOGY_FILE, dataset_path

    queries = [q for q in EXAMPLE_QUERIES if all(w in kv.key_to_index for w in q)]
    sections_done: set = set()
    section = ""
    with open(dataset_path(ANALOGY_FILE), encoding="utf-8") as f:
        for line in f:
            if len(queries) >= n:
                break
            if line.startswith(":"):
                section = line
                continue
            a, b, c, d = (line.lower().split() + ["", "", "", ""])[:4]
            if section not in sections_done and all(w in kv.key_to_index for w in (a, b, c, d)):
                queries.append((b, a, c))  # a : b :: c : d, asked as b - a + c
                sections_done.add(section)
    return queries[:n]


def _example_words(kv, n: int = 4) -> list[str]:
    """Words to show neighbours of: ours where the vocabulary has them, then frequent words of
    the vocabulary itself (letters only, 5 or more, past the 50 most frequent words)."""
    words = [w for w in EXAMPLE_WORDS if w in kv.key_to_index]
    for w in kv.index_to_key[50:2000]:
        if len(words) >= n:
            break
        if len(w) >= 5 and w.isalpha() and w not in words:
            words.append(w)
    return words[:n]


def _examples(kv) -> list[list[str]]:
    """The example queries' answers, on words the vocabulary holds."""
    from perplex.embeddings.queries import analogy, most_similar

    rows = []
    for a, b, c in _example_queries(kv):
        answer = ", ".join(w for w, _ in analogy(kv, a, b, c, topn=3))
        rows.append([f"{a} − {b} + {c}", answer])
    for w in _example_words(kv):
        rows.append([f"neighbours of {w}", ", ".join(x for x, _ in most_similar(kv, w, topn=5))])
    return rows


def embeddings_section(run, cache: ResultCache):
    from perplex.embeddings.evaluation import evaluate_all
    from perplex.embeddings.plot import plot_words
    from perplex.embeddings.vectors import load_vectors
    from perplex.report.build import Scored

    section = Section("Word embeddings")
    scored, rows, vectors, paths = [], [], {}, {}
    tuned_on = run.data.describe_valid()
    with run.step("word embeddings"):
        for method, backend, label in METHODS:
            epochs = run.budget.glove_epochs if method == "glove" else run.budget.sgns_epochs
            evals, extra, path = train_vectors(run, cache, method, backend, epochs)
            kv = load_vectors(path)
            vectors[label], paths[label] = kv, path
            s = evaluate_all(kv)
            by_split = {e.split: e for e in evals}
            rows.append([label, str(epochs), _defined(s.analogies.accuracy, "{:.2%}"),
                         f"{s.analogies.covered:,} of {s.analogies.total:,}",
                         _defined(s.ws353.spearman, "{:.3f}") + _pairs(s.ws353),
                         _defined(s.simlex.spearman, "{:.3f}") + _pairs(s.simlex),
                         fmt(by_split["test"].perplexity, 2) if "test" in by_split else "-",
                         f"{extra['temperature']:.4g}", f"{extra['seconds']:.0f}"])
            if "test" in by_split:
                scored.append(Scored(extra["name"], by_split.get("valid"), by_split["test"],
                                     f"P(w | previous word); temperature {extra['temperature']:.4g} fitted on {tuned_on}"))
    section.add(
        "Skip-gram with negative sampling (dim 100, window 5, 5 negatives, sample 1e-3) and GloVe (dim 100, "
        "window 10, x_max 100, α 0.75, W + W̃), trained on the same training ids (the words below --min-count "
        "deleted first, as word2vec, gensim and GloVe do) with one worker each (so the "
        "same command gives the same vectors); gensim's skip-gram with the same settings is the reference. "
        "Analogies: Google's questions-words (3CosAdd) over the covered questions; similarity: Spearman "
        "correlation on WordSim353 and SimLex-999 (gensim's copies) over the pairs whose two words the "
        "vocabulary holds; with another corpus than the Penn Treebank the covered share changes, and the "
        "figures of two corpora compare only on the pairs both cover. Each method also defines a next-word model "
        "P(w | previous word) from its trained parameters, scored on the same test tokens as the n-grams, with "
        f"one temperature fitted on {tuned_on}.",
        Table(["vectors", "epochs", "analogy acc.", "questions covered", "WS353 ρ (pairs covered)",
               "SimLex ρ (pairs covered)", "test PPL", "temperature", "train (s)"], rows),
        Table(["query (SGNS, ours)", "answer"], _examples(vectors["SGNS (ours)"]), "Example queries"),
    )
    png = run.figure_path("embeddings_pca.png")
    plot_words(vectors["SGNS (ours)"], png, top=60, title="SGNS vectors: PCA of the 60 most frequent words")
    section.add(Figure(png, "2-D PCA map of the 60 most frequent words (SGNS, ours)"),
                "Search the map: type a word to see where it lies among the most frequent words and which words "
                "are nearest to it (SGNS, ours).",
                embedding_map(vectors["SGNS (ours)"], paths["SGNS (ours)"]))
    return section, scored


def _pairs(result) -> str:
    """How many of a similarity set's pairs the vocabulary covers, e.g. " (318 of 353)"."""
    return f" ({result.pairs:,} of {result.pairs + result.oov_pairs:,})"


def _defined(value: float, template: str) -> str:
    """A figure, or "-" when the vocabulary covered nothing to compute it from (nan)."""
    return "-" if value != value else template.format(value)
