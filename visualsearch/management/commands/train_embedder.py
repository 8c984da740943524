import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from visualsearch import training
from visualsearch.offline_model import product_text


class Command(BaseCommand):
    help = (
        "Train a candidate offline space (EfficientNet-Lite0 + MiniLM, open_clip) on the catalog "
        "or a CSV, save it under MODELS_DIR/<space>/, register it, and compare it with the "
        "active space on held-out catalog products; --activate activates it only if it wins."
    )

    def add_arguments(self, parser):
        parser.add_argument("--space", required=True, help="name of the space to register")
        parser.add_argument("--source", choices=["catalog", "csv"], default="catalog")
        parser.add_argument(
            "--csv", type=Path, help="CSV with columns image,title[,category][,colour]"
        )
        parser.add_argument(
            "--images", type=Path, help="folder the CSV's image paths are relative to"
        )
        parser.add_argument("--max-seconds", type=float, default=240)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--activate",
            action="store_true",
            help="backfill and make it the search space if it beats the active one",
        )

    def handle(self, *args, space, source, csv, images, max_seconds, seed, activate, **options):
        if csv is not None:
            source = "csv"
        if source == "csv":
            if csv is None or not csv.is_file():
                raise CommandError("--csv FILE is required with --source csv (and must exist)")
            items = self._csv_items(csv, images or csv.parent)
        else:
            items = training.catalog_training_items()
        try:
            result = training.space_train(name=space, items=items, max_seconds=max_seconds,
                                          seed=seed, activate=activate,
                                          out=self.stdout.write)  # fmt: skip
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(
            f"space {result.name}: {result.architecture}, {result.dimension}-d, "
            f"checkpoint {result.pretrained}{' (active)' if result.is_active else ''}"
        ))  # fmt: skip

    @staticmethod
    def _csv_items(path: Path, base: Path) -> list[training.CatalogItem]:

        with open(path, newline="") as handle:
            return [
                training.CatalogItem(
                    image=base / row["image"],
                    text=product_text(row["title"], row.get("category")),
                    product_id=number,
                    category=row.get("category") or None,
                    colour=row.get("colour") or None,
                )
                for number, row in enumerate(csv.DictReader(handle))
            ]
