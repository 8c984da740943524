"""Ranking and calibration metrics of ``search_api_eval``. Pure: plain Python and numpy."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np


def precision_at_k(relevant: Sequence[bool], *, k: int) -> float:
    """Share of the first ``k`` results that are relevant; missing results count as misses."""
    if k < 1:
        raise ValueError("k must be at least 1")
    return sum(bool(r) for r in list(relevant)[:k]) / k


def ndcg_at_k(relevant: Sequence[bool], *, n_relevant: int, k: int = 10) -> float:
    """Binary-gain nDCG@k of one ranked list, ``n_relevant`` being how many relevant items exist
    in the gallery (the ideal list puts min(k, n_relevant) of them first). 0 when none exist."""
    if k < 1:
        raise ValueError("k must be at least 1")
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, n_relevant)))
    if ideal == 0:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, r in enumerate(list(relevant)[:k]) if r)
    return min(1.0, dcg / ideal)


def normalised_share(relevant: Sequence[bool], *, n_exist: int, k: int = 10) -> float:
    """Relevant results in the top ``k`` divided by min(k, n_exist): 1.0 when the top ``k``
    holds as many relevant items as the gallery can give. 0 when none exist."""
    best = min(k, n_exist)
    if best <= 0:
        return 0.0
    return min(1.0, sum(bool(r) for r in list(relevant)[:k]) / best)


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], *, bins: int = 10
) -> float:
    """ECE with ``bins`` equal-width confidence bins over [0, 1]: the sample-weighted mean of
    |accuracy − mean confidence| per bin (confidence 1.0 falls in the last bin)."""
    conf = np.asarray(confidences, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    if conf.shape != hit.shape:
        raise ValueError("confidences and correct differ in length")
    if conf.size == 0:
        return 0.0
    if np.any(conf < 0) or np.any(conf > 1) or np.any(np.isnan(conf)):
        raise ValueError("confidences must lie in [0, 1]")
    which = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(hit[mask].mean() - conf[mask].mean())
    return float(min(1.0, total / conf.size))


def pages_repeat(pages: Iterable[Sequence[int]]) -> int:
    """How many result ids on later pages were already shown on an earlier page (or repeat
    within a page)."""
    seen: set[int] = set()
    repeats = 0
    for page in pages:
        for item in page:
            if item in seen:
                repeats += 1
            seen.add(item)
    return repeats


def mean(values: Sequence[float]) -> float | None:
    """The mean, or None for no values (reported as "n/a", never as 0)."""
    return float(np.mean(values)) if len(values) else None


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def paired_standard_error(gains: Sequence[float]) -> float:
    """Standard error of the mean of per-query gains (same queries, two settings); NaN for
    fewer than two. A mean gain inside two of them is noise."""
    if len(gains) < 2:
        return float("nan")
    return float(np.std(np.asarray(gains, dtype=float), ddof=1) / np.sqrt(len(gains)))
