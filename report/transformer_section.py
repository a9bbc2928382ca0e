"""The Transformer section: the default model trained from a random start and from the
SGNS and GloVe vectors, its training curves beside the n-grams, and what its heads attend to.

The budget is counted in optimizer steps (unless ``--transformer-minutes`` asks for wall
time), so the same command gives the same numbers however loaded the machine is.
"""

from __future__ import annotations

from perplex.report import plots
from perplex.report.cache import ResultCache
from perplex.report.document import Figure, Interactive, Section, Table
from perplex.report.embedding_section import train_vectors
from perplex.report.ngram_section import fmt

HEATMAP_SENTENCE = "the stock market fell sharply"
SEED = 0


def _configs(run):
    from perplex.attention.config import TrainConfig, sized_config

    b = run.budget
    budget = {"minutes": b.transformer_minutes, "eval_every_minutes": b.transformer_minutes / 5} \
        if b.transformer_minutes is not None else {"steps": b.transformer_steps}
    vocab = run.data.vocab
    return sized_config(vocab.counts), TrainConfig(seed=SEED, **budget)


def output_layer(vocab, config) -> str:
    """The adaptive softmax's clusters in words: the ids each covers and their share of the
    training tokens (the trained ``config``'s, sized from those counts), and the rare words
    that share ``<unk>``'s class."""
    import numpy as np

    from perplex.attention.config import cluster_bounds
    from perplex.attention.rare import RARE_BELOW, class_counts

    counts = class_counts(vocab.counts, config.classes)
    covered = np.cumsum(counts) / max(int(counts.sum()), 1)
    bounds = cluster_bounds(config.classes, config.cutoffs)
    shares = [covered[hi - 1] - (covered[lo - 1] if lo else 0) for lo, hi in zip(bounds, bounds[1:])]
    parts = [f"{'head' if i == 0 else f'tail {i}'} ids {lo:,}–{hi - 1:,} ({share:.1%}"
             + (" of the training tokens)" if i == 0 else ")")
             for i, (lo, hi, share) in enumerate(zip(bounds, bounds[1:], shares))]
    shared = len(vocab) - config.classes
    rare = (f"; the {shared:,} words seen fewer than {RARE_BELOW} times in training share <unk>'s class, split "
            "among them by their counts" if shared else "")
    return ", ".join(parts) + "; cutoffs sized from the training counts" + rare


def train_one(run, cache: ResultCache, name: str, init) -> tuple[dict, dict, object]:
    """({split: Evaluation}, extra, checkpoint path) of one Transformer run, trained by
    :func:`perplex.attention.recipe.train_transformer` or read back from the cache."""
    from perplex.attention.recipe import train_transformer

    model_config, train_config = _configs(run)
    # every model and training setting goes into the key, so a changed default never reuses an old result
    settings = {"init": init and init.name, "model": model_config.to_dict(), "train": train_config.to_dict()}
    checkpoint = cache.path("transformer-ckpt", settings).with_suffix(".pt")

    def compute():
        run.log(f"  {name}: training for {run.budget.transformer()} ...")
        trained = train_transformer(run.data, model_config, train_config, checkpoint=checkpoint, init_embeddings=init)
        history = trained.trainer.history
        extra = trained.training(run.data.train.n_tokens) | {
            "describe": trained.scorer.describe(), "parameters": trained.model.n_parameters(),
            "curve": [(r["step"], r["minutes"], r["valid_perplexity"]) for r in history if "valid_perplexity" in r]}
        return trained.evaluations, extra

    evals, extra, cached = cache.get_or_compute("transformer", settings, compute, artifact=checkpoint)
    by_split = {e.split: e for e in evals}
    run.log(f"  {name}: test perplexity {by_split['test'].perplexity:.2f}" + (" (cached)" if cached else ""))
    return by_split, extra, checkpoint


def attention_explorer(maps, sentence: str, checkpoint) -> Interactive:
    """The sample sentence with every word clickable: row t of each head's weights, layer by layer
    (the heatmaps' numbers), and the command that works one head out term by term."""
    import shlex

    weights = maps.weights.round(6)  # (layers, heads, T, T); row t is causal: positions 0..t
    rows = [[[head[t, :t + 1].tolist() for t in range(len(head))] for head in layer] for layer in weights]
    command = (f"perplex explain attention {shlex.quote(sentence)} --model {shlex.quote(str(checkpoint))} "
               "--layer L --head H --position T")
    return Interactive("attention", {"tokens": maps.tokens, "weights": rows, "command": command,
                                     "checkpoint": str(checkpoint)},
                       "clicking a word of the sentence shows every head's attention weights from it, layer by "
                       "layer")


