"""Reads about embeddings."""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from catalog.models import Product, ProductImage
from visualsearch.models import (
    EmbeddingFailure,
    EmbeddingSpace,
    ImageAttribute,
    ImageEmbedding,
    TitleEmbedding,
)


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


def images_embedding_status(
    *, image_ids: list[int], space: EmbeddingSpace | None
) -> dict[int, dict[str, str]]:
    """{image id: {"status": "done" | "pending" | "failed", "reason"}} in ``space``, for the
    seller's pages; two queries however many images."""
    if space is None:
        return {i: {"status": "pending", "reason": "no active embedding space"} for i in image_ids}
    done = set(
        ImageEmbedding.objects.filter(space=space, image_id__in=image_ids).values_list(
            "image_id", flat=True
        )
    )
    failed = dict(
        EmbeddingFailure.objects.filter(space=space, image_id__in=image_ids)
        .exclude(image_id__in=done)
        .values_list("image_id", "reason")
    )
    out = {}
    for image_id in image_ids:
        if image_id in done:
            out[image_id] = {"status": "done", "reason": ""}
        elif image_id in failed:
            out[image_id] = {"status": "failed", "reason": failed[image_id]}
        else:
            out[image_id] = {"status": "pending", "reason": ""}
    return out


def images_embedded(*, space: EmbeddingSpace) -> list[int]:
    """Image ids that have a vector in ``space``."""
    return list(
        ImageEmbedding.objects.filter(space=space)
        .order_by("image_id")
        .values_list("image_id", flat=True)
    )


def attributes_missing(*, space: EmbeddingSpace) -> list[int]:
    """Image ids that have a vector in ``space`` but no zero-shot attributes yet."""
    return list(
        ImageEmbedding.objects.filter(space=space)
        .exclude(image_id__in=ImageAttribute.objects.filter(space=space).values("image_id"))
        .order_by("image_id")
        .values_list("image_id", flat=True)
    )


# The primary image of product p among those with attributes in space s: catalog photos first,
# then by (position, id). Shared by product_attributes and the search filters so the page, the
# facets and the filters agree on one rule.
PRIMARY_ATTRIBUTES_SQL = (
    "SELECT a.name, a.value, a.confidence FROM visualsearch_imageattribute a "
    "JOIN catalog_productimage i ON i.id = a.image_id "
    "WHERE a.product_id = {product} AND a.space_id = {space} AND a.image_id = ("
    " SELECT a2.image_id FROM visualsearch_imageattribute a2"
    " JOIN catalog_productimage i2 ON i2.id = a2.image_id"
    " WHERE a2.product_id = {product} AND a2.space_id = {space}"
    " ORDER BY (i2.kind <> 'catalog'), i2.position, i2.id LIMIT 1)"
)


def product_attributes(
    *, product_ids: list[int], space: EmbeddingSpace | None, min_confidence: float | None = None
) -> dict[int, dict[str, tuple[str, float]]]:
    """{product id: {facet: (value, confidence)}} from each product's primary image (catalog
    photos first, then by position). Facets under ``min_confidence`` (default
    ``settings.ATTRIBUTE_MIN_CONFIDENCE``) are left out, as if unknown."""
    if space is None or not product_ids:
        return {}
    floor = settings.ATTRIBUTE_MIN_CONFIDENCE if min_confidence is None else min_confidence
    inner = PRIMARY_ATTRIBUTES_SQL.format(product="p.id", space="%s")
    sql = (
        f"SELECT p.id, t.name, t.value, t.confidence FROM catalog_product p "
        f"CROSS JOIN LATERAL ({inner}) t WHERE p.id = ANY(%s) AND t.confidence >= %s "
        f"ORDER BY p.id, t.name"
    )
    out: dict[int, dict[str, tuple[str, float]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [space.pk, space.pk, [int(i) for i in product_ids], float(floor)])
        for product_id, name, value, confidence in cursor.fetchall():
            out.setdefault(product_id, {})[name] = (value, round(float(confidence), 4))
    return out
