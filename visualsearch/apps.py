from django.apps import AppConfig


class VisualSearchConfig(AppConfig):
    name = "visualsearch"
    verbose_name = "Visual search"

    def ready(self):
        # Imported here, not at the top: receivers import the services, which need the models
        # (loaded by now) and the dramatiq broker (configured by django_dramatiq's ready()).
        from catalog.signals import product_content_changed  # noqa: PLC0415
        from visualsearch import receivers  # noqa: PLC0415

        product_content_changed.connect(
            receivers.embed_changed_content, dispatch_uid="visualsearch.embed_changed_content"
        )
