"""Hybrid text search: one documented score from three signals.

For a text query q and a product p::

    keyword_norm(p) = s(p) / (s(p) + k)            s = ts_rank_cd (or BM25) score, s >= 0
    score(p) = w_image * cos(text_emb(q), image_emb(p))
             + w_title * cos(minilm(q), minilm(title(p)))
             + w_keyword * keyword_norm(p)

``s/(s+k)`` maps an unbounded rank score into [0, 1) without depending on the other results of the
query, so a product's score does not change when the candidate set does (unlike max-normalising).
Products the keyword search did not return have s = 0. Weights are chosen on a validation split
(``evaluation.choose_fusion_weights``), never on test.

Live search (``visualsearch.search.products_search_hybrid``, text-only queries) applies the same
formula with the active space's text tower for both text_emb(q) and the stored title vectors
(``TitleEmbedding``), s = PostgreSQL ``ts_rank_cd`` on ``Product.search_document``, and weights
from settings ``FUSION_*`` (default: ``DEFAULT_WEIGHTS``). A product with no vector of a kind
counts 0 for that part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FusionWeights:
    image: float = 0.5
    title: float = 0.3
    keyword: float = 0.6
    keyword_k: float = 1.0  # half-saturation of s/(s+k); in the units of the keyword score


DEFAULT_WEIGHTS = FusionWeights()


def keyword_normalise(scores: np.ndarray, *, k: float) -> np.ndarray:
    """s/(s+k): 0 for no keyword match, 0.5 at s = k, towards 1 for strong matches."""
    s = np.clip(np.asarray(scores, dtype=np.float64), 0.0, None)
    return s / (s + k)


def fuse(
    *,
    image_sim: np.ndarray,
    title_sim: np.ndarray,
    keyword: np.ndarray,
    weights: FusionWeights = DEFAULT_WEIGHTS,
) -> np.ndarray:
    """Return the fused score per product (higher is better); see the module formula."""
    image_sim = np.asarray(image_sim, dtype=np.float64)
    title_sim = np.asarray(title_sim, dtype=np.float64)
    return (
        weights.image * image_sim
        + weights.title * title_sim
        + weights.keyword * keyword_normalise(keyword, k=weights.keyword_k)
    )
