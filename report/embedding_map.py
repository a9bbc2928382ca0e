"""The searchable embedding map: the most frequent words at their 2-D PCA places, each with
its nearest neighbours by cosine over the whole vocabulary (what ``perplex similar`` gives),
for the report page's search box."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from perplex.report.document import Interactive

MAP_WORDS = 5000  # words placed on the map and searchable (the most frequent)
NEIGHBOURS = 10
LABELLED = 40  # the most frequent words are labelled before any search


def embedding_map(kv, vectors: Path, words: int = MAP_WORDS, topn: int = NEIGHBOURS) -> Interactive:
    """The map of ``kv``'s ``words`` most frequent words (markers and all-zero vectors left
    out, as in the PNG map) and each one's ``topn`` neighbours; ``vectors`` is the file they
    were read from, named in the page so the reader can ask the command line the same."""
    from perplex.embeddings.plot import pca_2d, pick_words
    from perplex.embeddings.queries import nearest, unit_vectors, zero_rows

    unit = unit_vectors(kv)
    chosen = pick_words(kv, top=words)
    rows = np.array([kv.key_to_index[w] for w in chosen], np.int64)
    xy = pca_2d(unit[rows])
    # Scaled into [0, 1] (the aspect kept) so that 4 decimals place every word finely enough to zoom.
    xy = (xy - xy.min(axis=0)) / max(float(np.ptp(xy, axis=0).max()), 1e-12)
    best, cosines = nearest(unit, zero_rows(unit), rows, topn)
    # Neighbours off the map are listed after the map's words (they have no place to show).
    place = {int(r): i for i, r in enumerate(rows)}
    names = list(chosen)
    for j in np.unique(best):
        if int(j) not in place:
            place[int(j)] = len(names)
            names.append(kv.index_to_key[j])
    neighbours = [[[place[int(j)], round(float(c), 4)] for j, c in zip(js, cs)] for js, cs in zip(best, cosines)]
    data = {"words": names, "xy": np.round(xy, 4).tolist(), "neighbours": neighbours,
            "labelled": min(LABELLED, len(chosen)), "vectors": str(vectors)}
    return Interactive("map", data, f"a search box finds any of the {len(chosen):,} most frequent words on a 2-D "
                                    f"PCA map of them all and lists its {topn} nearest neighbours by cosine similarity")
