"""The comparison report: every model of the ladder on one page.

``perplex report`` runs the pipeline section by section (:mod:`~perplex.report.ngram_section`,
:mod:`~perplex.report.embedding_section`, :mod:`~perplex.report.transformer_section`), each
model trained by its family's recipe (``perplex.lm.recipe``, ``perplex.embeddings.recipe``,
``perplex.attention.recipe``) exactly as the individual commands train it.  Results are
cached under ``OUT/cache`` keyed by the data and the settings (:mod:`~perplex.report.cache`);
:mod:`~perplex.report.build` assembles the page and writes ``OUT/report.md`` and a
self-contained ``OUT/report.html`` (plots embedded).
"""
