"""Backfill a space's image and title vectors in batches (``manage.py reindex``).

Resumable by construction: every run starts from ``selectors.embeddings_missing``, so a run that
was interrupted (or capped with ``limit``) and is started again does only what is still missing,
and the embedding services themselves skip rows that already have a vector. Only rows of the
given space are written, so search on the active space is not disturbed while another space is
backfilled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from catalog.models import Product, ProductImage
from visualsearch import selectors, services, tasks
from visualsearch.models import EmbeddingFailure, EmbeddingSpace, ImageEmbedding, TitleEmbedding


class UnknownSpace(LookupError):
    """No space has this name; the message lists the known ones."""


@dataclass
class ReindexSummary:
    space: str
    images_embedded: int = 0
    titles_embedded: int = 0
    images_already: int = 0
    titles_already: int = 0
    images_left: int = 0
    titles_left: int = 0
    batches_enqueued: int = 0
    failures: Counter = field(default_factory=Counter)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


def space_by_name(*, name: str) -> EmbeddingSpace:
    space = EmbeddingSpace.objects.filter(name=name).first()
    if space is None:
        known = ", ".join(EmbeddingSpace.objects.order_by("name").values_list("name", flat=True))
        raise UnknownSpace(f"no embedding space named {name!r}; known spaces: {known or '(none)'}")
    return space


def _reason_kind(reason: str) -> str:
    """'cannot decode: cannot identify image file ...' → 'cannot decode'."""
    return reason.split(":", 1)[0].strip()[:80] or "unknown"


def space_reindex(
    *,
    space: EmbeddingSpace,
    batch: int = 32,
    limit: int | None = None,
    enqueue: bool = False,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ReindexSummary:
    """Embed the images and titles ``space`` is missing, ``batch`` at a time.

    ``limit`` caps how many images and titles (together, images first) this run handles.
    With ``enqueue`` the batches are sent to the dramatiq actors instead of run here."""

    batch = max(1, int(batch))
    image_ids, product_ids = selectors.embeddings_missing(space=space)
    summary = ReindexSummary(space=space.name)
    summary.images_already = ImageEmbedding.objects.filter(space=space).count()
    summary.titles_already = TitleEmbedding.objects.filter(space=space).count()
    if limit is not None:
        image_ids = image_ids[: max(0, limit)]
        product_ids = product_ids[: max(0, limit - len(image_ids))]
    if on_total:
        on_total(len(image_ids) + len(product_ids))
    EmbeddingSpace.objects.filter(pk=space.pk).update(status=EmbeddingSpace.Status.BACKFILLING)

    for start in range(0, len(image_ids), batch):
        ids = image_ids[start : start + batch]
        if enqueue:
            tasks.images_embed_task.send(ids, space.pk)
            summary.batches_enqueued += 1
        else:
            try:
                summary.images_embedded += services.images_embed(image_ids=ids, space=space)
            except Exception as exc:  # noqa: BLE001 - reported per batch, the run goes on
                summary.failures[f"{type(exc).__name__}: {str(exc)[:80]}"] += len(ids)
            for reason in EmbeddingFailure.objects.filter(
                space=space, image_id__in=ids
            ).values_list("reason", flat=True):
                summary.failures[_reason_kind(reason)] += 1
        if on_progress:
            on_progress(len(ids))

    for start in range(0, len(product_ids), batch):
        ids = product_ids[start : start + batch]
        if enqueue:
            tasks.titles_embed_task.send(ids, space.pk)
            summary.batches_enqueued += 1
        else:
            try:
                summary.titles_embedded += services.titles_embed(product_ids=ids, space=space)
            except Exception as exc:  # noqa: BLE001
                summary.failures[f"{type(exc).__name__}: {str(exc)[:80]}"] += len(ids)
        if on_progress:
            on_progress(len(ids))

    left_images, left_titles = selectors.embeddings_missing(space=space)
    summary.images_left, summary.titles_left = len(left_images), len(left_titles)
    if not enqueue and not left_images and not left_titles:
        EmbeddingSpace.objects.filter(pk=space.pk).update(status=EmbeddingSpace.Status.READY)
    return summary


def space_coverage(*, space: EmbeddingSpace) -> tuple[int, int, int, int]:
    """(image vectors, images, title vectors, products) in ``space``."""
    return (
        ImageEmbedding.objects.filter(space=space).count(),
        ProductImage.objects.count(),
        TitleEmbedding.objects.filter(space=space).count(),
        Product.objects.count(),
    )
