"""Background jobs of the catalog."""

from __future__ import annotations

import logging
from pathlib import Path

import dramatiq
from django.conf import settings

from catalog import importing, services

log = logging.getLogger(__name__)


@dramatiq.actor(
    actor_name="catalog_import_task", queue_name="imports", time_limit=3_600_000,
    max_retries=settings.JOB_MAX_RETRIES, min_backoff=5_000,
)  # fmt: skip
def catalog_import_task(csv_path: str, seller_slug: str, images_dir: str | None = None) -> dict:
    """Import a catalog CSV in the background; returns the report as a dict."""
    rows, first = importing.read_csv_rows(Path(csv_path))
    seller = services.seller_get_or_create(slug=seller_slug)
    report = importing.catalog_import(
        rows=rows, seller=seller, images_dir=Path(images_dir) if images_dir else None,
        first_row_number=first,
    )  # fmt: skip
    log.info("import of %s for %s: %s", csv_path, seller_slug, report.summary())
    return report.to_dict()


@dramatiq.actor(
    actor_name="import_job_run_task", queue_name="imports", time_limit=3_600_000,
    max_retries=settings.JOB_MAX_RETRIES, min_backoff=5_000,
)  # fmt: skip
def import_job_run_task(job_id: int) -> None:
    """Run a seller's dashboard import (catalog.services.import_job_run)."""
    job = services.import_job_run(job_id=job_id)
    log.info("import job %s: %s", job_id, job.status)
