"""Retrain the offline space on a live catalog: always a *candidate*, never a downgrade.

The model code is in ``offline_model`` (no ORM). This module gathers the catalog's products,
splits them by product (80% train, 10% validation for early stopping and head calibration,
10% held out; :func:`splits`), trains a candidate space with the seller-given category (and the colour a title
names) as supervised labels, fits its calibrated heads, and then measures the candidate and the
active space **side by side on the held-out products**:

- title → photo nDCG@10 (each held-out title should find its own product's photos);
- photo → photo P@10 by category;
- item-type accuracy: the space's item-type attribute of the held-out photos against their
  catalog category.

The candidate is activated only when it wins (a higher mean of the three, and no measure worse
by more than ``TOLERANCE``); the report is printed and kept in the space's ``notes``. So the
seller of a 300-item catalog keeps the shipped model's quality unless training really helps.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from catalog.images import decode_rgb
from catalog.models import ProductImage
from visualsearch.attributes import TAXONOMY, attributes_score, colour_named
from visualsearch.heads import heads_load
from visualsearch.models import EmbeddingSpace
from visualsearch.offline_model import checkpoint_train, product_text
from visualsearch.reindexing import space_reindex
from visualsearch.spaces import embedder_for, space_activate, space_active, space_register

TOLERANCE = 0.01
MEASURES = ("title_photo_ndcg10", "photo_p10_category", "item_type_accuracy")


@dataclass
class CatalogItem:
    image: object  # PIL image
    text: str
    product_id: int
    category: str | None
    colour: str | None
    title: str | None = None  # the product title alone (``text`` adds the category)


def splits(product_ids) -> dict[int, str]:
    """{product id: 'train' | 'val' | 'holdout'}: products ordered by a hash of their id, the
    first 10% (at least 2) held out, the next 10% (at least 2) validation, the rest training,
    so every part has products however small the catalog (from 6 products on)."""
    ordered = sorted(set(product_ids), key=lambda pid: (zlib.crc32(f"product-{pid}".encode()), pid))
    n = max(2, len(ordered) // 10) if len(ordered) >= 6 else 0
    return {
        pid: "holdout" if i < n else "val" if i < 2 * n else "train"
        for i, pid in enumerate(ordered)
    }


def catalog_training_items(*, limit: int | None = None) -> list[CatalogItem]:
    """Every catalog photo of a non-merged product with its title, category and the colour its
    title names (one of the shipped colour labels), if any."""

    colours = list(TAXONOMY["colour"]["labels"])
    images = (
        ProductImage.objects.exclude(product__status="merged")
        .select_related("product", "product__category")
        .order_by("pk")
    )
    items = []
    for image in images[:limit] if limit else images:
        with image.file.open("rb") as handle:
            picture = decode_rgb(handle.read())
        product = image.product
        category = product.category.name if product.category else None
        items.append(
            CatalogItem(
                image=picture,
                text=product_text(product.title, category),
                product_id=product.pk,
                category=category,
                colour=colour_named(product.title, colours),
                title=product.title,
            )
        )
    return items


def _ndcg_own(query_vectors, gallery_vectors, query_products, gallery_products, k=10) -> float:
    """Mean nDCG@k of each query finding the gallery rows of its own product."""
    gallery_products = np.asarray(gallery_products)
    scores = []
    for vector, product in zip(query_vectors, query_products, strict=True):
        order = np.argsort(-(gallery_vectors @ vector), kind="stable")[:k]
        gains = (gallery_products[order] == product).astype(float)
        n_rel = int((gallery_products == product).sum())
        ideal = sum(1 / np.log2(i + 2) for i in range(min(k, n_rel)))
        dcg = float((gains / np.log2(np.arange(2, len(order) + 2))).sum())
        scores.append(dcg / ideal if ideal else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def _p10_by_label(vectors, labels, k=10) -> float:
    labels = np.asarray(labels, dtype=object)
    hits = []
    for i in range(len(vectors)):
        sims = vectors @ vectors[i]
        sims[i] = -np.inf
        top = np.argsort(-sims, kind="stable")[: min(k, len(vectors) - 1)]
        if len(top):
            hits.append(float((labels[top] == labels[i]).mean()))
    return float(np.mean(hits)) if hits else 0.0


def space_evaluate(*, space: EmbeddingSpace, items: list[CatalogItem]) -> dict[str, float]:
    """The three measures of ``space`` on ``items`` (held-out catalog photos), through the same
    embedder and attribute scoring that search uses."""

    embedder = embedder_for(space)
    image_vectors = embedder.encode_images([item.image for item in items])
    products = [item.product_id for item in items]
    first = {}
    for row, item in enumerate(items):
        first.setdefault(item.product_id, row)
    titles = embedder.encode_texts([items[row].text for row in first.values()])
    scored = attributes_score(image_vectors, embedder, top_k=1, heads=heads_load(space.pretrained))
    known = [(s, item) for s, item in zip(scored, items, strict=True) if item.category]
    accuracy = (
        float(
            np.mean(
                [
                    "category" in s and s["category"][0][0] == item.category.strip().lower()
                    for s, item in known
                ]
            )
        )
        if known
        else 0.0
    )
    return {
        "title_photo_ndcg10": _ndcg_own(titles, image_vectors, list(first), products),
        "photo_p10_category": _p10_by_label(image_vectors, [i.category for i in items]),
        "item_type_accuracy": accuracy,
    }


def candidate_wins(candidate: dict[str, float], active: dict[str, float]) -> bool:
    """Higher mean of the measures, and none worse than the active space's by > TOLERANCE."""
    mean = np.mean([candidate[m] for m in MEASURES]) - np.mean([active[m] for m in MEASURES])
    return bool(mean > 0 and all(candidate[m] >= active[m] - TOLERANCE for m in MEASURES))


