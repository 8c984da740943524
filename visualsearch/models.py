"""Embedding spaces and the vectors computed in them.

Vectors are untyped ``halfvec`` columns tagged with their space, so spaces of different dimension
live in one table. Each space gets its own HNSW index, an expression + partial index
``((vector::halfvec(D)) halfvec_cosine_ops) WHERE space_id = N`` created when the space is
registered (see ``visualsearch.spaces``); queries repeat the same expression and condition.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from pgvector.django import HalfVectorField

from catalog.models import Product, ProductImage


class EmbeddingSpace(models.Model):
    class Status(models.TextChoices):
        REGISTERED = "registered", "Registered"
        BACKFILLING = "backfilling", "Backfilling"
        READY = "ready", "Ready"

    name = models.SlugField(max_length=80, unique=True)
    architecture = models.CharField(max_length=120, help_text="open_clip model name")
    pretrained = models.CharField(
        max_length=500, help_text="open_clip pretrained tag, or a local checkpoint path"
    )
    dimension = models.PositiveIntegerField()
    is_active = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REGISTERED)
    notes = models.JSONField(default=dict, blank=True, help_text="training metrics and the like")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_active", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_space"
            ),
            models.CheckConstraint(
                condition=Q(dimension__gt=0) & Q(dimension__lte=4000), name="space_dimension_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.architecture}, {self.dimension}-d)"

    @property
    def image_index_name(self) -> str:
        return f"imgemb_hnsw_space_{self.pk}"

    @property
    def raw_index_name(self) -> str:
        return f"imgemb_raw_hnsw_space_{self.pk}"

    @property
    def title_index_name(self) -> str:
        return f"titleemb_hnsw_space_{self.pk}"


class ImageEmbedding(models.Model):
    image = models.ForeignKey(ProductImage, on_delete=models.CASCADE, related_name="embeddings")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    space = models.ForeignKey(EmbeddingSpace, on_delete=models.CASCADE, related_name="+")
    vector = HalfVectorField()
    # The raw channel: the frozen image tower's own features, for spaces whose heads hold a
    # training domain (visualsearch.heads.Domain); a photo outside it is searched by these.
    raw_vector = HalfVectorField(null=True, blank=True)
    image_sha256 = models.CharField(max_length=64, help_text="the image content that was embedded")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image", "space"], name="image_embedding_unique"),
        ]
        indexes = [models.Index(fields=["space", "product"], name="imgemb_space_product_idx")]

    def __str__(self) -> str:
        return f"image {self.image_id} in space {self.space_id}"


class TitleEmbedding(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="title_embeddings")
    space = models.ForeignKey(EmbeddingSpace, on_delete=models.CASCADE, related_name="+")
    vector = HalfVectorField()
    text = models.TextField(help_text="the text that was embedded")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "space"], name="title_embedding_unique"),
        ]

    def __str__(self) -> str:
        return f"title of product {self.product_id} in space {self.space_id}"


class EmbeddingFailure(models.Model):
    """Why an image could not be embedded in a space. Removed when a later attempt succeeds."""

    image = models.ForeignKey(ProductImage, on_delete=models.CASCADE, related_name="embed_failures")
    space = models.ForeignKey(EmbeddingSpace, on_delete=models.CASCADE, related_name="+")
    reason = models.TextField()
    attempts = models.PositiveIntegerField(default=1)
    permanent = models.BooleanField(
        default=False, help_text="the input itself is bad (undecodable); retrying cannot help"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image", "space"], name="embedding_failure_unique"),
        ]

    def __str__(self) -> str:
        return f"image {self.image_id} failed in space {self.space_id}: {self.reason[:60]}"


class ImageAttribute(models.Model):
    """A zero-shot attribute of one image in one space: the taxonomy facet ``name`` (colour,
    pattern, ...), its most likely label ``value`` and that label's softmax ``confidence``.

    A product's attributes are those of its primary image: the first catalog photo by
    (position, id) that has attributes in the space, else its first photo of any kind (see
    ``visualsearch.selectors.product_attributes``)."""

    image = models.ForeignKey(ProductImage, on_delete=models.CASCADE, related_name="attributes")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    space = models.ForeignKey(EmbeddingSpace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=40)
    value = models.CharField(max_length=80)
    confidence = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["image", "space", "name"], name="image_attribute_unique"
            ),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1),
                name="image_attribute_confidence_range",
            ),
        ]
        indexes = [
            models.Index(fields=["product", "space", "name"], name="imgattr_product_space_idx"),
        ]

    def __str__(self) -> str:
        return f"image {self.image_id}: {self.name}={self.value} ({self.confidence:.2f})"
