"""What visual search announces to the apps above it (dedupe listens in its ``ready()``).

Sent once the write's transaction has committed, so a receiver reads the vectors it is told
about; visualsearch imports nothing from the apps that listen.
"""

from django.dispatch import Signal

# Image or title vectors were written: ``space_id`` and the ``product_ids`` they belong to.
vectors_written = Signal()
