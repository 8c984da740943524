"""Sellers, categories, products and their images. Constraints live in the database."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import F, Func, Q, Value
from django.urls import reverse

# PostgreSQL regexp_replace pattern: a word with two or more hyphens (kept, as \1) or any other
# word (dropped)
MULTI_HYPHEN_WORD = r"(\S+-\S+-\S+)|\S+"


def multi_hyphen_joined(field: str) -> Func:
    """SQL: the field's words with two or more hyphens, each written without them, the other
    words dropped ("Sony MDR-XB40-EX T-Shirt" → " MDRXB40EX "). Immutable, so a generated
    column may use it."""
    hyphenated = Func(
        F(field), Value(MULTI_HYPHEN_WORD), Value(r"\1"), Value("g"), function="regexp_replace"
    )
    return Func(hyphenated, Value("-"), Value(""), function="replace")


class Seller(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="seller",
        help_text="Empty for sellers created by an import before anyone claimed them.",
    )
    display_name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


class Category(models.Model):
    """A node of the category tree. ``lineage`` is the slug path from the root, e.g.
    ``apparel/topwear/tshirts``; descendants of a node are the rows whose lineage starts with
    the node's lineage plus ``/``, which one indexed prefix query finds."""

    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80)
    lineage = models.CharField(max_length=500, unique=True, editable=False)
    path = models.CharField(max_length=600, editable=False, help_text="'Apparel > Topwear'")

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(
                fields=["parent", "slug"], name="category_unique_slug_per_parent",
                nulls_distinct=False,
            ),
        ]  # fmt: skip
        indexes = [models.Index(fields=["lineage"], name="category_lineage_idx",
                                opclasses=["varchar_pattern_ops"])]  # fmt: skip

    def __str__(self) -> str:
        return self.path

    def save(self, *args, **kwargs):
        if self.parent_id:
            parent = self.parent
            self.lineage = f"{parent.lineage}/{self.slug}"
            self.path = f"{parent.path} > {self.name}"
        else:
            self.lineage = self.slug
            self.path = self.name
        super().save(*args, **kwargs)

    @property
    def depth(self) -> int:
        return self.lineage.count("/")


class ProductStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    HIDDEN = "hidden", "Hidden"
    MERGED = "merged", "Merged"
    # Deleted by its seller: kept (never shown, never searched) so the duplicate pairs and the
    # moderators' audit trail that mention it outlive it.
    DELETED = "deleted", "Deleted"


class Product(models.Model):
    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="products")
    external_id = models.CharField(max_length=100)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    brand = models.CharField(max_length=120, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="products"
    )
    status = models.CharField(
        max_length=10, choices=ProductStatus.choices, default=ProductStatus.ACTIVE, db_index=True
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_products"
    )
    # Full-text search reads the title and brand, their words with two or more hyphens also
    # joined, and the description: "MDR-XB40-EX" is found by "mdrxb40ex", which no query-side
    # spelling reaches (catalog.keywords puts one hyphen in, not two; a word with one hyphen is
    # left to those spellings, which rank it once).
    search_document = models.GeneratedField(
        expression=SearchVector("title", weight="A", config="english")
        + SearchVector("brand", weight="A", config="english")
        + SearchVector(multi_hyphen_joined("title"), weight="A", config="english")
        + SearchVector(multi_hyphen_joined("brand"), weight="A", config="english")
        + SearchVector("description", weight="C", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["seller", "external_id"], name="product_unique_external_id_per_seller"
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative"),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="product_currency_iso4217"
            ),
            models.CheckConstraint(
                condition=(Q(status="merged") & Q(merged_into__isnull=False))
                | (~Q(status="merged") & Q(merged_into__isnull=True)),
                name="product_merged_iff_merged_into",
            ),
            models.CheckConstraint(
                condition=~Q(merged_into=models.F("id")), name="product_not_merged_into_itself"
            ),
            models.CheckConstraint(condition=~Q(title=""), name="product_title_not_empty"),
        ]
        indexes = [
            GinIndex(fields=["search_document"], name="product_search_gin"),
            models.Index(fields=["brand"], name="product_brand_idx"),
            models.Index(fields=["status", "category"], name="product_status_category_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("product-detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status == ProductStatus.ACTIVE


class ImageKind(models.TextChoices):
    CATALOG = "catalog", "Catalog"
    LIFESTYLE = "lifestyle", "Lifestyle"


def product_image_path(instance: ProductImage, filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "jpg"
    return f"products/{instance.sha256[:2]}/{instance.sha256}.{ext}"


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    # Width and height come from the validated upload (catalog.images), not from re-reading it.
    file = models.ImageField(upload_to=product_image_path, max_length=300)
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=10, choices=ImageKind.choices, default=ImageKind.CATALOG)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "sha256"], name="image_unique_per_product"),
            models.CheckConstraint(
                condition=Q(width__gt=0) & Q(height__gt=0), name="image_positive_size"
            ),  # fmt: skip
            models.CheckConstraint(
                condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="image_sha256_hex"
            ),  # fmt: skip
        ]

    def __str__(self) -> str:
        return f"{self.product_id}#{self.position}"


class ImportJobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportJob(models.Model):
    """A seller's CSV import, run by a worker; the dashboard polls its progress."""

    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="import_jobs")
    csv_file = models.FileField(upload_to="imports/csv/", max_length=300)
    images_zip = models.FileField(upload_to="imports/zip/", max_length=300, blank=True)
    status = models.CharField(
        max_length=10, choices=ImportJobStatus.choices, default=ImportJobStatus.QUEUED
    )
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    error_report = models.FileField(upload_to="imports/errors/", max_length=300, blank=True)
    message = models.TextField(blank=True, help_text="Why the whole file failed, if it did.")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(processed__lte=models.F("total")), name="importjob_processed_le_total"
            ),
        ]

    def __str__(self) -> str:
        return f"import #{self.pk} ({self.status})"

    @property
    def percent(self) -> int:
        return 100 if self.status == ImportJobStatus.DONE else (
            int(100 * self.processed / self.total) if self.total else 0
        )  # fmt: skip
