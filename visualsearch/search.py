"""Visual product search: build a query vector, find the nearest products in a space.

:func:`search` is the entry point: the search page, the JSON API and the commands describe a
query as a :class:`SearchQuery` and call it. :func:`products_similar` answers "more like this".

The nearest-neighbour query repeats the expression and condition of the space's partial HNSW
index (``vector::halfvec(D)`` ``WHERE space_id = N``) so PostgreSQL can use it, with
``hnsw.iterative_scan = relaxed_order`` so selective filters still fill the candidate list.
A filter that leaves few rows (``SEARCH_EXACT_MAX_ROWS``) is answered by an exact scan of those
rows instead (:class:`NearestQuery`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from catalog.keywords import query_spellings
from catalog.models import Product, ProductStatus
from catalog.selectors import category_with_descendants, products_with_gallery
from catalog.spelling import query_corrected
from visualsearch import spaces
from visualsearch.attributes import (
    labels_named,
    labels_named_matrix,
    modifier_split,
    negative_attributes,
)
from visualsearch.embedders import images_encode
from visualsearch.fusion import DEFAULT_WEIGHTS, FusionWeights, fuse, keyword_normalise
from visualsearch.heads import Head, SpaceHeads, heads_load
from visualsearch.mmr import mmr
from visualsearch.models import EmbeddingSpace, ImageEmbedding, TitleEmbedding
from visualsearch.selectors import PRIMARY_ATTRIBUTES_SQL, product_attributes
from visualsearch.spaces import space_active
from visualsearch.subject import Subject, subject_find
from visualsearch.vector_sql import halfvec_decode, hnsw_session, vector_literal
from visualsearch.vectors import rows_normalise


class EmptyQuery(ValueError):
    """There is nothing to search with: no image, no text, no vectors."""


class NoActiveSpace(RuntimeError):
    """No embedding space is active, so there is nothing to search in."""


@dataclass
class SearchResult:
    """One page of results. ``results`` holds (product, score) pairs in rank order; the other
    fields describe the page (``has_next``), the path that ran (``mode``: "vector" or
    "hybrid"; ``exact``: whether the image candidates came from an exact sort of the filtered
    rows rather than the HNSW index, see :class:`NearestQuery`), each shown product's zero-shot
    ``attributes`` and, for hybrid, the ``parts`` of its fused score, and ``facets``: counts of
    attribute values among all ranked candidates."""

    results: list[tuple[Product, float]] = field(default_factory=list)
    took_ms: float = 0.0
    space: str = ""
    page: int = 1
    scanned: int = 0
    k: int = 24
    has_next: bool = False
    mode: str = "vector"
    # which image vectors ranked a photo query: "space" (the fitted space) or "raw" (the image
    # tower's own features, for a photo outside the space's training domain)
    channel: str = "space"
    exact: bool = False
    attributes: dict[int, dict[str, tuple[str, float]]] = field(default_factory=dict)
    parts: dict[int, dict[str, float]] = field(default_factory=dict)
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    # Calibrated P(relevant) of each shown product and whether it reaches the space's floor
    # (spaces without calibration: empty, and every result counts as a match).
    relevance: dict[int, float] = field(default_factory=dict)
    matches: dict[int, bool] = field(default_factory=dict)
    # The text searched instead of the typed one, when spelling correction changed it ("" if not)
    corrected_text: str = ""
    # Photo queries: what of each photo was searched (visualsearch.subject), in upload order.
    subjects: list[Subject] = field(default_factory=list)

    @property
    def no_match(self) -> bool:
        """Nothing on this page is a good match (results exist, all under the floor)."""
        return bool(self.results) and not any(
            self.matches.get(product.pk, True) for product, _ in self.results
        )


def _normalise(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0.0:
        raise EmptyQuery("The query has no direction to search in.")
    return rows_normalise(vector)


def _query_checked(vector: np.ndarray, *, space: EmbeddingSpace) -> np.ndarray:
    """The query vector normalised, or EmptyQuery when its size is not the space's."""
    vector = _normalise(vector)
    if vector.shape[0] != space.dimension:
        raise EmptyQuery(
            f"The query has {vector.shape[0]} dimensions; the space has {space.dimension}."
        )
    return vector


def _candidate_limit(*, k: int) -> int:
    """The candidate rows of one search: the same for every page of a query, so pages come
    from one ranked pool and never repeat or skip a product; a page past the pool is empty.
    Enough for several pages of ``k`` even when products have several images."""
    return max(int(settings.SEARCH_CANDIDATES), 3 * (max(1, int(k)) + 1))


# Multi-crop: the whole photo plus a centre crop and the four corners, each 60% of each side.
CROP_FRACTION = 0.6
CROP_BOXES: tuple[tuple[float, float], ...] = (
    (0.2, 0.2),
    (0.0, 0.0),
    (0.4, 0.0),
    (0.0, 0.4),
    (0.4, 0.4),
)


def image_crops(image) -> list:
    """The centre and the four corner crops of ``image``, each ``CROP_FRACTION`` of each side."""
    width, height = image.size
    cw, ch = max(1, round(width * CROP_FRACTION)), max(1, round(height * CROP_FRACTION))
    crops = []
    for fx, fy in CROP_BOXES:
        left, top = round(width * fx), round(height * fy)
        crops.append(image.crop((left, top, min(width, left + cw), min(height, top + ch))))
    return crops


def _compose(
    e_img: np.ndarray | None, e_txt: np.ndarray | None, e_neg: np.ndarray | None, alpha: float
) -> np.ndarray:
    if e_img is not None and e_txt is not None:
        query = alpha * e_img + (1.0 - alpha) * e_txt
    else:
        query = e_img if e_img is not None else e_txt
    if e_neg is not None:
        query = query - 0.5 * e_neg
    return _normalise(query)


def query_vectors_build(
    *,
    space: EmbeddingSpace,
    images: Sequence = (),
    text: str = "",
    negative_text: str = "",
    image_weight: float = 0.5,
    crops: bool = False,
) -> list[np.ndarray]:
    """The query vectors: first the whole-photo query, then with ``crops`` one per crop position
    (centre + 4 corners), each the normalised mean of the photos' crops at that position, mixed
    with the text exactly like the whole photo.

    The whole-photo query: images → normalised mean of their vectors; text alone → its vector;
    both → normalise(α·e_img + (1 − α)·e_txt) with α = ``image_weight``; a negative text
    subtracts 0.5·e_neg before the final normalisation."""
    return _query_build(
        space=space, images=images, text=text, negative_text=negative_text,
        image_weight=image_weight, crops=crops,
    )[0]  # fmt: skip


