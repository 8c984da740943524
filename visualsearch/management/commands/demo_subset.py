"""``manage.py demo_subset``: choose and write the demo catalog's real photos (a thin wrapper over
:mod:`visualsearch.lab.demo_subset`)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from visualsearch.lab import demo_subset

ROOT = Path(__file__).resolve().parents[3]


class Command(BaseCommand):
    help = (
        "Choose the demo photos from the fashion set's test split and write them, their "
        "styles.csv rows, the licence and a SOURCE file to catalog/demo_data/fashion/."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--data", type=Path,
            default=ROOT.parent / "shared" / "data" / "fashion_product_images_small",
            help="the fashion set (styles.csv and images/)",
        )  # fmt: skip
        parser.add_argument(
            "--out", type=Path, default=ROOT / "catalog" / "demo_data" / "fashion",
            help="where to write the subset (replaced)",
        )  # fmt: skip
        parser.add_argument("--size", type=int, default=demo_subset.DEFAULT_SIZE)

    def handle(self, *args, data, out, size, **options):
        if not (data / "styles.csv").is_file():
            raise CommandError(f"no styles.csv under {data}")
        if size < 1:
            raise CommandError("--size must be at least 1")
        subset = demo_subset.subset_pick(data_dir=data, size=size)
        stats = demo_subset.subset_write(subset=subset, data_dir=data, out_dir=out)
        self.stdout.write(
            self.style.SUCCESS(
                f"{stats['photos']} photos, {stats['article_types']} articleTypes, "
                f"{stats['title_groups']} title groups, {stats['bytes'] / 1e6:.2f} MB in {out}"
            )
        )
