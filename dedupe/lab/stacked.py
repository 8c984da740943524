"""Stacked photo terms: the photo terms refitted with the text model's logit as a fixed offset.

`image_evidence` fits the photo terms apart from the words (naive Bayes). Two listings of one
product line with the same title, shot the same way, then get a large text logit (an identical
title nearly always is a duplicate in the text benchmarks) and a photo log-LR near 0, so they
score as duplicates. Here the same photo terms (copy cosine, colour similarity, pHash/64,
aligned correlation as Fisher's z, and the photos-present intercept) are fitted by logistic
regression *given* the text logit: logit = text logit (fixed) + photo terms. The text terms are
not touched, so pairs without photos (the text benchmarks) score exactly as before.

With ``--colour-labels`` two more photo terms sit beside them: whether the photos' stored
colour labels conflict or agree (`comparison.photo_colour_state`). Each photo's label is what
the product stores for it: the shipped space's calibrated colour head
(`visualsearch.services.attributes_top`), unknown under `settings.ATTRIBUTE_MIN_CONFIDENCE`
(`photo_colours`). The same fit without them is then reported beside it, in the same run. On
these pairs the labels added nothing (docs/benchmarks.md, "Photos' colour labels"), so the
shipped model was fitted without them and their terms are 0.

Labelled pairs, all from the fashion set's train split (the demo catalog comes from the test
split), listed as `catalog.lab.demo` lists the demo's products and compared by the scan's own
code (`dedupe.listings.fingerprints_compute`, `dedupe.comparison.pair_signals` through
`dedupe.lab.evaluation.signals_for`):

- positives: a photo and its simulated re-listing (`image_copy.relisted`) by another seller,
  the title reworded (`demo.reword`), the price moved by up to ±4 %;
- negatives: listings that share a title (the set's colour and design variants, one seller per
  title as in the demo) and each photo's five nearest other photos, with their real titles.

The train split is split again 80/20 by id: the fit sees the first part, the report the second.

    python manage.py dedupe_train --image-evidence ../shared/data/fashion_product_images_small \
        --stacked
"""

from __future__ import annotations

import csv
import hashlib
import random
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
from PIL import Image

from dedupe import image_copy
from dedupe.comparison import Listing, PairSignals
from dedupe.lab.image_evidence import (
    FEATURES,
    PHOTO_LABEL_TERMS,
    EvidenceFit,
    evidence_fold,
    nearest_pairs,
)
from dedupe.scoring import LinearModel, feature_matrix, feature_names
from visualsearch.lab.evaluation import split_ids

HOW = (
    "logistic regression over (copy cosine, colour similarity, pHash/64, aligned grey-level "
    "correlation, the photos' colour labels conflict / agree) plus a photos-present intercept, "
    "with the text model's logit as a fixed "
    "offset (stacked), on fashion train-split pairs: photos vs their simulated re-listings with "
    "reworded titles, against same-title variants and nearest photos; see dedupe/lab/stacked.py"
)
KINDS = ("relisting", "same_title", "nearest")
TERMS = (*FEATURES, *PHOTO_LABEL_TERMS)  # the stacked fit's terms, in order


# ----------------------------------------------------------------------------- the fit (pure)


def photo_columns(terms: tuple[str, ...] = TERMS) -> list[int]:
    """Where the photo terms sit in the model's feature vector."""
    names = feature_names()
    return [names.index(name) for name in terms]


def text_offset(*, model: LinearModel, x: np.ndarray) -> np.ndarray:
    """The model's logit with every photo term zeroed: what the words (and price, brand...) say."""
    text_only = evidence_fold(model=model, fit=EvidenceFit(coef=[0.0] * len(FEATURES), intercept=0))
    return text_only.logit(x)


