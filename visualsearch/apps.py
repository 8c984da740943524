from django.apps import AppConfig


class VisualSearchConfig(AppConfig):
    name = "visualsearch"
    verbose_name = "Visual search"
