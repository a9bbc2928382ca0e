"""Assembling the report: run each section (cached), then write Markdown and HTML.

The page opens with what a reader who did not run it needs first: a banner on a quick
run, then a summary (date, exact command, data, budget, the best model).  Every tuned
choice names the data that tuned it.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from perplex.corpus.datasets import Splits
from perplex.eval.compare import interpolate, interpolation_weight, paired_bootstrap
from perplex.eval.metrics import Evaluation, summarize
from perplex.fileio import atomic_write
from perplex.report.budget import FULL, FULL_RUN_ON_PTB, Budget
from perplex.report.cache import ResultCache
from perplex.report.document import Banner, Section, Table, to_html, to_markdown
from perplex.report.environment import hardware, versions
from perplex.report.ngram_section import best_ngram, fmt, ngram_section
from perplex.report.word_by_word import word_by_word_section

TITLE = "perplex: the language-model ladder"


@dataclass
class Scored:
    """A model of the comparison: its name, its valid/test evaluations, and whether it is the
    partner the best n-gram is interpolated with."""

    name: str
    valid: Evaluation | None
    test: Evaluation
    note: str = ""
    partner: bool = False


@dataclass
class ReportRun:
    data: Splits
    out: Path
    budget: Budget
    command: str = ""
    log: callable = print
    started: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    timings: dict = field(default_factory=dict)
    sections: list = field(default_factory=list)
    scored: list = field(default_factory=list)
    compared: list = field(default_factory=list)  # (name, test Evaluation): the comparison table's rows

    @contextlib.contextmanager
    def step(self, name: str):
        self.log(f"[report] {name} ...")
        start = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - start

    def figure_path(self, name: str) -> Path:
        return self.out / "figures" / name


def quick_banner(budget: Budget) -> Banner:
    """What a quick run cut, and what the full run gives instead."""
    cut = [f"n-gram orders {budget.orders[0]}–{budget.orders[-1]} (full run: {FULL.orders[0]}–{FULL.orders[-1]})",
           f"skip-gram {budget.sgns_epochs} epoch(s) (full: {FULL.sgns_epochs})",
           f"GloVe {budget.glove_epochs} (full: {FULL.glove_epochs})",
           f"each Transformer run {budget.transformer()} (full: {FULL.transformer()})"]
    return Banner(
        "**Quick run (--quick): training budgets cut short.** " + "; ".join(cut) + ". The n-gram figures are "
        "exact, but the embeddings and the Transformer are far from trained, so their figures here are not what "
        f"the toolkit gives. Without --quick, {FULL_RUN_ON_PTB}.")


def _oov_rates(data: Splits) -> str:
    return ", ".join(f"{name} {c.oov.mean():.2%}" for name, c in data.corpora.items() if name != "train")


def _rare_words(data: Splits) -> str:
    """What each family does with the training words left out of the vocabulary."""
    train = data.corpora["train"]
    share = float(train.oov.mean())
    if not share:
        return ("none: every training word is in the vocabulary (a <unk> written in the text, as in the Penn "
                "Treebank, is a word like the others)")
    return (f"{share:.2%} of the training tokens are words below --min-count (or beyond --max-vocab). The n-grams "
            "and the Transformer read them as <unk>; the embeddings delete them from their training stream before "
            "windowing, as word2vec, gensim and GloVe do, and their next-word models give <unk> that share")


def summary_section(run: ReportRun, best: tuple[str, Evaluation, str], best_ngram_row: Scored) -> Section:
    data, b = run.data, run.budget
    counts = ", ".join(f"{name} {c.n_tokens:,}" for name, c in data.corpora.items())
    name, test, interval = best
    rows = [
        ["date", run.started.strftime("%Y-%m-%d %H:%M UTC")],
        ["command", run.command or "(library call)"],
        ["data", f"{data.source}; tokens: {counts}"],
        ["vocabulary", f"{len(data.vocab):,} words from train (</s> and <unk> included); OOV rate: "
                       f"{_oov_rates(data)}"],
        ["rare words", _rare_words(data)],
        ["tuning data", f"every tuned choice (orders, add-k's k, temperatures, the Transformer's kept "
                        f"checkpoint, the interpolation weight) was made on {data.describe_valid()}"],
        ["mode and budget", f"{b.name}: {b.describe()}"],
        ["best model (lowest valid perplexity)", f"{name}: test perplexity {fmt(test.perplexity)} {interval}"],
        ["best n-gram", f"{best_ngram_row.name}: test perplexity {fmt(best_ngram_row.test.perplexity)}"],
    ]
    return Section("Summary").add(Table(["", ""], rows))


def comparison_section(run: ReportRun, reference: Scored) -> tuple[Section, tuple[str, Evaluation, str]]:
    """Every scored model on the same test tokens, with intervals against ``reference`` (the best
    n-gram), and its interpolation with the partner; also returns the best row by valid perplexity."""
    tuned_on = run.data.describe_valid()
    section = Section("All models on the same test tokens")
    rows, candidates = [], []

    def add(name: str, valid: Evaluation | None, test: Evaluation, note: str):
        ci = paired_bootstrap(test, reference.test, samples=1000, seed=0)
        interval = f"[{fmt(ci.low)}, {fmt(ci.high)}]"
        run.compared.append((name, test))
        rows.append([name, fmt(test.perplexity), interval, f"{ci.ratio:.4f} [{ci.ratio_low:.4f}, {ci.ratio_high:.4f}]",
                     fmt(valid.perplexity) if valid else "-", fmt(test.bits_per_char, 4), note])
        if valid is not None:
            candidates.append((valid.perplexity, name, test, interval))

    for m in run.scored:
        if m.test.tokens == reference.test.tokens:
            add(m.name, m.valid, m.test, m.note)
    partner = next((s for s in run.scored if s.partner), None)
    if partner is not None:
        lam = interpolation_weight(reference.valid.token_log10, partner.valid.token_log10)
        corpora = run.data.corpora
        mixed_valid = summarize(interpolate(reference.valid.token_log10, partner.valid.token_log10, lam),
                                corpora["valid"], "interpolation", "valid")
        mixed_test = summarize(interpolate(reference.test.token_log10, partner.test.token_log10, lam),
                               corpora["test"], "interpolation", "test")
        add(f"{lam:.3f} × {reference.name} + {1 - lam:.3f} × {partner.name}", mixed_valid, mixed_test,
            f"weight tuned on {tuned_on} by EM")
        section.add(f"The linear interpolation λ·P({reference.name}) + (1−λ)·P({partner.name}) has its weight "
                    f"λ = {lam:.3f} fitted on {tuned_on} by EM (the likelihood is concave in λ, so EM finds the "
                    f"optimum); its valid perplexity {fmt(mixed_valid.perplexity)} is no higher than either "
                    f"part's ({fmt(reference.valid.perplexity)} and {fmt(partner.valid.perplexity)}).")
    section.add(
        Table(["model", "test PPL", "95% interval", f"PPL / PPL({reference.name}) [95%]", "valid PPL", "bits/char",
               "note"], rows, "Intervals: paired bootstrap over test sentences (1,000 resamples, the same draws for "
               "every model); a ratio interval that excludes 1 is a real difference."))
    _, name, test, interval = min(candidates, key=lambda c: c[0])
    return section, (name, test, interval)


def conventions_section(run: ReportRun) -> Section:
    data = run.data
    counts = ", ".join(f"{name} {c.n_tokens:,} tokens in {c.n_sentences:,} sentences"
                       for name, c in data.corpora.items())
    return Section("Conventions, versions, hardware, timings").add(
        "What was counted follows the conventions of perplex (docs/conventions.md in its repository):",
        "- each sentence contributes its words plus one `</s>`; `<s>` is context only, never predicted or counted\n"
        f"- the vocabulary ({len(data.vocab):,} entries, `</s>` and `<unk>` included) is fixed on train; "
        "every other word is `<unk>` and counted as an OOV\n"
        "- cross-entropy H = −(1/N) Σ log2 P in bits per token; perplexity 2^H including OOVs, and excluding them\n"
        "- bits per character: total bits over the characters of the text (words joined by single spaces, one "
        "newline per sentence)\n"
        "- every model is scored on the same token stream by the one module `eval/`; a zero-probability token "
        "makes the perplexity infinite and is counted",
        f"Data: {data.source}; {counts}. Validation data: {data.describe_valid()}.",
        Table(["package", "version"], [[k, v] for k, v in versions()], "Versions"),
        f"Hardware: {hardware()}.",
        Table(["step", "wall time (s)"], [[k, f"{v:.1f}"] for k, v in run.timings.items()],
              "Wall time of each step (cached steps are fast on a second run)"),
    )


def write_report(run: ReportRun, title: str = TITLE) -> tuple[Path, Path]:
    md = to_markdown(title, run.sections, run.out)
    page = to_html(title, run.sections)
    md_path, html_path = run.out / "report.md", run.out / "report.html"
    with atomic_write(md_path, "w") as f:
        f.write(md)
    with atomic_write(html_path, "w") as f:
        f.write(page)
    return md_path, html_path


def build_report(data: Splits, out: Path, budget: Budget = FULL, command: str = "", log=print,
                 sections=None) -> ReportRun:
    """Run every section and write ``out/report.md`` and ``out/report.html``.

    ``data`` must have a valid and a test split (``load_splits(..., hold_out_valid=0.1)``
    makes one).  ``sections`` are callables ``section(run, cache) -> (Section, [Scored])``
    after the n-gram ladder (default: the embeddings and the Transformer); the Scored
    marked ``partner`` is interpolated with the best n-gram.
    """
    from perplex.errors import PerplexError
    from perplex.report.embedding_section import embeddings_section
    from perplex.report.transformer_section import transformer_section

    for split in ("valid", "test"):
        if split not in data.corpora:
            raise PerplexError(f"the report needs {split} data; give --{split} FILE or --split 80/10/10")
    out = Path(out)
    try:
        (out / "figures").mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way, a read-only place
        raise PerplexError(f"cannot write the report into {out}: {exc.strerror}; give --out a folder") from None
    run = ReportRun(data, out, budget, command, log)
    start = time.perf_counter()
    cache = ResultCache(out / "cache", data)
    section, results = ngram_section(run, cache)
    run.sections.append(section)
    best = best_ngram(results)
    r = results[best]
    reference = Scored(r["name"], r["valid"], r["test"])
    for make in (embeddings_section, transformer_section) if sections is None else sections:
        extra_section, scored = make(run, cache)
        run.sections.append(extra_section)
        run.scored.extend(scored)
    comparison, best_model = comparison_section(run, reference)
    run.sections.append(comparison)
    run.sections.append(word_by_word_section(run, cache, (*best, r.get("alpha")), reference.name))
    run.timings["total"] = time.perf_counter() - start
    run.sections.append(conventions_section(run))
    head = [summary_section(run, best_model, reference)]
    if budget.name == "quick":
        head[0].blocks.insert(0, quick_banner(budget))
    run.sections[:0] = head
    write_report(run)
    return run
