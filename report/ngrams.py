"""The n-gram ladder: every smoothing at every order, on the same tokens."""

from __future__ import annotations

import time

import numpy as np

from perplex.corpus.datasets import Splits
from perplex.eval import evaluate
from perplex.eval.metrics import Evaluation
from perplex.lm import AdditiveModel, NgramTrie, estimate_kneser_ney
from perplex.report.cache import ResultCache

LADDER = {
    "mle": "MLE",
    "laplace": "Laplace (add-1)",
    "addk": "add-k (k tuned on valid)",
    "ikn": "Kneser-Ney (one discount)",
    "kn": "modified Kneser-Ney",
}
ADDK_GRID = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0]


def _model_bytes(model) -> int:
    arrays = [k for k in model.trie.keys if k is not None]
    arrays += getattr(model, "logp", []) + getattr(model, "logbo", [])
    if not hasattr(model, "logp"):
        arrays += model.trie.counts
    return int(sum(a.nbytes for a in arrays))


def _build(data: Splits, smoothing: str, order: int):
    """Train one ladder model; add-k tries every k of the grid on valid and keeps the best."""
    trie = NgramTrie.count(data.train, order)
    if smoothing in ("kn", "ikn"):
        import warnings

        from perplex.lm import DiscountWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DiscountWarning)  # fallbacks are listed in the model's info
            return estimate_kneser_ney(data.train, order, modified=smoothing == "kn", trie=trie), {}
    if smoothing != "addk":
        return AdditiveModel(data.vocab, trie, {"mle": 0.0, "laplace": 1.0}[smoothing]), {}
    tuning = data.corpora.get("valid", data.train)
    scores = {k: evaluate(AdditiveModel(data.vocab, trie, k), tuning).perplexity for k in ADDK_GRID}
    best = min(scores, key=scores.get)
    return AdditiveModel(data.vocab, trie, best), {"alpha": best, "alpha_grid": scores}


def run_ladder(data: Splits, orders: list[int], cache: ResultCache, log=print) -> dict[tuple[str, int], dict]:
    """{(smoothing, order): {"valid": Evaluation, "test": Evaluation, "build_seconds", "ngrams", "bytes", ...}}."""
    results = {}
    for smoothing in LADDER:
        for order in orders:
            def compute():
                start = time.perf_counter()
                model, extra = _build(data, smoothing, order)
                extra["build_seconds"] = time.perf_counter() - start
                extra["ngrams"] = int(sum(model.trie.size(n) for n in range(1, order + 1)))
                extra["bytes"] = _model_bytes(model)
                extra["name"] = model.name
                evals = [evaluate(model, data.corpora[s], s) for s in data.eval_names()]
                return evals, extra

            evals, extra, cached = cache.get_or_compute("ngram", {"smoothing": smoothing, "order": order}, compute)
            entry = dict(extra)
            entry.update({e.split: e for e in evals})
            results[(smoothing, order)] = entry
            log(f"  {extra['name']}: test perplexity {entry['test'].perplexity:.3f}" + (" (cached)" if cached else ""))
    return results


def best_ngram(results: dict) -> tuple[str, int]:
    """The (smoothing, order) with the lowest validation perplexity (test if no valid)."""
    split = "valid" if any("valid" in r for r in results.values()) else "test"
    return min(results, key=lambda k: results[k][split].perplexity)


def fmt(v: float, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not np.isfinite(v):
        return "inf"
    return f"{v:,.{digits}f}"


def ladder_rows(results: dict) -> list[list[str]]:
    rows = []
    for (smoothing, order), r in results.items():
        t: Evaluation = r["test"]
        v = r.get("valid")
        label = f"add-k (k={r['alpha']:g})" if "alpha" in r else LADDER[smoothing]
        rows.append([label, str(order), f"{t.tokens:,}", f"{t.oovs:,}", f"{t.zero_prob_tokens:,}",
                     fmt(t.cross_entropy_bits, 4), fmt(t.perplexity), fmt(t.perplexity_excl_oov),
                     fmt(v.perplexity) if v else "-", fmt(t.bits_per_char, 4), f"{r['ngrams']:,}",
                     f"{r['bytes'] / 2**20:,.1f}", f"{r['build_seconds']:.2f}"])
    return rows


LADDER_HEADER = ["model", "order", "tokens", "OOVs", "P=0", "H (bits)", "test PPL", "PPL excl. OOV",
                 "valid PPL", "bits/char", "n-grams", "size (MiB)", "build (s)"]
