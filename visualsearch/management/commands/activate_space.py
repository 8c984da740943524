from django.core.management.base import BaseCommand, CommandError

from visualsearch import selectors
from visualsearch.models import EmbeddingSpace
from visualsearch.spaces import space_activate


class Command(BaseCommand):
    help = "Make a registered space the one search uses (blue/green switch)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--force", action="store_true", help="even if vectors are missing")

    def handle(self, *args, name, force, **options):
        space = EmbeddingSpace.objects.filter(name=name).first()
        if space is None:
            known = ", ".join(EmbeddingSpace.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"no space named {name!r} (registered: {known})")
        missing_images, missing_titles = selectors.embeddings_missing(space=space)
        if (missing_images or missing_titles) and not force:
            raise CommandError(
                f"{name} still misses {len(missing_images)} image and {len(missing_titles)} title "
                "vectors; backfill it first, or pass --force"
            )
        space_activate(name=name)
        self.stdout.write(self.style.SUCCESS(f"{name} is now the active search space"))
