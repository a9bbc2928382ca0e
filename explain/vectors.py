"""``perplex explain similar`` and ``perplex explain analogy``: cosines worked out.

The rankings are the library's own (:func:`perplex.embeddings.queries.most_similar` and
:func:`~perplex.embeddings.queries.analogy`, what ``perplex similar`` and ``perplex
analogy`` print), so the explanation can never disagree with the query; each score is then
rebuilt from the vectors (dot products, norms, the three cosines of an analogy) so a class
can follow it, and ``data["max_difference"]`` says how far the rebuilt scores are from the
ranking's (float32 rounding, below 1e-6).
"""

from __future__ import annotations


import numpy as np

from perplex.errors import PerplexError
from perplex.explain.worked import Step, Worked, board, factor, number, phrase, shown_vector, tex_word

DEFAULT_TOP = 5
DEFAULT_DIMS = 4  # coordinates of each vector shown; vectors have 100 or more

TEXT = {
    "en": {
        "similar_title": "Nearest neighbours of {word} by cosine",
        "formula": "formula", "vector": "vector of a word", "norm": "its norm",
        "dot": "dot product with the first neighbour",
        "neighbour": "neighbour {rank}",
        "neighbours_title": "The {n} neighbours with the highest cosine, best first",
        "self_note": "{word} itself is left out: its cosine with itself is 1.",
        "zero_note": "{n} words with an all-zero vector are left out: they have no direction, so no cosine.",
        "agree_note": "The cosines are those of 'perplex {command}' (its ranking); rebuilt from the dot products "
                      "and norms above they differ by at most {diff}.",
        "analogy_title": "Analogy {query} ({method})",
        "question": "question", "raw_sum": "the arithmetic on the vectors",
        "query_vector": "query direction (unit vectors)",
        "unit_note": "3CosAdd adds the unit vectors, not the raw ones: each word then weighs the same, whatever "
                     "its norm (which varies with the word's frequency).",
        "query_norm": "its norm",
        "add_note": "3CosAdd = cos(d, {a}) - cos(d, {minus}) + cos(d, {plus}) = ||x|| cos(d, x) with x the query "
                    "direction above: the answer is the word whose direction is closest to x.",
        "mul_note": "3CosMul multiplies the similarities instead of adding them, each cosine first moved to "
                    "[0, 1] as (1 + cos)/2; epsilon = {eps} keeps the division away from 0 (Levy & Goldberg 2014).",
        "add_title": "3CosAdd (Mikolov et al. 2013): the {n} best candidates",
        "mul_title": "3CosMul (Levy & Goldberg 2014): the {n} best candidates",
        "candidate": "candidate {rank}",
        "cosine_example": "one cosine, in full",
        "answer": "answer",
        "excluded_title": "Left out of the ranking",
        "excluded_word": "query word {k}, would rank {rank}",
        "excluded_note": "The query words are never the answer: an analogy asks for a new word, and the query's "
                         "own words often score highest.  Above, the score and rank each would have had.",
        "agree_scores": "The scores are those of 'perplex analogy' (its ranking); rebuilt from the cosines they "
                        "differ by at most {diff}.",
        "other_failed": "{method} gives no ranking here: {reason}",
        "more": "{n} more",
    },
    "fr": {
        "similar_title": "Plus proches voisins de {word} par le cosinus",
        "formula": "formule", "vector": "vecteur d'un mot", "norm": "sa norme",
        "dot": "produit scalaire avec le premier voisin",
        "neighbour": "voisin {rank}",
        "neighbours_title": "Les {n} voisins de plus grand cosinus, du meilleur au moins bon",
        "self_note": "{word} lui-même est écarté : son cosinus avec lui-même vaut 1.",
        "zero_note": "{n} mots au vecteur tout à zéro sont écartés : sans direction, ils n'ont pas de cosinus.",
        "agree_note": "Les cosinus sont ceux de 'perplex {command}' (son classement) ; recalculés à partir des "
                      "produits scalaires et des normes ci-dessus, ils diffèrent d'au plus {diff}.",
        "analogy_title": "Analogie {query} ({method})",
        "question": "question", "raw_sum": "l'arithmétique sur les vecteurs",
        "query_vector": "direction de la requête (vecteurs unitaires)",
        "unit_note": "3CosAdd additionne les vecteurs unitaires, pas les vecteurs bruts : chaque mot pèse alors "
                     "autant, quelle que soit sa norme (qui varie avec la fréquence du mot).",
        "query_norm": "sa norme",
        "add_note": "3CosAdd = cos(d, {a}) - cos(d, {minus}) + cos(d, {plus}) = ||x|| cos(d, x), x étant la "
                    "direction de la requête ci-dessus : la réponse est le mot dont la direction est la plus "
                    "proche de x.",
        "mul_note": "3CosMul multiplie les similarités au lieu de les additionner, chaque cosinus ramené d'abord "
                    "dans [0, 1] par (1 + cos)/2 ; epsilon = {eps} éloigne la division de 0 (Levy et Goldberg "
                    "2014).",
        "add_title": "3CosAdd (Mikolov et al. 2013) : les {n} meilleurs candidats",
        "mul_title": "3CosMul (Levy et Goldberg 2014) : les {n} meilleurs candidats",
        "candidate": "candidat {rank}",
        "cosine_example": "un cosinus, en détail",
        "answer": "réponse",
        "excluded_title": "Écartés du classement",
        "excluded_word": "mot de la requête {k}, serait au rang {rank}",
        "excluded_note": "Les mots de la requête ne sont jamais la réponse : une analogie demande un mot nouveau, et "
                         "les mots de la requête ont souvent les meilleurs scores.  Ci-dessus, le score et le rang "
                         "que chacun aurait eus.",
        "agree_scores": "Les scores sont ceux de 'perplex analogy' (son classement) ; recalculés à partir des "
                        "cosinus, ils diffèrent d'au plus {diff}.",
        "other_failed": "{method} ne donne pas de classement ici : {reason}",
        "more": "{n} de plus",
    },
}

