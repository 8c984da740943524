"""``manage.py restore DIR [--force]``: a backup made by ``manage.py backup`` back into the
configured database and file folders. The logic lives in :mod:`visualsearch.backup`."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from visualsearch import backup


class Command(BaseCommand):
    help = (
        "Restore a backup folder (made by `backup`) into the configured database, MEDIA_ROOT and "
        "MODELS_DIR. Refuses a folder without a valid manifest or with a damaged file, and a "
        "database that already has tables unless --force. Stop the site first."
    )

    def add_arguments(self, parser):
        parser.add_argument("dir", type=Path, help="a folder made by `manage.py backup`")
        parser.add_argument(
            "--force", action="store_true",
            help="replace everything in a database that has tables, and overwrite files that "
            "differ",
        )  # fmt: skip

    def handle(self, *args, dir, force, **options):
        try:
            summary = backup.restore(source=dir, force=force, log=self.stdout.write)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(
            f"Restored {len(summary['tables'])} tables ({sum(summary['tables'].values())} rows), "
            f"{len(summary['hnsw_indexes'])} HNSW indexes, "
            + ", ".join(f"{tree} {n['copied'] + n['unchanged']} files"
                        for tree, n in summary["files"].items())
            + "."
        ))  # fmt: skip
