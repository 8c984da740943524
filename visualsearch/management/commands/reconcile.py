from django.core.management.base import BaseCommand

from visualsearch import selectors, services
from visualsearch.spaces import space_active


class Command(BaseCommand):
    help = (
        "Enqueue embedding jobs for everything the active space is still missing, and attribute "
        "jobs for images that have a vector but no zero-shot attributes yet."
    )

    def handle(self, *args, **options):
        space = space_active()
        if space is None:
            self.stdout.write("no active embedding space; nothing to do")
            return
        image_ids, product_ids = selectors.embeddings_missing(space=space)
        services.embeddings_enqueue(image_ids=image_ids, product_ids=product_ids)
        attribute_ids = selectors.attributes_missing(space=space)
        services.attributes_enqueue(image_ids=attribute_ids, space=space)
        self.stdout.write(
            f"space {space.name}: enqueued {len(image_ids)} images, {len(product_ids)} titles "
            f"and {len(attribute_ids)} images for attributes"
        )
