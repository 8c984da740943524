"""Visual product search: build a query vector, find the nearest products in a space.

The nearest-neighbour query repeats the expression and condition of the space's partial HNSW
index (``vector::halfvec(D)`` ``WHERE space_id = N``) so PostgreSQL can use it, with
``hnsw.iterative_scan = relaxed_order`` so selective filters still fill the candidate list.
Pages, the JSON API and commands all call these functions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from catalog.models import Product, ProductStatus
from catalog.selectors import category_with_descendants, products_with_gallery
from visualsearch.mmr import mmr
from visualsearch.models import EmbeddingSpace, ImageEmbedding
from visualsearch.spaces import space_active


class EmptyQuery(ValueError):
    """There is nothing to search with: no image, no text, no vectors."""


class NoActiveSpace(RuntimeError):
    """No embedding space is active, so there is nothing to search in."""


@dataclass
class SearchResult:
    results: list[tuple[Product, float]] = field(default_factory=list)
    took_ms: float = 0.0
    space: str = ""
    page: int = 1
    scanned: int = 0


def _normalise(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0.0:
        raise EmptyQuery("The query has no direction to search in.")
    return vector / norm


def _vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


def _vector_parse(text: str) -> np.ndarray:
    return np.array(text.strip("[]").split(","), dtype=np.float32)


def query_vector_build(
    *,
    space: EmbeddingSpace,
    images: Sequence = (),
    text: str = "",
    negative_text: str = "",
    image_weight: float = 0.5,
) -> np.ndarray:
    """One normalised query vector from photos and/or a text modifier.

    images → normalised mean of their vectors; text alone → its vector; both →
    normalise(α·e_img + (1 − α)·e_txt) with α = ``image_weight``; a negative text subtracts
    0.5·e_neg before the final normalisation.
    """
    from visualsearch.services import embedder_for

    images = list(images)
    text, negative_text = (text or "").strip(), (negative_text or "").strip()
    if not images and not text:
        raise EmptyQuery("Give a photo or a description to search with.")
    embedder = embedder_for(space)
    parts: list[np.ndarray] = []
    if images:
        e_img = _normalise(np.asarray(embedder.encode_images(images)).mean(axis=0))
        parts.append(e_img)
    if text:
        e_txt = _normalise(np.asarray(embedder.encode_texts([text]))[0])
        parts.append(e_txt)
    if len(parts) == 2:
        alpha = float(image_weight)
        query = alpha * parts[0] + (1.0 - alpha) * parts[1]
    else:
        query = parts[0]
    if negative_text:
        query = query - 0.5 * _normalise(np.asarray(embedder.encode_texts([negative_text]))[0])
    return _normalise(query)


def _candidates(
    *,
    space: EmbeddingSpace,
    query_vector: np.ndarray,
    category: str | None,
    min_price,
    max_price,
    brand: str | None,
    seller: str | None,
    exclude_product_ids: Sequence[int],
    with_vectors: bool,
) -> list[tuple]:
    dim = int(space.dimension)
    conditions = ["e.space_id = %s", "p.status = %s"]
    params: list = [space.pk, ProductStatus.ACTIVE]
    if category:
        ids = list(category_with_descendants(slug=category).values_list("pk", flat=True))
        conditions.append("p.category_id = ANY(%s)")
        params.append(ids)
    if min_price is not None:
        conditions.append("p.price >= %s")
        params.append(Decimal(str(min_price)))
    if max_price is not None:
        conditions.append("p.price <= %s")
        params.append(Decimal(str(max_price)))
    if brand:
        conditions.append("lower(p.brand) = lower(%s)")
        params.append(brand.strip())
    if seller:
        conditions.append("p.seller_id = (SELECT s.id FROM catalog_seller s WHERE s.slug = %s)")
        params.append(seller)
    if exclude_product_ids:
        conditions.append("NOT (p.id = ANY(%s))")
        params.append([int(i) for i in exclude_product_ids])
    distance = f"e.vector::halfvec({dim}) <=> %s::halfvec({dim})"
    columns = f"e.product_id, {distance} AS distance" + (", e.vector::text" if with_vectors else "")
    sql = (
        f"SELECT {columns} FROM {ImageEmbedding._meta.db_table} e "
        f"JOIN {Product._meta.db_table} p ON p.id = e.product_id "
        f"WHERE {' AND '.join(conditions)} "
        f"ORDER BY {distance} LIMIT %s"
    )
    literal = _vector_literal(query_vector)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.ef_search = %s", [int(settings.HNSW_EF_SEARCH)])
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute(sql, [literal, *params, literal, int(settings.SEARCH_CANDIDATES)])
        return cursor.fetchall()


def products_search(
    *,
    space: EmbeddingSpace,
    query_vector: np.ndarray,
    category: str | None = None,
    min_price=None,
    max_price=None,
    brand: str | None = None,
    seller: str | None = None,
    k: int = 24,
    page: int = 1,
    diversity: float = 0.0,
    min_score: float | None = None,
    exclude_product_ids: Sequence[int] = (),
) -> SearchResult:
    """The active products nearest to ``query_vector``, one per product (its best image).

    score = 1 − cosine distance. With ``diversity`` > 0 the candidates are re-ranked by MMR.
    """
    started = time.perf_counter()
    query_vector = _normalise(query_vector)
    if query_vector.shape[0] != space.dimension:
        raise EmptyQuery(
            f"The query has {query_vector.shape[0]} dimensions; the space has {space.dimension}."
        )
    rows = _candidates(
        space=space,
        query_vector=query_vector,
        category=category,
        min_price=min_price,
        max_price=max_price,
        brand=brand,
        seller=seller,
        exclude_product_ids=exclude_product_ids,
        with_vectors=diversity > 0,
    )
    # relaxed_order may return rows slightly out of order: sort them, keep each product's best.
    rows.sort(key=lambda row: (row[1], row[0]))
    best: dict[int, tuple] = {}
    for row in rows:
        best.setdefault(row[0], row)
    ranked = list(best.values())
    if min_score is not None:
        ranked = [row for row in ranked if 1.0 - row[1] >= min_score]
    k, page = max(1, int(k)), max(1, int(page))
    start, stop = (page - 1) * k, page * k
    if diversity > 0 and ranked:
        sims = np.array([1.0 - row[1] for row in ranked])
        vectors = np.stack([_vector_parse(row[2]) for row in ranked])
        order = mmr(query_sims=sims, item_vectors=vectors, k=stop, diversity=float(diversity))
        ranked = [ranked[i] for i in order]
    chosen = ranked[start:stop]
    products = products_with_gallery(Product.objects.filter(pk__in=[row[0] for row in chosen]))
    by_id = {product.pk: product for product in products}
    results = [(by_id[row[0]], round(1.0 - float(row[1]), 6)) for row in chosen if row[0] in by_id]
    return SearchResult(
        results=results,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        space=space.name,
        page=page,
        scanned=len(rows),
    )


def products_similar(
    *, product: Product, k: int = 24, diversity: float = 0.0, space: EmbeddingSpace | None = None
) -> SearchResult:
    """Products that look like ``product``: the mean of its image vectors, itself excluded."""
    space = space or space_active()
    if space is None:
        raise NoActiveSpace("No embedding space is active.")
    texts = ImageEmbedding.objects.filter(space=space, product=product).values_list(
        "vector", flat=True
    )
    vectors = [
        np.asarray(v.to_list() if hasattr(v, "to_list") else v, dtype=np.float32) for v in texts
    ]
    if not vectors:
        raise EmptyQuery("This product has no image vectors in the active space yet.")
    return products_search(
        space=space,
        query_vector=np.mean(np.stack(vectors), axis=0),
        k=k,
        diversity=diversity,
        exclude_product_ids=[product.pk],
    )
