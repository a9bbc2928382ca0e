"""One evaluation for every model (the rules of docs/conventions.md).

A model only has to turn a corpus into one log10-probability per predicted
token; everything users compare is derived here, the same way for n-grams,
embeddings and Transformers:

>>> import numpy as np
>>> from perplex.corpus import Vocabulary, encode
>>> from perplex.eval import UniformModel, evaluate
>>> vocab = Vocabulary.build([["a", "b", "c"]])
>>> result = evaluate(UniformModel(vocab), encode([["a", "b"]], vocab), split="test")
>>> result.tokens, round(result.perplexity, 6)   # a uniform model has perplexity |V|
(3, 5.0)
"""

from perplex.eval.entropy import entropy
from perplex.eval.metrics import Evaluation, evaluate, summarize
from perplex.eval.protocol import DistributionModel, LanguageModel, UniformModel, check_vocabulary
from perplex.eval.compare import interpolate, interpolation_weight, paired_bootstrap
from perplex.eval.records import format_table, to_json

__all__ = [
    "entropy", "Evaluation", "evaluate", "summarize", "LanguageModel", "DistributionModel",
    "UniformModel", "check_vocabulary", "format_table", "to_json", "paired_bootstrap",
    "interpolation_weight", "interpolate",
]
