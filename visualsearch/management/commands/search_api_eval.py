"""``manage.py search_api_eval``: issue 12's quality numbers measured through ``POST /api/search/``
of a running server. The logic lives in :mod:`visualsearch.lab.api_eval`."""

import shlex
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from visualsearch.lab import api_eval, markdown
from visualsearch.lab.evaluation import DEFAULT_DATA


class Command(BaseCommand):
    help = (
        "Import the fashion set's held-out 20% for one seller (once), wait for the server's "
        "worker to embed it, then measure photo, text, photo+modifier, negative-text, attribute, "
        "out-of-catalog and paging quality through the server's search API. The server must use "
        "the same database as this command."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")
        parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                            help="the fashion set's folder (styles.csv and images/)")  # fmt: skip
        parser.add_argument("--seller", default=None,
                            help="seller slug of the gallery (default: heldout, or validation "
                            "with --split validation)")  # fmt: skip
        parser.add_argument("--split", choices=api_eval.SPLITS, default="test",
                            help="the gallery: the held-out test split (what the issue's targets "
                            "are measured on) or the validation rows space_fit chooses on, for "
                            "design choices on the product path; each has its own report "
                            "section")  # fmt: skip
        parser.add_argument("--queries", type=int, default=300, help="photo queries (sampled)")
        parser.add_argument("--seed", type=int, default=0, help="seed of the query samples")
        parser.add_argument("--report", type=Path, default=None,
                            help="write/replace this command's section in this markdown file")  # fmt: skip
        parser.add_argument("--wait", type=float, default=1800,
                            help="seconds to wait for the worker to embed the gallery")  # fmt: skip
        parser.add_argument("--note", default="", help="a sentence added to the report")

    def handle(self, *args, url, data, seller, split, queries, seed, report, wait, note,
               **options):  # fmt: skip
        seller = seller or ("validation" if split == "validation" else "heldout")
        try:
            result = api_eval.run(
                url=url, data_dir=data, seller=seller, queries=queries, seed=seed,
                wait_timeout=wait, log=self.stdout.write, split=split,
            )  # fmt: skip
        except api_eval.EvalError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(result.table())
        for line in result.notes:
            self.stdout.write(f"- {line}")
        if report is not None:
            section = api_eval.section_markdown(
                report=result, note=note,
                command=self._command_line(url, data, seller, queries, seed, report, split),
            )  # fmt: skip
            markdown.section_write(path=report, section=section)
            self.stdout.write(f"wrote the section into {report}")

    @staticmethod
    def _command_line(url, data, seller, queries, seed, report, split="test") -> str:
        if len(sys.argv) > 1 and sys.argv[1] == "search_api_eval":
            return "python manage.py " + shlex.join(sys.argv[1:])
        return "python manage.py " + shlex.join([
            "search_api_eval", "--url", url, "--data", str(data), "--seller", seller,
            "--queries", str(queries), "--seed", str(seed), "--report", str(report),
            "--split", split,
        ])  # fmt: skip
