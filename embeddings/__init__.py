"""Word embeddings: skip-gram with negative sampling and GloVe (placeholder docstring)."""
