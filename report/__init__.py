"""The comparison report: every model of the ladder on one page.

``perplex report`` runs the pipeline step by step (n-grams, and the
embedding and Transformer models where present), caches each step's results
under ``OUT/cache`` keyed by the data and the settings, and writes
``OUT/report.md`` and a self-contained ``OUT/report.html`` (plots embedded).
"""
