"""Worked examples of three formulas every later topic leans on: softmax, entropy, cosine.

Each function takes plain numbers and returns a :class:`~perplex.explain.worked.Worked`;
:mod:`perplex.explain.cli` adds the ``perplex explain softmax|entropy|cosine`` topics.

>>> w = softmax_worked([1.0, 0.0])
>>> [round(p, 3) for p in w.data["softmax"]]
[0.731, 0.269]
>>> entropy_worked([0.5, 0.25, 0.25]).data["entropy_bits"]
1.5
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from perplex.errors import PerplexError
from perplex.explain.worked import Step, Worked, factor, number, phrase

# How far from 1 a list of probabilities may sum (rounding of typed decimals is far smaller).
SUM_TOLERANCE = 1e-9

TEXT = {
    "en": {
        "softmax_title": "Softmax of {n} scores",
        "max": "largest score",
        "shift": "score {i} minus the largest",
        "exp": "exponential {i}",
        "sum": "sum of the exponentials",
        "share": "probability {i}",
        "check": "the probabilities sum to",
        "softmax_note": "Subtracting the largest score m multiplies every exponential by e^-m, which cancels in "
                        "each share: the probabilities are unchanged, and no exponential exceeds e^0 = 1, so "
                        "large scores cannot overflow.",
        "entropy_title": "Entropy of a distribution over {n} outcomes",
        "normalized": "p{i} = x{i} / sum of x",
        "term": "term {i}: -p{i} log2 p{i}",
        "term_zero": "term {i}: 0 log 0 = 0 by convention",
        "entropy": "entropy H, in bits",
        "uniform": "maximum, log2 of the number of outcomes",
        "perplexity": "perplexity of the distribution, 2^H",
        "entropy_note": "H = {h} bits against {hmax} bits for {n} equally likely outcomes: {relation}. "
                        "2^H = {ppl}: the distribution is as uncertain as a fair choice among {ppl} outcomes.",
        "equal": "the distribution is uniform, the most uncertain one",
        "below": "the distribution is less uncertain than the uniform one",
        "cosine_title": "Cosine of two {d}-dimensional vectors",
        "dot": "dot product u . v, term by term",
        "norm_u": "length of u",
        "norm_v": "length of v",
        "cosine": "cosine, u . v / (|u| |v|)",
        "angle": "angle between them, in degrees",
        "cosine_note": "The cosine ignores the lengths: 1 for vectors pointing the same way, 0 for orthogonal "
                       "ones, -1 for opposite ones.",
    },
    "fr": {
        "softmax_title": "Softmax de {n} scores",
        "max": "plus grand score",
        "shift": "score {i} moins le plus grand",
        "exp": "exponentielle {i}",
        "sum": "somme des exponentielles",
        "share": "probabilité {i}",
        "check": "les probabilités ont pour somme",
        "softmax_note": "Soustraire le plus grand score m multiplie chaque exponentielle par e^-m, facteur qui se "
                        "simplifie dans chaque rapport : les probabilités ne changent pas, et aucune exponentielle "
                        "ne dépasse e^0 = 1, donc de grands scores ne peuvent pas provoquer de dépassement.",
        "entropy_title": "Entropie d'une distribution sur {n} issues",
        "normalized": "p{i} = x{i} / somme des x",
        "term": "terme {i} : -p{i} log2 p{i}",
        "term_zero": "terme {i} : 0 log 0 = 0 par convention",
        "entropy": "entropie H, en bits",
        "uniform": "maximum, log2 du nombre d'issues",
        "perplexity": "perplexité de la distribution, 2^H",
        "entropy_note": "H = {h} bits contre {hmax} bits pour {n} issues équiprobables : {relation}. "
                        "2^H = {ppl} : la distribution est aussi incertaine qu'un tirage équitable entre "
                        "{ppl} issues.",
        "equal": "la distribution est uniforme, la plus incertaine de toutes",
        "below": "la distribution est moins incertaine que la distribution uniforme",
        "cosine_title": "Cosinus de deux vecteurs de dimension {d}",
        "dot": "produit scalaire u . v, terme à terme",
        "norm_u": "norme de u",
        "norm_v": "norme de v",
        "cosine": "cosinus, u . v / (|u| |v|)",
        "angle": "angle entre les deux, en degrés",
        "cosine_note": "Le cosinus ne dépend pas des normes : 1 pour deux vecteurs de même direction, 0 pour deux "
                       "vecteurs orthogonaux, -1 pour deux vecteurs opposés.",
    },
}


_t = partial(phrase, TEXT)  # _t(lang, key, **values): a sentence of TEXT




def parse_numbers(texts, what: str) -> np.ndarray:
    """Finite numbers from command-line words (float64), or one actionable PerplexError."""
    values = []
    for text in texts:
        try:
            value = float(text)
        except ValueError:
            raise PerplexError(f"{what}: {text!r} is not a number; give numbers separated by spaces, "
                               "e.g. 2 1 0.1") from None
        if not math.isfinite(value):
            raise PerplexError(f"{what}: {text} is not a finite number")
        values.append(value)
    if not values:
        raise PerplexError(f"{what}: give at least one number")
    return np.array(values, np.float64)


# ------------------------------------------------------------------------------ softmax
def softmax_worked(scores, lang: str = "en") -> Worked:
    """softmax(s)_i = e^(s_i - m) / sum_j e^(s_j - m), m = max s: every exponential, their sum, each share."""
    s = np.asarray(scores, np.float64)
    if s.size == 0:
        raise PerplexError("softmax: give at least one score")
    m = float(s.max())
    shifted = s - m  # the stable form: the largest exponent is 0
    e = np.exp(shifted)
    z = float(e.sum())
    p = e / z
    idx = range(1, len(s) + 1)
    steps = [Step(_t(lang, "max"), f"m = max({', '.join(number(x) for x in s)})", m,
                  rf"m = \max({', '.join(number(x) for x in s)})")]
    steps += [Step(_t(lang, "shift", i=i), f"s{i} - m = {number(x)} - {factor(m)}", d,
                   rf"s_{{{i}}} - m = {number(x)} - {factor(m)}") for i, x, d in zip(idx, s, shifted)]
    steps += [Step(_t(lang, "exp", i=i), f"e^({number(d)})", float(x), rf"e^{{{number(d)}}}")
              for i, d, x in zip(idx, shifted, e)]
    steps.append(Step(_t(lang, "sum"), "Z = " + " + ".join(number(x) for x in e), z,
                      "Z = " + " + ".join(number(x) for x in e)))
    steps += [Step(_t(lang, "share", i=i), f"p{i} = {number(x)} / {number(z)}", float(q),
                   rf"p_{{{i}}} = \frac{{{number(x)}}}{{{number(z)}}}") for i, x, q in zip(idx, e, p)]
    steps.append(Step(_t(lang, "check"), " + ".join(number(q) for q in p), float(p.sum())))
    return Worked("softmax", _t(lang, "softmax_title", n=len(s)), steps, [_t(lang, "softmax_note")],
                  {"scores": s.tolist(), "max": m, "shifted": shifted.tolist(), "exp": e.tolist(), "sum": z,
                   "softmax": p.tolist()})


# ------------------------------------------------------------------------------ entropy
def check_distribution(p: np.ndarray, normalize: bool = False) -> np.ndarray:
    """``p`` as a probability distribution: refused if negative, or (unless ``normalize``,
    which divides by the sum) if it does not sum to 1 within :data:`SUM_TOLERANCE`."""
    if p.size == 0:
        raise PerplexError("entropy: give at least one probability")
    negative = np.flatnonzero(p < 0)
    if negative.size:
        raise PerplexError(f"entropy: probability {negative[0] + 1} is negative ({number(p[negative[0]])}); "
                           "probabilities are >= 0")
    total = float(p.sum())
    if normalize:
        if total <= 0:
            raise PerplexError("entropy: the numbers sum to 0, there is nothing to normalize; give a positive number")
        return p / total
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise PerplexError(f"entropy: the probabilities sum to {total:.12g}, not 1; correct them, or add "
                           "--normalize to divide each by their sum")
    return p


def entropy_worked(probs, lang: str = "en", normalize: bool = False) -> Worked:
    """H(P) = -sum p_i log2 p_i, term by term, against log2 of the number of outcomes.

    The total is :func:`perplex.eval.entropy`'s, the function every model's entropy goes through."""
    from perplex.eval import entropy

    raw = np.asarray(probs, np.float64)
    p = check_distribution(raw, normalize)
    n = len(p)
    steps = []
    if normalize:
        total = float(raw.sum())
        steps += [Step(_t(lang, "normalized", i=i), f"{number(x)} / {number(total)}", float(q),
                       rf"p_{{{i}}} = \frac{{{number(x)}}}{{{number(total)}}}")
                  for i, x, q in zip(range(1, n + 1), raw, p)]
    terms = []
    for i, q in enumerate(p, 1):
        if q == 0:
            terms.append(0.0)
            steps.append(Step(_t(lang, "term_zero", i=i), "", 0.0, ""))
            continue
        t = -q * math.log2(q)
        terms.append(t)
        log = factor(math.log2(q))
        steps.append(Step(_t(lang, "term", i=i), f"-{number(q)} × log2({number(q)}) = -{number(q)} × {log}", t,
                          rf"-{number(q)} \log_2 {number(q)} = -{number(q)} \times {log}"))
    h = float(entropy(p))
    hmax = math.log2(n)
    ppl = 2.0 ** h
    steps.append(Step(_t(lang, "entropy"), "H = " + " + ".join(number(t) for t in terms), h,
                      "H = " + " + ".join(number(t) for t in terms)))
    steps.append(Step(_t(lang, "uniform"), f"log2({n})", hmax, rf"\log_2 {n}"))
    steps.append(Step(_t(lang, "perplexity"), f"2^{number(h)}", ppl, rf"2^{{{number(h)}}}"))
    relation = _t(lang, "equal" if abs(h - hmax) <= 1e-12 else "below")
    note = _t(lang, "entropy_note", h=number(h), hmax=number(hmax), n=n, relation=relation, ppl=number(ppl))
    return Worked("entropy", _t(lang, "entropy_title", n=n), steps, [note],
                  {"probabilities": p.tolist(), "terms_bits": terms, "entropy_bits": h, "max_bits": hmax,
                   "perplexity": ppl, "normalized": normalize})


# ------------------------------------------------------------------------------- cosine
def parse_vector(text: str, name: str) -> np.ndarray:
    """A vector written as comma-separated numbers ("0.6,0.8")."""
    parts = [x for x in text.replace(" ", ",").split(",") if x]
    return parse_numbers(parts, f"cosine: vector {name} ({text!r})")


def cosine_worked(u, v, lang: str = "en") -> Worked:
    """cos(u, v) = u . v / (|u| |v|): the dot product term by term, both lengths, their ratio."""
    u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
    if u.shape != v.shape:
        raise PerplexError(f"cosine: the vectors have {u.size} and {v.size} components; give two vectors of the "
                           "same dimension, e.g. 1,0 0.6,0.8")
    for name, x in (("u", u), ("v", v)):
        if not x.any():
            raise PerplexError(f"cosine: {name} is the zero vector, whose direction (and so any cosine) is undefined")
    products = u * v
    dot = float(products.sum())
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    cos = dot / (nu * nv)
    angle = math.degrees(math.acos(min(1.0, max(-1.0, cos))))
    pairs = " + ".join(f"{factor(a)} × {factor(b)}" for a, b in zip(u, v))
    pairs_tex = " + ".join(rf"{factor(a)} \times {factor(b)}" for a, b in zip(u, v))
    squares = lambda x: " + ".join(f"{factor(a)}²" for a in x)  # noqa: E731 - two uses, one line each
    squares_tex = lambda x: " + ".join(f"{factor(a)}^2" for a in x)  # noqa: E731
    steps = [
        Step(_t(lang, "dot"), f"{pairs} = {' + '.join(factor(x) for x in products)}", dot,
             rf"u \cdot v = {pairs_tex}"),
        Step(_t(lang, "norm_u"), f"|u| = sqrt({squares(u)})", nu, rf"\lVert u \rVert = \sqrt{{{squares_tex(u)}}}"),
        Step(_t(lang, "norm_v"), f"|v| = sqrt({squares(v)})", nv, rf"\lVert v \rVert = \sqrt{{{squares_tex(v)}}}"),
        Step(_t(lang, "cosine"), f"{number(dot)} / ({number(nu)} × {number(nv)})", cos,
             rf"\cos(u, v) = \frac{{{number(dot)}}}{{{number(nu)} \times {number(nv)}}}"),
        Step(_t(lang, "angle"), f"arccos({number(cos)})", angle, rf"\arccos({number(cos)})"),
    ]
    return Worked("cosine", _t(lang, "cosine_title", d=u.size), steps, [_t(lang, "cosine_note")],
                  {"u": u.tolist(), "v": v.tolist(), "products": products.tolist(), "dot": dot, "norm_u": nu,
                   "norm_v": nv, "cosine": cos, "angle_degrees": angle})
