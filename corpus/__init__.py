"""The text layer: sentences in, one flat id array out.

A tour (every model in perplex consumes the shape at the end):

>>> from perplex.corpus import Vocabulary, encode
>>> train = [["the", "cat", "sat"], ["the", "dog"]]
>>> vocab = Vocabulary.build(train)
>>> vocab.tokens[:4]          # </s> and <unk> first, then by frequency
['</s>', '<unk>', 'the', 'cat']
>>> enc = encode([["the", "bird"]], vocab)
>>> enc.ids.tolist(), enc.offsets.tolist(), enc.oov.tolist()
([2, 1, 0], [0, 3], [False, True, False])
"""

from perplex.corpus.datasets import Splits, load_splits, load_ptb, split_sentences
from perplex.corpus.encoded import EncodedCorpus, encode
from perplex.corpus.text import read_sentences, tokenize_raw
from perplex.corpus.vocabulary import BOS, EOS, UNK, Vocabulary

__all__ = [
    "BOS", "EOS", "UNK", "Vocabulary", "EncodedCorpus", "encode", "read_sentences",
    "tokenize_raw", "Splits", "load_splits", "load_ptb", "split_sentences",
]
