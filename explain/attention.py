"""``perplex explain attention``: one head's scaled dot-product attention, worked out.

Two examples.  :func:`explain_toy` is the two-dimensional case a class checks with pen
and paper (Q = [1, 0], K1 = [1, 0], K2 = [0, 1]).  :func:`explain_head` opens one head of
a trained checkpoint on a sentence: Q, K and V, the scores QKᵀ/√d_k under the causal
mask, the softmax row by row and the output of one position.  Both compute with the
toolkit's own :func:`perplex.attention.functional.scaled_dot_product_attention`, and the
head's weights shown are those of :func:`perplex.attention.heatmap.attention_maps`
(the numbers ``perplex attention`` draws), so the board and the heatmap agree.
"""

from __future__ import annotations

import math

import numpy as np

from perplex.errors import PerplexError
from perplex.explain.worked import Step, Worked, board, factor, number, phrase, shown_vector, tex_word

DEFAULT_DIMS = 4  # coordinates of each vector shown; a board has no room for 64
# Weights recomputed from Q and K differ from the model's by float32 rounding at most.
AGREEMENT = 1e-5

TOY_Q = [[1.0, 0.0]]
TOY_K = [[1.0, 0.0], [0.0, 1.0]]
TOY_V = [[1.0, 2.0], [3.0, 4.0]]  # distinct values, so the output visibly mixes the two rows

TEXT = {
    "en": {
        "toy_title": "Attention by hand: one query, two keys (d_k = 2)",
        "query": "query", "key": "key {j}", "value": "value {j}",
        "score": "score of key {j}", "exp_sum": "sum of the exponentials",
        "weight": "weight of key {j}", "output": "output, coordinate {i}",
        "scaled": "The Transformer's version: scores divided by the square root of d_k (d_k = 2)",
        "unscaled": "The course's version: the scores are the dot products, not scaled",
        "toy_note_scaling": "The course writes softmax(Q K^T) V; the Transformer (and perplex) first divide the "
                            "scores by the square root of d_k, which keeps them from growing with the dimension.  "
                            "Both are shown.",
        "toy_note_function": "Both computed by perplex.attention.functional.scaled_dot_product_attention; for the "
                             "unscaled version the query is first multiplied by the square root of 2, which cancels "
                             "the function's division.",
        "head_title": "Attention of layer {layer}, head {head}, position {pos}: {sentence}",
        "formula": "formula", "positions": "positions read",
        "dk": "dimension of one head (d_model over h heads)", "sqrt_dk": "its square root",
        "qkv_title": "Q, K and V of head {head} ({dims} of the {dk} coordinates shown)",
        "qkv_note": "Q = LN(x) W_Q, K = LN(x) W_K, V = LN(x) W_V: the layer's input after its LayerNorm, through "
                    "this head's slice of the projections.",
        "q_of": "query of position {t}", "k_of": "key of position {t}", "v_of": "value of position {t}",
        "scores_title": "Scores of position {pos}: dot products of its query with the keys, divided by the "
                        "square root of d_k",
        "dot_example": "dot product with key 0",
        "score_of": "score with position {j}", "masked": "score with position {j}",
        "masked_expr": "masked: position {j} comes after {pos}",
        "mask_note": "The causal mask: a position sees itself and the positions before it; later scores are set "
                     "to -inf, so their weight is e^-inf = 0.",
        "softmax_title": "Softmax of row {pos}: each e^(s_j) divided by the sum of the exponentials",
        "weight_of": "weight of position {j}", "weights_sum": "sum of the weights",
        "agree_note": "These are the weights the model computed (the heatmap of 'perplex attention'); recomputed "
                      "from Q and K they differ by at most {diff}.",
        "rows_title": "Softmax row by row: the heatmap of layer {layer}, head {head}",
        "row_of": "row {t}",
        "rows_note": "Row t: how much position t attends to positions 0..t; each row sums to 1, masked entries are 0.",
        "out_title": "Output of position {pos}: the values weighted by its row (first {dims} coordinates)",
        "out_of": "coordinate {i}",
        "out_note": "The head's output ({dk} coordinates) is concatenated with the other heads' and multiplied "
                    "by W_O before it is added to the residual stream.",
        "more": "{n} more",
    },
    "fr": {
        "toy_title": "L'attention à la main : une requête, deux clés (d_k = 2)",
        "query": "requête", "key": "clé {j}", "value": "valeur {j}",
        "score": "score de la clé {j}", "exp_sum": "somme des exponentielles",
        "weight": "poids de la clé {j}", "output": "sortie, coordonnée {i}",
        "scaled": "La version du Transformer : scores divisés par la racine carrée de d_k (d_k = 2)",
        "unscaled": "La version du cours : les scores sont les produits scalaires, sans division",
        "toy_note_scaling": "Le cours écrit softmax(Q K^T) V ; le Transformer (et perplex) divisent d'abord les scores "
                            "par la racine carrée de d_k, pour qu'ils ne grandissent pas avec la dimension.  Les "
                            "deux sont montrés.",
        "toy_note_function": "Les deux sont calculés par perplex.attention.functional.scaled_dot_product_attention ; "
                             "pour la version sans division, la requête est d'abord multipliée par la racine carrée "
                             "de 2, ce qui annule la division faite par la fonction.",
        "head_title": "Attention de la couche {layer}, tête {head}, position {pos} : {sentence}",
        "formula": "formule", "positions": "positions lues",
        "dk": "dimension d'une tête (d_model sur h têtes)", "sqrt_dk": "sa racine carrée",
        "qkv_title": "Q, K et V de la tête {head} ({dims} des {dk} coordonnées montrées)",
        "qkv_note": "Q = LN(x) W_Q, K = LN(x) W_K, V = LN(x) W_V : l'entrée de la couche après sa LayerNorm, "
                    "passée par la part de cette tête dans les projections.",
        "q_of": "requête de la position {t}", "k_of": "clé de la position {t}", "v_of": "valeur de la position {t}",
        "scores_title": "Scores de la position {pos} : produits scalaires de sa requête avec les clés, divisés "
                        "par la racine carrée de d_k",
        "dot_example": "produit scalaire avec la clé 0",
        "score_of": "score avec la position {j}", "masked": "score avec la position {j}",
        "masked_expr": "masqué : la position {j} vient après {pos}",
        "mask_note": "Le masque causal : une position se voit elle-même et voit les positions précédentes ; les "
                     "scores suivants valent -inf, leur poids est donc e^-inf = 0.",
        "softmax_title": "Softmax de la ligne {pos} : chaque e^(s_j) divisé par la somme des exponentielles",
        "weight_of": "poids de la position {j}", "weights_sum": "somme des poids",
        "agree_note": "Ce sont les poids calculés par le modèle (la carte de 'perplex attention') ; recalculés à "
                      "partir de Q et K, ils diffèrent d'au plus {diff}.",
        "rows_title": "Le softmax ligne par ligne : la carte de la couche {layer}, tête {head}",
        "row_of": "ligne {t}",
        "rows_note": "Ligne t : l'attention de la position t sur les positions 0..t ; la somme de chaque ligne "
                     "vaut 1, les entrées masquées valent 0.",
        "out_title": "Sortie de la position {pos} : les valeurs pondérées par sa ligne ({dims} premières coordonnées)",
        "out_of": "coordonnée {i}",
        "out_note": "La sortie de la tête ({dk} coordonnées) est concaténée à celles des autres têtes puis "
                    "multipliée par W_O avant d'être ajoutée au flux résiduel.",
        "more": "{n} de plus",
    },
}

