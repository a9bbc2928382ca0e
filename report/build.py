"""Assembling the report: run each step (cached), then write Markdown and HTML."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from perplex.corpus.datasets import Splits
from perplex.eval.compare import interpolate, interpolation_weight, paired_bootstrap
from perplex.eval.metrics import Evaluation, summarize
from perplex.fileio import atomic_write
from perplex.report import plots
from perplex.report.cache import ResultCache
from perplex.report.document import Figure, Section, Table, to_html, to_markdown
from perplex.report.environment import hardware, versions
from perplex.report.ngrams import ADDK_GRID, LADDER, LADDER_HEADER, best_ngram, fmt, ladder_rows, run_ladder


@dataclass
class Scored:
    """A model of the comparison: its name and its valid/test evaluations."""

    name: str
    valid: Evaluation | None
    test: Evaluation
    note: str = ""


@dataclass
class ReportRun:
    data: Splits
    out: Path
    quick: bool
    log: callable = print
    timings: dict = field(default_factory=dict)
    sections: list = field(default_factory=list)
    scored: list = field(default_factory=list)

    @contextlib.contextmanager
    def step(self, name: str):
        self.log(f"[report] {name} ...")
        start = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - start

    def figure_path(self, name: str) -> Path:
        return self.out / "figures" / name


def ngram_section(run: ReportRun, cache: ResultCache) -> tuple[Section, dict]:
    orders = [1, 2, 3] if run.quick else [1, 2, 3, 4, 5]
    with run.step("n-gram ladder"):
        results = run_ladder(run.data, orders, cache, log=run.log)
    series = {LADDER[s]: {o: results[(s, o)]["test"].perplexity for o in orders} for s in LADDER}
    fig = plots.perplexity_by_order(series, run.figure_path("ngram_perplexity_by_order.png"),
                                    "n-gram test perplexity by order")
    section = Section("The n-gram ladder").add(
        f"Every smoothing at orders {orders[0]}–{orders[-1]}, trained on train and scored on the same "
        f"{results[(next(iter(LADDER)), orders[0])]['test'].tokens:,} test tokens. add-k's k is chosen on "
        "valid from " + ", ".join(f"{k:g}" for k in ADDK_GRID)
        + ". MLE gives unseen events probability 0, so its perplexity is infinite beyond unigrams; the "
        "P=0 column counts those tokens.",
        Table(LADDER_HEADER, ladder_rows(results), "Test-set figures (valid perplexity alongside)"),
        Figure(fig, "Test perplexity against n-gram order, one line per smoothing (MLE's infinite values left out)"),
    )
    for s in LADDER:
        best_order = min(orders, key=lambda o: results[(s, o)].get("valid", results[(s, o)]["test"]).perplexity)
        r = results[(s, best_order)]
        run.scored.append(Scored(f"{r['name']}", r.get("valid"), r["test"], "best order on valid"))
    return section, results


def comparison_section(run: ReportRun, best: Scored, partner: Scored | None) -> Section:
    section = Section("All models on the same test tokens")
    rows = []
    for m in run.scored:
        if m.test.tokens != best.test.tokens:
            continue
        ci = paired_bootstrap(m.test, best.test, samples=1000, seed=0)
        rows.append([m.name, fmt(m.test.perplexity), f"[{fmt(ci.low)}, {fmt(ci.high)}]",
                     f"{ci.ratio:.4f} [{ci.ratio_low:.4f}, {ci.ratio_high:.4f}]",
                     fmt(m.valid.perplexity) if m.valid else "-", fmt(m.test.bits_per_char, 4), m.note])
    if partner is not None and best.valid is not None and partner.valid is not None:
        lam = interpolation_weight(best.valid.token_log10, partner.valid.token_log10)
        tokens = run.data.corpora
        mixed_valid = summarize(interpolate(best.valid.token_log10, partner.valid.token_log10, lam),
                                tokens["valid"], "interpolation", "valid")
        mixed_test = summarize(interpolate(best.test.token_log10, partner.test.token_log10, lam),
                               tokens["test"], "interpolation", "test")
        ci = paired_bootstrap(mixed_test, best.test, samples=1000, seed=0)
        name = f"{lam:.3f} × {best.name} + {1 - lam:.3f} × {partner.name}"
        rows.append([name, fmt(mixed_test.perplexity), f"[{fmt(ci.low)}, {fmt(ci.high)}]",
                     f"{ci.ratio:.4f} [{ci.ratio_low:.4f}, {ci.ratio_high:.4f}]", fmt(mixed_valid.perplexity),
                     fmt(mixed_test.bits_per_char, 4), "weight tuned on valid by EM"])
        section.add(f"The linear interpolation λ·P({best.name}) + (1−λ)·P({partner.name}) has its weight "
                    f"λ = {lam:.3f} fitted on valid by EM (the likelihood is concave in λ, so EM finds the "
                    f"optimum); its valid perplexity {fmt(mixed_valid.perplexity)} is no higher than either "
                    f"part's ({fmt(best.valid.perplexity)} and {fmt(partner.valid.perplexity)}).")
    section.add(
        Table(["model", "test PPL", "95% interval", f"PPL / PPL({best.name}) [95%]", "valid PPL", "bits/char", "note"],
              rows, "Intervals: paired bootstrap over test sentences (1,000 resamples, the same draws for "
              "every model); a ratio interval that excludes 1 is a real difference."))
    return section


def conventions_section(run: ReportRun) -> Section:
    data = run.data
    counts = ", ".join(f"{name} {c.n_tokens:,} tokens in {c.n_sentences:,} sentences"
                       for name, c in data.corpora.items())
    return Section("Conventions, versions, hardware, timings").add(
        "What was counted follows `../shared/CONVENTIONS.md`:",
        "- each sentence contributes its words plus one `</s>`; `<s>` is context only, never predicted or counted\n"
        f"- the vocabulary ({len(data.vocab):,} entries, `</s>` and `<unk>` included) is fixed on train; "
        "every other word is `<unk>` and counted as an OOV\n"
        "- cross-entropy H = −(1/N) Σ log2 P in bits per token; perplexity 2^H including OOVs, and excluding them\n"
        "- bits per character: total bits over the characters of the text (words joined by single spaces, one "
        "newline per sentence)\n"
        "- every model is scored on the same token stream by the one module `eval/`; a zero-probability token "
        "makes the perplexity infinite and is counted",
        f"Data: {data.source}; {counts}." + (" This is a --quick run: small orders and short budgets." if run.quick else ""),
        Table(["package", "version"], [[k, v] for k, v in versions()], "Versions"),
        f"Hardware: {hardware()}.",
        Table(["step", "wall time (s)"], [[k, f"{v:.1f}"] for k, v in run.timings.items()],
              "Wall time of each step (cached steps are fast on a second run)"),
    )


def write_report(run: ReportRun, title: str = "perplex: the language-model ladder") -> tuple[Path, Path]:
    md = to_markdown(title, run.sections, run.out)
    page = to_html(title, run.sections)
    md_path, html_path = run.out / "report.md", run.out / "report.html"
    with atomic_write(md_path, "w") as f:
        f.write(md)
    with atomic_write(html_path, "w") as f:
        f.write(page)
    return md_path, html_path


def build_report(data: Splits, out: Path, quick: bool = False, log=print, extra_steps=()) -> ReportRun:
    """Run every step and write ``out/report.md`` and ``out/report.html``.

    ``extra_steps`` are callables ``step(run, cache) -> (Section | None, Scored | None)`` for the other model
    families; the first Scored they return with a valid evaluation is the interpolation partner.
    """
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    run = ReportRun(data, out, quick, log)
    start = time.perf_counter()
    cache = ResultCache(out / "cache", data)
    section, results = ngram_section(run, cache)
    run.sections.append(section)
    key = best_ngram(results)
    r = results[key]
    best = Scored(r["name"], r.get("valid"), r["test"], "best n-gram on valid")
    partner = None
    for step in extra_steps:
        extra_section, scored = step(run, cache)
        if extra_section is not None:
            run.sections.append(extra_section)
        for s in scored or []:
            run.scored.append(s)
            if partner is None and s.valid is not None and s.note.startswith("interpolation partner"):
                partner = s
    run.sections.append(comparison_section(run, best, partner))
    run.timings["total"] = time.perf_counter() - start
    run.sections.append(conventions_section(run))
    write_report(run)
    return run
