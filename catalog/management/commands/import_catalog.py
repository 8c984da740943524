import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from catalog import importing, services

DEFAULT_FASHION = Path(__file__).resolve().parents[4] / "shared/data/fashion_product_images_small"


class Command(BaseCommand):
    help = "Import products from a CSV file (or the fashion styles.csv with --format fashion)."

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="CSV file (with --format fashion: styles.csv)")
        parser.add_argument("--seller", required=True, help="seller slug; created if missing")
        parser.add_argument("--images", help="folder the 'images' column is relative to")
        parser.add_argument("--format", choices=["catalog", "fashion"], default="catalog")
        parser.add_argument("--limit", type=int, help="import only the first N rows")
        parser.add_argument("--report", help="write the per-row error report to this CSV file")

    def handle(self, *args, file, seller, images, format, limit, report, **options):
        if format == "fashion":
            path = Path(file) if file else DEFAULT_FASHION / "styles.csv"
            if path.is_dir():
                path = path / "styles.csv"
            if not path.is_file():
                raise CommandError(f"{path} does not exist")
            rows, first = importing.fashion_rows(path), 2
            images_dir = Path(images) if images else path.parent
        else:
            if not file:
                raise CommandError("give the CSV file to import")
            path = Path(file)
            if not path.is_file():
                raise CommandError(f"{path} does not exist")
            try:
                rows, first = importing.read_csv_rows(path)
            except importing.ImportFileError as exc:
                raise CommandError(f"{path}: {exc}") from None
            images_dir = Path(images) if images else None
        if images_dir is not None and not images_dir.is_dir():
            raise CommandError(f"images folder {images_dir} does not exist")
        if limit:
            rows = rows[:limit]
        owner = services.seller_get_or_create(slug=seller)
        started = time.monotonic()
        with tqdm(total=len(rows), unit="row", desc="import", disable=None) as bar:
            result = importing.catalog_import(
                rows=rows, seller=owner, images_dir=images_dir, first_row_number=first,
                on_progress=bar.update,
            )  # fmt: skip
        for error in result.errors[:50]:
            self.stderr.write(f"row {error.row} ({error.external_id or '-'}): {error.reason}")
        if len(result.errors) > 50:
            self.stderr.write(f"... and {len(result.errors) - 50} more (use --report FILE)")
        if report:
            importing.errors_write_csv(result, Path(report))
        seconds = time.monotonic() - started
        self.stdout.write(self.style.SUCCESS(
            f"{result.summary()} in {seconds:.1f} s ({result.total / max(seconds, 1e-9):.0f} rows/s)"
        ))  # fmt: skip
