from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from visualsearch.lab.evaluation import DEFAULT_DATA, run_eval


class Command(BaseCommand):
    help = (
        "Train the offline space on 80% of Fashion Product Images (Small) and evaluate text, "
        "hybrid, BM25, image and zero-shot search on the held-out 20%."
    )

    def add_arguments(self, parser):
        var = Path(getattr(settings, "BASE_DIR", Path.cwd())) / "var"
        parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
        parser.add_argument("--out", type=Path, default=var / "spaces" / "fashion-eval")
        parser.add_argument("--cache", type=Path, default=None, help="reuse tower features")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--max-train-seconds", type=float, default=300)
        parser.add_argument("--limit", type=int, default=None, help="first N products only")

    def handle(self, *args, **o):
        if not (o["data"] / "styles.csv").is_file():
            self.stderr.write(f"no styles.csv under {o['data']}")
            return
        run_eval(
            data_dir=o["data"],
            out_dir=o["out"],
            seed=o["seed"],
            cache_dir=o["cache"],
            max_train_seconds=o["max_train_seconds"],
            limit=o["limit"],
        )
