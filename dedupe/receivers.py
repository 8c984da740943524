"""Duplicate moderation's answers to what visual search announces (connected in
``apps.ready``)."""

from __future__ import annotations

import logging

from django.conf import settings

from dedupe.tasks import duplicate_scan_task

log = logging.getLogger(__name__)


def scan_after_vectors(sender, *, product_ids=(), **kwargs) -> None:
    """Products with new image or title vectors get a duplicate scan (DEDUPE_SCAN_ON_EMBED)."""
    if not settings.DEDUPE_SCAN_ON_EMBED or not product_ids:
        return
    try:
        duplicate_scan_task.send(list(product_ids))
    except Exception:  # noqa: BLE001 - a missed scan is caught by the next dedupe_scan
        log.exception("could not enqueue a duplicate scan for %d products", len(product_ids))
