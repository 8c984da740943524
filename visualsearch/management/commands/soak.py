"""``manage.py soak``: mixed traffic against a running ``make run`` for a bounded time, with a
report of errors, latency over time and memory per process. The logic lives in
:mod:`visualsearch.lab.soak`; run it with the server's settings (same folder and database)."""

import datetime as dt
import shlex
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from visualsearch.lab import markdown, soak


class Command(BaseCommand):
    help = (
        "Soak benchmark (not a test): shoppers searching by text and photo and viewing products, "
        "sellers uploading and importing, a moderator deciding pairs, against a running server "
        "on this folder's database, for --minutes; reports errors, p50/p95 per 5-minute window "
        "and the memory of each of the site's processes. Raise the server's THROTTLE_SEARCH and "
        "THROTTLE_UPLOAD first: every locust user comes from 127.0.0.1."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")
        parser.add_argument("--minutes", type=float, default=30.0)
        parser.add_argument("--shoppers", type=int, default=8, help="shopper users (default 8)")
        parser.add_argument("--sellers", type=int, default=2, help="seller users (default 2)")
        parser.add_argument("--import-every", type=float, default=180,
                            help="seconds between one seller's CSV imports (default 180)")  # fmt: skip
        parser.add_argument("--drain", type=float, default=300,
                            help="seconds to wait afterwards for the embedding backlog")  # fmt: skip
        parser.add_argument("--out", type=Path, default=None,
                            help="folder for the config, events and locust log "
                            "(default VAR_DIR/soak/<time>)")  # fmt: skip
        parser.add_argument("--report", type=Path, default=None,
                            help="write/replace the soak section in this markdown file")  # fmt: skip
        parser.add_argument("--server", default="make run",
                            help="how the server was started, for the report")  # fmt: skip
        parser.add_argument("--note", default="", help="a sentence added to the report")

    def handle(self, *args, url, minutes, shoppers, sellers, import_every, drain, out, report, server, note,
               **options):  # fmt: skip
        if minutes <= 0 or shoppers < 0 or sellers < 1:
            raise CommandError("--minutes must be > 0, --shoppers >= 0 and --sellers >= 1")
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = out or Path(settings.VAR_DIR) / "soak" / stamp
        try:
            result = soak.run(
                url=url.rstrip("/"), minutes=minutes, shoppers=shoppers, sellers=sellers,
                folder=folder, drain_s=drain, import_every_s=import_every, log=self.stdout.write,
            )  # fmt: skip
        except soak.SoakError as exc:
            raise CommandError(str(exc)) from None
        command = "python manage.py " + shlex.join(sys.argv[1:])
        section = soak.section_markdown(report=result, command=command, server=server, note=note)
        self.stdout.write(section)
        if report is not None:
            markdown.section_write(path=report, section=section)
            self.stdout.write(f"wrote the section into {report}")
