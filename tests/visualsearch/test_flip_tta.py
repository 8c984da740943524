"""The mirrored-query lab's measure: P@10 over the other gallery rows."""

import numpy as np

from visualsearch.lab.flip_tta import precision_at_10


def test_precision_at_10_drops_the_query_itself_and_counts_same_type_neighbours():
    rng = np.random.default_rng(0)
    centres = np.eye(4)[:2] * 10
    types = np.array(["shirt"] * 11 + ["shoe"] * 11)
    vectors = np.concatenate([centres[0] + rng.normal(size=(11, 4)) * 0.1,
                              centres[1] + rng.normal(size=(11, 4)) * 0.1])  # fmt: skip
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    # each query has exactly 10 other rows of its type: all of its top 10, never itself
    assert precision_at_10(vectors, vectors, types).tolist() == [1.0] * 22
    # a gallery of the other type's vectors in the same rows finds nothing of the query's type
    swapped = np.concatenate([vectors[11:], vectors[:11]])
    assert precision_at_10(vectors, swapped, types).tolist() == [0.0] * 22