def _query_build(
    *,
    space: EmbeddingSpace,
    images: Sequence = (),
    text: str = "",
    negative_text: str = "",
    image_weight: float = 0.5,
    crops: bool = False,
) -> tuple[list[np.ndarray], np.ndarray | None, list[Subject]]:
    """(:func:`query_vectors_build`'s vectors, the whole photos' raw-channel vector: the
    normalised mean of their raw vectors, None without photos or without a raw channel, and
    each photo's :class:`~visualsearch.subject.Subject`: what of it was searched)."""
    images = list(images)
    text, negative_text = (text or "").strip(), (negative_text or "").strip()
    if not images and not text:
        raise EmptyQuery("Give a photo or a description to search with.")
    embedder = spaces.embedder_for(space)

    def encode(batch):
        return images_encode(embedder, batch)

    if images and settings.SEARCH_SUBJECT_CROP:
        heads = space_heads(space)
        domain = heads.domain if heads is not None else None
        cut_out = settings.SEARCH_SUBJECT_CUTOUT
        subjects = [subject_find(im, encode=encode, domain=domain, cut_out=cut_out)
                    for im in images]  # fmt: skip
    else:
        subjects = [Subject(image=im, box=None, size=im.size) for im in images]
    images = [subject.image for subject in subjects]
    e_txt = _normalise(np.asarray(embedder.encode_texts([text]))[0]) if text else None
    e_neg = (
        _normalise(np.asarray(embedder.encode_texts([negative_text]))[0]) if negative_text else None
    )
    alpha = float(image_weight)
    if not images:
        return [_compose(None, e_txt, e_neg, alpha)], None, []
    # Only what finding the subject did not already encode goes through the tower: the photos
    # searched whole, then with ``crops`` each crop position's crops of every photo.
    fresh = [subject.image for subject in subjects if subject.encoded is None]
    crop_groups = [[image_crops(im)[j] for im in images] for j in range(5)] if crops else []
    batch = fresh + [im for group in crop_groups for im in group]
    encoded, raws = encode(batch) if batch else (np.zeros((0, 0)), None)
    encoded = np.asarray(encoded)
    whole, whole_raw, at = [], [], 0
    for subject in subjects:
        if subject.encoded is not None:
            vector, raw_vector = subject.encoded
        else:
            vector, raw_vector = encoded[at], (raws[at] if raws is not None else None)
            at += 1
        whole.append(np.asarray(vector))
        whole_raw.append(raw_vector)
    vectors = [_compose(_normalise(np.mean(whole, axis=0)), e_txt, e_neg, alpha)]
    for group in crop_groups:
        e_img = _normalise(encoded[at : at + len(group)].mean(axis=0))
        at += len(group)
        vectors.append(_compose(e_img, e_txt, e_neg, alpha))
    has_raw = all(r is not None for r in whole_raw)
    raw = _normalise(np.mean(whole_raw, axis=0)) if has_raw else None
    return vectors, raw, subjects


@dataclass(frozen=True)
class Filters:
    """What every candidate query (vector, title, keyword) restricts products to."""

    category: str | None = None
    min_price: object = None
    max_price: object = None
    brand: str | None = None
    seller: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)  # taxonomy facet → label
    exclude_product_ids: tuple[int, ...] = ()
    # taxonomy facet → label that results must NOT have (a negative text such as "stripes")
    exclude_attributes: dict[str, str] = field(default_factory=dict)

    @property
    def narrows(self) -> bool:
        """Whether a filter beyond "active products" may leave few rows (exclusions don't)."""
        return bool(
            self.category
            or self.min_price is not None
            or self.max_price is not None
            or self.brand
            or self.seller
            or self.attributes
        )


def _filter_sql(space: EmbeddingSpace, filters: Filters) -> tuple[list[str], list]:
    """SQL conditions on the product alias ``p`` (active products only)."""
    conditions = ["p.status = %s"]
    params: list = [ProductStatus.ACTIVE]
    if filters.category:
        ids = list(category_with_descendants(slug=filters.category).values_list("pk", flat=True))
        conditions.append("p.category_id = ANY(%s)")
        params.append(ids)
    if filters.min_price is not None:
        conditions.append("p.price >= %s")
        params.append(Decimal(str(filters.min_price)))
    if filters.max_price is not None:
        conditions.append("p.price <= %s")
        params.append(Decimal(str(filters.max_price)))
    if filters.brand:
        conditions.append("lower(p.brand) = lower(%s)")
        params.append(filters.brand.strip())
    if filters.seller:
        conditions.append("p.seller_id = (SELECT s.id FROM catalog_seller s WHERE s.slug = %s)")
        params.append(filters.seller)
    if filters.exclude_product_ids:
        conditions.append("NOT (p.id = ANY(%s))")
        params.append([int(i) for i in filters.exclude_product_ids])
    primary = PRIMARY_ATTRIBUTES_SQL.format(product="p.id", space="%s")
    for name, value in sorted(filters.attributes.items()):
        # The product's primary-image attribute must be this value, confidently enough.
        conditions.append(
            f"EXISTS (SELECT 1 FROM ({primary}) t "
            f"WHERE t.name = %s AND t.value = %s AND t.confidence >= %s)"
        )
        params += [space.pk, space.pk, name, value, float(settings.ATTRIBUTE_MIN_CONFIDENCE)]
    for name, value in sorted(filters.exclude_attributes.items()):
        conditions.append(
            f"NOT EXISTS (SELECT 1 FROM ({primary}) t "
            f"WHERE t.name = %s AND t.value = %s AND t.confidence >= %s)"
        )
        params += [space.pk, space.pk, name, value, float(settings.ATTRIBUTE_MIN_CONFIDENCE)]
    return conditions, params


def rows_estimate(cursor, *, from_where: str, params: list) -> float:
    """The planner's estimate of how many rows ``SELECT 1 {from_where}`` returns (no rows read)."""
    cursor.execute(f"EXPLAIN (FORMAT JSON) SELECT 1 {from_where}", params)
    plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"])


def exact_wanted(cursor, *, from_where: str, params: list) -> bool:
    """Whether the rows of ``from_where`` are few enough (``SEARCH_EXACT_MAX_ROWS``, by the
    planner's estimate) to sort them all by distance instead of walking the HNSW index."""
    threshold = int(settings.SEARCH_EXACT_MAX_ROWS)
    return (
        threshold > 0 and rows_estimate(cursor, from_where=from_where, params=params) <= threshold
    )


def exact_order(distance: str) -> str:
    """ORDER BY ``distance`` written so no index can serve it: the rows are sorted exactly."""
    return f"({distance}) + 0"


@dataclass(frozen=True)
class NearestQuery:
    """One nearest-vector query over a space's image or title vectors, ready to run.

    ``exact`` says which path answers it. The HNSW path orders by the index's own expression,
    so PostgreSQL walks the space's partial HNSW index with an iterative scan. The exact path
    is taken when the filters leave at most ``SEARCH_EXACT_MAX_ROWS`` rows (the planner's
    estimate): it orders by the distance plus zero, an expression the index cannot serve, so
    PostgreSQL reads the filtered rows through the product indexes and sorts them by the true
    distance. A filter that keeps 1% of a million rows reads ~10,000 rows that way, faster and
    with exact recall, where an iterative scan must walk ~100 index tuples per match and may
    miss some of the nearest (docs/benchmarks.md, "Selective filters")."""

    sql: str
    params: list
    exact: bool


