from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from visualsearch.reindexing import UnknownSpace, space_by_name, space_reindex


class Command(BaseCommand):
    help = (
        "Backfill the image and title vectors a space is missing, in batches (resumable: a rerun "
        "does only what is still missing). The space may be inactive; search on the active "
        "space is not disturbed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--space", required=True, help="name of a registered space")
        parser.add_argument("--batch", type=int, default=32, help="items per batch (default 32)")
        parser.add_argument(
            "--limit", type=int, default=None, help="handle at most N items in this run"
        )
        parser.add_argument(
            "--enqueue", action="store_true",
            help="send the batches to the dramatiq workers instead of embedding here",
        )  # fmt: skip

    def handle(self, *args, space, batch, limit, enqueue, **options):
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        if limit is not None and limit < 0:
            raise CommandError("--limit cannot be negative")
        try:
            target = space_by_name(name=space)
        except UnknownSpace as exc:
            raise CommandError(str(exc)) from None
        bar = tqdm(unit="item", desc=f"reindex {target.name}", disable=None)

        def on_total(total: int) -> None:
            bar.total = total
            bar.refresh()

        try:
            s = space_reindex(space=target, batch=batch, limit=limit, enqueue=enqueue,
                              on_total=on_total, on_progress=bar.update)  # fmt: skip
        finally:
            bar.close()
        if enqueue:
            self.stdout.write(f"space {s.space}: enqueued {s.batches_enqueued} batches")
        self.stdout.write(
            f"space {s.space}: embedded {s.images_embedded} images and {s.titles_embedded} "
            f"titles; already done {s.images_already} images and {s.titles_already} titles; "
            f"failed {s.failed}; still missing {s.images_left} images and {s.titles_left} titles"
        )
        for reason, count in s.failures.most_common():
            self.stdout.write(f"  failed ({count}): {reason}")
