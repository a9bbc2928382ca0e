"""Word embeddings: skip-gram with negative sampling and GloVe, trained on perplex corpora.

A tour (tiny corpus; the PTB commands are in the README):

>>> from perplex.corpus import Vocabulary, encode
>>> from perplex.embeddings import SGNS, SGNSConfig, most_similar
>>> sents = [["the", "cat", "sat"], ["the", "dog", "sat"]] * 100
>>> vocab = Vocabulary.build(sents)
>>> model = SGNS(SGNSConfig(dim=10, window=2, epochs=2, workers=1)).fit(encode(sents, vocab))
>>> kv = model.keyed_vectors()                      # a gensim KeyedVectors
>>> len(kv.index_to_key), kv.vector_size
(6, 10)
>>> [w for w, _ in most_similar(kv, "cat", topn=5)]  # doctest: +SKIP
['dog', ...]

Modules, one job each:

* :mod:`embeddings.sgns` and :mod:`embeddings.glove`: the trainers (torch, batched);
  :mod:`embeddings.gensim_backend`: gensim's skip-gram with the same settings;
  :mod:`embeddings.config`: their settings; :mod:`embeddings.parallel`: Hogwild workers.
* :mod:`embeddings.vectors`: word2vec text/binary and GloVe files <-> gensim KeyedVectors.
* :mod:`embeddings.queries`: neighbours and analogies (3CosAdd, 3CosMul).
* :mod:`embeddings.evaluation`: Google analogies, WordSim353, SimLex-999.
* :mod:`embeddings.language_model`: both methods as next-word models for ``eval/``.
* :mod:`embeddings.plot`: a PCA map as PNG.  :mod:`embeddings.cli`: the commands.
"""

from perplex.embeddings.config import GloVeConfig, SGNSConfig
from perplex.embeddings.evaluation import evaluate_all, evaluate_analogies, evaluate_word_pairs
from perplex.embeddings.glove import GloVe, cooccurrence
from perplex.embeddings.language_model import BilinearNextWordModel, glove_language_model, sgns_language_model
from perplex.embeddings.queries import analogy, most_similar
from perplex.embeddings.sgns import SGNS
from perplex.embeddings.vectors import load_vectors, save_vectors, to_keyed_vectors

__all__ = [
    "SGNS", "SGNSConfig", "GloVe", "GloVeConfig", "cooccurrence", "load_vectors", "save_vectors",
    "to_keyed_vectors", "most_similar", "analogy", "evaluate_all", "evaluate_analogies", "evaluate_word_pairs",
    "BilinearNextWordModel", "sgns_language_model", "glove_language_model",
]
