from django.contrib import admin

from visualsearch.models import EmbeddingFailure, EmbeddingSpace, ImageAttribute


@admin.register(EmbeddingSpace)
class EmbeddingSpaceAdmin(admin.ModelAdmin):
    list_display = ["name", "architecture", "dimension", "is_active", "status", "updated_at"]
    list_filter = ["is_active", "status"]
    search_fields = ["name", "architecture", "pretrained"]
    readonly_fields = ["is_active", "created_at", "updated_at"]


@admin.register(EmbeddingFailure)
class EmbeddingFailureAdmin(admin.ModelAdmin):
    """Images that could not be embedded, with the reason (permanent ones are not retried)."""

    list_display = ["image", "space", "reason", "attempts", "permanent", "updated_at"]
    list_filter = ["permanent", "space"]
    search_fields = ["reason", "image__product__title"]
    raw_id_fields = ["image"]


@admin.register(ImageAttribute)
class ImageAttributeAdmin(admin.ModelAdmin):
    """Zero-shot attributes per image and space (top label per facet, with its confidence)."""

    list_display = ["image", "space", "name", "value", "confidence"]
    list_filter = ["space", "name"]
    search_fields = ["value", "product__title"]
    raw_id_fields = ["image", "product"]