METHOD_NAMES = {"3cosadd": "3CosAdd", "3cosmul": "3CosMul"}
# ‖ rather than |: a | inside a Markdown table cell ends the cell, even in a code span
COSINE_FORMULA = "cos(u, v) = u·v / (‖u‖ ‖v‖)"
COSINE_TEX = r"\cos(u,v) = \frac{u\cdot v}{\lVert u\rVert\,\lVert v\rVert}"


def _table(lang: str) -> dict[str, str]:
    """The prose of ``lang``; ``phrase`` gives the one-line error for a language we do not write."""
    phrase(TEXT, lang, "more", n=0)
    return TEXT[lang]










def _board(total: np.ndarray, terms) -> np.ndarray:
    """A sum of float32 vectors as the board writes it: a coordinate that cancels within float32
    rounding of its terms (0.8 - 0.9 + 0.1 leaves 3.7e-08) is 0."""
    scale = float(np.abs(np.asarray(terms, dtype=np.float64)).max())
    return np.where(np.abs(total) < 1e-6 * scale, 0.0, total)


def _check_counts(top: int, dims: int) -> None:
    if top < 1:
        raise PerplexError(f"--top must be at least 1, got {top}")
    if dims < 1:
        raise PerplexError(f"--dims must be at least 1, got {dims}")


def _vector_steps(kv, words: list[str], shown: int, t: dict, lang: str) -> list[Step]:
    """Each word's first coordinates and its norm (float64, as a board computes it)."""
    steps = []
    for w in words:
        x = np.asarray(kv[w], dtype=np.float64)
        text, tex = shown_vector(x, shown, lambda n: phrase(TEXT, lang, "more", n=n))
        steps.append(Step(t["vector"], f"{w} = {text}", None, f"{tex_word(w)} = {tex}"))
        squares = " + ".join(f"{factor(c, 4)}²" for c in x[:shown]) + (" + …" if len(x) > shown else "")
        squares_tex = squares.replace("²", "^2").replace("…", r"\ldots")
        steps.append(Step(t["norm"], f"‖{w}‖ = √({squares})", float(np.linalg.norm(x)),
                          rf"\lVert {tex_word(w)}\rVert = \sqrt{{{squares_tex}}}"))
    return steps