def nearest_query(
    cursor,
    *,
    table: str,
    space: EmbeddingSpace,
    query_vector: np.ndarray,
    filters: Filters,
    limit: int,
    with_vectors: bool = False,
    exact: bool | None = None,
    column: str = "vector",
    dim: int = 0,
) -> NearestQuery:
    """The nearest-vector query on ``table`` (image or title vectors, alias ``x``) with the
    filters on the product (alias ``p``): (product id, cosine distance[, vector text]) rows,
    ORDER BY distance LIMIT ``limit``. ``exact`` None decides the path by the row estimate
    (``cursor`` is only used for it, and only when a filter narrows the products); a query
    with the same filters can pass on the earlier query's decision. ``column`` "raw_vector"
    (``dim``: the space's raw width) searches the raw channel instead of the space's vectors."""
    if column not in ("vector", "raw_vector"):
        raise ValueError(f"no vector column {column!r}")
    dim = int(dim or space.dimension)
    conditions, filter_params = _filter_sql(space, filters)
    if column == "raw_vector":  # rows written before the raw channel have none
        conditions = [*conditions, "x.raw_vector IS NOT NULL"]
    literal = vector_literal(query_vector)
    from_where = (
        f"FROM {table} x JOIN {Product._meta.db_table} p ON p.id = x.product_id "
        f"WHERE x.space_id = %s AND {' AND '.join(conditions)}"
    )
    where_params = [space.pk, *filter_params]
    if exact is None:
        exact = filters.narrows and exact_wanted(cursor, from_where=from_where, params=where_params)
    distance = f"x.{column}::halfvec({dim}) <=> %s::halfvec({dim})"
    order = exact_order(distance) if exact else distance
    columns = f"x.product_id, {distance} AS distance" + (
        f", x.{column}::text" if with_vectors else ""
    )
    sql = f"SELECT {columns} {from_where} ORDER BY {order} LIMIT %s"
    return NearestQuery(sql, [literal, *where_params, literal, int(limit)], exact)


IMAGES = ImageEmbedding._meta.db_table
TITLES = TitleEmbedding._meta.db_table


def _nearest(
    *,
    table: str,
    space: EmbeddingSpace,
    query_vectors: Sequence[np.ndarray],
    filters: Filters,
    limit: int,
    with_vectors: bool = False,
    column: str = "vector",
    dim: int = 0,
) -> tuple[list[tuple], bool]:
    """(product id, cosine distance[, vector text]) rows of the vectors in ``table`` (IMAGES or
    TITLES) nearest to each query vector: :func:`nearest_query` for each (same filters, so one
    path decision) under the HNSW session settings, and whether they were found exactly."""
    rows: list[tuple] = []
    exact = None
    with transaction.atomic(), connection.cursor() as cursor:
        hnsw_session(cursor)
        for vector in query_vectors:
            query = nearest_query(
                cursor,
                table=table,
                space=space,
                query_vector=vector,
                filters=filters,
                limit=limit,
                with_vectors=with_vectors,
                exact=exact,
                column=column,
                dim=dim,
            )
            exact = query.exact
            cursor.execute(query.sql, query.params)
            rows += cursor.fetchall()
    return rows, bool(exact)


def _keyword_candidates(
    *, space: EmbeddingSpace, keyword: tuple[str, list[str]], filters: Filters, limit: int
) -> list[tuple]:
    """(product id, ts_rank_cd) of full-text matches on Product.search_document (GIN index);
    ``keyword`` is :func:`_tsquery`'s (SQL, parameters)."""
    conditions, params = _filter_sql(space, filters)
    tsquery, spellings = keyword
    sql = (
        f"SELECT p.id, ts_rank_cd(p.search_document, q) AS rank "
        f"FROM {Product._meta.db_table} p, (SELECT {tsquery} AS q) query "
        f"WHERE p.search_document @@ q AND {' AND '.join(conditions)} "
        f"ORDER BY rank DESC, p.id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*spellings, *params, int(limit)])
        return cursor.fetchall()


def _tsquery(text: str) -> tuple[str, list[str]]:
    """(SQL of the full-text query for ``text``, its parameters): the websearch query of the
    text OR-ed with those of its other compound spellings
    (:func:`catalog.keywords.query_spellings`)."""
    spellings = query_spellings(text)
    parts = " || ".join(["websearch_to_tsquery('english', %s)"] * len(spellings))
    return f"({parts})", spellings


def _signals_exact(
    *,
    space: EmbeddingSpace,
    query_vector: np.ndarray,
    keyword: tuple[str, list[str]],
    product_ids: list[int],
) -> tuple[dict[int, tuple[float, str]], dict[int, float], dict[int, float], dict[int, str]]:
    """For the union of candidates, every signal computed exactly: the best image (cosine, vector
    text), the title cosine and the full-text rank of ``keyword`` (:func:`_tsquery`'s SQL and
    parameters; 0 where the document does not match); and the products' titles."""
    dim = int(space.dimension)
    literal = vector_literal(query_vector)
    ids = [int(i) for i in product_ids]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT ON (e.product_id) e.product_id, "
            f"e.vector::halfvec({dim}) <=> %s::halfvec({dim}) AS distance, e.vector::text "
            f"FROM {ImageEmbedding._meta.db_table} e "
            f"WHERE e.space_id = %s AND e.product_id = ANY(%s) ORDER BY e.product_id, distance",
            [literal, space.pk, ids],
        )
        images = {pid: (1.0 - float(d), vec) for pid, d, vec in cursor.fetchall()}
        cursor.execute(
            f"SELECT t.product_id, t.vector::halfvec({dim}) <=> %s::halfvec({dim}) "
            f"FROM {TitleEmbedding._meta.db_table} t WHERE t.space_id = %s "
            f"AND t.product_id = ANY(%s)",
            [literal, space.pk, ids],
        )
        titles = {pid: 1.0 - float(d) for pid, d in cursor.fetchall()}
        tsquery, spellings = keyword
        cursor.execute(
            f"SELECT p.id, ts_rank_cd(p.search_document, {tsquery}), "
            f"p.title FROM {Product._meta.db_table} p WHERE p.id = ANY(%s)",
            [*spellings, ids],
        )
        rows = cursor.fetchall()
    keywords = {pid: float(rank) for pid, rank, _ in rows}
    return images, titles, keywords, {pid: title for pid, _, title in rows}


def types_read(head: Head, matrix: np.ndarray, titles: Sequence[str | None]) -> np.ndarray:
    """``head``'s probabilities for the rows of ``matrix``, each row's title read as evidence
    where the head has title evidence and the title names one of its labels (photo only
    otherwise: :meth:`~visualsearch.heads.Head.probabilities_titled` with no label named is
    :meth:`~visualsearch.heads.Head.probabilities`)."""
    if head.title_weight <= 0:
        return head.probabilities(matrix)
    return head.probabilities_titled(matrix, labels_named_matrix(list(titles), head.labels))


