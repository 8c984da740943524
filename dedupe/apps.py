from django.apps import AppConfig


class DedupeConfig(AppConfig):
    name = "dedupe"
    verbose_name = "Duplicate moderation"

    def ready(self):
        import dramatiq

        from dedupe.tasks import DuplicateScanAfterEmbedding

        broker = dramatiq.get_broker()
        if not any(isinstance(m, DuplicateScanAfterEmbedding) for m in broker.middleware):
            broker.add_middleware(DuplicateScanAfterEmbedding())
