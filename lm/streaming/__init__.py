"""n-gram estimation in bounded memory: the text streamed, n-grams counted in chunks and
spilled to disk as sorted runs, merged, and the model estimated in passes over sorted data.

The model is the in-memory one (:mod:`perplex.lm.kneser_ney`, :mod:`perplex.lm.additive`)
to the last bit; only where the tables live differs.  Entry point: :func:`build_on_disk`.
"""

from perplex.lm.streaming.build import MIN_BUDGET, StreamingStats, build_on_disk

__all__ = ["build_on_disk", "StreamingStats", "MIN_BUDGET"]