# The facets a text query is read for by the facet term: the colour and the item-type heads.
FACET_HEADS = ("colour", "category")


def facets_named(text: str, heads: SpaceHeads | None) -> list[tuple[Head, int]]:
    """(head, label index) for each facet of FACET_HEADS whose label ``text`` names (the first
    one it names)."""
    named = []
    for facet in FACET_HEADS:
        head = heads.heads.get(facet) if heads is not None else None
        labels = labels_named(text, head.labels) if head is not None else []
        if labels:
            named.append((head, head.labels.index(labels[0])))
    return named


def facet_term(
    *, heads: SpaceHeads | None, text: str, vectors: dict[int, np.ndarray],
    titles: dict[int, str], ids: list[int],
) -> np.ndarray:  # fmt: skip
    """Per id in ``ids``: P(the colour ``text`` names) · P(the item type it names), from the
    space's calibrated heads reading the product's best image and, where the head has title
    evidence, its title (:func:`types_read`): "navy blue tshirts" scores a navy blue T-shirt
    near 1 and a navy blue shirt near 0. A facet the query does not name counts 1; all 0 when
    it names neither, without heads, or for a product without an image vector."""
    term = np.zeros(len(ids))
    named = facets_named(text, heads)
    have = [i for i, pid in enumerate(ids) if pid in vectors]
    if not named or not have:
        return term
    matrix = np.stack([vectors[ids[i]] for i in have])
    have_titles = [titles.get(ids[i], "") for i in have]
    product = np.ones(len(have))
    for head, label in named:
        product *= types_read(head, matrix, have_titles)[:, label]
    term[have] = product
    return term


def fusion_weights() -> FusionWeights:
    """The hybrid weights from settings (FUSION_*; defaults are ``fusion.DEFAULT_WEIGHTS``)."""
    return FusionWeights(
        image=float(getattr(settings, "FUSION_IMAGE_WEIGHT", DEFAULT_WEIGHTS.image)),
        title=float(getattr(settings, "FUSION_TITLE_WEIGHT", DEFAULT_WEIGHTS.title)),
        keyword=float(getattr(settings, "FUSION_KEYWORD_WEIGHT", DEFAULT_WEIGHTS.keyword)),
        keyword_k=float(getattr(settings, "FUSION_KEYWORD_K", DEFAULT_WEIGHTS.keyword_k)),
    )


def _page(
    *,
    space: EmbeddingSpace,
    ranked: list[tuple[int, float]],
    vectors: dict[int, np.ndarray],
    k: int,
    page: int,
    diversity: float,
) -> tuple[list[tuple[int, float]], bool, dict]:
    """Re-rank (MMR when ``diversity`` > 0), cut out page ``page`` of ``k``; also the facets of
    all ranked candidates and the attributes of the page's products."""
    k, page = max(1, int(k)), max(1, int(page))
    start, stop = (page - 1) * k, page * k
    attributes = product_attributes(product_ids=[pid for pid, _ in ranked], space=space)
    facets: dict[str, dict[str, int]] = {}
    for found in attributes.values():
        for name, (value, _) in found.items():
            facets.setdefault(name, {})
            facets[name][value] = facets[name].get(value, 0) + 1
    facets = {
        name: dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
        for name, counts in sorted(facets.items())
    }
    if diversity > 0 and ranked:
        sims = np.array([score for _, score in ranked])
        dim = len(next(iter(vectors.values()))) if vectors else int(space.dimension)
        matrix = np.stack([vectors.get(pid, np.zeros(dim, dtype=np.float32)) for pid, _ in ranked])
        order = mmr(query_sims=sims, item_vectors=matrix, k=stop + 1, diversity=float(diversity))
        ranked = [ranked[i] for i in order]
    return ranked[start:stop], len(ranked) > stop, {"attributes": attributes, "facets": facets}


def _result(
    *,
    chosen: list[tuple[int, float]],
    space: EmbeddingSpace,
    started: float,
    relevance: dict[int, tuple[float, bool]] | None = None,
    **fields,
) -> SearchResult:
    products = products_with_gallery(Product.objects.filter(pk__in=[pid for pid, _ in chosen]))
    by_id = {product.pk: product for product in products}
    attributes = fields.pop("attributes")
    results = [(by_id[pid], round(float(score), 6)) for pid, score in chosen if pid in by_id]
    relevance = relevance or {}
    return SearchResult(
        results=results,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        space=space.name,
        attributes={p.pk: attributes.get(p.pk, {}) for p, _ in results},
        relevance={p.pk: round(relevance[p.pk][0], 4) for p, _ in results if p.pk in relevance},
        matches={p.pk: relevance[p.pk][1] for p, _ in results if p.pk in relevance},
        **fields,
    )


def space_heads(space: EmbeddingSpace) -> SpaceHeads | None:
    """The space's calibrated heads and floors (``heads.safetensors`` beside its checkpoint)."""
    return heads_load(space.pretrained)


def modifier_vector_build(
    *, space: EmbeddingSpace, photo_vector: np.ndarray, colour: str
) -> np.ndarray | None:
    """For photo + "in <colour>": the text "<colour> <the photo's predicted item type>" in the
    space (the type named by its calibrated head), or None for a space without heads."""
    heads = space_heads(space)
    head = heads.heads.get("category") if heads is not None else None
    if head is None:
        return None
    predicted = head.labels[int(head.probabilities(np.atleast_2d(photo_vector))[0].argmax())]
    text = f"{colour} {predicted}"
    return _normalise(np.asarray(spaces.embedder_for(space).encode_texts([text]))[0])


