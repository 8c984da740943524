from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from visualsearch import infra


class Command(BaseCommand):
    help = (
        "Start, show or stop the embedded PostgreSQL and local Redis (every other command that"
        " needs them starts them too)."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["start", "status", "stop"])

    def handle(self, *args, action, **options):
        # manage.py leaves the services to this command: `stop` must not start them first.
        if action == "stop":
            self.stop()
            return
        try:
            pgvector = infra.services_ensure()
        except infra.ServiceError as exc:
            raise CommandError(str(exc)) from exc
        db = settings.DATABASES["default"]
        where = "embedded" if settings.EMBEDDED_POSTGRES else "DATABASE_URL"
        self.stdout.write(
            f"database: {db['HOST'] or 'localhost'} / {db['NAME']} ({where}, "
            f"pgvector {pgvector or 'not checked'})"
        )
        self.stdout.write(
            f"broker:   {settings.DRAMATIQ_BROKER_URL}"
            f"{' (local Redis)' if settings.LOCAL_REDIS else ''}"
        )

    def stop(self):

        connections.close_all()
        if settings.EMBEDDED_POSTGRES:
            stopped = infra.stop_embedded_postgres(settings.VAR_DIR / "pg")
            self.stdout.write(f"embedded PostgreSQL: {'stopped' if stopped else 'not running'}")
        if settings.LOCAL_REDIS:
            stopped = infra.stop_local_redis(settings.VAR_DIR / "redis")
            self.stdout.write(f"local Redis: {'stopped' if stopped else 'not running'}")