def _cosine_in_full(kv, u: str, v: str, shown: int, lang: str) -> tuple[Step, Step, float]:
    """u·v written out (first terms), then cos(u, v) = u·v / (‖u‖ ‖v‖); float64."""
    x, y = np.asarray(kv[u], dtype=np.float64), np.asarray(kv[v], dtype=np.float64)
    dot, nx, ny = float(x @ y), float(np.linalg.norm(x)), float(np.linalg.norm(y))
    rest = len(x) - shown
    terms = " + ".join(f"{factor(a, 4)}×{factor(b, 4)}" for a, b in zip(x[:shown], y[:shown]))
    more = f" + … ({phrase(TEXT, lang, 'more', n=rest)})" if rest > 0 else ""
    terms_tex = terms.replace("×", r" \times ") + (r" + \ldots" if rest > 0 else "")
    dot_step = Step("", f"{u}·{v} = {terms}{more}", dot, rf"{tex_word(u)}\cdot {tex_word(v)} = {terms_tex}")
    cos = dot / (nx * ny)
    cos_step = Step("", f"cos({u}, {v}) = {board(dot)} / ({board(nx)} × {board(ny)})", cos,
                    rf"\cos({tex_word(u)}, {tex_word(v)}) = \frac{{{board(dot)}}}{{{board(nx)} \times {board(ny)}}}")
    return dot_step, cos_step, cos


# --- nearest neighbours --------------------------------------------------------------------

def explain_similar(kv, word: str, top: int = DEFAULT_TOP, dims: int = DEFAULT_DIMS, lang: str = "en") -> Worked:
    """The ``top`` nearest neighbours of ``word``: dot products, norms and cosines.

    ``data["neighbours"]`` lists, best first, each neighbour's word, cosine (the library's,
    :func:`~perplex.embeddings.queries.most_similar`), dot product and norm.

    Raises
    ------
    PerplexError
        ``word`` not in the vectors, an all-zero vector, ``top`` or ``dims`` below 1.
    """
    from perplex.embeddings.queries import most_similar, unit_vectors, word_index, zero_rows

    t = _table(lang)
    _check_counts(top, dims)
    ranking = most_similar(kv, word, top)  # the query's own ranking; raises for an unknown word
    key = kv.index_to_key[word_index(kv, word)]
    shown = min(dims, kv.vector_size)
    x = np.asarray(kv[key], dtype=np.float64)
    nx = float(np.linalg.norm(x))
    steps = [Step(t["formula"], COSINE_FORMULA, None, COSINE_TEX)] + _vector_steps(kv, [key], shown, t, lang)

    rows, neighbours, diff = [], [], 0.0
    for rank, (other, cos) in enumerate(ranking, start=1):  # the value shown is the ranking's cosine
        y = np.asarray(kv[other], dtype=np.float64)
        dot, norm = float(x @ y), float(np.linalg.norm(y))
        diff = max(diff, abs(dot / (nx * norm) - cos))
        rows.append(Step(t["neighbour"].format(rank=rank), f"cos({key}, {other}) = {board(dot)} / ({board(nx)} × {board(norm)})",
                         cos, rf"\cos({tex_word(key)}, {tex_word(other)}) = \frac{{{board(dot)}}}{{{board(nx)} \times {board(norm)}}}"))
        neighbours.append({"word": other, "cosine": cos, "dot": dot, "norm": norm})
    first_dot, _, _ = _cosine_in_full(kv, key, ranking[0][0], shown, lang)
    first_dot.label = t["dot"]
    n_zero = int(zero_rows(unit_vectors(kv)).sum())
    notes = [t["self_note"].format(word=key)] + ([t["zero_note"].format(n=n_zero)] if n_zero else [])
    notes.append(t["agree_note"].format(command="similar", diff=number(diff, 2)))
    section = Worked("similar-neighbours", t["neighbours_title"].format(n=len(ranking)), [first_dot] + rows, notes)
    data = {"word": key, "norm": nx, "neighbours": neighbours,
            "ranking": [[w, s] for w, s in ranking], "excluded": [key], "zero_vectors": n_zero,
            "max_difference": diff}
    return Worked("similar", t["similar_title"].format(word=key), steps, [], data, [section])


# --- analogies -----------------------------------------------------------------------------

def _score_3cosadd(ca: float, cm: float, cp: float) -> float:
    return ca - cm + cp


def _score_3cosmul(ca: float, cm: float, cp: float) -> float:
    from perplex.embeddings.queries import COSMUL_EPSILON

    return ((1 + ca) / 2) * ((1 + cp) / 2) / ((1 + cm) / 2 + COSMUL_EPSILON)


SCORES = {"3cosadd": _score_3cosadd, "3cosmul": _score_3cosmul}


