"""Duplicate candidates, the moderators' audit log, and cached per-image / per-product signals.

A candidate is an ordered pair (``product_a_id < product_b_id``, enforced by the database) so a
pair is stored once whichever side a scan started from. Confirmed pairs form groups through
``Product.merged_into``: every merged product points straight at its group's canonical product
(the group is the canonical plus the rows that point at it), so no separate group table is needed.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from pgvector.django import HalfVectorField

from catalog.models import Category, Product, ProductImage, Seller


class CandidateStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CONFIRMED = "confirmed", "Confirmed"
    DISMISSED = "dismissed", "Dismissed"
    ESCALATED = "escalated", "Escalated"


OPEN_STATUSES = (CandidateStatus.PENDING, CandidateStatus.ESCALATED)


class SignalGroup(models.TextChoices):
    """What moderators filter by: the family of the signal that adds most to the score."""

    IMAGE = "image", "Image"
    TITLE = "title", "Title"
    IDENTIFIER = "identifier", "Identifier"
    PRICE = "price", "Price"
    BRAND = "brand", "Brand / category"
    OTHER = "other", "Other"


class DuplicateCandidate(models.Model):
    product_a = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    product_b = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    # Denormalised from the products at scoring time so the queue filters use one index each.
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    seller_a = models.ForeignKey(Seller, null=True, on_delete=models.SET_NULL, related_name="+")
    seller_b = models.ForeignKey(Seller, null=True, on_delete=models.SET_NULL, related_name="+")
    signals = models.JSONField(help_text="dedupe.comparison.PairSignals as a dict")
    probability = models.FloatField()
    strongest_signal = models.CharField(
        max_length=12, choices=SignalGroup.choices, default=SignalGroup.OTHER
    )
    status = models.CharField(
        max_length=10, choices=CandidateStatus.choices, default=CandidateStatus.PENDING
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=40, blank=True)
    note = models.TextField(blank=True)
    # What each product looked like when the pair was scored: {"title", "price", "images"}.
    fingerprint_a = models.JSONField(default=dict)
    fingerprint_b = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-probability", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(product_a__lt=F("product_b")), name="candidate_ordered_pair"
            ),
            models.UniqueConstraint(
                fields=["product_a", "product_b"], name="candidate_unique_pair"
            ),
        ]
        indexes = [
            # The queue: one status, highest probability first, keyset on (probability, id).
            models.Index(fields=["status", "-probability", "-id"], name="candidate_queue_idx"),
            models.Index(fields=["status", "category", "-probability", "-id"],
                         name="candidate_queue_cat_idx"),
            models.Index(fields=["status", "strongest_signal", "-probability", "-id"],
                         name="candidate_queue_signal_idx"),
            models.Index(fields=["seller_a", "status"], name="candidate_seller_a_idx"),
            models.Index(fields=["seller_b", "status"], name="candidate_seller_b_idx"),
            models.Index(fields=["product_b"], name="candidate_product_b_idx"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.product_a_id} ~ {self.product_b_id} ({self.status}, {self.probability:.2f})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ReviewEvent(models.Model):
    """Append-only: one row per action on a candidate. Rows are never updated or deleted."""

    candidate = models.ForeignKey(
        DuplicateCandidate, on_delete=models.CASCADE, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    action = models.CharField(max_length=20)
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10, blank=True)
    reason = models.CharField(max_length=40, blank=True)
    note = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["candidate", "at"], name="review_event_candidate_idx")]

    def __str__(self) -> str:
        return f"{self.action} on {self.candidate_id} by {self.actor_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Review events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Review events are append-only.")


class ImageHash(models.Model):
    """One image's copy-detection fingerprints, cached: valid while ``sha256`` matches the image's.

    The perceptual hash, and the `dedupe.image_copy` descriptors (GeM CNN vector and colour
    histogram). Empty / null: the image could not be decoded.
    """

    image = models.OneToOneField(ProductImage, on_delete=models.CASCADE, related_name="dedupe_hash")
    sha256 = models.CharField(max_length=64)
    phash = models.CharField(max_length=16, blank=True, help_text="empty: could not decode")
    copy_vector = HalfVectorField(dimensions=1280, null=True, blank=True)
    colour_hist = ArrayField(models.FloatField(), size=64, null=True, blank=True)
    align_thumb = models.BinaryField(
        null=True, blank=True, help_text="grey thumbnail for dedupe.image_copy.aligned_similarity"
    )
    descriptor_version = models.PositiveSmallIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.image_id}: {self.phash}"


class TitleVector(models.Model):
    """MiniLM embedding of a product's title, cached: valid while ``text`` matches."""

    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="dedupe_title")
    text = models.TextField()
    vector = models.JSONField()

    def __str__(self) -> str:
        return f"title vector of {self.product_id}"


class ScanRun(models.Model):
    """Progress of one `dedupe_scan`: each finished batch job adds its counts here."""

    batches = models.PositiveIntegerField()
    products = models.PositiveIntegerField()
    batches_done = models.PositiveIntegerField(default=0)
    products_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    reopened = models.PositiveIntegerField(default=0)
    kept_decided = models.PositiveIntegerField(default=0)
    below_threshold = models.PositiveIntegerField(default=0)
    hidden = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"scan {self.pk}: {self.batches_done}/{self.batches} batches"

    @property
    def finished(self) -> bool:
        return self.batches_done >= self.batches
