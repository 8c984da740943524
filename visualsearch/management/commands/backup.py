"""``manage.py backup DIR``: the database (pg_dump -Fc) and the media and model files, with a
manifest. The logic lives in :mod:`visualsearch.backup`."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from visualsearch import backup


class Command(BaseCommand):
    help = (
        "Back up the configured database (pg_dump, custom format) and the files of MEDIA_ROOT "
        "and MODELS_DIR into DIR (a new or empty folder), with a manifest of row counts and "
        "checksums. With S3 media storage the bucket is not copied."
    )

    def add_arguments(self, parser):
        parser.add_argument("dir", type=Path, help="a new or empty folder")

    def handle(self, *args, dir, **options):
        try:
            manifest = backup.backup_create(target=dir, log=self.stdout.write)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None
        database = manifest["database"]
        media = manifest["media"]
        self.stdout.write(self.style.SUCCESS(
            f"Backed up {database['name']}: {len(database['tables'])} tables, "
            f"{sum(database['tables'].values())} rows, {len(database['hnsw_indexes'])} HNSW "
            f"indexes; media {media['count'] if media['covered'] else 'not covered'}, models "
            f"{manifest['models']['count']} files."
        ))  # fmt: skip