def transformer_section(run, cache: ResultCache):
    from perplex.attention.checkpoint import load_checkpoint
    from perplex.attention.config import TransformerConfig
    from perplex.attention.heatmap import attention_maps, draw_layer
    from perplex.report.build import Scored

    d_model = TransformerConfig.d_model
    b = run.budget
    tuned_on = run.data.describe_valid()
    section = Section("The Transformer")
    with run.step("transformer"):
        # Vectors of the Transformer's width, trained as in the embeddings section, to start from.
        inits = [("Transformer", None)] + [
            (f"Transformer ({label} {d_model}-d embeddings)",
             train_vectors(run, cache, method, "torch", epochs, dim=d_model, score=False,
                           purpose="to initialize the Transformer")[2])
            for method, epochs, label in [("sgns", b.sgns_epochs, "SGNS"), ("glove", b.glove_epochs, "GloVe")]]
        results = {name: train_one(run, cache, name, init) for name, init in inits}
    rows = [[name, fmt(s["test"].perplexity, 2), fmt(s["valid"].perplexity, 2), f"{x['steps']:,}",
             f"{x['epochs']:.2f}", f"{x['tokens_per_s']:,.0f}", f"{60 * x['train_minutes']:.0f}"]
            for name, (s, x, _) in results.items()]
    main_split, main_extra, main_ckpt = results["Transformer"]
    section.add(
        f"A GPT-style decoder ({main_extra['parameters']:,} parameters: 2 layers, d_model {d_model}, 4 heads, "
        f"adaptive softmax: {output_layer(run.data.vocab, _configs(run)[0])}) trained for {b.transformer()} (seed {SEED}) on the same training ids (`</s>` between "
        f"sentences); the kept model is the best on {tuned_on} among the curve's points. Every figure, the "
        f"curve's and the final ones, is scored by `eval/` on every token once: {main_extra['describe']}. The "
        "same budget is spent with the token embeddings initialized at random and from SGNS and GloVe vectors "
        "of the Transformer's width, trained as in the embeddings section.",
        Table(["run", "test PPL", "valid PPL", "steps", "epochs", "tokens/s", "train (s)"], rows,
              "Effect of the embedding initialization (wall time beside the step budget)"),
    )
    scored = [Scored(name, s["valid"], s["test"], f"best of the curve on {tuned_on}; " + x["describe"],
                     partner=name == "Transformer")  # the random start: the plain Transformer
              for name, (s, x, _) in results.items()]
    curves = {name: [(step, ppl) for step, _, ppl in x["curve"]] for name, (_, x, _) in results.items()}
    ngram_lines = {s.name: s.valid.perplexity for s in run.scored if "Kneser-Ney" in s.name}
    png = plots.curves_with_references(curves, ngram_lines, run.figure_path("transformer_curve.png"),
                                       "Transformer: valid perplexity during training", xlabel="optimizer step")
    section.add(Figure(png, "Valid perplexity against optimizer steps, one line per run; the n-grams' valid "
                            "perplexities as dashed lines"))
    model, _, _ = load_checkpoint(main_ckpt, vocab=run.data.vocab, device="cpu")
    maps = attention_maps(model, run.data.vocab, HEATMAP_SENTENCE)
    heads = maps.records()
    section.add(Table(["layer", "head", "mean row entropy (bits)", "uniform (bits)"],
                      [[str(h["layer"]), str(h["head"]), f"{h['mean_entropy_bits']:.3f}",
                        f"{h['uniform_entropy_bits']:.3f}"] for h in heads],
                      f"Attention entropy per head on \"{HEATMAP_SENTENCE}\" (low = focused)"))
    section.add(attention_explorer(maps, HEATMAP_SENTENCE, main_ckpt))
    for layer in range(maps.weights.shape[0]):
        path = draw_layer(maps, layer, run.figure_path(f"attention_layer{layer + 1}.png"))
        section.add(Figure(path, f"Attention weights of layer {layer + 1}, every head (row: attending position, "
                                 "column: attended position)"))
    return section, scored
