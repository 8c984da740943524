import csv
from pathlib import Path

from django.core.management.base import BaseCommand

from visualsearch.offline_model import product_text, train_space


class Command(BaseCommand):
    help = (
        "Train the offline EfficientNet-Lite0 + MiniLM open_clip space on (image, text) pairs "
        "from a CSV with columns image,title[,category][,colour]; prints architecture + checkpoint."
    )

    def add_arguments(self, parser):
        parser.add_argument("csv", type=Path)
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--max-seconds", type=float, default=300)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **o):
        base = o["csv"].parent
        with open(o["csv"], newline="") as fh:
            items = [
                (
                    base / row["image"],
                    product_text(row["title"], row.get("category"), row.get("colour")),
                )
                for row in csv.DictReader(fh)
            ]
        result = train_space(
            items=items, out_dir=o["out"], max_seconds=o["max_seconds"], seed=o["seed"]
        )
        self.stdout.write(f"architecture={result.architecture} checkpoint={result.checkpoint_path}")
