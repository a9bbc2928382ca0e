"""``perplex explain perplexity``: from each token's probability to the perplexity of a text.

For every predicted token (words and ``</s>``): P(w | h), the surprise -log2 P(w | h) and
the entropy of the whole predicted distribution P(. | h) (the n-gram models give the full
next-word distribution, :meth:`~perplex.lm.base.NgramModel.distributions`).  The mean
surprise is the cross-entropy H, 2^H the perplexity; the mean entropy beside it tells how
sure the model was, against how surprised it turned out to be.  The figures are those of
:func:`perplex.eval.evaluate`, the one evaluation of docs/conventions.md.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from perplex.errors import PerplexError
from perplex.explain.worked import Step, Worked, number, phrase

LOG2_10 = math.log2(10.0)
# A worked example is read line by line; each token also holds a full |V|-wide distribution.
MAX_TOKENS = 200

TEXT = {
    "en": {
        "title": "Perplexity of {model} on {n} sentence(s), token by token",
        "tokens_title": "Each predicted token: its probability, its surprise, and the entropy of the prediction",
        "token": "{i}. P({word} | {context})",
        "surprise": "   surprise -log2 P",
        "entropy": "   entropy of P(. | {context}) over {V} words",
        "no_distribution": "   no distribution after '{context}' (MLE, unseen context): every P is 0",
        "summary_title": "From the surprises to the perplexity",
        "n": "N, the predicted tokens ({words} word(s) + {sentences} </s>)",
        "cross_entropy": "cross-entropy H = mean surprise, bits per token",
        "perplexity": "perplexity 2^H",
        "mean_entropy": "mean entropy of the predictions, bits",
        "check": "the same through log10: 10^(-log10 P / N), log10 P = {log10}",
        "calibrated": "The mean entropy ({entropy} bits) is {relation} the cross-entropy ({h} bits): {meaning}",
        "over": "below", "under": "above",
        "over_meaning": "the model is more confident than its results justify (over-confident on this text).",
        "under_meaning": "the model spreads more probability than it needed to (under-confident on this text).",
        "zero": "{zeros} token(s) got P = 0: their surprise, H and the perplexity are infinite.",
        "meaning": "H is the average number of bits the model needs per token; the perplexity 2^H is the number "
                   "of equally likely words that would be as surprising.",
    },
    "fr": {
        "title": "Perplexité du modèle {model} sur {n} phrase(s), token par token",
        "tokens_title": "Chaque token prédit : sa probabilité, sa surprise et l'entropie de la prédiction",
        "token": "{i}. P({word} | {context})",
        "surprise": "   surprise -log2 P",
        "entropy": "   entropie de P(. | {context}) sur {V} mots",
        "no_distribution": "   pas de distribution après « {context} » (maximum de vraisemblance, contexte jamais vu) : "
                           "toutes les P valent 0",
        "summary_title": "Des surprises à la perplexité",
        "n": "N, les tokens prédits ({words} mot(s) + {sentences} </s>)",
        "cross_entropy": "entropie croisée H = surprise moyenne, en bits par token",
        "perplexity": "perplexité 2^H",
        "mean_entropy": "entropie moyenne des prédictions, en bits",
        "check": "la même par log10 : 10^(-log10 P / N), log10 P = {log10}",
        "calibrated": "L'entropie moyenne ({entropy} bits) est {relation} l'entropie croisée ({h} bits) : {meaning}",
        "over": "inférieure à", "under": "supérieure à",
        "over_meaning": "le modèle est plus sûr de lui que ses résultats ne le justifient (trop confiant sur ce texte).",
        "under_meaning": "le modèle disperse plus de probabilité que nécessaire (pas assez confiant sur ce texte).",
        "zero": "{zeros} token(s) ont reçu P = 0 : leur surprise, H et la perplexité sont infinies.",
        "meaning": "H est le nombre moyen de bits dont le modèle a besoin par token ; la perplexité 2^H est le "
                   "nombre de mots équiprobables qui surprendraient autant.",
    },
}


_t = partial(phrase, TEXT)  # _t(lang, key, **values): a sentence of TEXT


def explain_perplexity(model, sentences: list[list[str]], lang: str = "en") -> Worked:
    """Each token's P, surprise and prediction entropy, then H and 2^H (``model``: an n-gram
    model, whose full next-word distributions the entropies need)."""
    from perplex.corpus import encode
    from perplex.eval import entropy, evaluate

    if not sentences or not all(sentences):
        raise PerplexError("the text is empty; give at least one sentence of words")
    corpus = encode(sentences, model.vocab)
    if corpus.n_tokens > MAX_TOKENS:
        raise PerplexError(f"the text has {corpus.n_tokens} tokens; explain perplexity works out at most {MAX_TOKENS} "
                           "one by one (for a whole test set: perplex score --entropy)")
    result = evaluate(model, corpus, "text", prediction_entropy=True)  # the toolkit's figures
    log10 = result.token_log10
    dist = np.concatenate(list(model.next_distributions(corpus)))
    entropies = entropy(dist, axis=1)
    names = list(model.vocab.tokens)
    order = model.order
    steps, data_tokens = [], []
    i = 0
    for s in range(corpus.n_sentences):
        history = ["<s>"]
        for t in corpus.sentence(s):
            word = names[int(t)]
            context = " ".join(history[-(order - 1):]) if order > 1 else "∅"
            p = 10.0 ** log10[i]
            surprise = -log10[i] * LOG2_10
            steps.append(Step(_t(lang, "token", i=i + 1, word=word, context=context), "", float(p)))
            steps.append(Step(_t(lang, "surprise"), f"-log2({number(p)})", float(surprise)))
            if dist[i].sum() > 0:
                steps.append(Step(_t(lang, "entropy", context=context, V=dist.shape[1]), "H = -Σ P log2 P",
                                  float(entropies[i])))
            else:
                steps.append(Step(_t(lang, "no_distribution", context=context)))
            data_tokens.append({"token": word, "context": context, "probability": float(p), "log10": float(log10[i]),
                                "surprise_bits": float(surprise), "entropy_bits": float(entropies[i])})
            history.append(word)
            i += 1
    n = result.tokens
    surprises = -log10 * LOG2_10
    words = n - corpus.n_sentences
    h, ppl = result.cross_entropy_bits, result.perplexity
    summary = [
        Step(_t(lang, "n", words=words, sentences=corpus.n_sentences), f"{words} + {corpus.n_sentences}", n),
        Step(_t(lang, "cross_entropy"), "(" + " + ".join(number(x) for x in surprises) + f") / {n}", h,
             r"\frac{" + " + ".join(number(x) for x in surprises) + f"}}{{{n}}}"),
        Step(_t(lang, "perplexity"), f"2^{number(h)}", ppl, rf"2^{{{number(h)}}}"),
        Step(_t(lang, "check", log10=number(result.log10_prob)), f"10^({number(-result.log10_prob)} / {n})",
             10.0 ** (-result.log10_prob / n) if math.isfinite(result.log10_prob) else math.inf,
             rf"10^{{{number(-result.log10_prob)} / {n}}}"),
        Step(_t(lang, "mean_entropy"), "(" + " + ".join(number(x) for x in entropies) + f") / {n}",
             result.prediction_entropy_bits),
    ]
    notes = [_t(lang, "meaning")]
    if result.zero_prob_tokens:
        notes.append(_t(lang, "zero", zeros=result.zero_prob_tokens))
    elif result.prediction_entropy_bits != h:
        over = result.prediction_entropy_bits < h
        notes.append(_t(lang, "calibrated", entropy=number(result.prediction_entropy_bits), h=number(h),
                        relation=_t(lang, "over" if over else "under"),
                        meaning=_t(lang, "over_meaning" if over else "under_meaning")))
    sections = [Worked("perplexity-tokens", _t(lang, "tokens_title"), steps),
                Worked("perplexity-summary", _t(lang, "summary_title"), summary, notes)]
    data = {"model": model.name, "per_token": data_tokens,
            **{k: v for k, v in result.figures().items() if k not in ("model", "split")}}
    return Worked("perplexity", _t(lang, "title", model=model.name, n=corpus.n_sentences), [], [], data, sections)
