"""The report steps of the model families beyond n-grams: word embeddings and the Transformer.

Each step is ``step(run, cache) -> (Section, list[Scored])``.  Trained vectors and
checkpoints are kept in the cache folder under a key made of the data and the
settings, so a second run only re-reads them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from perplex.eval import evaluate
from perplex.report.cache import ResultCache
from perplex.report.document import Figure, Section, Table
from perplex.report.ngrams import fmt


@dataclass(frozen=True)
class Budgets:
    sgns_epochs: int
    glove_epochs: int
    transformer_minutes: float


QUICK = Budgets(sgns_epochs=1, glove_epochs=5, transformer_minutes=1.0)
FULL = Budgets(sgns_epochs=15, glove_epochs=25, transformer_minutes=10.0)
EXAMPLE_QUERIES = [("king", "man", "woman"), ("stocks", "stock", "bond"), ("japan", "tokyo", "paris")]
EXAMPLE_WORDS = ["market", "president", "company", "billion"]


def available_steps(quick: bool, transformer_minutes: float | None = None) -> list:
    budgets = QUICK if quick else FULL
    if transformer_minutes is not None:
        budgets = Budgets(budgets.sgns_epochs, budgets.glove_epochs, transformer_minutes)
    steps = []
    try:
        from perplex import embeddings  # noqa: F401
        steps.append(lambda run, cache: embeddings_step(run, cache, budgets))
    except ImportError:
        pass
    try:
        from perplex import attention  # noqa: F401
        steps.append(lambda run, cache: transformer_step(run, cache, budgets))
    except ImportError:
        pass
    return steps


# ----------------------------------------------------------------------------- embeddings
def _train_vectors(run, cache: ResultCache, method: str, backend: str, epochs: int, dim: int = 100):
    """(evaluations of its next-word model, extra, vectors path) for one embedding method."""
    from perplex.embeddings.config import GloVeConfig, SGNSConfig
    from perplex.embeddings.language_model import glove_language_model, sgns_language_model
    from perplex.embeddings.vectors import save_vectors

    config = (GloVeConfig if method == "glove" else SGNSConfig)(epochs=epochs, dim=dim)
    # every training setting goes into the key, so a changed default never reuses an old result
    settings = {"method": method, "backend": backend, "config": config.to_dict()}
    vectors_path = cache.path(f"vectors-{method}-{backend}", settings).with_suffix(".bin")

    def compute():
        start = time.perf_counter()
        if method == "glove":
            from perplex.embeddings.glove import GloVe

            trainer = GloVe(config).fit(run.data.train)
        elif backend == "gensim":
            from perplex.embeddings.gensim_backend import GensimSGNS

            trainer = GensimSGNS(config).fit(run.data.train)
        else:
            from perplex.embeddings.sgns import SGNS

            trainer = SGNS(config).fit(run.data.train)
        seconds = time.perf_counter() - start
        save_vectors(trainer.keyed_vectors(), vectors_path)
        lm = (glove_language_model if method == "glove" else sgns_language_model)(trainer)
        lm.name = f"{method.upper() if method == 'sgns' else 'GloVe'} next-word model" + (" (gensim)" if backend == "gensim" else "")
        if "valid" in run.data.corpora:
            lm.fit_temperature(run.data.corpora["valid"])
        evals = [evaluate(lm, run.data.corpora[s], s) for s in run.data.eval_names()]
        return evals, {"seconds": seconds, "temperature": lm.temperature, "name": lm.name}

    evals, extra, cached = cache.get_or_compute(f"embed-{method}-{backend}", settings, compute)
    if not vectors_path.exists():  # cache entry without its vectors: train again
        vectors_path.with_suffix(".npz").unlink(missing_ok=True)
        evals, extra, cached = cache.get_or_compute(f"embed-{method}-{backend}", settings, compute)
    run.log(f"  {extra['name']}: test perplexity {evals[-1].perplexity:.2f}" + (" (cached)" if cached else ""))
    return evals, extra, vectors_path


def embeddings_step(run, cache: ResultCache, budgets: Budgets):
    from perplex.embeddings.evaluation import evaluate_all
    from perplex.embeddings.plot import plot_words
    from perplex.embeddings.queries import analogy, most_similar
    from perplex.embeddings.vectors import load_vectors
    from perplex.report.build import Scored

    section = Section("Word embeddings")
    scored, rows, vectors = [], [], {}
    with run.step("word embeddings"):
        for method, backend, epochs, label in [
            ("sgns", "torch", budgets.sgns_epochs, "SGNS (ours)"),
            ("sgns", "gensim", budgets.sgns_epochs, "SGNS (gensim, reference)"),
            ("glove", "torch", budgets.glove_epochs, "GloVe (ours)"),
        ]:
            evals, extra, path = _train_vectors(run, cache, method, backend, epochs)
            kv = load_vectors(path)
            vectors[label] = (kv, path)
            s = evaluate_all(kv)
            by_split = {e.split: e for e in evals}
            rows.append([label, str(epochs), f"{s.analogies.accuracy:.2%}", f"{s.analogies.covered:,}",
                         f"{s.ws353.spearman:.3f}", f"{s.simlex.spearman:.3f}",
                         fmt(by_split["test"].perplexity, 2) if "test" in by_split else "-",
                         f"{extra['temperature']:.3f}", f"{extra['seconds']:.0f}"])
            if "test" in by_split:
                scored.append(Scored(extra["name"], by_split.get("valid"), by_split["test"],
                                     f"P(w | previous word); temperature {extra['temperature']:.3f} fitted on valid"))
    section.add(
        "Skip-gram with negative sampling (dim 100, window 5, 5 negatives, sample 1e-3) and GloVe (dim 100, "
        "window 10, x_max 100, α 0.75, W + W̃), trained on the same training ids; gensim's skip-gram with the "
        "same settings is the reference. Analogies: Google's questions-words (3CosAdd) over the covered "
        "questions; similarity: Spearman correlation on WordSim353 and SimLex-999 (gensim's copies). Each "
        "method also defines a next-word model P(w | previous word) from its trained parameters, scored on "
        "the same test tokens as the n-grams (one temperature fitted on valid).",
        Table(["vectors", "epochs", "analogy acc.", "covered", "WS353 ρ", "SimLex ρ", "test PPL", "temperature",
               "train (s)"], rows),
    )
    kv, _ = vectors["SGNS (ours)"]
    examples = []
    for a, b, c in EXAMPLE_QUERIES:
        try:
            answer = ", ".join(w for w, _ in analogy(kv, a, b, c, topn=3))
        except Exception as exc:  # an OOV word: show the message, as the CLI does
            answer = f"({exc})"
        examples.append([f"{a} − {b} + {c}", answer])
    for w in EXAMPLE_WORDS:
        try:
            examples.append([f"neighbours of {w}", ", ".join(x for x, _ in most_similar(kv, w, topn=5))])
        except Exception as exc:
            examples.append([f"neighbours of {w}", f"({exc})"])
    section.add(Table(["query (SGNS, ours)", "answer"], examples, "Example queries"))
    png = run.figure_path("embeddings_pca.png")
    plot_words(kv, png, top=60, title="SGNS vectors: PCA of the 60 most frequent words")
    section.add(Figure(png, "2-D PCA map of the 60 most frequent words (SGNS, ours)"))
    return section, scored


# ---------------------------------------------------------------------------- transformer
def _train_transformer(run, cache: ResultCache, minutes: float, init: str | None):
    from perplex import cli as cli_module
    from perplex.attention.cli import _build_trainer, _configs
    from perplex.attention.device import resolve_device
    from perplex.attention.scoring import TransformerScorer

    argv = ["transformer", "--minutes", str(minutes), "--seed", "0"]
    if init:
        argv += ["--init-embeddings", str(init)]
    args = cli_module.build_parser().parse_args(argv)
    model_config, train_config = _configs(args, len(run.data.vocab))
    # every model and training setting goes into the key, so a changed default never reuses an old result
    settings = {"init": init and Path(init).name, "model": model_config.to_dict(), "train": train_config.to_dict()}
    checkpoint = cache.path("transformer-ckpt", settings).with_suffix(".pt")

    def compute():
        args.checkpoint = str(checkpoint)
        trainer = _build_trainer(args, run.data, resolve_device("auto"))
        trainer.fit(run.data.train, run.data.corpora.get("valid"))
        scorer = TransformerScorer(trainer.model, run.data.vocab)
        evals = [evaluate(scorer, run.data.corpora[s], s) for s in run.data.eval_names()]
        curve = [(r["minutes"], r.get("valid_perplexity")) for r in trainer.history if r.get("valid_perplexity")]
        return evals, {"curve": curve, "describe": scorer.describe(), "parameters": trainer.model.n_parameters(),
                       "tokens_per_s": trainer.tokens_seen / max(trainer.train_seconds, 1e-9),
                       "epochs": trainer.tokens_seen / run.data.train.n_tokens}

    evals, extra, cached = cache.get_or_compute("transformer", settings, compute)
    run.log(f"  Transformer ({settings['init'] or 'random init'}): test perplexity {evals[-1].perplexity:.2f}"
            + (" (cached)" if cached else ""))
    return evals, extra, checkpoint


def transformer_step(run, cache: ResultCache, budgets: Budgets):
    from perplex.attention.checkpoint import load_checkpoint
    from perplex.attention.heatmap import attention_maps, draw_heatmaps
    from perplex.report import plots
    from perplex.report.build import Scored

    section = Section("The Transformer")
    scored, rows = [], []
    from perplex.attention.model import TransformerConfig

    d_model = TransformerConfig.__dataclass_fields__["d_model"].default  # the CLI default width
    with run.step("transformer"):
        # Vectors of the Transformer's width, trained as in the embeddings section, to start from.
        inits = [("random", None)] + [
            (f"{label} ({d_model}-d)", _train_vectors(run, cache, method, "torch", epochs, dim=d_model)[2])
            for method, epochs, label in [("sgns", budgets.sgns_epochs, "SGNS"), ("glove", budgets.glove_epochs, "GloVe")]
        ]
        results = {}
        for label, path in inits:
            evals, extra, ckpt = _train_transformer(run, cache, budgets.transformer_minutes, str(path) if path else None)
            by_split = {e.split: e for e in evals}
            results[label] = (by_split, extra, ckpt)
            rows.append([f"embeddings: {label}", fmt(by_split["test"].perplexity, 2) if "test" in by_split else "-",
                         fmt(by_split["valid"].perplexity, 2) if "valid" in by_split else "-",
                         f"{extra['epochs']:.2f}", f"{extra['tokens_per_s']:,.0f}"])
    main_split, main_extra, main_ckpt = results["random"]
    section.add(
        f"A GPT-style decoder ({main_extra['parameters']:,} parameters) trained for {budgets.transformer_minutes:g} "
        f"minutes on the same training ids (`</s>` between sentences), scored by `eval/` on every test token once: "
        f"{main_extra['describe']}. The same budget is spent with the token embeddings initialized at random and "
        "from the SGNS and GloVe vectors above.",
        Table(["run", "test PPL", "valid PPL", "epochs", "tokens/s"], rows, "Effect of the embedding initialization"),
    )
    if "test" in main_split:
        scored.append(Scored("Transformer", main_split.get("valid"), main_split["test"],
                             "interpolation partner; " + main_extra["describe"]))
    curve = [tuple(p) for p in main_extra["curve"]]
    ngram_lines = {s.name: s.valid.perplexity for s in run.scored if s.valid is not None and "Kneser-Ney" in s.name}
    png = plots.curve_with_references(curve, ngram_lines, run.figure_path("transformer_curve.png"),
                                      "Transformer: valid perplexity during training")
    section.add(Figure(png, "Valid perplexity against training minutes, n-gram valid perplexities as lines"))
    model, _, _ = load_checkpoint(main_ckpt, vocab=run.data.vocab, device="cpu")
    maps = attention_maps(model, run.data.vocab, "the stock market fell sharply")
    heads = maps.records()
    section.add(Table(["layer", "head", "mean row entropy (bits)", "uniform (bits)"],
                      [[str(h["layer"]), str(h["head"]), f"{h['mean_entropy_bits']:.3f}",
                        f"{h['uniform_entropy_bits']:.3f}"] for h in heads],
                      "Attention entropy per head on \"the stock market fell sharply\" (low = focused)"))
    for path in draw_heatmaps(maps, run.out / "figures", prefix="attention")[:4]:
        section.add(Figure(path, f"Attention weights, {path.stem.replace('_', ' ')}"))
    return section, scored
