"""Background jobs for duplicate detection. Actors receive ids and call one service.

`duplicate_scan_task` is also sent for the products whose image or title vectors were just
committed (`dedupe.receivers`, on visualsearch's `vectors_written`), so new and changed
listings are checked without the embedding code knowing about this app.
"""

from __future__ import annotations

import dramatiq
from django.conf import settings
from django.db.models import F

from dedupe import services
from dedupe.models import ScanRun

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