def _photo_scores(
    *,
    query_vectors: Sequence[np.ndarray],
    ranked: list[tuple[int, float]],
    vectors: dict[int, np.ndarray],
    heads: SpaceHeads | None,
    colour: str | None,
    modifier_vector: np.ndarray | None,
    titles: dict[int, str] | None = None,
    query_title: str | None = None,
) -> tuple[list[tuple[int, float]], dict[int, float]]:
    """(ranked (product id, score) best first, {product id: photo score}) re-scored from the
    candidates' vectors with the space's calibrated heads.

    photo score = best cosine over the query vectors (the photo and its crops)
    + ``type_rerank_weight`` · P(same item type as the photo); it ranks the results when the
    photo's item type is known (head confidence ≥ ATTRIBUTE_MIN_CONFIDENCE), else the cosines
    do, and it is what the relevance is calibrated on. With a colour modifier the
    ranking score is ``modifier["text"]`` · cos(``modifier_vector``) + ``modifier["photo"]`` ·
    photo score + ``modifier["colour"]`` · P(candidate has that colour). Without heads the
    cosines are returned as they are. With ``titles`` ({product id: title}) and a type head
    with title evidence, the ranking's P(same item type) reads each candidate's type from its
    photo and its title (:meth:`~visualsearch.heads.Head.probabilities_titled`), except under
    a colour modifier (its weights were chosen without it); the photo score returned for
    relevance keeps the photo-only term it was calibrated on. ``query_title`` (the title of a
    listed product whose look-alikes are asked for) is read the same way for the query's type,
    with the same exception."""
    if heads is None or not ranked or not vectors:
        return ranked, dict(ranked)
    ids = [pid for pid, _ in ranked]
    matrix = np.stack([vectors[pid] for pid in ids])
    cosines = np.max(matrix @ np.stack(list(query_vectors)).T, axis=1)
    # Re-rank by type only when the photo's type is known (calibrated confidence at the
    # attribute floor): a photo of a kind the head never learnt is ranked by its cosines
    # (docs/benchmarks.md, "kinds the weights never saw").
    type_head = heads.heads.get("category")
    if type_head is None:
        photo, known = cosines, False
    else:
        query = np.atleast_2d(query_vectors[0])
        query_types = type_head.probabilities(query)[0]
        candidate_types = type_head.probabilities(matrix)
        photo = heads.photo_scores(cosines, query_types, candidate_types)  # relevance reads it
        if titles is not None and type_head.title_weight > 0 and not colour:
            candidate_types = types_read(type_head, matrix, [titles.get(pid) for pid in ids])
            query_types = types_read(type_head, query, [query_title])[0]
        known = float(query_types.max()) >= float(settings.ATTRIBUTE_MIN_CONFIDENCE)
    scores = heads.photo_scores(cosines, query_types, candidate_types) if known else cosines
    colour_head = heads.heads.get("colour")
    if colour and colour_head is not None and colour in colour_head.labels:
        weights = heads.modifier
        asked = colour_head.probabilities(matrix)[:, colour_head.labels.index(colour)]
        typed = matrix @ modifier_vector if modifier_vector is not None else 0.0
        scores = weights["text"] * typed + weights["photo"] * scores + weights["colour"] * asked
    rescored = sorted(
        ((pid, float(score)) for pid, score in zip(ids, scores, strict=True)),
        key=lambda row: (-row[1], row[0]),
    )
    return rescored, {pid: float(value) for pid, value in zip(ids, photo, strict=True)}


# Pseudo-relevance feedback (query expansion): the photo query plus this weight times the mean
# vector of its top results, re-scored over the same candidates. The values of the lab's
# comparison on validation (space_fit's ``prf`` report: photo P@10 0.713 -> 0.720 on plain
# cosines; text nDCG@10 0.652 -> 0.620, so text queries are never expanded).
EXPAND_TOP = 5
EXPAND_WEIGHT = 0.5


def _expanded(
    *,
    query_vectors: Sequence[np.ndarray],
    ranked: list[tuple[int, float]],
    vectors: dict[int, np.ndarray],
    heads: SpaceHeads | None,
    titles: dict[int, str] | None = None,
    query_title: str | None = None,
) -> list[tuple[int, float]]:
    """``ranked`` re-scored for the expanded query: the photo's vector plus ``EXPAND_WEIGHT``
    times the mean of the top ``EXPAND_TOP`` results' vectors (normalised; crops unchanged),
    scored as :func:`_photo_scores` scores a photo, titles included (plain cosines without
    heads)."""
    top = [vectors[pid] for pid, _ in ranked[:EXPAND_TOP] if pid in vectors]
    if not top:
        return ranked
    expanded = _normalise(query_vectors[0] + EXPAND_WEIGHT * np.mean(np.stack(top), axis=0))
    query = [expanded, *query_vectors[1:]]
    if heads is not None:
        rescored, _ = _photo_scores(
            query_vectors=query, ranked=ranked, vectors=vectors, heads=heads, colour=None,
            modifier_vector=None, titles=titles, query_title=query_title,
        )  # fmt: skip
        return rescored
    ids = [pid for pid, _ in ranked if pid in vectors]
    cosines = np.max(np.stack([vectors[pid] for pid in ids]) @ np.stack(query).T, axis=1)
    return sorted(
        ((pid, float(c)) for pid, c in zip(ids, cosines, strict=True)),
        key=lambda row: (-row[1], row[0]),
    )


# The category vote: a ranking re-scored by how many of its top CATEGORY_VOTE_TOP results share
# each candidate's catalog category (the sellers' own, leaf level): a query whose neighbours
# are mostly dresses ranks the dresses among the rest higher. A neighbour whose photo is a copy
# of the query's (cosine >= CATEGORY_VOTE_COPY: the shopper's photo of a listed product, or the
# listing's own photo) does not vote and gains as much as the best-voted candidate (it is what
# the shopper photographed: it keeps its place), and no voter votes for itself, so a catalog
# whose categories all differ keeps the similarity order.
CATEGORY_VOTE_TOP = 10
CATEGORY_VOTE_COPY = 0.97


def category_vote(
    *, ranked: list[tuple[int, float]], categories: dict[int, object], weight: float,
    cosines: dict[int, float] | None = None, top: int = CATEGORY_VOTE_TOP,
    discount: bool = False,
) -> list[tuple[int, float]]:  # fmt: skip
    """``ranked`` (best first) re-scored: score + ``weight`` · (the share of the other voters'
    votes in the candidate's category), re-sorted (score, then id); each vote counts 1, or with
    ``discount`` 1/log2(rank + 1) by the voter's rank among the voters. Voters are the first ``top`` of
    ``ranked`` that are not copies of the query (``cosines`` ≥ CATEGORY_VOTE_COPY); a copy
    gains the largest share any other candidate gets, so copies keep their place above the
    rest; a voter's share is over the other voters (leave-one-out); any other candidate
    without a category gains nothing. Pure."""
    if weight <= 0 or not ranked:
        return ranked
    cosines = cosines or {}
    copies = {pid for pid, _ in ranked if cosines.get(pid, 0.0) >= CATEGORY_VOTE_COPY}
    voters = [pid for pid, _ in ranked if pid not in copies][:top]
    if not voters:
        return ranked
    # A voter's weight: 1, or with ``discount`` the DCG discount of its rank, 1/log2(rank + 1).
    votes = {
        pid: (1.0 / math.log2(rank + 2) if discount else 1.0) for rank, pid in enumerate(voters)
    }
    counts: dict[object, float] = {}
    for pid in voters:
        category = categories.get(pid)
        if category is not None:
            counts[category] = counts.get(category, 0.0) + votes[pid]
    total = sum(votes.values())

    def share(pid: int) -> float:
        category = categories.get(pid)
        if category is None:
            return 0.0
        if pid in votes:
            others = total - votes[pid]
            return (counts[category] - votes[pid]) / others if others > 0 else 0.0
        return counts.get(category, 0.0) / total

    shares = {pid: share(pid) for pid, _ in ranked if pid not in copies}
    best = max(shares.values(), default=0.0)
    rescored = [(pid, score + weight * shares.get(pid, best)) for pid, score in ranked]
    return sorted(rescored, key=lambda row: (-row[1], row[0]))