FORMULA = "Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V"
FORMULA_TEX = r"\mathrm{Attention}(Q,K,V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right)V"


def _table(lang: str) -> dict[str, str]:
    """The prose of ``lang``; ``phrase`` gives the one-line error for a language we do not write."""
    phrase(TEXT, lang, "more", n=0)
    return TEXT[lang]


# --- formatting a few numbers --------------------------------------------------------------









# --- the toy example -----------------------------------------------------------------------

def _toy_attention(scale_away: bool):
    """The toy through the toolkit's attention function: (scores, weights, output) as lists."""
    import torch

    from perplex.attention.functional import scaled_dot_product_attention

    q = torch.tensor([[TOY_Q]], dtype=torch.float64)  # (B=1, h=1, 1, d_k=2)
    k = torch.tensor([[TOY_K]], dtype=torch.float64)
    v = torch.tensor([[TOY_V]], dtype=torch.float64)
    d_k = q.size(-1)
    if scale_away:  # the function divides by √d_k; multiplying Q first gives the course's Q·K
        q = q * math.sqrt(d_k)
    out, weights = scaled_dot_product_attention(q, k, v, need_weights=True)
    scores = (q @ k.transpose(-2, -1) / math.sqrt(d_k))[0, 0, 0]
    return scores.tolist(), weights[0, 0, 0].tolist(), out[0, 0, 0].tolist()