def _score_text(method: str, ca: float, cm: float, cp: float) -> tuple[str, str]:
    """The score with the three cosines put in, as text and LaTeX."""
    if method == "3cosadd":
        text = f"{board(ca)} - {factor(cm, 4)} + {factor(cp, 4)}"
        return text, text
    from perplex.embeddings.queries import COSMUL_EPSILON

    eps = number(COSMUL_EPSILON)
    one_a, one_p, one_m = (f"1 - {board(-c)}" if c < 0 else f"1 + {board(c)}" for c in (ca, cp, cm))
    text = f"(({one_a})/2 × ({one_p})/2) / (({one_m})/2 + {eps})"
    tex = rf"\frac{{\frac{{{one_a}}}{{2}} \cdot \frac{{{one_p}}}{{2}}}}{{\frac{{{one_m}}}{{2}} + {eps}}}"
    return text, tex


def _method_section(kv, unit, rows, ranking, method: str, words: tuple[str, str, str], t: dict) -> tuple[Worked, float]:
    """One method's ranking with each candidate's three cosines put in its formula."""
    a, minus, plus = words
    name = METHOD_NAMES[method]
    if method == "3cosadd":
        formula = f"cos(d, {a}) - cos(d, {minus}) + cos(d, {plus})"
        tex = rf"\cos(d, {tex_word(a)}) - \cos(d, {tex_word(minus)}) + \cos(d, {tex_word(plus)})"
    else:
        formula = f"((1 + cos(d, {a}))/2 × (1 + cos(d, {plus}))/2) / ((1 + cos(d, {minus}))/2 + epsilon)"
        tex = (rf"\frac{{\frac{{1+\cos(d,{tex_word(a)})}}{{2}} \cdot \frac{{1+\cos(d,{tex_word(plus)})}}{{2}}}}"
               rf"{{\frac{{1+\cos(d,{tex_word(minus)})}}{{2}} + \epsilon}}")
    steps = [Step(t["formula"], f"{name}(d) = {formula}", None, rf"\mathrm{{{name}}}(d) = {tex}")]
    diff = 0.0
    for rank, (d, score) in enumerate(ranking, start=1):
        cosines = [float(unit[kv.key_to_index[d]] @ unit[r]) for r in rows]  # cos(d, a), cos(d, minus), cos(d, plus)
        diff = max(diff, abs(SCORES[method](*cosines) - score))
        text, tex_score = _score_text(method, *cosines)
        steps.append(Step(t["candidate"].format(rank=rank), f"{name}({d}) = {text}", score,
                          rf"\mathrm{{{name}}}({tex_word(d)}) = {tex_score}"))
    title = t["add_title" if method == "3cosadd" else "mul_title"].format(n=len(ranking))
    return Worked(f"analogy-{method}", title, steps), diff