def _titles(product_ids: list[int]) -> dict[int, str] | None:
    """{product id: title} for the type re-rank's title evidence; None when it is off."""
    if not settings.SEARCH_TYPE_RERANK_TITLES or not product_ids:
        return None
    return dict(Product.objects.filter(pk__in=product_ids).values_list("pk", "title"))


def _categories(product_ids: list[int]) -> dict[int, object]:
    """{product id: its catalog category id} (the lab swaps in other labellings)."""
    return dict(Product.objects.filter(pk__in=product_ids).values_list("pk", "category_id"))


def _category_voted(
    ranked: list[tuple[int, float]], *, weight: float, cosines: dict[int, float] | None = None
) -> list[tuple[int, float]]:
    """:func:`category_vote` with the candidates' categories read from the catalog."""
    if weight <= 0 or not ranked:
        return ranked
    categories = _categories([pid for pid, _ in ranked])
    return category_vote(
        ranked=ranked, categories=categories, weight=weight, cosines=cosines,
        top=int(settings.SEARCH_CATEGORY_VOTE_TOP),
        discount=bool(settings.SEARCH_CATEGORY_VOTE_DISCOUNT),
    )  # fmt: skip


def _relevance(
    *, heads: SpaceHeads | None, mode: str, scored: dict[int, float], keyword: dict | None = None
) -> dict[int, tuple[float, bool]]:
    """{product id: (calibrated P(relevant), is a match)}; a full-text match of every query word
    is always a match. Empty for a space without calibration."""
    calibration = heads.relevance.get(mode) if heads is not None else None
    if calibration is None:
        return {}
    ids = list(scored)
    probs = calibration.probability([scored[pid] for pid in ids])
    keyword = keyword or {}
    return {
        pid: (float(p), bool(p >= calibration.floor or keyword.get(pid, 0.0) > 0))
        for pid, p in zip(ids, probs, strict=True)
    }


def products_search(
    *,
    space: EmbeddingSpace,
    query_vector: np.ndarray,
    query_vectors: Sequence[np.ndarray] = (),
    category: str | None = None,
    min_price=None,
    max_price=None,
    brand: str | None = None,
    seller: str | None = None,
    attributes: dict[str, str] | None = None,
    k: int = 24,
    page: int = 1,
    diversity: float = 0.0,
    min_score: float | None = None,
    exclude_product_ids: Sequence[int] = (),
    exclude_attributes: dict[str, str] | None = None,
    colour: str | None = None,
    modifier_vector: np.ndarray | None = None,
    query_raw: np.ndarray | None = None,
    expand: bool = False,
    query_title: str | None = None,
    subject: bool = False,
) -> SearchResult:
    """The active products nearest to ``query_vector``, one per product (its best image).

    score = 1 − cosine distance. Extra ``query_vectors`` (multi-crop) are searched too and each
    product keeps its best score over all of them. ``attributes`` filters on the products'
    zero-shot attributes ({taxonomy facet: label}). With ``diversity`` > 0 the candidates are
    re-ranked by MMR.

    A space with calibrated heads (:mod:`visualsearch.heads`) re-scores the candidates: plus
    its type re-rank weight times P(same item type as the query), and with ``colour`` (a
    modifier such as "in blue") by its modifier weights over the ``modifier_vector`` ("<colour>
    <predicted type>", :func:`modifier_vector_build`), the photo score and P(candidate is that
    colour) (:func:`_photo_scores`); the products nearest the modifier vector and those whose
    stored colour is ``colour`` are then candidates too, so the pool holds them however far
    the photo is. Each result gets a calibrated relevance and a match flag.

    A photo outside the space's training domain (``query_raw``, its raw-channel vector, scores
    under the domain threshold in the heads) is a kind the fitted space never saw: it is ranked
    by the image tower's own features instead (:func:`_raw_search`), unless a colour modifier
    asks for the space's heads.

    With ``expand`` (and no colour modifier) the ranking is that of the expanded query
    (:func:`_expanded`, pseudo-relevance feedback); relevance and the match flags stay those of
    the photo itself, so the floor reads the scores it was calibrated on.

    ``subject``: the query is a photo searched by its subject (a crop or a cutout of a shopper's
    photo, :mod:`visualsearch.subject`); its relevance and match flags read the heads' "subject"
    calibration, fitted on such queries, when the space has one and ``SEARCH_SUBJECT_RELEVANCE``
    is on.
    """
    started = time.perf_counter()
    heads = space_heads(space)
    vectors_in = [_query_checked(v, space=space) for v in [query_vector, *query_vectors]]
    filters = Filters(
        category=category,
        min_price=min_price,
        max_price=max_price,
        brand=brand,
        seller=seller,
        attributes=dict(attributes or {}),
        exclude_product_ids=tuple(exclude_product_ids),
        exclude_attributes=dict(exclude_attributes or {}),
    )
    limit = _candidate_limit(k=k)
    if _outside_domain(heads=heads, query_raw=query_raw) and not colour:
        found = _raw_search(
            space=space, heads=heads, query_raw=query_raw, filters=filters, k=k, page=page,
            diversity=diversity, min_score=min_score, started=started,
        )  # fmt: skip
        if found is not None:
            return found
    want_vectors = diversity > 0 or heads is not None or expand
    rows, exact = _nearest(
        table=IMAGES,
        space=space,
        query_vectors=vectors_in,
        filters=filters,
        with_vectors=want_vectors,
        limit=limit,
    )
    if colour and heads is not None and "colour" in heads.heads:
        coloured = Filters(
            **{**vars(filters), "attributes": {**filters.attributes, "colour": colour}}
        )
        more, _ = _nearest(
            table=IMAGES,
            space=space,
            query_vectors=vectors_in[:1],
            filters=coloured,
            with_vectors=True,
            limit=limit,
        )
        rows += more
        if modifier_vector is not None:
            more, _ = _nearest(
                table=IMAGES,
                space=space,
                query_vectors=[_query_checked(modifier_vector, space=space)],
                filters=filters,
                with_vectors=True,
                limit=limit,
            )
            rows += more
    best = _best_rows(rows)
    ranked = [(pid, 1.0 - float(row[1])) for pid, row in best.items()]
    vectors = {pid: halfvec_decode(row[2]) for pid, row in best.items()} if want_vectors else {}
    # the candidates' titles, for the type re-rank (not read under a colour modifier)
    titles = _titles([pid for pid, _ in ranked]) if heads is not None and not colour else None
    ranked, photo_scores = _photo_scores(
        query_vectors=vectors_in,
        ranked=ranked,
        vectors=vectors,
        heads=heads,
        colour=colour,
        modifier_vector=modifier_vector,
        titles=titles,
        query_title=query_title,
    )
    if expand and not colour:
        ranked = _expanded(
            query_vectors=vectors_in, ranked=ranked, vectors=vectors, heads=heads, titles=titles,
            query_title=query_title,
        )  # fmt: skip
    # min_score bounds the similarity, before the category vote adds to it.
    if min_score is not None:
        ranked = [(pid, score) for pid, score in ranked if score >= min_score]
    if not colour:
        ranked = _category_voted(
            ranked,
            weight=float(settings.SEARCH_CATEGORY_VOTE_WEIGHT),
            cosines={pid: 1.0 - float(row[1]) for pid, row in best.items()},
        )
    chosen, has_next, extra = _page(
        space=space, ranked=ranked, vectors=vectors, k=k, page=page, diversity=diversity
    )
    # Relevance: how well a result matches the photo (the modifier only re-orders).
    extra["relevance"] = _relevance(
        heads=heads,
        mode=_photo_relevance_mode(heads=heads, subject=subject),
        scored={pid: photo_scores[pid] for pid, _ in chosen},
    )
    return _result(
        chosen=chosen,
        space=space,
        started=started,
        page=max(1, int(page)),
        k=max(1, int(k)),
        scanned=len(rows),
        has_next=has_next,
        mode="vector",
        exact=exact,
        **extra,
    )