def _toy_part(title: str, scores, weights, output, scaled: bool, lang: str) -> Worked:
    t = TEXT[lang]
    steps = []
    for j, (key, s) in enumerate(zip(TOY_K, scores), start=1):
        dot = f"{board(TOY_Q[0][0])}×{board(key[0])} + {board(TOY_Q[0][1])}×{board(key[1])}"
        dot_tex = dot.replace("×", r"\times ")
        if scaled:
            steps.append(Step(t["score"].format(j=j), f"s{j} = ({dot}) / √2", s,
                              rf"s_{j} = \frac{{{dot_tex}}}{{\sqrt{{2}}}}"))
        else:
            steps.append(Step(t["score"].format(j=j), f"s{j} = Q·K{j} = {dot}", s, rf"s_{j} = Q\cdot K_{j} = {dot_tex}"))
    terms = " + ".join(f"e^{board(s)}" for s in scores)
    exps = [math.exp(s) for s in scores]
    steps.append(Step(t["exp_sum"], terms, sum(exps), " + ".join(f"e^{{{board(s)}}}" for s in scores)))
    for j, (s, w) in enumerate(zip(scores, weights), start=1):
        steps.append(Step(t["weight"].format(j=j), f"w{j} = e^{board(s)} / ({terms})", w,
                          rf"w_{j} = \frac{{e^{{{board(s)}}}}}{{{' + '.join(f'e^{{{board(x)}}}' for x in scores)}}}"))
    for i, o in enumerate(output):
        mix = f"{board(weights[0])}×{board(TOY_V[0][i])} + {board(weights[1])}×{board(TOY_V[1][i])}"
        steps.append(Step(t["output"].format(i=i + 1), mix, o, mix.replace("×", r"\times ")))
    return Worked("attention-toy", title, steps)


def explain_toy(lang: str = "en") -> Worked:
    """The two-dimensional example a class checks by hand.

    Q = [1, 0], K1 = [1, 0], K2 = [0, 1], V1 = [1, 2], V2 = [3, 4].  Without scaling (the
    course's numbers) s = (1, 0) and softmax = (e/(e+1), 1/(e+1)) ≈ (0.731, 0.269); with the
    Transformer's division by √d_k = √2, s = (0.707, 0) and softmax ≈ (0.670, 0.330).
    ``data`` holds both: ``weights`` / ``output`` unscaled, ``scaled_weights`` / ``scaled_output``.
    """
    t = _table(lang)
    q_text, q_tex = shown_vector(TOY_Q[0], 2, lambda n: phrase(TEXT, lang, "more", n=n))
    steps = [Step(t["formula"], FORMULA, None, FORMULA_TEX), Step(t["query"], f"Q = {q_text}", None, f"Q = {q_tex}")]
    for j, (key, value) in enumerate(zip(TOY_K, TOY_V), start=1):
        k_text, k_tex = shown_vector(key, 2, lambda n: phrase(TEXT, lang, "more", n=n))
        v_text, v_tex = shown_vector(value, 2, lambda n: phrase(TEXT, lang, "more", n=n))
        steps += [Step(t["key"].format(j=j), f"K{j} = {k_text}", None, f"K_{j} = {k_tex}"),
                  Step(t["value"].format(j=j), f"V{j} = {v_text}", None, f"V_{j} = {v_tex}")]
    plain = _toy_attention(scale_away=True)
    scaled = _toy_attention(scale_away=False)
    sections = [_toy_part(t["unscaled"], *plain, scaled=False, lang=lang),
                _toy_part(t["scaled"], *scaled, scaled=True, lang=lang)]
    data = {"q": TOY_Q[0], "k": TOY_K, "v": TOY_V, "d_k": 2,
            "scores": plain[0], "weights": plain[1], "output": plain[2],
            "scaled_scores": scaled[0], "scaled_weights": scaled[1], "scaled_output": scaled[2]}
    return Worked("attention-toy", t["toy_title"], steps, [t["toy_note_scaling"], t["toy_note_function"]], data,
                  sections)


# --- one head of a trained model -----------------------------------------------------------

def _check_choice(value: int, count: int, option: str, what: str) -> None:
    if not 1 <= value <= count:
        raise PerplexError(f"{option} {value} is out of range: this model has {count} {what} (1 to {count}); "
                           f"choose one of them")


