"""``perplex explain ngram``: the probability of each word of a sentence, worked out from
the model's own counts, discounts and weights, then the sentence's log10 P, cross-entropy
and perplexity as docs/conventions.md defines them.

Each smoothing is explained in the form the model computes it:

* MLE, Laplace, add-k (:class:`~perplex.lm.additive.AdditiveModel`): the fraction
  (c(h w) + α) / (c(h) + α|V|) over the longest context the model uses;
* Kneser-Ney, one discount or modified (a :class:`~perplex.lm.backoff.BackoffModel` estimated
  here, which keeps its counts and ``info["discounts"]``): the interpolation
  P(w | h) = (a(h w) - D) / Σ_x a(h x) + γ(h) P(w | h'), written bottom-up from the uniform
  term 1/|V| so that every line uses only numbers printed above it;
* an ARPA file (no counts): the backoff form log10 P = Σ log10 bo + log10 p of the listed n-gram.

The numbers are the model's: the adjusted counts come from
:func:`perplex.lm.kneser_ney.adjusted_counts` on the model's trie, the discounts from the
model's ``info``, and each sum is taken in the order the estimator takes it, so the
recomposed probability equals the model's ``log10_probs`` (tests check to 1e-9).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from perplex.errors import PerplexError
from perplex.explain.worked import Step, Worked, factor, number, phrase

LOG2_10 = math.log2(10.0)

TEXT = {
    "en": {
        "title": "P({sentence}) under the {model}",
        "oov": "'{word}' is not in the vocabulary: it is predicted as <unk> and counted as an OOV.",
        "token_title": "{i}. P({word} | {context}) = {p}",
        "context_cut": "The context starts at the sentence's <s> ({n} earlier word(s)): a shorter n-gram than the "
                       "model's order is all there is.",
        # additive
        "c_hw": "count of '{ngram}' in training",
        "c_h": "c(h) = Σ_x c(h x), the words seen after '{context}'",
        "c_total": "N, the training tokens (the unigram model has no context)",
        "vocab": "|V|, the predictable words (</s> and <unk> included, <s> not)",
        "add_p": "P({word} | {context}) = (c(h w) + α) / (c(h) + α|V|)",
        "mle_p": "P({word} | {context}) = c(h w) / c(h)",
        "mle_zero": "MLE gives 0: '{ngram}' never occurs in training, so log10 P = -inf and the perplexity of any "
                    "text containing it is infinite. Smoothing (Laplace, add-k, Kneser-Ney) exists for this.",
        "mle_no_context": "MLE has no distribution after a context never seen in training (c(h) = 0): every word "
                          "gets P = 0 (0/0 is taken as 0).",
        "add_no_context": "The context '{context}' never occurs in training (c(h) = 0): every word gets α / (α|V|) = 1/|V|.",
        # Kneser-Ney
        "uniform": "uniform term 1/|V| (|V| = {V}: </s> and <unk> included, <s> not)",
        "a_raw": "a = c({ngram}), its count (highest order or after <s>: raw counts)",
        "a_cont": "a = N1+(• {ngram}), the distinct words seen before it (continuation count)",
        "a_sum": "Σ_x a({context} x), over the {k} word(s) seen after it",
        "a_sum_uni": "Σ_x a(x), over the {k} words of the vocabulary",
        "no_discount": "D = 0: unseen n-gram, no discount (its share comes from γ)",
        "discount": "D = {which}, since a = {a}{why}",
        "discount_single": "D, the one discount of the {m}-grams (a = {a} > 0)",
        "gamma": "γ({context}) = (k1 D1 + k2 D2 + k3 D3+) / Σa, the mass set aside",
        "gamma_single": "γ({context}) = D × (distinct words after it) / Σa, the mass set aside",
        "gamma_uni": "γ = (k1 D1 + k2 D2 + k3 D3+) / Σa, the mass set aside for the uniform term",
        "gamma_uni_single": "γ = D × (words seen) / Σa, the mass set aside for the uniform term",
        "kn_uni_p": "P({word}) = (a - D) / Σa + γ × 1/|V|",
        "kn_p": "P({word} | {context}) = (a - D) / Σa + γ × P({word} | {lower})",
        "unseen_context": "P({word} | {context}) = P({word} | {lower}): '{context}' was never followed by a word in "
                          "training (γ = 1)",
        "log10": "log10 P, as KenLM prints it",
        "kn_note": "Kneser-Ney subtracts a discount D from every seen count and gives the mass set aside, γ(h), to "
                   "the lower order; below the highest order the counts are continuation counts N1+(• w): how many "
                   "different words precede w, not how often w occurs.",
        "unigram_title": "The unigram level, the same for every word",
        "discounts_title": "Discounts of each order, from the count-of-counts n_k of the adjusted counts",
        "n_k": "order {m}: n1, n2, n3, n4",
        "Y": "order {m}: Y = n1 / (n1 + 2 n2)",
        "D_k": "order {m}: D{k}{plus} = {k} - {k1} Y n{k1} / n{k}",
        "D_single": "order {m}: D = Y (one discount)",
        "fallback": "order {m}: no discount from the counts ({reason}): lmplz's fallback",
        # ARPA
        "arpa_listed": "'{ngram}' is listed: log10 p({ngram})",
        "arpa_bo": "'{ngram}' is not listed: back off, log10 bo({context})",
        "arpa_bo_none": "'{ngram}' is not listed and '{context}' has no backoff weight: log10 bo = 0",
        "arpa_sum": "log10 P({word} | {context}), the sum of the terms above",
        "arpa_note": "An ARPA file keeps no counts: P(w | h) = p(h w) when 'h w' is listed, else bo(h) × P(w | h'), "
                     "as KenLM and SRILM compute it.",
        # summary
        "summary_title": "The whole sentence",
        "sum_log10": "log10 P(sentence) = Σ log10 P",
        "tokens": "N, the predicted tokens: {words} word(s) + </s> (<s> is context only)",
        "cross_entropy": "cross-entropy H = -(1/N) Σ log2 P = -log10 P × log2(10) / N, bits per token",
        "perplexity": "perplexity 2^H (= 10^(-log10 P / N))",
        "infinite": "{zeros} token(s) got P = 0: log10 P = -inf, and the cross-entropy and perplexity are infinite.",
        "oov_count": "{oovs} of the {n} tokens are OOVs (scored as <unk>).",
    },
    "fr": {
        "title": "P({sentence}) selon le modèle {model}",
        "oov": "« {word} » n'est pas dans le vocabulaire : il est prédit comme <unk> et compté comme mot hors "
               "vocabulaire (OOV).",
        "token_title": "{i}. P({word} | {context}) = {p}",
        "context_cut": "Le contexte commence au <s> de la phrase ({n} mot(s) avant) : seul un n-gramme plus court que "
                       "l'ordre du modèle existe ici.",
        "c_hw": "nombre d'occurrences de « {ngram} » dans l'entraînement",
        "c_h": "c(h) = Σ_x c(h x), les mots vus après « {context} »",
        "c_total": "N, les tokens d'entraînement (le modèle unigramme n'a pas de contexte)",
        "vocab": "|V|, les mots prédictibles (</s> et <unk> compris, <s> non)",
        "add_p": "P({word} | {context}) = (c(h w) + α) / (c(h) + α|V|)",
        "mle_p": "P({word} | {context}) = c(h w) / c(h)",
        "mle_zero": "Le maximum de vraisemblance donne 0 : « {ngram} » n'apparaît jamais dans l'entraînement, donc "
                    "log10 P = -inf et la perplexité de tout texte qui le contient est infinie. C'est pour cela "
                    "qu'on lisse (Laplace, add-k, Kneser-Ney).",
        "mle_no_context": "Le maximum de vraisemblance n'a pas de distribution après un contexte jamais vu "
                          "(c(h) = 0) : chaque mot reçoit P = 0 (0/0 pris égal à 0).",
        "add_no_context": "Le contexte « {context} » n'apparaît jamais dans l'entraînement (c(h) = 0) : chaque mot "
                          "reçoit α / (α|V|) = 1/|V|.",
        "uniform": "terme uniforme 1/|V| (|V| = {V} : </s> et <unk> compris, <s> non)",
        "a_raw": "a = c({ngram}), son nombre d'occurrences (ordre maximal ou après <s> : comptes bruts)",
        "a_cont": "a = N1+(• {ngram}), le nombre de mots distincts vus avant (compte de continuation)",
        "a_sum": "Σ_x a({context} x), sur les {k} mot(s) vus après",
        "a_sum_uni": "Σ_x a(x), sur les {k} mots du vocabulaire",
        "no_discount": "D = 0 : n-gramme jamais vu, pas de décompte (sa part vient de γ)",
        "discount": "D = {which}, car a = {a}{why}",
        "discount_single": "D, l'unique décompte des {m}-grammes (a = {a} > 0)",
        "gamma": "γ({context}) = (k1 D1 + k2 D2 + k3 D3+) / Σa, la masse mise de côté",
        "gamma_single": "γ({context}) = D × (mots distincts après) / Σa, la masse mise de côté",
        "gamma_uni": "γ = (k1 D1 + k2 D2 + k3 D3+) / Σa, la masse mise de côté pour le terme uniforme",
        "gamma_uni_single": "γ = D × (mots vus) / Σa, la masse mise de côté pour le terme uniforme",
        "kn_uni_p": "P({word}) = (a - D) / Σa + γ × 1/|V|",
        "kn_p": "P({word} | {context}) = (a - D) / Σa + γ × P({word} | {lower})",
        "unseen_context": "P({word} | {context}) = P({word} | {lower}) : « {context} » n'a jamais été suivi d'un "
                          "mot dans l'entraînement (γ = 1)",
        "log10": "log10 P, tel que KenLM l'affiche",
        "kn_note": "Kneser-Ney retranche un décompte D de chaque compte observé et donne la masse ainsi libérée, "
                   "γ(h), à l'ordre inférieur ; sous l'ordre maximal, les comptes sont des comptes de continuation "
                   "N1+(• w) : combien de mots différents précèdent w, et non combien de fois w apparaît.",
        "unigram_title": "Le niveau des unigrammes, le même pour tous les mots",
        "discounts_title": "Décomptes de chaque ordre, tirés des nombres n_k de n-grammes de compte ajusté k",
        "n_k": "ordre {m} : n1, n2, n3, n4",
        "Y": "ordre {m} : Y = n1 / (n1 + 2 n2)",
        "D_k": "ordre {m} : D{k}{plus} = {k} - {k1} Y n{k1} / n{k}",
        "D_single": "ordre {m} : D = Y (un seul décompte)",
        "fallback": "ordre {m} : pas de décompte tiré des comptes ({reason}) : valeurs de repli de lmplz",
        "arpa_listed": "« {ngram} » figure dans le fichier : log10 p({ngram})",
        "arpa_bo": "« {ngram} » n'y figure pas : repli, log10 bo({context})",
        "arpa_bo_none": "« {ngram} » n'y figure pas et « {context} » n'a pas de poids de repli : log10 bo = 0",
        "arpa_sum": "log10 P({word} | {context}), somme des termes ci-dessus",
        "arpa_note": "Un fichier ARPA ne garde pas les comptes : P(w | h) = p(h w) si « h w » y figure, sinon "
                     "bo(h) × P(w | h'), comme le calculent KenLM et SRILM.",
        "summary_title": "La phrase entière",
        "sum_log10": "log10 P(phrase) = Σ log10 P",
        "tokens": "N, les tokens prédits : {words} mot(s) + </s> (<s> n'est qu'un contexte)",
        "cross_entropy": "entropie croisée H = -(1/N) Σ log2 P = -log10 P × log2(10) / N, en bits par token",
        "perplexity": "perplexité 2^H (= 10^(-log10 P / N))",
        "infinite": "{zeros} token(s) ont reçu P = 0 : log10 P = -inf, l'entropie croisée et la perplexité sont "
                    "infinies.",
        "oov_count": "{oovs} des {n} tokens sont hors vocabulaire (prédits comme <unk>).",
    },
}


_t = partial(phrase, TEXT)  # _t(lang, key, **values): a sentence of TEXT




def _log10(p: float) -> float:
    return math.log10(p) if p > 0 else -math.inf


# ------------------------------------------------------------------------- the model's numbers
class ModelNumbers:
    """What a model is explained with, gathered once: its kind and, for Kneser-Ney, the
    adjusted counts and discounts (the arrays the estimator computed them from)."""

    def __init__(self, model):
        from perplex.lm.additive import AdditiveModel
        from perplex.lm.backoff import BackoffModel

        self.model = model
        self.trie = model.trie
        self.V = len(model.vocab)
        self.bos = self.trie.bos_id
        self.names = list(model.vocab.tokens) + ["<s>"]
        if isinstance(model, AdditiveModel):
            self.kind = "additive"
        elif isinstance(model, BackoffModel) and self.trie.counts is not None and "discounts" in model.info:
            self.kind = "kn"
            self._kn_setup()
        elif isinstance(model, BackoffModel):
            self.kind = "arpa"
        else:
            raise PerplexError(f"explain ngram explains n-gram models (MLE, add-k, Kneser-Ney, ARPA files), "
                               f"not a {type(model).__name__}")

    def _kn_setup(self) -> None:
        from perplex.lm.kneser_ney import adjusted_counts, count_of_counts, discount_values

        self.adjusted = adjusted_counts(self.trie)
        self.discounts = [np.array([0.0, *d]) for d in self.model.info["discounts"]]
        self.single = self.model.smoothing == "ikn"
        self.count_of_counts = [count_of_counts(a) for a in self.adjusted]
        # The unigram level exactly as estimate_kneser_ney builds it (<s> is never predicted).
        a1 = self.adjusted[0].copy()
        a1[self.bos] = 0.0
        self.a1 = a1
        self.d1 = discount_values(self.discounts[0], a1)
        self.total1 = a1.sum()
        self.gamma0 = self.d1.sum() / self.total1

    def text(self, ids) -> str:
        return " ".join(self.names[i] for i in ids)

    def context_index(self, ctx) -> int:
        """Index of the context ``ctx`` (word ids) in table len(ctx); negative when not listed."""
        return int(self.trie.index(np.asarray([ctx], np.int64))[0])


# ------------------------------------------------------------------------------ one token
def _additive_token(mn: ModelNumbers, ctx: tuple, w: int, lang: str):
    """(steps, levels, p, notes) of p(w | h) = (c(h w) + α) / (c(h) + α|V|)."""
    model, trie = mn.model, mn.trie
    alpha, V = model.alpha, mn.V
    n = len(ctx) + 1
    ngram, context, word = mn.text(ctx + (w,)), mn.text(ctx) or "∅", mn.names[w]
    h = mn.context_index(ctx) if ctx else 0
    idx = int(trie.index(np.asarray([ctx + (w,)], np.int64))[0]) if ctx else w
    c_hw = float(trie.counts[n - 1][idx]) if idx >= 0 else 0.0
    c_h = float(model.context_totals(len(ctx), np.array([max(h, 0)]))[0]) if h >= 0 else 0.0
    # The model's own arithmetic (AdditiveModel._prob): num / den, 0 when den is 0.
    num, den = c_hw + alpha, c_h + alpha * V
    p = num / den if den > 0 else 0.0
    c_h_label = _t(lang, "c_h", context=context) if ctx else _t(lang, "c_total")
    steps = [Step(_t(lang, "c_hw", ngram=ngram), f"c({ngram})", c_hw),
             Step(c_h_label, f"c({context})" if ctx else "N", c_h)]
    notes = []
    if alpha == 0:
        steps.append(Step(_t(lang, "mle_p", word=word, context=context), f"{number(c_hw)} / {number(c_h)}", p,
                          rf"\frac{{{number(c_hw)}}}{{{number(c_h)}}}"))
        if c_h == 0:
            notes.append(_t(lang, "mle_no_context"))
        elif c_hw == 0:
            notes.append(_t(lang, "mle_zero", ngram=ngram))
    else:
        steps.append(Step(_t(lang, "vocab"), "|V|", V))
        a = number(alpha)
        expr = f"({number(c_hw)} + {a}) / ({number(c_h)} + {a} × {V})"
        steps.append(Step(_t(lang, "add_p", word=word, context=context), expr, p,
                          rf"\frac{{{number(c_hw)} + {a}}}{{{number(c_h)} + {a} \times {V}}}"))
        if c_h == 0:
            notes.append(_t(lang, "add_no_context", context=context))
    level = {"kind": "additive", "order": n, "context": context, "alpha": alpha, "vocabulary": V,
             "c_hw": c_hw, "c_h": c_h, "p": p, "formula": steps[-1].expr}
    return steps, [level], p, notes


def _kn_unigram(mn: ModelNumbers, w: int, lang: str):
    """Steps and data of p(w) = (a(w) - D) / Σa + γ / |V|, the lowest level."""
    V, word = mn.V, mn.names[w]
    a, d, total, gamma = float(mn.a1[w]), float(mn.d1[w]), float(mn.total1), float(mn.gamma0)
    k = [int(x) for x in _kinds(mn.a1)]
    top = mn.trie.order == 1
    # 1/|V|, Σa and γ are the same for every word: unigram_worked shows them once, above.
    steps = [Step(_t(lang, "a_raw" if top else "a_cont", ngram=word), "", a), _discount_step(mn, 1, a, d, lang)]
    p = (a - d) / total + gamma / V  # unigram_probs' arithmetic
    expr = f"({number(a)} - {number(d)}) / {number(total)} + {number(gamma)} × 1/{V}"
    steps.append(Step(_t(lang, "kn_uni_p", word=word), expr, p,
                      rf"\frac{{{number(a)} - {number(d)}}}{{{number(total)}}} + {number(gamma)} \times \frac{{1}}{{{V}}}"))
    level = {"kind": "kn_unigram", "order": 1, "context": "", "uniform": 1.0 / V, "vocabulary": V, "a": a,
             "a_sum": total, "discount": d, "k": k, "discounts": mn.discounts[0][1:].tolist(), "gamma": gamma, "p": p,
             "formula": expr}
    return steps, level, p


def _kinds(a: np.ndarray) -> tuple[int, int, int]:
    """k1, k2, k3+: how many of the adjusted counts ``a`` are 1, 2 and 3 or more."""
    return int((a == 1).sum()), int((a == 2).sum()), int((a >= 3).sum())


def _discount_step(mn: ModelNumbers, m: int, a: float, d: float, lang: str) -> Step:
    if a == 0:
        return Step(_t(lang, "no_discount"), "D", 0.0, "D")
    if mn.single:
        return Step(_t(lang, "discount_single", m=m, a=number(a)), f"D({m}-grams)", d, f"D^{{({m})}}")
    k = min(int(a), 3)  # modified Kneser-Ney: the discount of counts 1, 2, or 3 and more
    which, tex = ("D1", "D2", "D3+")[k - 1], ("D_1", "D_2", "D_{3+}")[k - 1]
    why = " ≥ 3" if k == 3 else ""
    return Step(_t(lang, "discount", which=which, a=number(a), why=why), f"{which}({m}-grams)", d, tex + f"^{{({m})}}")


def _gamma_step(mn: ModelNumbers, m: int, k, total: float, gamma: float, lang: str, context: str | None) -> Step:
    D = mn.discounts[m - 1]
    if mn.single:
        key = "gamma_uni_single" if context is None else "gamma_single"
        expr = f"{number(D[1])} × {sum(k)} / {number(total)}"
        tex = rf"\frac{{{number(D[1])} \times {sum(k)}}}{{{number(total)}}}"
    else:
        key = "gamma_uni" if context is None else "gamma"
        inner = f"{k[0]} × {number(D[1])} + {k[1]} × {number(D[2])} + {k[2]} × {number(D[3])}"
        expr = f"({inner}) / {number(total)}"
        tex = rf"\frac{{{inner.replace('×', chr(92) + 'times')}}}{{{number(total)}}}"
    return Step(_t(lang, key, context=context), expr, gamma, tex)


def _kn_level(mn: ModelNumbers, ctx: tuple, w: int, lower: float, lang: str):
    """Steps and data of p(w | h) = (a(h w) - D) / Σ_x a(h x) + γ(h) p(w | h'), order len(ctx) + 1."""
    from perplex.lm.kneser_ney import discount_values

    trie, m = mn.trie, len(ctx) + 1
    word, context, lower_context = mn.names[w], mn.text(ctx), mn.text(ctx[1:]) or "∅"
    ngram = mn.text(ctx + (w,))
    lower_name = f"P({word} | {lower_context})" if ctx[1:] else f"P({word})"
    h = mn.context_index(ctx)
    lo, hi = (trie.child_ranges(m, np.array([h])) if h >= 0 else (np.array([0]), np.array([0])))
    lo, hi = int(lo[0]), int(hi[0])
    if hi == lo:  # never a context in training: the estimator's γ = 1 and no discounted term
        step = Step(_t(lang, "unseen_context", word=word, context=context, lower=lower_context), lower_name, lower)
        return [step], {"kind": "kn_unseen_context", "order": m, "context": context, "gamma": 1.0, "p": lower,
                        "formula": step.expr}, lower
    a_children = mn.adjusted[m - 1][lo:hi]
    d_children = discount_values(mn.discounts[m - 1], a_children)
    # Σ_x a(h x) and Σ_x D(a(h x)) summed in table order, as the estimator's bincount does.
    total = float(np.cumsum(a_children)[-1])
    mass = float(np.cumsum(d_children)[-1])
    gamma = mass / total
    idx = int(trie.lookup(m, np.array([h]), np.array([w]))[0])
    a = float(mn.adjusted[m - 1][idx]) if idx >= 0 else 0.0
    d = float(mn.discounts[m - 1][min(int(a), 3)])
    raw = m == trie.order or ctx[0] == mn.bos
    k = _kinds(a_children)
    steps = [Step(_t(lang, "a_raw" if raw else "a_cont", ngram=ngram), "", a),
             Step(_t(lang, "a_sum", context=context, k=hi - lo), "Σa", total, r"\sum_x a(h\,x)"),
             _discount_step(mn, m, a, d, lang),
             _gamma_step(mn, m, k, total, gamma, lang, context)]
    p = (a - d) / total + gamma * lower  # kneser_ney.interpolate's arithmetic
    expr = f"({number(a)} - {number(d)}) / {number(total)} + {number(gamma)} × {number(lower)}"
    steps.append(Step(_t(lang, "kn_p", word=word, context=context, lower=lower_context), expr, p,
                      rf"\frac{{{number(a)} - {number(d)}}}{{{number(total)}}} + {number(gamma)} \times {number(lower)}"))
    level = {"kind": "kn", "order": m, "context": context, "a": a, "a_sum": total, "discount": d, "k": list(k),
             "discounts": mn.discounts[m - 1][1:].tolist(), "gamma": gamma, "lower": lower, "p": p,
             "count": "raw" if raw else "continuation", "formula": expr}
    return steps, level, p


def _kn_token(mn: ModelNumbers, ctx: tuple, w: int, lang: str):
    """Bottom-up: the uniform term, the unigram level, then each longer context up to ``ctx``."""
    steps, level, p = _kn_unigram(mn, w, lang)
    levels = [level]
    for start in range(len(ctx) - 1, -1, -1):
        more, level, p = _kn_level(mn, ctx[start:], w, p, lang)
        steps += more
        levels.append(level)
    return steps, levels, p, []


def _arpa_token(mn: ModelNumbers, ctx: tuple, w: int, lang: str):
    """Top-down backoff: log10 bo of each unlisted order's context, then log10 p of the listed n-gram."""
    model, trie = mn.model, mn.trie
    steps, levels, total = [], [], 0.0
    for start in range(len(ctx) + 1):
        h = ctx[start:]
        ngram = mn.text(h + (w,))
        idx = int(trie.index(np.asarray([h + (w,)], np.int64))[0]) if h else w
        if idx >= 0:
            lp = float(model.logp[len(h)][idx])
            steps.append(Step(_t(lang, "arpa_listed", ngram=ngram), "", lp))
            levels.append({"kind": "arpa_listed", "order": len(h) + 1, "ngram": ngram, "log10": lp})
            total += lp
            break
        hi = mn.context_index(h)
        lb = float(model.logbo[len(h) - 1][hi]) if hi >= 0 else 0.0
        key = "arpa_bo" if hi >= 0 else "arpa_bo_none"
        steps.append(Step(_t(lang, key, ngram=ngram, context=mn.text(h)), "", lb))
        levels.append({"kind": "arpa_backoff", "order": len(h) + 1, "ngram": ngram, "log10_backoff": lb})
        total += lb
    terms = " + ".join(factor(lv.get("log10", lv.get("log10_backoff"))) for lv in levels)
    steps.append(Step(_t(lang, "arpa_sum", word=mn.names[w], context=mn.text(ctx) or "∅"), terms, total))
    return steps, levels, 10.0**total, []


TOKEN_EXPLAINERS = {"additive": _additive_token, "kn": _kn_token, "arpa": _arpa_token}


def token_worked(mn: ModelNumbers, history: tuple, w: int, lang: str, i: int, model_log10: float) -> Worked:
    """How the model gets P(w | history): ``history`` is every earlier token of the sentence
    with ``<s>`` first; the model reads its last ``order - 1``."""
    ctx = tuple(history[-(mn.trie.order - 1):]) if mn.trie.order > 1 else ()
    steps, levels, p, notes = TOKEN_EXPLAINERS[mn.kind](mn, ctx, w, lang)
    # An ARPA model is a sum of stored log10 terms; the others compose a probability.
    log10 = sum(lv.get("log10", lv.get("log10_backoff", 0.0)) for lv in levels) if mn.kind == "arpa" else _log10(p)
    steps.append(Step(_t(lang, "log10"), f"log10({number(p)})", model_log10, rf"\log_{{10}} {number(p)}"))
    if 0 < len(history) < mn.trie.order - 1 and mn.kind != "arpa":
        notes.insert(0, _t(lang, "context_cut", n=len(history) - 1))
    context = mn.text(ctx) or "∅"
    title = _t(lang, "token_title", i=i, word=mn.names[w], context=context, p=number(p))
    data = {"position": i, "token": mn.names[w], "context": context, "levels": levels, "probability": p,
            "log10": log10, "model_log10": model_log10}
    return Worked("ngram-token", title, steps, notes, data)


# ------------------------------------------------------------------------------ the sentence
def unigram_worked(mn: ModelNumbers, lang: str) -> Worked:
    """The unigram level's constants, shared by every word: 1/|V|, Σa and γ."""
    V, total, gamma = mn.V, float(mn.total1), float(mn.gamma0)
    k = [int(x) for x in _kinds(mn.a1)]
    steps = [Step(_t(lang, "uniform", V=V), f"1 / {V}", 1.0 / V, rf"\frac{{1}}{{{V}}}"),
             Step(_t(lang, "a_sum_uni", k=sum(k)), "Σa", total, r"\sum_x a(x)"),
             _gamma_step(mn, 1, k, total, gamma, lang, None)]
    return Worked("ngram-unigram", _t(lang, "unigram_title"), steps, [],
                  {"uniform": 1.0 / V, "vocabulary": V, "a_sum": total, "k": k, "gamma": gamma})


def discounts_worked(mn: ModelNumbers, lang: str) -> Worked:
    """Each order's discounts from its count-of-counts (Chen & Goodman eq. 26), the model's stored values;
    where the counts give none (small data), the fallback the estimator used, and why."""
    from perplex.lm.kneser_ney import discounts_of

    steps, notes = [], []
    for m, (n, D) in enumerate(zip(mn.count_of_counts, mn.discounts), 1):
        _, reason = discounts_of(n, m, modified=not mn.single)  # the estimator's own test
        n = [int(x) for x in n]
        steps.append(Step(_t(lang, "n_k", m=m), ", ".join(str(x) for x in n[1:5])))
        if reason:
            values = ", ".join(number(x) for x in (D[1:2] if mn.single else D[1:]))
            steps.append(Step(_t(lang, "fallback", m=m, reason=reason), values))
            continue
        y = n[1] / (n[1] + 2.0 * n[2])
        steps.append(Step(_t(lang, "Y", m=m), f"{n[1]} / ({n[1]} + 2 × {n[2]})", y,
                          rf"\frac{{{n[1]}}}{{{n[1]} + 2 \times {n[2]}}}"))
        if mn.single:
            steps.append(Step(_t(lang, "D_single", m=m), "D", float(D[1])))
            continue
        for k in (1, 2, 3):
            if n[k] == 0:
                continue
            label = _t(lang, "D_k", m=m, k=k, plus="+" if k == 3 else "", k1=k + 1)
            steps.append(Step(label, f"{k} - {k + 1} × {number(y)} × {n[k + 1]} / {n[k]}",
                              float(D[k]), rf"{k} - {k + 1} \times {number(y)} \times \frac{{{n[k + 1]}}}{{{n[k]}}}"))
    return Worked("ngram-discounts", _t(lang, "discounts_title"), steps, notes,
                  {"count_of_counts": [c.tolist()[1:5] for c in mn.count_of_counts],
                   "discounts": [d[1:].tolist() for d in mn.discounts]})


def summary_worked(evaluation, log10: np.ndarray, words: int, lang: str) -> Worked:
    """log10 P of the sentence, its cross-entropy and perplexity: the toolkit's figures
    (:func:`perplex.eval.summarize`), with the sums written out."""
    n = evaluation.tokens
    total = evaluation.log10_prob
    h, ppl = evaluation.cross_entropy_bits, evaluation.perplexity
    steps = [Step(_t(lang, "sum_log10"), " + ".join(factor(x) for x in log10), total),
             Step(_t(lang, "tokens", words=words), f"{words} + 1", n),
             Step(_t(lang, "cross_entropy"), f"-({number(total)}) × {number(LOG2_10)} / {n}", h,
                  rf"-\frac{{{factor(total)} \times {number(LOG2_10)}}}{{{n}}}"),
             Step(_t(lang, "perplexity"), f"2^{number(h)}", ppl, rf"2^{{{number(h)}}}")]
    notes = []
    if evaluation.zero_prob_tokens:
        notes.append(_t(lang, "infinite", zeros=evaluation.zero_prob_tokens))
    if evaluation.oovs:
        notes.append(_t(lang, "oov_count", oovs=evaluation.oovs, n=n))
    data = {k: v for k, v in evaluation.figures().items() if k not in ("model", "split")}
    return Worked("ngram-summary", _t(lang, "summary_title"), steps, notes, data)


def sentence_words(text: str, tokenize: bool = False, lowercase: bool = False) -> list[str]:
    """The words of the sentence to explain, read as the training text was (``--tokenize``, ``--lowercase``)."""
    from perplex.corpus.text import split_pretokenized, tokenize_raw

    sentences = tokenize_raw(text, lowercase) if tokenize else split_pretokenized(text.replace("\n", " "), lowercase)
    if len(sentences) > 1:
        raise PerplexError(f"the text holds {len(sentences)} sentences; give one (explain perplexity takes several, "
                           "one per argument)")
    words = [w for s in sentences for w in s]
    if not words:
        raise PerplexError("the sentence is empty; give at least one word, e.g. \"the stock market fell\"")
    for reserved in ("<s>", "</s>"):
        if reserved in words:
            raise PerplexError(f"leave {reserved} out of the sentence: perplex adds <s> and </s> itself")
    return words


def explain_sentence(model, words: list[str], lang: str = "en") -> Worked:
    """How ``model`` scores the sentence ``words``: one section per predicted token (its
    words and </s>), the discounts for Kneser-Ney, and the sentence's figures."""
    from perplex.corpus import encode
    from perplex.eval import summarize

    if not words:
        raise PerplexError("the sentence is empty; give at least one word, e.g. \"the stock market fell\"")
    mn = ModelNumbers(model)
    corpus = encode([words], model.vocab)
    log10 = model.log10_probs(corpus)  # what the model scores: the explained numbers must match it
    evaluation = summarize(log10, corpus, model.name, "sentence")
    ids = [int(x) for x in corpus.ids]
    sections, notes = [], []
    if mn.kind == "kn":
        notes.append(_t(lang, "kn_note"))
        sections += [discounts_worked(mn, lang), unigram_worked(mn, lang)]
    elif mn.kind == "arpa":
        notes.append(_t(lang, "arpa_note"))
    notes += [_t(lang, "oov", word=w) for w, oov in zip(words, corpus.oov) if oov]
    history = (mn.bos,)
    for i, w in enumerate(ids):
        sections.append(token_worked(mn, history, w, lang, i + 1, float(log10[i])))
        history += (w,)
    sections.append(summary_worked(evaluation, log10, len(words), lang))
    title = _t(lang, "title", sentence=" ".join(words), model=model.name)
    return Worked("ngram", title, [], notes, {"model": model.name, "order": model.order, "words": words,
                                            "tokens": [mn.names[i] for i in ids]}, sections)