def _photo_relevance_mode(*, heads: SpaceHeads | None, subject: bool) -> str:
    """The heads' relevance calibration a photo query's scores read in the fitted space:
    "subject" (fitted on photos searched by their subject, lab/subject_fit.py) for such a
    photo, where the space has it and ``SEARCH_SUBJECT_RELEVANCE`` is on, else "vector"
    (fitted on catalog shots)."""
    wanted = subject and bool(settings.SEARCH_SUBJECT_RELEVANCE)
    return "subject" if wanted and heads is not None and "subject" in heads.relevance else "vector"


def _outside_domain(*, heads: SpaceHeads | None, query_raw: np.ndarray | None) -> bool:
    """Whether a photo's raw-channel vector lies outside the space's training domain."""
    if heads is None or heads.domain is None or query_raw is None:
        return False
    raw = np.asarray(query_raw, dtype=np.float32).reshape(-1)
    return raw.shape[0] == heads.domain.dim and not bool(heads.domain.contains(raw)[0])


def _best_rows(rows: list[tuple]) -> dict[int, tuple]:
    """{product id: its nearest row} from nearest-vector rows (product id, distance, ...),
    nearest product first. relaxed_order may return rows slightly out of order, and a product
    has a row per image: the rows are sorted by (distance, id), each product keeps its first."""
    best: dict[int, tuple] = {}
    for row in sorted(rows, key=lambda row: (row[1], row[0])):
        best.setdefault(row[0], row)
    return best


def _raw_search(
    *,
    space: EmbeddingSpace,
    heads: SpaceHeads,
    query_raw: np.ndarray,
    filters: Filters,
    k: int,
    page: int,
    diversity: float,
    min_score: float | None,
    started: float,
) -> SearchResult | None:
    """:func:`products_search` in the raw channel: products by the cosine of their images' raw
    vectors (the image tower's own features) to ``query_raw``, relevance by the heads' "raw"
    calibration (a photo searched by its subject too: a floor fitted on such photos in this
    channel let photos of things the shop does not sell through, lab/subject_fit.py). None when
    no image has a raw vector (vectors written before the channel)."""
    rows, exact = _nearest(
        table=IMAGES,
        space=space,
        query_vectors=[_normalise(np.asarray(query_raw, dtype=np.float32).reshape(-1))],
        filters=filters,
        with_vectors=diversity > 0,
        limit=_candidate_limit(k=k),
        column="raw_vector",
        dim=heads.domain.dim,
    )
    if not rows:
        return None
    best = _best_rows(rows)
    ranked = [(pid, 1.0 - float(row[1])) for pid, row in best.items()]
    vectors = {pid: halfvec_decode(row[2]) for pid, row in best.items()} if diversity > 0 else {}
    if min_score is not None:
        ranked = [(pid, score) for pid, score in ranked if score >= min_score]
    chosen, has_next, extra = _page(
        space=space, ranked=ranked, vectors=vectors, k=k, page=page, diversity=diversity
    )
    extra["relevance"] = _relevance(heads=heads, mode="raw", scored=dict(chosen))
    return _result(
        chosen=chosen, space=space, started=started, page=max(1, int(page)), k=max(1, int(k)),
        scanned=len(rows), has_next=has_next, mode="vector", channel="raw", exact=exact, **extra,
    )  # fmt: skip


def products_search_hybrid(
    *,
    space: EmbeddingSpace,
    text: str,
    query_vector: np.ndarray,
    category: str | None = None,
    min_price=None,
    max_price=None,
    brand: str | None = None,
    seller: str | None = None,
    attributes: dict[str, str] | None = None,
    k: int = 24,
    page: int = 1,
    diversity: float = 0.0,
    min_score: float | None = None,
    weights: FusionWeights | None = None,
    exclude_attributes: dict[str, str] | None = None,
) -> SearchResult:
    """Hybrid text search: the fused score of ``visualsearch.fusion`` over three candidate lists.

    Candidates are the union of the nearest image vectors to the text vector (image HNSW index),
    the nearest title vectors (title HNSW index) and the full-text matches of ``text`` on
    ``Product.search_document`` (GIN index), all under the same filters. For every candidate the
    three signals are then computed exactly and fused::

        score = w_image · cos(q, best image) + w_title · cos(q, title) + w_keyword · s/(s + k)
                + w_facet · P(named colour) · P(named item type)

    with s = ts_rank_cd (0 when the text does not match) and a missing vector counting as 0; the
    last term is :func:`facet_term` (a ranking term: ``min_score`` and the relevance read the
    rest). Weights come from settings (FUSION_*), defaulting to ``fusion.DEFAULT_WEIGHTS``.
    """
    started = time.perf_counter()
    weights = weights or fusion_weights()
    query_vector = _query_checked(query_vector, space=space)
    filters = Filters(
        category=category,
        min_price=min_price,
        max_price=max_price,
        brand=brand,
        seller=seller,
        attributes=dict(attributes or {}),
        exclude_attributes=dict(exclude_attributes or {}),
    )
    limit = _candidate_limit(k=k)
    image_rows, exact = _nearest(
        table=IMAGES, space=space, query_vectors=[query_vector], filters=filters, limit=limit
    )
    title_rows, _ = _nearest(
        table=TITLES, space=space, query_vectors=[query_vector], filters=filters, limit=limit
    )
    keyword_query = _tsquery(text)  # built once: the candidates and the exact rank read it
    keyword_rows = _keyword_candidates(
        space=space, keyword=keyword_query, filters=filters, limit=limit
    )
    union = sorted({row[0] for row in image_rows + title_rows + keyword_rows})
    images, titles, keywords, product_titles = _signals_exact(
        space=space, query_vector=query_vector, keyword=keyword_query, product_ids=union
    )
    image_sim = np.array([images.get(pid, (0.0, ""))[0] for pid in union])
    title_sim = np.array([titles.get(pid, 0.0) for pid in union])
    keyword = np.array([keywords.get(pid, 0.0) for pid in union])
    fused = fuse(image_sim=image_sim, title_sim=title_sim, keyword=keyword, weights=weights)
    keyword_part = keyword_normalise(keyword, k=weights.keyword_k)
    heads = space_heads(space)
    # the facet term, only for a query that names a colour or an item type of the heads
    faceted = float(settings.FUSION_FACET_WEIGHT) > 0 and bool(facets_named(text, heads))
    facet_weight = float(settings.FUSION_FACET_WEIGHT) if faceted else 0.0
    vectors = (
        {pid: halfvec_decode(vec) for pid, (_, vec) in images.items() if vec}
        if diversity > 0 or faceted
        else {}
    )
    facets = (
        facet_term(heads=heads, text=text, vectors=vectors, titles=product_titles, ids=union)
        if faceted
        else np.zeros(len(union))
    )
    # min_score bounds the fused score; the facet term only re-orders.
    scores = fused + facet_weight * facets
    parts = {
        pid: {
            "image": round(float(image_sim[i]), 6),
            "title": round(float(title_sim[i]), 6),
            "keyword": round(float(keyword_part[i]), 6),
            "keyword_rank": round(float(keyword[i]), 6),
            "facets": round(float(facets[i]), 6),
        }
        for i, pid in enumerate(union)
    }
    ranked = sorted(
        ((pid, float(scores[i])) for i, pid in enumerate(union)
         if min_score is None or fused[i] >= min_score),
        key=lambda r: (-r[1], r[0]),
    )  # fmt: skip
    chosen, has_next, extra = _page(
        space=space, ranked=ranked, vectors=vectors, k=k, page=page, diversity=diversity
    )
    # Relevance of a text result: the calibrated semantic part of its score (image and title
    # cosines, weighted as fused); a full-text match of every query word is always a match.
    semantic_weight = weights.image + weights.title
    extra["relevance"] = _relevance(
        heads=heads,
        mode="hybrid",
        scored={
            pid: (weights.image * parts[pid]["image"] + weights.title * parts[pid]["title"])
            / (semantic_weight or 1.0)
            for pid, _ in chosen
        },
        keyword={pid: parts[pid]["keyword_rank"] for pid, _ in chosen},
    )
    return _result(
        chosen=chosen,
        space=space,
        started=started,
        page=max(1, int(page)),
        k=max(1, int(k)),
        scanned=len(image_rows) + len(title_rows) + len(keyword_rows),
        has_next=has_next,
        mode="hybrid",
        exact=exact,
        parts={pid: parts[pid] for pid, _ in chosen},
        **extra,
    )