def head_tensors(model, vocab, sentence: str, layer: int, head: int):
    """Q, K, V of one head (1-based ``layer``, ``head``) for ``sentence``, with the model's weights.

    Returns
    -------
    tokens : list of str (``</s>`` then the words, as the heatmap labels them)
    q, k, v : float64 arrays, shape (T, d_k) (the model's float32 values)
    weights : float64 array (T, T): the model's attention of this head (the heatmap's matrix)
    recomputed : float64 array (T, T): softmax(QKᵀ/√d_k) under the causal mask, from q and k
    output : float64 array (T, d_k): the head's output, recomputed the same way
    """
    import torch

    from perplex.attention.functional import scaled_dot_product_attention
    from perplex.attention.heatmap import attention_maps

    c = model.config
    _check_choice(layer, c.n_layers, "--layer", "layers")
    _check_choice(head, c.n_heads, "--head", "heads per layer")
    attn = model.blocks[layer - 1].attn
    seen = []
    # The attention's input, LN_1(x), as the model computes it while the heatmap's pass runs.
    hook = attn.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    try:
        maps = attention_maps(model, vocab, sentence)
    finally:
        hook.remove()
    x = seen[0]  # (1, T, d_model)
    with torch.no_grad():
        q, k, v = attn.in_proj(x).split(attn.d_model, dim=2)  # as MultiHeadAttention.forward splits them
        # (1, T, d_model) -> (1, h, T, d_head), then this head's (1, 1, T, d_head)
        q, k, v = (m.view(1, -1, attn.n_heads, attn.d_head).transpose(1, 2)[:, head - 1:head] for m in (q, k, v))
        out, recomputed = scaled_dot_product_attention(q, k, v, need_weights=True, is_causal=True)
    q, k, v, recomputed, out = (m[0, 0].double().cpu().numpy() for m in (q, k, v, recomputed, out))
    return maps.tokens, q, k, v, maps.weights[layer - 1, head - 1], recomputed, out


