"""Background jobs. Actors receive ids, re-read rows and call one service."""

from __future__ import annotations

import dramatiq
from django.conf import settings

from visualsearch import services, training
from visualsearch.models import EmbeddingSpace

RETRY = {"max_retries": settings.JOB_MAX_RETRIES, "min_backoff": 2_000, "max_backoff": 60_000}


def _space(space_id: int) -> EmbeddingSpace | None:
    return EmbeddingSpace.objects.filter(pk=space_id).first()


@dramatiq.actor(actor_name="images_embed_task", queue_name="embedding", time_limit=600_000, **RETRY)
def images_embed_task(image_ids: list[int], space_id: int) -> None:
    space = _space(space_id)
    if space is not None:
        services.images_embed(image_ids=image_ids, space=space)


@dramatiq.actor(actor_name="titles_embed_task", queue_name="embedding", time_limit=600_000, **RETRY)
def titles_embed_task(product_ids: list[int], space_id: int) -> None:
    space = _space(space_id)
    if space is not None:
        services.titles_embed(product_ids=product_ids, space=space)


@dramatiq.actor(
    actor_name="image_attributes_task", queue_name="embedding", time_limit=600_000, **RETRY
)
def image_attributes_task(image_ids: list[int], space_id: int, refresh: bool = False) -> None:
    space = _space(space_id)
    if space is not None:
        services.image_attributes_compute(image_ids=image_ids, space=space, refresh=refresh)


@dramatiq.actor(
    actor_name="space_train_task", queue_name="embedding", time_limit=3_600_000, max_retries=1
)
def space_train_task(name: str, max_seconds: float = 240.0) -> None:
    """Train a candidate space on the catalog; it replaces the active space (backfilled first)
    only if it wins on held-out catalog products (``training.space_train``)."""

    training.space_train(
        name=name, items=training.catalog_training_items(), max_seconds=max_seconds,
        activate=True, progress=False,
    )  # fmt: skip
