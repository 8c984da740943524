"""What the catalog announces to the apps above it (visualsearch, dedupe).

The catalog imports nothing from those apps: they connect receivers in their
``AppConfig.ready()``. Every signal here is sent once the write's transaction has committed, so a
receiver (which usually sends a job) never sees a row that is not there yet, and a rolled-back
write announces nothing. A receiver that fails then (the broker is down) is logged and the others
still run: the write has committed and stands, and ``manage.py reconcile`` later sends the jobs
the database says are missing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db import transaction
from django.dispatch import Signal

log = logging.getLogger(__name__)

# A product's photos or text changed: ``image_ids`` are new photos, ``product_ids`` products
# whose title, brand or description changed (or that are new).
product_content_changed = Signal()

# A seller deleted a product (a soft delete: the row stays): ``product_ids``.
product_deleted = Signal()


def announce_on_commit(signal: Signal, **ids: Sequence[int]) -> None:
    """Send ``signal`` with these id lists once the current transaction commits (now, outside
    one). Nothing is sent when every list is empty."""
    lists = {name: [int(i) for i in values] for name, values in ids.items()}
    if not any(lists.values()):
        return
    transaction.on_commit(lambda: announce(signal, **lists))


def announce(signal: Signal, **lists: list[int]) -> None:
    """Send ``signal`` to every receiver; one that fails is logged (by Django, with its traceback)
    and does not stop the others or fail the request whose write has already committed."""
    for receiver, outcome in signal.send_robust(sender=None, **lists):
        if isinstance(outcome, Exception):
            log.warning("%s failed after commit (%s); the write stands and `manage.py "
                        "reconcile` sends missing jobs", getattr(receiver, "__qualname__", receiver),
                        outcome)  # fmt: skip