def offset_fit(
    *,
    x: np.ndarray,
    offset: np.ndarray,
    y: np.ndarray,
    l2: float = 1.0,
    balanced: bool = True,
    names: tuple[str, ...] = TERMS,
) -> EvidenceFit:
    """Logistic regression of ``y`` on ``x`` plus an intercept, with ``offset`` added to the
    logit and not fitted: Newton's method with a halving line search on the (L2-penalised,
    intercept unpenalised) log-loss, which is convex, so the answer does not depend on a start.

    ``balanced``: each class weighs half, as in `image_evidence.evidence_fit`, so the fit does not
    depend on how many negatives per photo were drawn. ``names``: the model features that the
    columns of ``x`` are.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.shape[1] != len(names):
        raise ValueError(f"{x.shape[1]} columns for {len(names)} terms {names}")
    y = np.asarray(y, dtype=np.float64)
    offset = np.asarray(offset, dtype=np.float64)
    design = np.hstack([x, np.ones((len(x), 1))])
    weight = np.ones(len(y))
    if balanced:
        positives = max(y.sum(), 1.0)
        weight = np.where(
            y == 1, len(y) / (2 * positives), len(y) / (2 * max(len(y) - positives, 1))
        )
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0

    def loss(w: np.ndarray) -> float:
        z = offset + design @ w
        return float((weight * (np.logaddexp(0, z) - y * z)).sum() + 0.5 * (penalty * w * w).sum())

    w = np.zeros(design.shape[1])
    current = loss(w)
    for _ in range(100):
        p = 1 / (1 + np.exp(-np.clip(offset + design @ w, -50, 50)))
        grad = design.T @ (weight * (p - y)) + penalty * w
        hess = (design * (weight * p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while t > 1e-6 and loss(w - t * step) > current:
            t /= 2
        w, previous = w - t * step, current
        current = loss(w)
        if previous - current < 1e-10 * max(1.0, abs(current)):
            break
    return EvidenceFit(coef=w[:-1].tolist(), intercept=float(w[-1]), how=HOW, names=tuple(names))


def stacked_report(
    *, model: LinearModel, x: np.ndarray, y: np.ndarray, kinds: list[str], threshold: float
) -> dict:
    """AUC of the model's probability, and the share of each kind of pair at or above
    ``threshold`` (the review queue's)."""
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    p = model.proba(x)
    kinds_ = np.asarray(kinds)
    out = {"auc": round(float(roc_auc_score(y, p)), 4)}
    for kind in KINDS:
        mine = p[kinds_ == kind]
        out[f"{kind}_above"] = round(float((mine >= threshold).mean()), 4) if len(mine) else None
        out[f"{kind}_pairs"] = len(mine)
    return out


def label_states(*, x: np.ndarray, kinds: list[str]) -> dict:
    """Per kind of pair, the share whose photos' colour labels conflict, agree or are unknown."""
    conflict, agree = (x[:, i] for i in photo_columns(PHOTO_LABEL_TERMS))
    kinds_ = np.asarray(kinds)
    out = {}
    for kind in KINDS:
        mine = kinds_ == kind
        if mine.any():
            c, a = float(conflict[mine].mean()), float(agree[mine].mean())
            out[kind] = {"conflict": round(c, 4), "agree": round(a, 4),
                         "unknown": round(1 - c - a, 4)}  # fmt: skip
    return out


# -------------------------------------------------------------------- the pairs (fashion set)


@dataclass
class FashionRow:
    id: int
    row: dict
    path: Path


def _rows(data_dir: Path) -> list[FashionRow]:
    with open(data_dir / "styles.csv", newline="", encoding="utf-8") as handle:
        rows = [FashionRow(int(r["id"]), r, data_dir / r["image"]) for r in csv.DictReader(handle)]
    return sorted((r for r in rows if r.path.is_file()), key=lambda r: r.id)


def fit_and_report_ids(data_dir: Path, *, seed: int = 0) -> tuple[set, set]:
    """The train split's ids (never the test split, which the demo comes from), split again
    80/20 by id: (fitted on, reported on)."""
    train, _test = split_ids([r.id for r in _rows(data_dir)], seed=seed)
    return split_ids(sorted(train), seed=seed)


def _listing(row: dict, *, sha: str) -> Listing:
    """A fashion row as `seed_demo` lists it (`catalog.lab.demo.demo_plan`)."""
    from catalog.importing import fashion_price  # noqa: PLC0415
    from catalog.lab import demo  # noqa: PLC0415

    title = row["productDisplayName"].strip()
    parts = (row["masterCategory"], row["subCategory"], row["articleType"])
    return Listing(
        title=title,
        description=demo._description(row),
        brand=demo.fashion_brand(title),
        category=" > ".join(p.strip() for p in parts if p.strip()),
        price=float(fashion_price(row["id"], row["masterCategory"])),
        currency="EUR",
        seller_id=demo._seller_of(title),
        image_sha256=[sha],
    )


def _relisting(original: Listing, rng: random.Random) -> Listing:
    """Another seller's listing of the same item, worded and priced as the demo's re-listings."""
    from catalog.lab import demo  # noqa: PLC0415

    price = Decimal(str(original.price)) * Decimal(str(round(rng.uniform(0.96, 1.04), 4)))
    others = [name for name, _ in demo.SELLERS if name != original.seller_id]
    return Listing(
        title=demo.reword(original.title, original.brand, rng),
        description=f"Barely used, as new. {original.description}",
        brand=original.brand,
        category=original.category,
        price=float(price.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
        currency=original.currency,
        seller_id=rng.choice(others),
    )


def photo_colours(images: list[Image.Image], *, batch: int = 64) -> list[str | None]:
    """Each photo's colour label as the product stores and reads it: the shipped space's
    calibrated colour head (`visualsearch.services.attributes_top`), None (unknown) under
    ``settings.ATTRIBUTE_MIN_CONFIDENCE`` as `visualsearch.selectors.product_attributes` reads it.
    """
    from django.conf import settings  # noqa: PLC0415
    from tqdm import tqdm  # noqa: PLC0415

    from visualsearch import default_space  # noqa: PLC0415
    from visualsearch.embedders import get_embedder, images_encode  # noqa: PLC0415
    from visualsearch.offline_model import architecture_for  # noqa: PLC0415
    from visualsearch.services import attributes_top  # noqa: PLC0415

    checkpoint = str(default_space.default_space_assemble())
    embedder = get_embedder(
        architecture=architecture_for(*default_space.shipped_towers()), pretrained=checkpoint
    )
    floor = float(settings.ATTRIBUTE_MIN_CONFIDENCE)
    out: list[str | None] = []
    for start in tqdm(range(0, len(images), batch), desc="photo colours", unit="batch"):
        vectors, _raw = images_encode(embedder, images[start : start + batch])
        for row in attributes_top(vectors=vectors, embedder=embedder, pretrained=checkpoint):
            value, confidence = row.get("colour", (None, 0.0))
            out.append(value if confidence >= floor else None)
    return out


def fashion_pairs(
    *, data_dir: Path, ids: set, photos: int, seed: int = 0, colours: bool = False, log=print
):
    """(pairs, labels, kinds) among the products with ``ids``: ``photos`` of them re-listed, every
    same-title pair, and each photo's nearest other photos. ``colours``: give each listing its
    photo's colour label (`photo_colours`), as the scan does."""
    from dedupe.listings import fingerprints_compute, listing_photo_fields  # noqa: PLC0415

    rows = [r for r in _rows(data_dir) if r.id in ids]
    rng = random.Random(seed)
    rng.shuffle(rows)
    by_title: dict[str, list[int]] = {}
    for index, r in enumerate(rows):
        by_title.setdefault(r.row["productDisplayName"].strip().lower(), []).append(index)
    relisted = set(range(min(photos, len(rows))))
    grouped = {i for members in by_title.values() if len(members) > 1 for i in members}
    keep = sorted(relisted | grouped)
    log(f"{len(keep)} photos ({len(relisted)} re-listed, {len(grouped)} in title groups) ...")
    images, originals = [], []
    for i in keep:
        content = rows[i].path.read_bytes()
        with Image.open(rows[i].path) as opened:
            images.append(opened.convert("RGB"))
        originals.append(_listing(rows[i].row, sha=hashlib.sha256(content).hexdigest()))
    position = {i: k for k, i in enumerate(keep)}
    copies, copy_images = [], []
    for i in sorted(relisted):
        image = image_copy.relisted(images[position[i]], random.Random(rng.random()))
        copy = _relisting(originals[position[i]], rng)
        copy.image_sha256 = [hashlib.sha256(image.tobytes()).hexdigest()]
        copies.append((position[i], copy))
        copy_images.append(image)
    for listing, found in zip(originals, fingerprints_compute(images), strict=True):
        for name, value in listing_photo_fields([found]).items():
            setattr(listing, name, value)
    for (_k, copy), found in zip(copies, fingerprints_compute(copy_images), strict=True):
        for name, value in listing_photo_fields([found]).items():
            setattr(copy, name, value)
    if colours:
        labels = photo_colours(images + copy_images)
        listed = [*originals, *(copy for _k, copy in copies)]
        for listing, colour in zip(listed, labels, strict=True):
            listing.photo_colour = colour
    pairs, labels, kinds = [], [], []
    for k, copy in copies:
        pairs.append((originals[k], copy))
        labels.append(1)
        kinds.append("relisting")
    same = {
        (position[a], position[b])
        for members in by_title.values() for a in members for b in members if a < b
    }  # fmt: skip
    same = {(min(a, b), max(a, b)) for a, b in same}
    near = nearest_pairs(np.vstack([o.image_copy_vecs for o in originals]))
    for kind, found in (("same_title", same), ("nearest", near - same)):
        for a, b in sorted(found):
            if originals[a].image_sha256 == originals[b].image_sha256:
                continue  # the same file twice is a duplicate; the demo keeps such photos once
            pairs.append((originals[a], originals[b]))
            labels.append(0)
            kinds.append(kind)
    return pairs, labels, kinds


def pair_table(*, data_dir: Path, ids: set, photos: int, seed: int, colours: bool, log=print):
    """(feature matrix, labels, kinds) of the pairs, signals computed as the scan computes them."""
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    from dedupe.lab.evaluation import signals_for  # noqa: PLC0415

    pairs, labels, kinds = fashion_pairs(
        data_dir=data_dir, ids=ids, photos=photos, seed=seed, colours=colours, log=log
    )
    with threadpool_limits(limits=1, user_api="blas"):  # as the scan scores pairs
        signals: list[PairSignals] = signals_for(pairs)
    return feature_matrix(signals), np.asarray(labels, dtype=int), kinds


def stacked_from_photos(
    *, model: LinearModel, data_dir: Path, photos: int = 1500, held_out: int = 500,
    seed: int = 0, threshold: float = 0.5, colour_labels: bool = False, log=print,
) -> tuple[EvidenceFit, LinearModel]:  # fmt: skip
    """Fit the stacked photo terms against ``model``'s text logit; returns the fit and the
    model with them folded in. The report compares, on the held-out part of the train split,
    the text terms alone, ``model`` as it is, and the stacked model.

    ``colour_labels``: also give the listings their photos' colour labels and fit the two
    colour-label terms; the report then adds the same fit without them and how often each
    kind of pair's labels conflict."""
    started = time.time()
    fit_ids, report_ids = fit_and_report_ids(data_dir, seed=seed)
    parts = {}
    for name, ids, limit in (("fit", fit_ids, photos), ("held_out", report_ids, held_out)):
        log(f"{name}: pairs among {len(ids)} train-split ids ...")
        parts[name] = pair_table(data_dir=data_dir, ids=ids, photos=limit, seed=seed,
                                 colours=colour_labels, log=log)  # fmt: skip
    x, y, _kinds = parts["fit"]
    offset = text_offset(model=model, x=x)
    terms = TERMS if colour_labels else FEATURES
    # Shipped: classes balanced, as in the naive-Bayes fit (the unweighted fit lost 7 % of the
    # held-out re-listings; docs/benchmarks.md, "Stacked photo terms").
    fit = offset_fit(x=x[:, photo_columns(terms)], offset=offset, y=y, names=terms)
    models = {
        "text_only": evidence_fold(
            model=model, fit=EvidenceFit(coef=[0.0] * len(FEATURES), intercept=0)
        ),
        "before": model,
    }
    report: dict = {"threshold": threshold}
    if colour_labels:
        four = offset_fit(x=x[:, photo_columns(FEATURES)], offset=offset, y=y, names=FEATURES)
        models["stacked_without_colour_labels"] = evidence_fold(model=model, fit=four)
        report["without_colour_labels"] = {
            "coef": dict(zip(FEATURES, four.coef, strict=True)), "intercept": four.intercept,
        }  # fmt: skip
    models["stacked"] = evidence_fold(model=model, fit=fit)
    for name, (xs, ys, kinds) in parts.items():
        report[name] = {
            label: stacked_report(model=m, x=xs, y=ys, kinds=kinds, threshold=threshold)
            for label, m in models.items()
        }
        if colour_labels:
            report[name]["colour_labels"] = label_states(x=xs, kinds=kinds)
    report["seconds"] = round(time.time() - started, 1)
    fit.report = {"data": Path(data_dir).name, **report}
    stacked = evidence_fold(model=model, fit=fit)
    for label, row in report["held_out"].items():
        log(f"held-out {label}: {row}")
    return fit, stacked
