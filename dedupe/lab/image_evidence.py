"""How much the photos say about a pair: an image likelihood ratio fitted on real product photos.

The text benchmarks that fit the scoring model have no photos, so the image terms are fitted
apart, on real photos nobody here took (``../shared/data/fashion_product_images_small``):

- positives: a photo and its simulated re-listing (`image_copy.relisted`);
- negatives: the pairs a scan would actually look at: each photo's five nearest other photos
  by the copy descriptor, and photos that share a title (colour variants of one product).

A class-balanced logistic regression over (copy cosine, colour similarity, pHash distance / 64,
aligned grey-level correlation as Fisher's z) then estimates the log likelihood ratio log P(photos | duplicate) / P(photos | not duplicate).
It is folded into the text model as separate terms (naive Bayes: the photos and the words are
taken as independent evidence), and it is zero when either listing has no photo. Fitted on the
train ids of the 80/20 split by id, reported on the held-out 20%.

    python manage.py dedupe_train --image-evidence ../shared/data/fashion_product_images_small
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from dedupe import image_copy
from dedupe.comparison import phash_distance, phash_hex
from dedupe.scoring import PHOTO_OFFSET_FEATURE as OFFSET_FEATURE
from dedupe.scoring import LinearModel, aligned_feature
from visualsearch.lab.evaluation import load_products, split_ids

FEATURES = ("image_copy_cos", "image_colour_sim", "image_phash_min", "image_aligned_sim")
NEIGHBOURS = 5
# Terms of the text model that the fitted evidence replaces (the old hand-set priors).
REPLACED = ("image_best_cos", "image_best_cos__missing", "image_sha256_match",
            "image_sha256__missing", "image_colour_sim__missing", "image_phash_min__missing",
            "image_aligned_sim__missing")  # fmt: skip
# Photo terms that only a stacked fit sets (`dedupe.lab.stacked`): the states of the photos'
# stored colour labels. Any other fit leaves them at 0.
PHOTO_LABEL_TERMS = ("photo_colour=conflict", "photo_colour=agree")


NAIVE_BAYES = (
    "class-balanced logistic regression over (copy cosine, colour similarity, pHash/64, aligned "
    "grey-level correlation) of real photos vs their simulated re-listings and hard negatives; "
    "its log likelihood ratio is added to the text logit (naive Bayes); see "
    "dedupe/lab/image_evidence.py"
)


@dataclass
class EvidenceFit:
    coef: list[float]
    intercept: float
    report: dict = field(default_factory=dict)
    how: str = NAIVE_BAYES  # how the terms were fitted, recorded in the model's meta
    # the model features the coefficients belong to, in order (the stacked fit adds the photos'
    # colour-label states to these four)
    names: tuple[str, ...] = FEATURES

    def log_lr(self, x: np.ndarray) -> np.ndarray:
        return np.atleast_2d(x) @ np.asarray(self.coef) + self.intercept


def pair_rows(images: list, titles: list[str], *, seed: int, progress: bool = False):
    """(features, labels) for the photos: one positive per photo, hard negatives around it."""
    rng = random.Random(seed)
    copies = [image_copy.relisted(im, random.Random(rng.random())) for im in images]
    vec, col = image_copy.copy_descriptors(images)
    vec_c, col_c = image_copy.copy_descriptors(copies)
    hashes = [phash_hex(im) for im in images]
    hashes_c = [phash_hex(im) for im in copies]
    thumbs = [image_copy.align_thumbnail(im) for im in images]
    thumbs_c = [image_copy.align_thumbnail(im) for im in copies]

    def row(va, ca, ha, ta, vb, cb, hb, tb):
        return [float(va @ vb), image_copy.colour_similarity(ca, cb), phash_distance(ha, hb) / 64.0,
                aligned_feature(image_copy.aligned_similarity(ta, tb))]  # fmt: skip

    x = [
        row(vec[i], col[i], hashes[i], thumbs[i], vec_c[i], col_c[i], hashes_c[i], thumbs_c[i])
        for i in range(len(images))
    ]
    y = [1] * len(images)
    negatives = nearest_pairs(vec)
    by_title: dict[str, list[int]] = {}
    for i, title in enumerate(titles):
        by_title.setdefault(title.strip().lower(), []).append(i)
    for ids in by_title.values():
        negatives |= {(a, b) for a in ids for b in ids if a < b}
    for i, j in sorted(negatives):
        x.append(row(vec[i], col[i], hashes[i], thumbs[i], vec[j], col[j], hashes[j], thumbs[j]))
        y.append(0)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=int)


def nearest_pairs(vectors: np.ndarray, k: int = NEIGHBOURS) -> set[tuple[int, int]]:
    """Row pairs (i < j) where one row is among the other's ``k`` nearest by dot product."""
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    pairs = set()
    for i in range(len(vectors)):
        for j in np.argsort(-sims[i])[:k]:
            pairs.add((min(i, int(j)), max(i, int(j))))
    return pairs


