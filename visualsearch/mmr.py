"""Maximal Marginal Relevance: re-rank candidates for relevance and diversity (numpy only)."""

from __future__ import annotations

import numpy as np

from visualsearch.vectors import rows_normalise


def mmr(*, query_sims: np.ndarray, item_vectors: np.ndarray, k: int, diversity: float) -> list[int]:
    """Pick ``min(k, n)`` candidate indices greedily by Maximal Marginal Relevance.

    With λ = ``diversity`` and S the indices picked so far, the next pick is

        argmax_{i ∉ S}  (1 − λ) · sim(q, i) − λ · max_{j ∈ S} sim(i, j)

    where sim(q, i) is ``query_sims[i]`` and sim(i, j) is the cosine similarity of the rows of
    ``item_vectors`` (normalised here). The max term is 0 while S is empty. λ = 0 gives the
    relevance order (ties broken by the lower index); λ = 1 maximises spread only.
    """
    sims = np.asarray(query_sims, dtype=np.float64).reshape(-1)
    n = sims.shape[0]
    k = max(0, min(int(k), n))
    if k == 0:
        return []
    if diversity <= 0:
        return [int(i) for i in np.argsort(-sims, kind="stable")[:k]]
    vectors = rows_normalise(np.asarray(item_vectors).reshape(n, -1)).astype(np.float64)
    redundancy = np.full(n, -np.inf)
    chosen = np.zeros(n, dtype=bool)
    picked: list[int] = []
    for _ in range(k):
        penalty = np.where(np.isfinite(redundancy), redundancy, 0.0)
        score = (1.0 - diversity) * sims - diversity * penalty
        score[chosen] = -np.inf
        best = int(np.argmax(score))
        picked.append(best)
        chosen[best] = True
        redundancy = np.maximum(redundancy, vectors @ vectors[best])
    return picked
