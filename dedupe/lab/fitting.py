"""Fitting the scoring model: logistic regression, Platt calibration, threshold (lab only).

Product code scores with `dedupe.scoring` and never imports this module; the management
commands (`dedupe_eval`, `dedupe_train`) reach it.
"""

from __future__ import annotations

import numpy as np

from dedupe.comparison import PairSignals
from dedupe.scoring import LinearModel, feature_matrix, feature_names


def fit(
    *, pairs_signals: list[PairSignals], labels: list[int], c: float = 1.0, seed: int = 0
) -> LinearModel:
    """Fit the standardised logistic regression on labelled pairs (1 = duplicate)."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    x = feature_matrix(pairs_signals)
    y = np.asarray(labels, dtype=int)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    clf = LogisticRegression(C=c, max_iter=5000, random_state=seed)
    clf.fit((x - mean) / scale, y)
    return LinearModel(
        feature_names=feature_names(),
        mean=mean.tolist(),
        scale=scale.tolist(),
        coef=clf.coef_[0].tolist(),
        intercept=float(clf.intercept_[0]),
    )


def fit_from_signals(rows: list[dict | PairSignals], labels: list[int]) -> LinearModel:
    """Entry point for training from stored moderator decisions (PairSignals dicts + 0/1)."""
    sigs = [r if isinstance(r, PairSignals) else PairSignals.from_dict(r) for r in rows]
    return fit(pairs_signals=sigs, labels=labels)


def calibrate(
    *, model: LinearModel, pairs_signals: list[PairSignals], labels: list[int]
) -> LinearModel:
    """Platt-scale on held-out pairs and fold a*logit+b into the coefficients."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    z = model.logit(feature_matrix(pairs_signals)).reshape(-1, 1)
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(z, np.asarray(labels, dtype=int))
    a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    return LinearModel(
        feature_names=model.feature_names,
        mean=model.mean,
        scale=model.scale,
        coef=[a * c for c in model.coef],
        intercept=a * model.intercept + b,
        threshold=model.threshold,
        meta={**model.meta, "platt_a": a, "platt_b": b},
    )


def best_threshold(*, probs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Threshold maximising F1 on the given (validation) pairs; returns (threshold, f1)."""
    best_t, best_f = 0.5, -1.0
    for t in np.unique(np.round(probs, 4)):
        pred = probs >= t
        tp = float((pred & (labels == 1)).sum())
        f = 2 * tp / max(pred.sum() + (labels == 1).sum(), 1)
        if f > best_f:
            best_t, best_f = float(t), f
    return best_t, best_f