def evidence_fit(x: np.ndarray, y: np.ndarray) -> EvidenceFit:
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    clf = LogisticRegression(class_weight="balanced", C=1.0, max_iter=2000).fit(x, y)
    return EvidenceFit(coef=clf.coef_[0].tolist(), intercept=float(clf.intercept_[0]))


def evidence_report(fit: EvidenceFit, x: np.ndarray, y: np.ndarray) -> dict:
    """Held-out quality: AUC, and at log-LR > 0 the share of copies and of negatives above it."""
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    z = fit.log_lr(x)
    return {
        "auc": round(float(roc_auc_score(y, z)), 4),
        "copies_above_0": round(float((z[y == 1] > 0).mean()), 4),
        "negatives_above_0": round(float((z[y == 0] > 0).mean()), 4),
        "positives": int((y == 1).sum()),
        "negatives": int((y == 0).sum()),
    }


def fashion_photos(data_dir: Path, *, limit: int, seed: int, test: bool):
    """Up to ``limit`` (image, title) of the train (or held-out) ids of the 80/20 split by id."""

    products = load_products(data_dir)
    train, held_out = split_ids([p.id for p in products], seed=seed)
    keep = held_out if test else train
    products = [p for p in products if p.id in keep]
    random.Random(seed).shuffle(products)
    out = []
    for product in products[:limit]:
        with Image.open(product.path) as im:
            out.append((im.convert("RGB"), product.title))
    return out


def evidence_from_photos(
    *, data_dir: Path, train: int = 1500, test: int = 500, seed: int = 0, log=print
) -> EvidenceFit:
    started = time.time()
    parts = {}
    for name, limit, is_test in (("train", train, False), ("test", test, True)):
        photos = fashion_photos(data_dir, limit=limit, seed=seed, test=is_test)
        log(f"{name}: {len(photos)} photos, computing descriptors ...")
        parts[name] = pair_rows([p for p, _ in photos], [t for _, t in photos], seed=seed)
    fit = evidence_fit(*parts["train"])
    fit.report = {
        "data": str(Path(data_dir).name),
        "train": evidence_report(fit, *parts["train"]),
        "held_out": evidence_report(fit, *parts["test"]),
        "seconds": round(time.time() - started, 1),
    }
    log(f"held-out: {fit.report['held_out']}")
    return fit


def evidence_fold(*, model: LinearModel, fit: EvidenceFit) -> LinearModel:
    """The text model plus the image log-LR terms; the old hand-set image terms set to zero.

    Each fitted term enters unstandardised (mean 0, scale 1), so its contribution is coef × value.
    The fit's intercept sits on ``OFFSET_FEATURE`` (``image_copy_cos__missing``) with mean 1:
    its contribution is −intercept × (missing − 1), the intercept when the pair has photos and 0
    when it has none.
    """
    names = model.feature_names
    mean, scale, coef = list(model.mean), list(model.scale), list(model.coef)

    def put(name: str, *, c: float, m: float = 0.0) -> None:
        i = names.index(name)
        mean[i], scale[i], coef[i] = m, 1.0, c

    for name in (*REPLACED, *PHOTO_LABEL_TERMS):
        put(name, c=0.0)
    for name, c in zip(fit.names, fit.coef, strict=True):
        put(name, c=c)
    put(OFFSET_FEATURE, c=-fit.intercept, m=1.0)
    meta = {k: v for k, v in model.meta.items() if k != "image_priors"}
    meta["image_evidence"] = {
        "how": fit.how,
        "coef": dict(zip(fit.names, [round(c, 4) for c in fit.coef], strict=True)),
        "intercept": round(fit.intercept, 4),
        **fit.report,
    }
    return LinearModel(feature_names=names, mean=mean, scale=scale, coef=coef,
                       intercept=model.intercept, threshold=model.threshold, meta=meta)  # fmt: skip


def evidence_carry(*, model: LinearModel, previous_meta: dict) -> LinearModel:
    """Fold the photo terms recorded in a previous model's meta into a text refit.

    The photo terms are fitted apart from the text terms, on photos (`evidence_from_photos`),
    so a text-only refit keeps them unchanged; this re-folds the recorded fit (coefficients
    rounded to 4 decimals) instead of recomputing 4,000 photo descriptors. Stacked photo terms
    (`dedupe.lab.stacked`) were fitted against the old text logit: carried over, they are a
    start, and `dedupe_train --image-evidence DIR --stacked` refits them against the new one.
    """
    recorded = previous_meta["image_evidence"]
    fit = EvidenceFit(
        names=tuple(recorded["coef"]),
        coef=list(recorded["coef"].values()),
        intercept=recorded["intercept"],
        report={k: v for k, v in recorded.items() if k not in ("how", "coef", "intercept")},
        how=recorded.get("how", NAIVE_BAYES),
    )
    return evidence_fold(model=model, fit=fit)
