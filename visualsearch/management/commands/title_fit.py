import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from visualsearch import default_space
from visualsearch.lab.evaluation import DEFAULT_DATA
from visualsearch.lab.title_fit import run_title_fit


class Command(BaseCommand):
    help = (
        "Fit the shipped heads' title evidence (the colour and item type a product's title "
        "names) on the fashion set's validation split, check it on the other half, and rewrite "
        "the shipped heads file."
    )

    def add_arguments(self, parser):
        parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
        parser.add_argument(
            "--heads", type=Path, default=None,
            help="the heads file to rewrite (default: the shipped one)",
        )  # fmt: skip

    def handle(self, *args, data, heads, **options):
        if not (data / "styles.csv").is_file():
            raise CommandError(f"no styles.csv under {data}")
        heads = heads or default_space.shipped_files()[1]
        if not heads.is_file():
            raise CommandError(f"no heads file {heads}")
        command = ("python manage.py title_fit " + " ".join(sys.argv[2:])).strip()
        report = run_title_fit(data_dir=data, heads_file=heads, command=command)
        for facet in ("category", "colour"):
            if facet in report:
                self.stdout.write(f"{facet}: {json.dumps(report[facet])}")
        self.stdout.write(self.style.SUCCESS(f"wrote {heads}"))
