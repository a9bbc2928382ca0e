"""A worked example: the computation behind a number, step by step, as a course writes it.

Every ``explain`` command builds one :class:`Worked` (library functions return it, so a
notebook gets the same numbers as the terminal) and one renderer prints it: aligned text
for the terminal, Markdown or LaTeX to paste into notes and slides, or JSON.  The prose is
chosen by language (``en`` or ``fr``, the course's); the numbers never change with it.

>>> w = Worked("softmax", "Softmax", [Step("score of the first word", "s1", value=2.0)])
>>> print(render(w, "text"))
Softmax
  score of the first word  s1 = 2
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from perplex.errors import PerplexError
from perplex.jsonout import dumps

LANGUAGES = ("en", "fr")
FORMATS = ("text", "md", "latex", "json")


@dataclass
class Step:
    """One line of the computation.

    label : str
        What the line computes, in words (in the chosen language).
    expr : str
        The formula with the numbers put in, as plain text (``e^2 / (e^2 + e^1)``).
    value : float, str or None
        Its result (None for a line that only states something).
    latex : str or None
        The same formula in LaTeX (default: ``expr`` in ``\\texttt``).
    """

    label: str
    expr: str = ""
    value: float | str | None = None
    latex: str | None = None


@dataclass
class Worked:
    """A titled list of steps, prose notes, and the numbers as structured data (``data``,
    what ``--json`` and the library's callers read)."""

    kind: str
    title: str
    steps: list[Step]
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    sections: list["Worked"] = field(default_factory=list)  # sub-examples (one per word of a sentence, ...)

    def section(self, kind: str) -> "Worked":
        """The first sub-example of this ``kind``."""
        return next(s for s in self.sections if s.kind == kind)


def phrase(table: dict[str, dict[str, str]], lang: str, key: str, **values) -> str:
    """The sentence ``key`` of ``table`` in ``lang``, its ``{placeholders}`` filled."""
    if lang not in LANGUAGES:
        raise PerplexError(f"--lang must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    return table[lang][key].format(**values)


def number(value, digits: int = 6) -> str:
    """A number as a course prints it: up to ``digits`` significant digits, no trailing zeros."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    value = float(value)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if math.isnan(value):
        return "nan"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.{digits}g}"


def board(value) -> str:
    """A coordinate or intermediate value written on the board: 4 significant digits."""
    return number(value, 4)


def factor(value, digits: int = 6) -> str:
    """A number as a factor of a written product: negative ones in parentheses, 0.5 × (-0.3)."""
    return f"({number(value, digits)})" if float(value) < 0 else number(value, digits)


def shown_vector(xs, shown: int, more, digits: int = 4) -> tuple[str, str]:
    """The first ``shown`` coordinates as text and LaTeX, the rest elided; ``more(n)`` words
    the n coordinates left out (in the reader's language)."""
    head = [number(float(x), digits) for x in xs[:shown]]
    rest = len(xs) - len(head)
    text = ", ".join(head + ([f"… {more(rest)}"] if rest else []))
    return f"[{text}]", r"\left(" + r",\ ".join(head + ([r"\ldots"] if rest else [])) + r"\right)"


def tex_word(word: str) -> str:
    """A token inside LaTeX math, in typewriter type with its specials escaped (an OOV shown
    as ``word→<unk>`` keeps its arrow)."""
    return r"\texttt{" + _tex_escape(word).replace("→", r"}\rightarrow\texttt{") + "}"


def _line(step: Step) -> str:
    right = step.expr
    if step.value is not None:
        right = f"{right} = {number(step.value)}" if right else number(step.value)
    return right


def _text(w: Worked, indent: str = "") -> list[str]:
    lines = [indent + w.title]
    width = max((len(s.label) for s in w.steps), default=0)
    lines += [f"{indent}  {s.label:<{width}}  {_line(s)}".rstrip() for s in w.steps]
    lines += [f"{indent}  {note}" for note in w.notes]
    for sub in w.sections:
        lines += [""] + _text(sub, indent + "  ")
    return lines


def _md(w: Worked, level: int = 3) -> list[str]:
    lines = [f"{'#' * level} {w.title}", ""]
    if w.steps:
        lines += ["| | |", "| --- | --- |"]
        lines += [f"| {s.label} | `{_line(s)}` |" for s in w.steps]
        lines.append("")
    lines += [f"{note}  " for note in w.notes] + ([""] if w.notes else [])
    for sub in w.sections:
        lines += _md(sub, min(level + 1, 6))
    return lines


# <, > and | would print as ¡, ¿ and — in the default OT1 encoding: named instead.
_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}", "<": r"\textless{}", ">": r"\textgreater{}",
        "|": r"\textbar{}"}


def _tex_escape(text: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in text)


def _latex(w: Worked) -> list[str]:
    lines = [rf"\paragraph{{{_tex_escape(w.title)}}}"]
    if w.steps:
        lines.append(r"\begin{align*}")
        for s in w.steps:
            formula = s.latex if s.latex is not None else (rf"\texttt{{{_tex_escape(s.expr)}}}" if s.expr else "")
            value = "" if s.value is None else (" = " if formula else "") + _tex_escape(number(s.value))
            lines.append(rf"  &\text{{{_tex_escape(s.label)}}} && {formula}{value} \\")
        lines.append(r"\end{align*}")
    lines += [_tex_escape(note) + r"\\" for note in w.notes]
    for sub in w.sections:
        lines += _latex(sub)
    return lines


def as_dict(w: Worked) -> dict:
    """The worked example as JSON-ready data: kind, title, steps, notes, data, sections."""
    return {"kind": w.kind, "title": w.title, "steps": [asdict(s) for s in w.steps], "notes": list(w.notes),
            "data": w.data, "sections": [as_dict(s) for s in w.sections]}


def render(w: Worked, fmt: str = "text") -> str:
    """``w`` as aligned text, Markdown, LaTeX (an ``align*`` per example) or JSON; the prose
    is first made safe to paste in that format (perplex.explain.paste)."""
    from perplex.explain.paste import for_format  # paste builds on this module's Worked

    w = for_format(w, fmt)
    if fmt == "text":
        return "\n".join(_text(w))
    if fmt == "md":
        return "\n".join(_md(w)).rstrip() + "\n"
    if fmt == "latex":
        return "\n".join(_latex(w))
    if fmt == "json":
        return dumps(as_dict(w), indent=2)
    raise PerplexError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
