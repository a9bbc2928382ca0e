"""Make a worked example's prose safe to paste as Markdown or LaTeX before it is rendered.

The prose uses the course's symbols (P(w | h), <s>, γ, Σ) as plain text.  Two places would
break them: a Markdown table cell ends at any ``|`` (even inside a code span) and ``<s>``
outside code is an HTML strikethrough tag; pdfLaTeX's ``\\text`` cannot typeset Greek
letters or math symbols typed as Unicode.  :func:`for_format` returns a copy with those
written the safe way for the chosen format (the numbers and ``data`` are untouched).

>>> from perplex.explain.worked import Step, Worked
>>> w = for_format(Worked("x", "P(the | <s>)", [Step("γ(h)", "a | b", 1.0)]), "md")
>>> w.title, w.steps[0].label, w.steps[0].expr
('P(the | &lt;s>)', 'γ(h)', 'a \\\\| b')
"""

from __future__ import annotations

from dataclasses import replace

from perplex.explain.worked import Worked

# What pdfLaTeX's text mode cannot typeset, in the words a blackboard would use.
# French guillemets need the T1 font encoding, which a plain article lacks: TeX's quotes instead.
LATEX_TEXT = {"γ": "gamma", "Σ": "sum", "α": "alpha", "•": ".", "∅": "(empty)", "≥": ">=", "×": "x", "²": "^2",
              "…": "...", "∣": "|", "«": "``", "»": "''"}


def _md_html(text: str) -> str:
    return text.replace("<", "&lt;")


def _md_cell(text: str) -> str:
    return _md_html(text).replace("|", "\\|")


# Sums first, so that "Σ_x a(h x)" reads "sum over x of a(h x)" rather than "sum_x".
LATEX_SUMS = (("Σ_x ", "sum over x of "), ("Σa", "sum(a)"), ("Σ ", "sum of "))


def _latex_text(text: str) -> str:
    for symbol, words in LATEX_SUMS:
        text = text.replace(symbol, words)
    return "".join(LATEX_TEXT.get(ch, ch) for ch in text)


def for_format(w: Worked, fmt: str) -> Worked:
    """``w`` with its prose written safely for ``fmt`` ("md" or "latex"; others unchanged)."""
    if fmt == "md":
        title, label, expr, note = _md_html, _md_cell, lambda e: e.replace("|", "\\|"), _md_html
    elif fmt == "latex":
        title = label = expr = note = _latex_text
    else:
        return w
    steps = [replace(s, label=label(s.label), expr=expr(s.expr)) for s in w.steps]
    return replace(w, title=title(w.title), steps=steps, notes=[note(n) for n in w.notes],
                   sections=[for_format(s, fmt) for s in w.sections])
