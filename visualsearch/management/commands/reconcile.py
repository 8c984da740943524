from django.core.management.base import BaseCommand

from catalog.services import import_jobs_resume
from visualsearch import selectors, services
from visualsearch.spaces import space_active


class Command(BaseCommand):
    help = (
        "Send again the jobs the database says are missing: embeddings the active space still "
        "lacks, attributes of images embedded without them, and import jobs no worker runs "
        "(their message was lost or their worker died)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--refresh-attributes", action="store_true",
            help="recompute the stored attributes of every embedded image in the active space "
            "(after its heads changed; `serve` does it for new shipped heads)",
        )  # fmt: skip

    def handle(self, *args, refresh_attributes=False, **options):
        resumed = import_jobs_resume()
        if resumed:
            self.stdout.write(f"queued again {len(resumed)} import jobs: {resumed}")
        space = space_active()
        if space is None:
            self.stdout.write("no active embedding space; no embeddings to send")
            return
        image_ids, product_ids = selectors.embeddings_missing(space=space)
        services.embeddings_enqueue(image_ids=image_ids, product_ids=product_ids)
        if refresh_attributes:
            attributes = services.attributes_refresh(space=space)
        else:
            attribute_ids = selectors.attributes_missing(space=space)
            services.attributes_enqueue(image_ids=attribute_ids, space=space)
            attributes = len(attribute_ids)
        self.stdout.write(
            f"space {space.name}: enqueued {len(image_ids)} images, {len(product_ids)} titles "
            f"and {attributes} images for attributes"
        )
