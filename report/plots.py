"""The report's plots (matplotlib, no display needed), saved as PNG.

Perplexities span orders of magnitude, so their axes are logarithmic, but labelled with
plain numbers (150, 200, 300) rather than powers of ten: the values are what a reader
compares.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter, NullLocator  # noqa: E402

from perplex.fileio import atomic_write  # noqa: E402

NICE = (1, 1.5, 2, 3, 5, 7)  # tick mantissas of a plain-number log axis


def plain_ticks(low: float, high: float, at_most: int = 9) -> list[float]:
    """Round values between ``low`` and ``high`` for a log axis, at most ``at_most`` of them.

    >>> plain_ticks(140, 700)
    [150, 200, 300, 500, 700]
    """
    ticks = []
    for exponent in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1):
        ticks += [m * 10**exponent for m in NICE if low <= m * 10**exponent <= high]
    if len(ticks) < 3:  # a narrow range: evenly spaced round values instead
        ticks = [t for t in MaxNLocator(5).tick_values(low, high) if low <= t <= high]
    ticks = ticks[:: math.ceil(len(ticks) / at_most)]
    return [int(t) if float(t).is_integer() else float(t) for t in ticks]


def _plain_log_y(ax, values: list[float]) -> None:
    """A log y axis whose ticks are round plain numbers spanning ``values``."""
    finite = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    ax.set_yscale("log")
    if not finite:
        return
    low, high = min(finite) / 1.05, max(finite) * 1.05
    ax.set_ylim(low, high)
    ax.yaxis.set_major_locator(FixedLocator(plain_ticks(low, high)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 10 else f"{v:g}"))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_formatter(NullFormatter())


def perplexity_by_order(series: dict[str, dict[int, float]], path: Path, title: str) -> Path:
    """One line per smoothing: test perplexity against n-gram order (log scale);
    infinite values (MLE) are left out of the line."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    shown = []
    for label, points in series.items():
        finite = sorted((o, p) for o, p in points.items() if p != float("inf"))
        if finite:
            ax.plot([o for o, _ in finite], [p for _, p in finite], marker="o", label=label)
            shown += [p for _, p in finite]
    _plain_log_y(ax, shown)
    ax.set_xlabel("n-gram order")
    ax.set_ylabel("test perplexity (log scale)")
    ax.set_xticks(sorted({o for pts in series.values() for o in pts}))
    return _finish(fig, ax, title, path)


def curves_with_references(curves: dict[str, list[tuple[float, float]]], references: dict[str, float], path: Path,
                           title: str, xlabel: str = "optimizer step") -> Path:
    """Training curves (perplexity against steps), one line each, with reference perplexities
    (the n-grams') as dashed horizontal lines."""
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    values = list(references.values())
    for i, (label, curve) in enumerate(curves.items()):
        ax.plot([x for x, _ in curve], [y for _, y in curve], marker="o", color=f"C{i}", label=label)
        values += [y for _, y in curve]
    for j, (label, value) in enumerate(references.items()):
        ax.axhline(value, linestyle="--", color=f"C{len(curves) + j}", label=f"{label} ({value:,.1f})")
    _plain_log_y(ax, values)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("perplexity (log scale)")
    return _finish(fig, ax, title, path)


def _finish(fig, ax, title: str, path: Path) -> Path:
    """Title, grid, legend, then save the PNG (atomically) and free the figure."""
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)
    return path
