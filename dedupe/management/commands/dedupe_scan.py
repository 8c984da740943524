"""`manage.py dedupe_scan [--batch N] [--wait]`: scan the whole catalog for duplicates.

Active products are sent to the dramatiq workers in batches (queue "dedupe"). With --wait the
command follows the batches as they finish with a progress bar, then prints a summary.
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from catalog.models import Product, ProductStatus
from dedupe.models import ScanRun
from dedupe.tasks import COUNTS, duplicate_scan_task


class Command(BaseCommand):
    help = "Scan every active product for duplicate candidates through the dramatiq workers."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=settings.DEDUPE_SCAN_BATCH,
                            help="products per job (default DEDUPE_SCAN_BATCH)")  # fmt: skip
        parser.add_argument("--wait", action="store_true", help="follow the jobs to the end")
        parser.add_argument("--timeout", type=float, default=3600.0,
                            help="seconds --wait waits at most (default 3600)")  # fmt: skip

    def handle(self, *args, batch, wait, timeout, **options):
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        ids = list(
            Product.objects.filter(status=ProductStatus.ACTIVE)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        batches = [ids[i : i + batch] for i in range(0, len(ids), batch)]
        run = ScanRun.objects.create(batches=len(batches), products=len(ids))
        for chunk in tqdm(batches, desc="enqueue", unit="batch", disable=not batches):
            duplicate_scan_task.send(chunk, run.pk)
        self.stdout.write(
            f"scan {run.pk}: {len(ids)} active products in {len(batches)} jobs on queue 'dedupe'"
        )
        if not wait:
            return
        deadline = time.monotonic() + timeout
        with tqdm(total=len(ids), desc="scan", unit="product") as bar:
            while True:
                run.refresh_from_db()
                bar.update(run.products_done - bar.n)
                if run.finished:
                    break
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"scan {run.pk}: {run.batches_done}/{run.batches} jobs done after "
                        f"{timeout:.0f}s; is a worker running (manage.py rundramatiq)?"
                    )
                time.sleep(0.5)
        summary = ", ".join(f"{name.replace('_', ' ')} {getattr(run, name)}" for name in COUNTS)
        self.stdout.write(f"scan {run.pk} done: {run.products_done} products; {summary}")