def space_train(
    *,
    name: str,
    items: list[CatalogItem],
    max_seconds: float,
    seed: int = 0,
    activate: bool = False,
    progress: bool = True,
    out=print,
) -> EmbeddingSpace:
    """Train a candidate space on ``items``, register it, compare it with the active space on
    the held-out products and, with ``activate``, backfill and activate it only if it wins.
    The comparison is stored in ``space.notes["comparison"]``."""

    parts = {"train": [], "val": [], "holdout": []}
    part_of = splits(item.product_id for item in items)
    for item in items:
        parts[part_of[item.product_id]].append(item)
    if len(parts["train"]) < 10 or len(parts["val"]) < 2:
        raise ValueError(
            f"need at least 10 training and 2 validation photos, got "
            f"{len(parts['train'])} and {len(parts['val'])} from {len(items)} photos"
        )
    result = checkpoint_train(
        items=[(i.image, i.text) for i in parts["train"]],
        val_items=[(i.image, i.text) for i in parts["val"]],
        labels={
            "category": ([i.category for i in parts["train"]], [i.category for i in parts["val"]]),
            "colour": ([i.colour for i in parts["train"]], [i.colour for i in parts["val"]]),
        },
        # the category head reads titles as the shipped heads do; the colour labels come
        # from the titles, so fusing them there would check the labels against their source
        titles=([i.title for i in parts["train"]], [i.title for i in parts["val"]]),
        title_facets=("category",),
        out_dir=Path(settings.MODELS_DIR) / name,
        max_seconds=max_seconds,
        seed=seed,
        progress=progress,
    )
    notes = {
        "source": "catalog",
        "trained_on": len(parts["train"]),
        "metrics": _jsonable(result.metrics),
    }
    space = space_register(
        name=name,
        architecture=result.architecture,
        pretrained=str(result.checkpoint_path),
        dimension=result.dim,
        notes=notes,
    )
    active = space_active()
    comparison: dict = {"holdout_photos": len(parts["holdout"])}
    if parts["holdout"]:
        comparison["candidate"] = space_evaluate(space=space, items=parts["holdout"])
        if active is not None and active.pk != space.pk:
            comparison["active"] = {"name": active.name} | space_evaluate(
                space=active, items=parts["holdout"]
            )
    if "active" in comparison:
        wins = candidate_wins(comparison["candidate"], comparison["active"])
    else:
        wins = bool(parts["holdout"]) or active is None
    comparison["wins"] = wins
    space.notes = {**notes, "comparison": comparison}
    space.save(update_fields=["notes", "updated_at"])
    out(comparison_report(name=name, comparison=comparison))
    if activate and wins:
        space_reindex(space=space)
        space = space_activate(name=name)
    return space


def comparison_report(*, name: str, comparison: dict) -> str:
    lines = [f"candidate {name} on {comparison['holdout_photos']} held-out catalog photos:"]
    active = comparison.get("active")
    for measure in MEASURES:
        cand = comparison.get("candidate", {}).get(measure)
        line = f"  {measure:20s} candidate {cand:.3f}" if cand is not None else f"  {measure}: -"
        if active:
            line += f"  active ({active['name']}) {active[measure]:.3f}"
        lines.append(line)
    verdict = "wins: activated if asked" if comparison["wins"] else "loses: not activated"
    lines.append(f"  → the candidate {verdict}")
    return "\n".join(lines)


def _jsonable(metrics: dict) -> dict:
    return {k: (float(v) if isinstance(v, int | float) else str(v)) for k, v in metrics.items()}
