from django.apps import AppConfig


class DedupeConfig(AppConfig):
    name = "dedupe"
    verbose_name = "Duplicate moderation"

    def ready(self):
        # Imported here, not at the top: the receivers send dramatiq jobs, whose broker
        # django_dramatiq configures in its own ready().
        from dedupe import receivers  # noqa: PLC0415
        from visualsearch.signals import vectors_written  # noqa: PLC0415

        vectors_written.connect(receivers.scan_after_vectors, dispatch_uid="dedupe.scan_after")