def explain_analogy(kv, a: str, minus: str, plus: str, method: str = "3cosadd", top: int = DEFAULT_TOP,
                    dims: int = DEFAULT_DIMS, lang: str = "en") -> Worked:
    """``a - minus + plus`` (``king man woman``) worked out: vectors, norms, the query
    direction, then every top candidate's three cosines in 3CosAdd and 3CosMul (``method``
    first: its ranking is the answer), and the query words left out with the score they
    would have had.

    ``data[method]`` is the library's ranking (:func:`~perplex.embeddings.queries.analogy`)
    as [word, score] pairs, best first, for each method; ``data["answer"]`` the answer.

    Raises
    ------
    PerplexError
        A word not in the vectors or with an all-zero vector, no candidate left, an unknown
        method, ``top`` or ``dims`` below 1.
    """
    from perplex.embeddings.queries import (ANALOGY_METHODS, COSMUL_EPSILON, analogy, analogy_scores, unit_vectors,
                                            word_index, zero_rows)

    t = _table(lang)
    if method not in ANALOGY_METHODS:
        raise PerplexError(f"unknown analogy method {method!r}; choose one of {', '.join(ANALOGY_METHODS)}")
    _check_counts(top, dims)
    rankings = {method: analogy(kv, a, minus, plus, method, top)}  # the query's own ranking; raises on bad words
    other = next(m for m in ANALOGY_METHODS if m != method)
    notes = [t["unit_note"]]
    try:
        rankings[other] = analogy(kv, a, minus, plus, other, top)
    except PerplexError as exc:  # e.g. 3CosAdd's query directions cancel out while 3CosMul still answers
        notes.append(t["other_failed"].format(method=METHOD_NAMES[other], reason=exc))
    rows = [word_index(kv, w) for w in (a, minus, plus)]
    words = tuple(kv.index_to_key[r] for r in rows)
    wa, wm, wp = words
    unit = unit_vectors(kv)
    shown = min(dims, kv.vector_size)
    query = f"{wa} - {wm} + {wp}"

    raw = [np.asarray(kv[w], dtype=np.float64) for w in words]
    raw_text, raw_tex = shown_vector(_board(raw[0] - raw[1] + raw[2], raw), shown, lambda n: phrase(TEXT, lang, "more", n=n))
    x = unit[rows[0]].astype(np.float64) - unit[rows[1]] + unit[rows[2]]
    x_text, x_tex = shown_vector(_board(x, unit[rows]), shown, lambda n: phrase(TEXT, lang, "more", n=n))
    steps = [Step(t["question"], f"{query} = ?   ({wm} : {wa} :: {wp} : ?)", None,
                  rf"{tex_word(wa)} - {tex_word(wm)} + {tex_word(wp)} = \;?"),
             Step(t["formula"], COSINE_FORMULA, None, COSINE_TEX)]
    steps += _vector_steps(kv, list(dict.fromkeys(words)), shown, t, lang)
    steps += [Step(t["raw_sum"], f"{query} = {raw_text}", None, rf"{tex_word(wa)} - {tex_word(wm)} + {tex_word(wp)} = {raw_tex}"),
              Step(t["query_vector"], f"x = {wa}/‖{wa}‖ - {wm}/‖{wm}‖ + {wp}/‖{wp}‖ = {x_text}", None,
                   rf"x = \frac{{{tex_word(wa)}}}{{\lVert {tex_word(wa)}\rVert}} - \frac{{{tex_word(wm)}}}{{\lVert {tex_word(wm)}\rVert}}"
                   rf" + \frac{{{tex_word(wp)}}}{{\lVert {tex_word(wp)}\rVert}} = {x_tex}"),
              Step(t["query_norm"], "‖x‖", float(np.linalg.norm(x)), r"\lVert x\rVert")]
    answer = rankings[method][0][0]
    dot_step, cos_step, _ = _cosine_in_full(kv, answer, wa, shown, lang)
    dot_step.label, cos_step.label = t["cosine_example"], t["cosine_example"]
    steps += [dot_step, cos_step]

    sections, diff = [], 0.0
    for m in (method, other):
        if m in rankings:
            section, d = _method_section(kv, unit, rows, rankings[m], m, words, t)
            section.notes.append(t["add_note" if m == "3cosadd" else "mul_note"].format(
                a=wa, minus=wm, plus=wp, eps=number(COSMUL_EPSILON)))
            sections.append(section)
            diff = max(diff, d)
    sections[0].steps.append(Step(t["answer"], answer, rankings[method][0][1], tex_word(answer)))

    # every word's score, query words at -inf: where each query word would have ranked
    allowed = analogy_scores(unit, np.array(rows[1:2]), np.array(rows[:1]), np.array(rows[2:]), method)[0]
    excluded, out_steps = [], []
    for k, r in enumerate(dict.fromkeys(rows), start=1):
        cosines = [float(unit[r] @ unit[q]) for q in rows]
        would = SCORES[method](*cosines)
        rank = 1 + int((allowed > would).sum())
        word, name = kv.index_to_key[r], METHOD_NAMES[method]
        out_steps.append(Step(t["excluded_word"].format(k=k, rank=rank), f"{name}({word})", would,
                              rf"\mathrm{{{name}}}({tex_word(word)})"))
        excluded.append({"word": kv.index_to_key[r], "would_score": would, "would_rank": rank})
    n_zero = int(zero_rows(unit).sum())
    out_notes = [t["excluded_note"]] + ([t["zero_note"].format(n=n_zero)] if n_zero else [])
    out_notes.append(t["agree_scores"].format(diff=number(diff, 2)))
    sections.append(Worked("analogy-excluded", t["excluded_title"], out_steps, out_notes))

    data = {"query": [wa, wm, wp], "method": method, "answer": answer,
            "norms": {w: float(np.linalg.norm(np.asarray(kv[w], dtype=np.float64))) for w in words},
            "query_direction_norm": float(np.linalg.norm(x)),
            **{m: [[w, s] for w, s in r] for m, r in rankings.items()},
            "cosines": {d: {w: float(unit[kv.key_to_index[d]] @ unit[r]) for w, r in zip(words, rows)}
                        for r_ in rankings.values() for d, _ in r_},
            "excluded": excluded, "zero_vectors": n_zero, "max_difference": diff}
    title = t["analogy_title"].format(query=query, method=METHOD_NAMES[method])
    return Worked("analogy", title, steps, notes, data, sections)
