from django.core.management.base import BaseCommand, CommandError

from visualsearch.embedders import get_embedder
from visualsearch.spaces import space_register


class Command(BaseCommand):
    help = (
        "Register an embedding space for any open_clip model: a pretrained tag (downloaded on a "
        "machine with internet, e.g. ViT-B-32 / laion2b_s34b_b79k) or a local checkpoint file. "
        "Then `reindex --space NAME` backfills it and `activate_space NAME` switches search to it."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--architecture", required=True, help="open_clip model name")
        parser.add_argument("--pretrained", required=True, help="open_clip tag or checkpoint path")
        parser.add_argument(
            "--dimension", type=int, default=None,
            help="embedding size; without it the model is loaded once to find out",
        )  # fmt: skip

    def handle(self, *args, name, architecture, pretrained, dimension, **options):
        if dimension is None:
            try:
                dimension = get_embedder(architecture=architecture, pretrained=pretrained).dim
            except Exception as error:  # noqa: BLE001 - unknown tag, no network, bad file
                raise CommandError(
                    f"cannot load {architecture} / {pretrained}: {error}. Without internet, "
                    "pass --dimension (the model loads where the space is used)."
                ) from None
        if dimension < 1:
            raise CommandError("--dimension must be positive")
        space = space_register(name=name, architecture=architecture, pretrained=pretrained,
                               dimension=dimension)  # fmt: skip
        self.stdout.write(self.style.SUCCESS(
            f"registered space {space.name} ({architecture}, {pretrained}, {dimension}-d); "
            f"next: reindex --space {space.name}, then activate_space {space.name}"
        ))  # fmt: skip
