"""Train the offline space on the catalog and register it as an embedding space.

The model code is in ``offline_model`` (no ORM); this module gathers (image, text) pairs from the
database, holds out a validation share for early stopping, and registers the result so the same
loader as any open_clip model serves it.
"""

from __future__ import annotations

import random
from pathlib import Path

from django.conf import settings

from catalog.images import decode_rgb
from catalog.models import ProductImage
from visualsearch.models import EmbeddingSpace
from visualsearch.spaces import space_activate, space_register


def catalog_training_items(*, limit: int | None = None) -> list[tuple]:
    """(PIL image, text, extra captions) for every catalog image of a non-merged product."""
    from visualsearch.offline_model import attribute_captions, product_text

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
            (
                picture,
                product_text(product.title, category),
                attribute_captions(category=category),
            )
        )
    return items


def space_train(
    *,
    name: str,
    items: list[tuple],
    max_seconds: float,
    seed: int = 0,
    activate: bool = False,
    progress: bool = True,
) -> EmbeddingSpace:
    """Train on ``items`` (90% train, 10% validation for early stopping), save under
    MODELS_DIR/<name>/ and register the space; activate it if asked."""
    from visualsearch.offline_model import train_space

    if len(items) < 10:
        raise ValueError(f"need at least 10 (image, text) pairs to train, got {len(items)}")
    shuffled = items[:]
    random.Random(seed).shuffle(shuffled)
    n_val = max(2, len(shuffled) // 10)
    result = train_space(
        items=shuffled[n_val:], val_items=shuffled[:n_val], out_dir=Path(settings.MODELS_DIR) / name,
        max_seconds=max_seconds, seed=seed, progress=progress,
    )  # fmt: skip
    space = space_register(
        name=name,
        architecture=result.architecture,
        pretrained=str(result.checkpoint_path),
        dimension=result.dim,
        notes={"trained_on": len(items) - n_val, "metrics": _jsonable(result.metrics)},
    )
    if activate:
        space = space_activate(name=name)
    return space


def _jsonable(metrics: dict) -> dict:
    return {k: (float(v) if isinstance(v, int | float) else str(v)) for k, v in metrics.items()}
