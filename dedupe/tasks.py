"""Background jobs for duplicate detection. Actors receive ids and call one service.

`DuplicateScanAfterEmbedding` (a dramatiq middleware added in `DedupeConfig.ready`) sends
`duplicate_scan_task` for the products whose image or title vectors a worker just committed,
so new and changed listings are checked without touching the embedding code.
"""

from __future__ import annotations

import logging

import dramatiq
from django.conf import settings
from django.db.models import F

from dedupe import services
from dedupe.models import ScanRun

log = logging.getLogger(__name__)

RETRY = {"max_retries": settings.JOB_MAX_RETRIES, "min_backoff": 2_000, "max_backoff": 60_000}
COUNTS = ("created", "updated", "reopened", "kept_decided", "below_threshold", "hidden")


@dramatiq.actor(actor_name="duplicate_scan_task", queue_name="dedupe", time_limit=900_000, **RETRY)
def duplicate_scan_task(product_ids: list[int], run_id: int | None = None) -> None:
    result = services.duplicates_scan(product_ids=product_ids)
    if run_id is not None:
        ScanRun.objects.filter(pk=run_id).update(
            batches_done=F("batches_done") + 1,
            products_done=F("products_done") + len(product_ids),
            **{name: F(name) + getattr(result, name) for name in COUNTS},
        )


EMBEDDING_ACTORS = {"images_embed_task", "titles_embed_task"}


class DuplicateScanAfterEmbedding(dramatiq.Middleware):
    """After an embedding job succeeds (its transaction has committed), scan its products."""

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if exception is not None or message.actor_name not in EMBEDDING_ACTORS:
            return
        if not settings.DEDUPE_SCAN_ON_EMBED:
            return
        try:
            ids = list(message.args[0]) if message.args else []
            if message.actor_name == "images_embed_task":
                from catalog.models import ProductImage

                ids = sorted(
                    set(
                        ProductImage.objects.filter(pk__in=ids).values_list("product_id", flat=True)
                    )
                )
            if ids:
                duplicate_scan_task.send(ids)
        except Exception:  # noqa: BLE001 - a missed scan is caught by the next dedupe_scan
            log.exception("could not enqueue a duplicate scan after %s", message.actor_name)
