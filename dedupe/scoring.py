"""Pair signals -> feature vector -> calibrated duplicate probability (pure, no Django).

The model is a standardised logistic regression, because its logit splits exactly into one
contribution per feature (what a moderator sees) and it ships as small readable JSON, so
production scoring needs no pickle. Calibration: the regression is fitted with log-loss, then
a Platt step (a * logit + b) fitted on held-out pairs is folded into the coefficients, so
`score` is the calibrated probability and contributions still sum to its logit.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dedupe.comparison import PairSignals

DEFAULT_MODEL_PATH = Path(__file__).with_name("default_model.json")
# The photo terms' fitted intercept (dedupe.lab.image_evidence) rides on this feature's missing
# indicator; the moderators' pair page shows it as its own row.
PHOTO_OFFSET_FEATURE = "image_copy_cos__missing"

_NUMERIC = (
    "token_set",
    "token_sort",
    "partial",
    "ratio",
    "char3_jaccard",
    "token_jaccard",
    "numeric_jaccard",
    "desc_cross",
    "title_embedding_cos",
    "id_overlap",
    "price_rel_diff",
    "image_best_cos",
    "image_phash_min",
    "image_copy_cos",
    "image_colour_sim",
    "image_aligned_sim",
    "title_tfidf_word",
    "title_tfidf_char",
)
_STATES = {
    "id_state": ("share", "conflict"),
    "price_state": ("known", "unknown"),
    "brand": ("equal", "different"),
    "category": ("equal", "different"),
    "modelno": ("equal", "different"),
    "same_seller": ("equal", "different"),
    "colour_words": ("conflict", "agree"),
    # Agreement on gender, size, pack count or a near model number is no evidence either way
    # (fitted, those rare "agree" terms only learnt which shop writes such words).
    "gender_words": ("conflict",),
    "quantity": ("conflict",),
    "pack_count": ("conflict",),
    "model_number_near": ("conflict",),
    "photo_colour": ("conflict", "agree"),
}


def aligned_feature(similarity: float) -> float:
    """The aligned correlation as the model reads it: Fisher's z (atanh), which spreads out the
    values near 1 where a re-listed photo and a variant shot the same way differ."""
    return float(np.arctanh(np.clip(similarity, -0.999, 0.999)))


def feature_names() -> list[str]:
    names = []
    for n in _NUMERIC:
        names += [n, f"{n}__missing"]
    for k, states in _STATES.items():
        names += [f"{k}={s}" for s in states]
    names += ["image_sha256_match", "image_sha256__missing"]
    names += ["emb_x_id_share", "emb_x_id_conflict", "token_set_x_id_share", "emb_sq"]
    return names


def features(signals: PairSignals) -> np.ndarray:
    """Fixed-order feature vector; every None gets value 0 plus an explicit missing indicator."""
    s = signals
    out: list[float] = []
    for n in _NUMERIC:
        v = getattr(s, n)
        if n == "image_phash_min" and v is not None:
            v = v / 64.0
        if n == "image_aligned_sim" and v is not None:
            v = aligned_feature(v)
        out += [0.0 if v is None else float(v), 1.0 if v is None else 0.0]
    for k, states in _STATES.items():
        out += [1.0 if getattr(s, k) == st else 0.0 for st in states]
    sha = s.image_sha256_match
    out += [1.0 if sha else 0.0, 1.0 if sha is None else 0.0]
    emb = s.title_embedding_cos or 0.0
    share = 1.0 if s.id_state == "share" else 0.0
    conflict = 1.0 if s.id_state == "conflict" else 0.0
    out += [emb * share, emb * conflict, (s.token_set or 0.0) * share, emb * emb]
    return np.asarray(out, dtype=np.float64)


def feature_matrix(signals: list[PairSignals]) -> np.ndarray:
    return np.vstack([features(s) for s in signals]) if signals else np.zeros((0, 0))


@dataclass
class LinearModel:
    """Standardised logistic regression: logit = intercept + sum(coef * (x - mean) / scale)."""

    feature_names: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    threshold: float = 0.5
    meta: dict = field(default_factory=dict)

    def logit(self, x: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(x) - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.coef) + self.intercept

    def proba(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.logit(x), -50, 50)))

    def to_dict(self) -> dict:
        return {
            "kind": "standardised_logistic_regression",
            "feature_names": self.feature_names,
            "mean": self.mean,
            "scale": self.scale,
            "coef": self.coef,
            "intercept": self.intercept,
            "threshold": self.threshold,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, d: dict) -> LinearModel:
        if d["feature_names"] != feature_names():
            raise ValueError("model feature names do not match this code's feature set")
        return cls(
            feature_names=d["feature_names"],
            mean=d["mean"],
            scale=d["scale"],
            coef=d["coef"],
            intercept=d["intercept"],
            threshold=d.get("threshold", 0.5),
            meta=d.get("meta", {}),
        )


def model_save(*, model: LinearModel, path: Path | str) -> None:
    Path(path).write_text(json.dumps(model.to_dict(), indent=1) + "\n")


def model_load(path: Path | str | None = None) -> LinearModel:
    return LinearModel.from_dict(json.loads(Path(path or DEFAULT_MODEL_PATH).read_text()))


_default: LinearModel | None = None


def _model(model: LinearModel | None) -> LinearModel:
    global _default
    if model is not None:
        return model
    if _default is None:
        _default = model_load()
    return _default


def score(signals: PairSignals, model: LinearModel | None = None) -> float:
    """Calibrated probability in [0, 1] that the pair is a duplicate."""
    return float(_model(model).proba(features(signals))[0])


def contributions(
    signals: PairSignals, model: LinearModel | None = None
) -> list[tuple[str, float, float]]:
    """(feature, raw value, contribution to the logit); plus ("intercept", 1, b).

    The contributions sum to the model logit, so log-odds = sum(c for _, _, c in result).
    """
    m = _model(model)
    x = features(signals)
    z = (x - np.asarray(m.mean)) / np.asarray(m.scale)
    contrib = z * np.asarray(m.coef)
    out = [(n, float(v), float(c)) for n, v, c in zip(m.feature_names, x, contrib, strict=True)]
    out.append(("intercept", 1.0, float(m.intercept)))
    return out


def logit_to_prob(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))
