"""Reads of the catalog."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from catalog.models import Category, Product, ProductImage, ProductStatus


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
    from django.db.models import Q

    roots = list(Category.objects.filter(slug=slug).values_list("lineage", flat=True))
    condition = Q(pk__in=[])
    for lineage in roots:
        condition |= Q(lineage=lineage) | Q(lineage__startswith=lineage + "/")
    return Category.objects.filter(condition)


def product_get(*, pk: int) -> Product | None:
    return products_with_gallery().filter(pk=pk).first()
