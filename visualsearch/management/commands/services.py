from django.conf import settings
from django.core.management.base import BaseCommand

from visualsearch import infra


class Command(BaseCommand):
    help = "Show or stop the embedded PostgreSQL and local Redis (started on demand elsewhere)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "stop"])

    def handle(self, *args, action, **options):
        db = settings.DATABASES["default"]
        if action == "status":
            self.stdout.write(
                f"database: {db['HOST']} / {db['NAME']} (pgvector {getattr(settings, 'PGVECTOR_VERSION', '?')})"
            )
            self.stdout.write(f"broker:   {settings.DRAMATIQ_BROKER_URL}")
            return
        from django.db import connections

        connections.close_all()
        if not settings.DATABASE_URL:
            stopped = infra.stop_embedded_postgres(settings.VAR_DIR / "pg")
            self.stdout.write(f"embedded PostgreSQL: {'stopped' if stopped else 'not running'}")
        if settings.DRAMATIQ_BROKER_URL.startswith("unix://" + str(settings.VAR_DIR)):
            stopped = infra.stop_local_redis(settings.VAR_DIR / "redis")
            self.stdout.write(f"local Redis: {'stopped' if stopped else 'not running'}")
