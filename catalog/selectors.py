"""Reads of the catalog."""

from __future__ import annotations

from django.contrib.postgres.search import SearchQuery
from django.db.models import Prefetch, Q, QuerySet
from django.urls import reverse

from catalog.keywords import query_spellings
from catalog.models import Category, ImportJob, Product, ProductImage, ProductStatus


def products_active() -> QuerySet[Product]:
    return Product.objects.filter(status=ProductStatus.ACTIVE)


def products_with_gallery(qs: QuerySet[Product] | None = None) -> QuerySet[Product]:
    qs = qs if qs is not None else Product.objects.all()
    return qs.select_related("seller", "category").prefetch_related(
        Prefetch("images", queryset=ProductImage.objects.order_by("position", "id"))
    )


def products_latest(*, limit: int = 24) -> list[Product]:
    return list(products_with_gallery(products_active()).order_by("-created_at", "-id")[:limit])


def category_with_descendants(*, slug: str) -> QuerySet[Category]:
    """The categories with this slug and every category below them."""

    roots = list(Category.objects.filter(slug=slug).values_list("lineage", flat=True))
    condition = Q(pk__in=[])
    for lineage in roots:
        condition |= Q(lineage=lineage) | Q(lineage__startswith=lineage + "/")
    return Category.objects.filter(condition)


def product_get(*, pk: int) -> Product | None:
    return products_with_gallery().filter(pk=pk).first()


# ----------------------------------------------------------------------------- seller dashboard
def seller_products(*, seller) -> QuerySet[Product]:
    """A seller's own listings, every status, newest first."""
    return products_with_gallery(
        Product.objects.filter(seller=seller).exclude(status=ProductStatus.DELETED)
    ).order_by("-created_at", "-id")


def product_images(*, product: Product) -> list[ProductImage]:
    """A product's gallery in display order."""
    return list(product.images.order_by("position", "id"))


def product_form_initial(*, product: Product) -> dict:
    return {
        "title": product.title, "description": product.description, "brand": product.brand,
        "category": product.category_id, "price": product.price, "currency": product.currency,
    }  # fmt: skip


def seller_import_jobs(*, seller, limit: int = 5) -> list:

    return list(ImportJob.objects.filter(seller=seller).order_by("-created_at", "-id")[:limit])


def import_job_status(*, job) -> dict:
    """What the dashboard's progress bar polls."""

    return {
        "id": job.pk,
        "status": job.status,
        "total": job.total,
        "processed": job.processed,
        "percent": job.percent,
        "created": job.created_count,
        "updated": job.updated_count,
        "unchanged": job.unchanged_count,
        "errors": job.error_count,
        "message": job.message,
        "error_report_url": reverse("seller-import-errors", args=[job.pk]) if job.error_report
        else None,
    }  # fmt: skip


# ----------------------------------------------------------------------------- products API
def products_filter(
    *,
    category: str = "",
    brand: str = "",
    seller: str = "",
    min_price=None,
    max_price=None,
    q: str = "",
) -> QuerySet[Product]:
    """Active products matching every given filter, newest first, with their gallery."""

    qs = products_active()
    if category:
        qs = qs.filter(category__in=category_with_descendants(slug=category))
    if brand:
        qs = qs.filter(brand__iexact=brand.strip())
    if seller:
        qs = qs.filter(seller__slug=seller.strip())
    if min_price is not None:
        qs = qs.filter(price__gte=min_price)
    if max_price is not None:
        qs = qs.filter(price__lte=max_price)
    if q.strip():
        qs = qs.filter(search_document=keyword_query(q.strip()))
    return products_with_gallery(qs).order_by("-created_at", "-id")


def keyword_query(text: str) -> SearchQuery:
    """The full-text query for a shopper's ``text``: its websearch query OR-ed with those of its
    other compound spellings (:func:`catalog.keywords.query_spellings`)."""
    spellings = query_spellings(text)
    query = SearchQuery(spellings[0], config="english", search_type="websearch")
    for spelling in spellings[1:]:
        query |= SearchQuery(spelling, config="english", search_type="websearch")
    return query


def product_is_visible(*, product: Product, user) -> bool:
    """The one visibility rule: an active product to anyone; a draft, hidden or merged one to
    its seller and staff; a deleted one to staff only."""
    if product.status == ProductStatus.ACTIVE:
        return True
    staff = bool(user and user.is_authenticated and user.is_staff)
    if product.status == ProductStatus.DELETED:
        return staff
    owner = bool(user and user.is_authenticated and product.seller.user_id == user.pk)
    return owner or staff


def product_visible_to(*, pk: int, user) -> Product | None:
    """The product with its gallery, if ``user`` may see it (:func:`product_is_visible`)."""
    product = product_get(pk=pk)
    return (
        product if product is not None and product_is_visible(product=product, user=user) else None
    )
