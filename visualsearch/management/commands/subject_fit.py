import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from visualsearch import default_space
from visualsearch.lab.evaluation import DEFAULT_DATA
from visualsearch.lab.subject_fit import run_subject_fit


class Command(BaseCommand):
    help = (
        "Fit the relevance calibration and floor of photos searched by their subject (simulated "
        "shopper photos of the fashion set's validation split), check it on the other half and "
        "on photos of things the shop does not sell, and rewrite the shipped heads file."
    )

    def add_arguments(self, parser):
        parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
        parser.add_argument(
            "--heads", type=Path, default=None,
            help="the heads file to rewrite (default: the shipped one)",
        )  # fmt: skip
        parser.add_argument("--limit", type=int, default=None,
                            help="only the first N validation rows (a quick check)")  # fmt: skip

    def handle(self, *args, data, heads, limit, **options):
        if not (data / "styles.csv").is_file():
            raise CommandError(f"no styles.csv under {data}")
        heads = heads or default_space.shipped_files()[1]
        if not heads.is_file():
            raise CommandError(f"no heads file {heads}")
        command = ("python manage.py subject_fit " + " ".join(sys.argv[2:])).strip()
        try:
            report = run_subject_fit(data_dir=data, heads_file=heads, command=command,
                                     limit=limit)  # fmt: skip
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"paths: {report['paths']}; foreign photos: {report['foreign_paths']}")
        for name in ("subject", "subject_raw"):
            part = {k: v for k, v in report[name].items() if k != "floor_p10_cost_by_floor"}
            self.stdout.write(f"{name}: {part}")
        self.stdout.write(self.style.SUCCESS(f"wrote {heads}"))
