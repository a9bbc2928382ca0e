"""The n-gram ladder: every smoothing at every order, on the same tokens."""

from __future__ import annotations

import warnings

import numpy as np

from perplex.eval.metrics import Evaluation
from perplex.lm import SMOOTHINGS, DiscountWarning
from perplex.lm.recipe import NgramConfig, train_ngram
from perplex.report import plots
from perplex.report.cache import ResultCache
from perplex.report.document import Figure, Section, Table

LADDER = ("mle", "laplace", "addk", "ikn", "kn")  # the registry's names, weakest first (mkn is kn)
ADDK_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
LADDER_HEADER = ["model", "order", "tokens", "OOVs", "P=0", "H (bits)", "test PPL", "PPL excl. OOV",
                 "valid PPL", "bits/char", "n-grams", "size (MiB)", "build (s)"]


def _model_bytes(model) -> int:
    arrays = [k for k in model.trie.keys if k is not None]
    arrays += getattr(model, "logp", []) + getattr(model, "logbo", [])
    if not hasattr(model, "logp"):
        arrays += model.trie.counts
    return int(sum(a.nbytes for a in arrays))


def run_ladder(run, cache: ResultCache) -> dict[tuple[str, int], dict]:
    """{(smoothing, order): {"valid": Evaluation, "test": Evaluation, "name", "build_seconds", "ngrams",
    "bytes", and for add-k "alpha"}}, each model trained by :func:`perplex.lm.recipe.train_ngram`."""
    results = {}
    for smoothing in LADDER:
        for order in run.budget.orders:
            config = NgramConfig(smoothing, order, alpha_grid=ADDK_GRID if smoothing == "addk" else None)

            def compute():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DiscountWarning)  # fallbacks are listed in the model's info
                    ngram = train_ngram(run.data, config)
                extra = {"build_seconds": ngram.build_seconds, "name": ngram.model.name,
                         "ngrams": int(sum(ngram.model.trie.size(n) for n in range(1, order + 1))),
                         "bytes": _model_bytes(ngram.model)}
                if ngram.alpha_scores is not None:
                    extra["alpha"] = ngram.model.alpha
                return ngram.evaluations, extra

            settings = {"smoothing": smoothing, "order": order, "alpha_grid": config.alpha_grid}
            evals, extra, cached = cache.get_or_compute("ngram", settings, compute)
            entry = dict(extra)
            entry.update({e.split: e for e in evals})
            results[(smoothing, order)] = entry
            run.log(f"  {extra['name']}: test perplexity {entry['test'].perplexity:.3f}" + (" (cached)" if cached else ""))
    return results


def best_ngram(results: dict) -> tuple[str, int]:
    """The (smoothing, order) with the lowest validation perplexity."""
    return min(results, key=lambda k: results[k]["valid"].perplexity)


def fmt(v: float, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not np.isfinite(v):
        return "inf"
    return f"{v:,.{digits}f}"


def label(smoothing: str, entry: dict, tuned_on: str) -> str:
    """The table's name of a ladder model (add-k with the k chosen on ``tuned_on``)."""
    if "alpha" in entry:
        return f"add-k (k={entry['alpha']:g}, tuned on {tuned_on})"
    return SMOOTHINGS[smoothing].label


def ladder_rows(results: dict, tuned_on: str) -> list[list[str]]:
    rows = []
    for (smoothing, order), r in results.items():
        t: Evaluation = r["test"]
        v = r.get("valid")
        rows.append([label(smoothing, r, tuned_on), str(order), f"{t.tokens:,}", f"{t.oovs:,}",
                     f"{t.zero_prob_tokens:,}", fmt(t.cross_entropy_bits, 4), fmt(t.perplexity),
                     fmt(t.perplexity_excl_oov), fmt(v.perplexity) if v else "-", fmt(t.bits_per_char, 4),
                     f"{r['ngrams']:,}", f"{r['bytes'] / 2**20:,.1f}", f"{r['build_seconds']:.2f}"])
    return rows


def ngram_section(run, cache: ResultCache) -> tuple[Section, dict]:
    """The ladder's table and plot; each smoothing's best order joins the comparison."""
    from perplex.report.build import Scored

    orders = run.budget.orders
    tuned_on = run.data.describe_valid()
    with run.step("n-gram ladder"):
        results = run_ladder(run, cache)
    series = {SMOOTHINGS[s].label: {o: results[(s, o)]["test"].perplexity for o in orders} for s in LADDER}
    fig = plots.perplexity_by_order(series, run.figure_path("ngram_perplexity_by_order.png"),
                                    "n-gram test perplexity by order")
    section = Section("The n-gram ladder").add(
        f"Every smoothing at orders {orders[0]}–{orders[-1]}, trained on train and scored on the same "
        f"{results[(LADDER[0], orders[0])]['test'].tokens:,} test tokens. add-k's k is the one of "
        + ", ".join(f"{k:g}" for k in ADDK_GRID) + f" with the lowest perplexity on {tuned_on}. "
        "MLE gives unseen events probability 0, so its perplexity is infinite beyond unigrams; the "
        "P=0 column counts those tokens.",
        Table(LADDER_HEADER, ladder_rows(results, tuned_on), "Test-set figures (valid perplexity alongside)"),
        Figure(fig, "Test perplexity against n-gram order, one line per smoothing (MLE's infinite values left out)"),
    )
    for s in LADDER:
        best_order = min(orders, key=lambda o: results[(s, o)]["valid"].perplexity)
        r = results[(s, best_order)]
        note = f"order {best_order} chosen on {tuned_on}"
        name = r["name"]
        if "alpha" in r:
            note += f"; k = {r['alpha']:g} chosen on {tuned_on}"
            if not name.startswith("add-"):  # k = 1 was chosen: the model is Laplace's, and named so
                name = f"add-{r['alpha']:g} {best_order}-gram (= {name})"
        run.scored.append(Scored(name, r["valid"], r["test"], note))
    return section, results
