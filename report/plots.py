"""The report's plots (matplotlib, no display needed), saved as PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def perplexity_by_order(series: dict[str, dict[int, float]], path: Path, title: str) -> Path:
    """One line per smoothing: test perplexity against n-gram order (log scale);
    infinite values (MLE) are left out of the line."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, points in series.items():
        finite = sorted((o, p) for o, p in points.items() if p != float("inf"))
        if finite:
            ax.plot([o for o, _ in finite], [p for _, p in finite], marker="o", label=label)
    ax.set_yscale("log")
    ax.set_xlabel("n-gram order")
    ax.set_ylabel("test perplexity (log scale)")
    ax.set_xticks(sorted({o for pts in series.values() for o in pts}))
    return _finish(fig, ax, title, path)


def curve_with_references(curve: list[tuple[float, float]], references: dict[str, float], path: Path,
                          title: str, xlabel: str = "training minutes") -> Path:
    """A training curve (perplexity against minutes) with n-gram perplexities as horizontal lines."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if curve:
        ax.plot([x for x, _ in curve], [y for _, y in curve], marker="o", label="Transformer")
    for i, (label, value) in enumerate(references.items()):
        ax.axhline(value, linestyle="--", color=f"C{i + 1}", label=f"{label} ({value:.1f})")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("perplexity (log scale)")
    return _finish(fig, ax, title, path)


def _finish(fig, ax, title: str, path: Path) -> Path:
    """Title, grid, legend, then save the PNG and free the figure."""
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