def products_similar(
    *, product: Product, k: int = 24, diversity: float = 0.0, seller: str | None = None,
    space: EmbeddingSpace | None = None,
) -> SearchResult:  # fmt: skip
    """Products that look like ``product``: the mean of its image vectors, itself excluded; the
    type re-rank reads its item type from its photos and its title (SEARCH_TYPE_RERANK_TITLES).
    ``seller`` (a slug) keeps that seller's products only."""
    space = space or space_active()
    if space is None:
        raise NoActiveSpace("No embedding space is active.")
    stored = list(
        ImageEmbedding.objects.filter(space=space, product=product).values_list(
            "vector", "raw_vector"
        )
    )
    vectors = [halfvec_decode(v) for v, _ in stored]
    if not vectors:
        raise EmptyQuery("This product has no image vectors in the active space yet.")
    raws = [halfvec_decode(r) for _, r in stored if r is not None]
    return products_search(
        space=space,
        query_vector=np.mean(np.stack(vectors), axis=0),
        query_raw=_normalise(np.mean(np.stack(raws), axis=0)) if raws else None,
        k=k,
        diversity=diversity,
        exclude_product_ids=[product.pk],
        query_title=product.title,
        seller=seller,
    )


# ----------------------------------------------------------------------------- the entry point
@dataclass(frozen=True)
class SearchQuery:
    """One shopper query: photos (RGB PIL images) and/or a text, the filters and the page."""

    images: Sequence = ()
    text: str = ""
    negative_text: str = ""
    image_weight: float = 0.5
    crops: bool = False
    category: str | None = None
    min_price: object = None
    max_price: object = None
    brand: str | None = None
    seller: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)  # taxonomy facet → label
    k: int = 24
    page: int = 1
    diversity: float = 0.0
    min_score: float | None = None
    expand: bool = False  # photo queries: pseudo-relevance feedback (EXPAND_TOP, EXPAND_WEIGHT)
    # the text's words the catalog does not use are replaced by the nearest catalog words
    # (catalog.spelling, SEARCH_SPELLING); false searches them as typed
    correct: bool = True


def search(query: SearchQuery) -> SearchResult:
    """Run a shopper query in the active space. Raises NoActiveSpace or EmptyQuery.

    Photo queries (± text) search the image vectors, with ``crops`` over the crops too; a
    "without X" negative text also drops products whose attribute is X. A text-only query runs
    the hybrid search (image and title vectors plus full text, fused)."""
    space = space_active()
    if space is None:
        raise NoActiveSpace("Search is unavailable: no embedding space is active.")
    corrected = query_corrected(query.text) if query.correct else None
    if corrected:
        query = dataclasses.replace(query, text=corrected)
    result = _search(query, space=space)
    result.corrected_text = corrected or ""
    return result


def _search(query: SearchQuery, *, space: EmbeddingSpace) -> SearchResult:
    heads = space_heads(space)
    common = {
        "category": query.category or None,
        "min_price": query.min_price,
        "max_price": query.max_price,
        "brand": query.brand or None,
        "seller": query.seller or None,
        "attributes": dict(query.attributes),
        "exclude_attributes": negative_attributes(query.negative_text, heads=heads),
        "k": query.k,
        "page": query.page,
        "diversity": query.diversity,
        "min_score": query.min_score,
    }
    if query.images:
        # "like this, but in blue": a colour the space's colour head knows is applied by
        # re-scoring with that head (measured best on validation, docs/benchmarks.md); what
        # else the text says is mixed into the query vector as before.
        colour, text = modifier_split(query.text, heads=heads)
        vectors, raw, subjects = _query_build(
            space=space,
            images=list(query.images),
            text=text,
            negative_text=query.negative_text,
            image_weight=query.image_weight,
            crops=query.crops,
        )
        modifier = (
            modifier_vector_build(space=space, photo_vector=vectors[0], colour=colour)
            if colour
            else None
        )
        result = products_search(
            space=space,
            query_vector=vectors[0],
            query_vectors=vectors[1:],
            colour=colour,
            modifier_vector=modifier,
            # a photo with words to mix in stays in the space, where the words are
            query_raw=raw if not text and not query.negative_text else None,
            expand=query.expand,
            subject=any(found.box is not None for found in subjects),
            **common,
        )
        result.subjects = subjects
        return result
    vector = query_vectors_build(space=space, text=query.text, negative_text=query.negative_text)
    return products_search_hybrid(space=space, text=query.text, query_vector=vector[0], **common)
