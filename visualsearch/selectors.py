"""Reads about embeddings."""

from __future__ import annotations

from catalog.models import Product, ProductImage
from visualsearch.models import EmbeddingFailure, EmbeddingSpace, ImageEmbedding, TitleEmbedding


def embeddings_missing(*, space: EmbeddingSpace) -> tuple[list[int], list[int]]:
    """Image ids with neither a vector nor a permanent failure, and product ids with no title
    vector, in ``space``."""
    image_ids = list(
        ProductImage.objects.exclude(
            pk__in=ImageEmbedding.objects.filter(space=space).values("image_id")
        )
        .exclude(
            pk__in=EmbeddingFailure.objects.filter(space=space, permanent=True).values("image_id")
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    product_ids = list(
        Product.objects.exclude(
            pk__in=TitleEmbedding.objects.filter(space=space).values("product_id")
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return image_ids, product_ids


def image_embedding_status(*, image: ProductImage, space: EmbeddingSpace | None) -> tuple[str, str]:
    """('done' | 'pending' | 'failed', reason) for the seller dashboard."""
    if space is None:
        return "pending", "no active embedding space"
    if ImageEmbedding.objects.filter(image=image, space=space).exists():
        return "done", ""
    failure = EmbeddingFailure.objects.filter(image=image, space=space).first()
    if failure is not None:
        return "failed", failure.reason
    return "pending", ""