def explain_head(model, vocab, sentence: str, layer: int = 1, head: int = 1, position: int | None = None,
                 dims: int = DEFAULT_DIMS, lang: str = "en") -> Worked:
    """One head of a trained Transformer on ``sentence``, worked out for one position.

    Parameters
    ----------
    layer, head : int
        1-based, as ``perplex attention`` names its heatmaps.
    position : int, optional
        0 is ``</s>`` (the sentence start the model reads), word i is at position i;
        default the last word, the position that sees them all.
    dims : int
        Coordinates of Q, K, V and the output shown (the dot products use them all).

    ``data["weights"]`` is the head's (T, T) matrix from the model (the heatmap's numbers),
    ``data["recomputed_weights"]`` the same from Q and K.

    Raises
    ------
    PerplexError
        Layer, head or position out of range, ``dims`` below 1, an empty sentence or one
        longer than the model's context.
    """
    t = _table(lang)
    if dims < 1:
        raise PerplexError(f"--dims must be at least 1, got {dims}")
    tokens, q, k, v, weights, recomputed, out = head_tensors(model, vocab, sentence, layer, head)
    n = len(tokens)
    pos = n - 1 if position is None else position
    if not 0 <= pos < n:
        raise PerplexError(f"--position {pos} is out of range: the sentence has positions 0 (</s>) to {n - 1}; "
                           f"choose one of them")
    d_k = q.shape[1]
    shown = min(dims, d_k)
    root = math.sqrt(d_k)
    steps = [
        Step(t["formula"], FORMULA, None, FORMULA_TEX),
        Step(t["positions"], "  ".join(f"{i}:{w}" for i, w in enumerate(tokens)), None,
             r",\ ".join(f"{i}{{:}}{tex_word(w)}" for i, w in enumerate(tokens))),
        Step(t["dk"], f"d_k = d_model / h = {model.config.d_model} / {model.config.n_heads}", d_k,
             rf"d_k = \frac{{{model.config.d_model}}}{{{model.config.n_heads}}}"),
        Step(t["sqrt_dk"], f"√{d_k}", root, rf"\sqrt{{{d_k}}}"),
    ]
    title = t["head_title"].format(layer=layer, head=head, pos=pos, sentence=sentence)

    qkv = []
    for i in range(n):
        for key, name, m in (("q_of", "q", q), ("k_of", "k", k), ("v_of", "v", v)):
            text, tex = shown_vector(m[i], shown, lambda n: phrase(TEXT, lang, "more", n=n))
            qkv.append(Step(t[key].format(t=i), f"{name}_{i} = {text}", None, f"{name}_{{{i}}} = {tex}"))
    sections = [Worked("attention-qkv", t["qkv_title"].format(head=head, dims=shown, dk=d_k), qkv, [t["qkv_note"]])]

    # Scores in float64 from the float32 vectors: the board's arithmetic.
    dots = q[pos] @ k.T  # (T,)
    scores = np.where(np.arange(n) <= pos, dots / root, -np.inf)
    expansion = " + ".join(f"{factor(a, 4)}×{factor(b, 4)}" for a, b in zip(q[pos][:shown], k[0][:shown]))
    rest = d_k - shown
    more = f" + … ({phrase(TEXT, lang, 'more', n=rest)})" if rest else ""
    expansion_tex = expansion.replace("×", r" \times ") + (r" + \ldots" if rest else "")
    score_steps = [Step(t["dot_example"], f"q_{pos}·k_0 = {expansion}{more}", float(dots[0]),
                        rf"q_{{{pos}}}\cdot k_0 = {expansion_tex}")]
    for j in range(n):
        if j <= pos:
            score_steps.append(Step(t["score_of"].format(j=j), f"s_{j} = {board(dots[j])} / {board(root)}", float(scores[j]),
                                    rf"s_{{{j}}} = \frac{{q_{{{pos}}}\cdot k_{{{j}}}}}{{\sqrt{{d_k}}}} = "
                                    rf"\frac{{{board(dots[j])}}}{{{board(root)}}}"))
        else:
            score_steps.append(Step(t["masked"].format(j=j), t["masked_expr"].format(j=j, pos=pos), "-inf",
                                    rf"s_{{{j}}} = -\infty"))
    sections.append(Worked("attention-scores", t["scores_title"].format(pos=pos), score_steps, [t["mask_note"]]))

    visible = scores[: pos + 1]
    exps = np.exp(visible)
    terms = " + ".join(f"e^{board(s)}" for s in visible)
    terms_tex = " + ".join(f"e^{{{board(s)}}}" for s in visible)
    soft = [Step(t["exp_sum"], terms, float(exps.sum()), terms_tex)]
    for j in range(pos + 1):
        soft.append(Step(t["weight_of"].format(j=j), f"w_{j} = e^{board(visible[j])} / {board(exps.sum())}",
                         float(weights[pos, j]), rf"w_{{{j}}} = \frac{{e^{{{board(visible[j])}}}}}{{{board(exps.sum())}}}"))
    soft.append(Step(t["weights_sum"], " + ".join(board(w) for w in weights[pos, : pos + 1]),
                     float(weights[pos].sum()), None))
    diff = float(np.abs(weights - recomputed).max())
    sections.append(Worked("attention-softmax", t["softmax_title"].format(pos=pos), soft,
                           [t["agree_note"].format(diff=number(diff, 2))]))

    rows = []
    for i in range(n):
        cells = "  ".join(board(w) for w in weights[i])
        # the token goes in the formula: a Markdown cell would take </s> for an HTML tag
        rows.append(Step(t["row_of"].format(t=i), f"{tokens[i]}: [{cells}]", None,
                         tex_word(tokens[i]) + r":\ \left(" + r",\ ".join(board(w) for w in weights[i]) + r"\right)"))
    sections.append(Worked("attention-rows", t["rows_title"].format(layer=layer, head=head), rows, [t["rows_note"]]))

    outs = []
    for i in range(shown):
        mix = " + ".join(f"{board(weights[pos, j])}×{factor(v[j, i], 4)}" for j in range(pos + 1))
        outs.append(Step(t["out_of"].format(i=i + 1), mix, float(out[pos, i]), mix.replace("×", r" \times ")))
    sections.append(Worked("attention-output", t["out_title"].format(pos=pos, dims=shown), outs,
                           [t["out_note"].format(dk=d_k)]))

    data = {"sentence": sentence, "tokens": tokens, "layer": layer, "head": head, "position": pos, "d_k": d_k,
            "q": q.tolist(), "k": k.tolist(), "v": v.tolist(),
            "scores": [float(s) if np.isfinite(s) else None for s in scores],  # None: masked
            "weights": weights.tolist(), "recomputed_weights": recomputed.tolist(),
            "max_difference": diff, "output": out[pos].tolist()}
    return Worked("attention", title, steps, [], data, sections)


def explain_checkpoint(path, sentence: str, layer: int = 1, head: int = 1, position: int | None = None,
                       dims: int = DEFAULT_DIMS, lang: str = "en") -> Worked:
    """:func:`explain_head` on the model saved in ``path`` (see ``perplex transformer``)."""
    from perplex.attention.checkpoint import load_checkpoint

    model, vocab, _ = load_checkpoint(path, device="cpu")
    return explain_head(model, vocab, sentence, layer, head, position, dims, lang)
