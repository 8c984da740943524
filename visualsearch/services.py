"""Embedding writes: compute vectors for product images and titles in a space.

Model inference and image decoding happen outside database transactions; the write that
follows re-reads the row and skips work already done, so a job may run twice safely.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
from django.db import transaction

from catalog.images import decode_rgb
from catalog.models import Product, ProductImage
from visualsearch import selectors, spaces, tasks
from visualsearch.attributes import attributes_score
from visualsearch.embedders import images_encode
from visualsearch.heads import heads_load
from visualsearch.models import (
    EmbeddingFailure,
    EmbeddingSpace,
    ImageAttribute,
    ImageEmbedding,
    TitleEmbedding,
)
from visualsearch.signals import vectors_written
from visualsearch.spaces import space_active
from visualsearch.vector_sql import halfvec_decode

log = logging.getLogger(__name__)


class PermanentEmbedError(Exception):
    """The input itself is bad; retrying cannot help."""


def title_embedding_text(product: Product) -> str:
    parts = [product.title]
    if product.brand and product.brand.lower() not in product.title.lower():
        parts.append(product.brand)
    return ". ".join(parts)


def embeddings_enqueue(*, image_ids: Sequence[int] = (), product_ids: Sequence[int] = ()) -> None:
    """Send embedding jobs for the active space. Called on commit by catalog services."""

    space = _active_space_cached()
    if space is None:
        return
    for start in range(0, len(image_ids), 32):
        tasks.images_embed_task.send(list(image_ids[start : start + 32]), space.pk)
    for start in range(0, len(product_ids), 64):
        tasks.titles_embed_task.send(list(product_ids[start : start + 64]), space.pk)


_active_cache: tuple[float, EmbeddingSpace | None] = (0.0, None)
ACTIVE_SPACE_TTL = 2.0


def _active_space_cached() -> EmbeddingSpace | None:
    """The active space, looked up at most every 2 s per process: a bulk import commits many
    rows a second. A job sent to the old space just after a switch is harmless, and `reconcile`
    (run after activation) covers the new one."""
    global _active_cache
    now = time.monotonic()
    if now - _active_cache[0] > ACTIVE_SPACE_TTL:
        _active_cache = (now, space_active())
    return _active_cache[1]


def images_embed(*, image_ids: Sequence[int], space: EmbeddingSpace) -> int:
    """Embed the images that still lack a vector in ``space``. Returns how many were written.

    An image that cannot be decoded is recorded as a permanent failure with its reason; it is
    not retried. Any other error propagates so the job is retried (within limits)."""
    done = set(
        ImageEmbedding.objects.filter(space=space, image_id__in=image_ids).values_list(
            "image_id", flat=True
        )
    )
    todo = list(ProductImage.objects.filter(pk__in=image_ids).exclude(pk__in=done))
    decoded, rows = [], []
    for image in todo:
        try:
            with image.file.open("rb") as handle:
                content = handle.read()
            decoded.append(decode_rgb(content))
            rows.append(image)
        except Exception as exc:  # noqa: BLE001 - any decode failure is the input's fault
            image_failure_record(image=image, space=space, reason=f"cannot decode: {exc}",
                                 permanent=True)  # fmt: skip
    if not rows:
        return 0
    embedder = spaces.embedder_for(space)
    vectors, raws = images_encode(embedder, decoded)
    if raws is not None and raws.shape[1] != spaces.space_raw_dim(space):
        raws = None  # the space has no raw channel (no training domain in its heads)
    attributes = attributes_top(vectors=vectors, embedder=embedder, pretrained=space.pretrained,
                                titles=_titles_of([r.product_id for r in rows]))  # fmt: skip
    with transaction.atomic():
        existing = set(
            ProductImage.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", flat=True)
        )
        objs = [
            ImageEmbedding(
                image=img,
                product_id=img.product_id,
                space=space,
                vector=vec.tolist(),
                raw_vector=raws[i].tolist() if raws is not None else None,
                image_sha256=img.sha256,
            )  # fmt: skip
            for i, (img, vec) in enumerate(zip(rows, vectors, strict=True))
            if img.pk in existing
        ]
        ImageEmbedding.objects.bulk_create(objs, ignore_conflicts=True)
        by_image = {img.pk: scored for img, scored in zip(rows, attributes, strict=True)}
        _attributes_write(space=space, scored={o.image_id: by_image[o.image_id] for o in objs},
                          products={o.image_id: o.product_id for o in objs})  # fmt: skip
        EmbeddingFailure.objects.filter(
            space=space, image_id__in=[o.image_id for o in objs]
        ).delete()
        _announce_vectors(space=space, product_ids=[o.product_id for o in objs])
    return len(objs)


def _announce_vectors(*, space: EmbeddingSpace, product_ids: list[int]) -> None:
    """``signals.vectors_written`` once this transaction commits (dedupe scans those products)."""
    ids = sorted(set(product_ids))
    if ids:
        transaction.on_commit(
            lambda: vectors_written.send(sender=None, space_id=space.pk, product_ids=ids)
        )


def _titles_of(product_ids: Sequence[int]) -> list[str]:
    """The titles of these products, in order (one per id; "" for a product since deleted)."""
    titles = dict(Product.objects.filter(pk__in=set(product_ids)).values_list("pk", "title"))
    return [titles.get(pk, "") for pk in product_ids]


def attributes_top(
    *, vectors, embedder, pretrained: str, titles: Sequence[str] | None = None
) -> list[dict[str, tuple[str, float]]]:
    """Per image vector, per taxonomy facet: its most likely label and that label's confidence,
    from the space's calibrated heads where it has them (``heads.safetensors`` beside its
    checkpoint ``pretrained``), else zero-shot. What is stored as `ImageAttribute` rows (the
    confidence floor is applied when they are read). ``titles`` (one per vector, its product's
    title) let heads with title evidence read the labels a title names: "Navy Blue Shirt"
    makes navy blue likelier than the photo alone says.

    The label prompts are embedded once per embedder (i.e. per space) per process
    (``attributes.label_embeddings`` caches them)."""

    if len(vectors) == 0:
        return []
    scored = attributes_score(
        vectors, embedder, top_k=1, heads=heads_load(pretrained),
        titles=list(titles) if titles is not None else None,
    )  # fmt: skip
    return [{facet: labels[0] for facet, labels in row.items()} for row in scored]


def _attributes_write(
    *, space: EmbeddingSpace, scored: dict[int, dict], products: dict[int, int]
) -> int:
    """Replace the stored attributes of these images in ``space``. Call inside a transaction."""
    ImageAttribute.objects.filter(space=space, image_id__in=list(scored)).delete()
    rows = [
        ImageAttribute(
            image_id=image_id,
            product_id=products[image_id],
            space=space,
            name=facet,
            value=value,
            confidence=min(1.0, max(0.0, float(confidence))),
        )
        for image_id, facets in scored.items()
        for facet, (value, confidence) in facets.items()
    ]
    ImageAttribute.objects.bulk_create(rows)
    return len(scored)


def image_attributes_compute(
    *, image_ids: Sequence[int], space: EmbeddingSpace, refresh: bool = False
) -> int:
    """Backfill attributes from the stored vectors of images that have none yet in ``space``
    (vectors written before attributes existed); with ``refresh``, recompute them even where
    they exist (the product's title changed). Idempotent. Returns images written."""

    done = (
        set()
        if refresh
        else set(
            ImageAttribute.objects.filter(space=space, image_id__in=image_ids).values_list(
                "image_id", flat=True
            )
        )
    )
    stored = list(
        ImageEmbedding.objects.filter(space=space, image_id__in=image_ids)
        .exclude(image_id__in=done)
        .values_list("image_id", "product_id", "vector")
    )
    if not stored:
        return 0
    vectors = np.stack([halfvec_decode(v) for *_, v in stored])
    scored = attributes_top(
        vectors=vectors, embedder=spaces.embedder_for(space), pretrained=space.pretrained,
        titles=_titles_of([row[1] for row in stored]),
    )  # fmt: skip
    with transaction.atomic():
        alive = set(
            ImageEmbedding.objects.filter(
                space=space, image_id__in=[row[0] for row in stored]
            ).values_list("image_id", flat=True)
        )
        keep = [(row, s) for row, s in zip(stored, scored, strict=True) if row[0] in alive]
        return _attributes_write(
            space=space,
            scored={row[0]: s for row, s in keep},
            products={row[0]: row[1] for row, _ in keep},
        )


def attributes_enqueue(
    *, image_ids: Sequence[int], space: EmbeddingSpace, refresh: bool = False
) -> None:
    """Send attribute backfill jobs (``reconcile`` calls this); ``refresh`` recomputes
    attributes that exist (new heads)."""

    for start in range(0, len(image_ids), 256):
        tasks.image_attributes_task.send(list(image_ids[start : start + 256]), space.pk, refresh)


def attributes_refresh(*, space: EmbeddingSpace) -> int:
    """Recompute, in the worker, the stored attributes of every image embedded in ``space``
    (its heads changed: new shipped heads, a refitted calibration). Returns how many images."""

    image_ids = selectors.images_embedded(space=space)
    attributes_enqueue(image_ids=image_ids, space=space, refresh=True)
    return len(image_ids)


def image_failure_record(*, image: ProductImage, space: EmbeddingSpace, reason: str,
                         permanent: bool) -> None:  # fmt: skip
    failure, created = EmbeddingFailure.objects.get_or_create(
        image=image, space=space, defaults={"reason": reason[:2000], "permanent": permanent}
    )
    if not created:
        failure.reason = reason[:2000]
        failure.permanent = permanent
        failure.attempts += 1
        failure.save()


def titles_embed(*, product_ids: Sequence[int], space: EmbeddingSpace) -> int:
    """(Re-)embed product titles whose stored text differs from the current one. Where the
    space's heads read titles, the images of a product whose title changed get their
    attributes recomputed too."""
    products = list(Product.objects.filter(pk__in=product_ids))
    stored = dict(
        TitleEmbedding.objects.filter(space=space, product_id__in=product_ids).values_list(
            "product_id", "text"
        )
    )
    todo = [p for p in products if stored.get(p.pk) != title_embedding_text(p)]
    if not todo:
        return 0
    texts = [title_embedding_text(p) for p in todo]
    vectors = spaces.embedder_for(space).encode_texts(texts)
    with transaction.atomic():
        for product, text, vec in zip(todo, texts, vectors, strict=True):
            TitleEmbedding.objects.update_or_create(
                product_id=product.pk, space=space, defaults={"vector": vec.tolist(), "text": text}
            )
        _announce_vectors(space=space, product_ids=[p.pk for p in todo])
    changed = [p.pk for p in todo if p.pk in stored]  # a first embedding: images do their own
    heads = heads_load(space.pretrained)
    if changed and heads is not None and any(h.title_weight > 0 for h in heads.heads.values()):
        image_ids = list(
            ImageEmbedding.objects.filter(space=space, product_id__in=changed).values_list(
                "image_id", flat=True
            )
        )
        if image_ids:
            image_attributes_compute(image_ids=image_ids, space=space, refresh=True)
    return len(todo)
