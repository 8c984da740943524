"""Writes to the catalog. Pages, API, commands and jobs all come through here.

Image decoding and hashing happen before the transaction opens; each write runs in
``transaction.atomic`` and asks for embedding with ``transaction.on_commit``, so a worker never
sees a row that is not committed yet and a failed write enqueues nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.text import slugify

from catalog.currencies import ISO_4217
from catalog.images import CheckedImage, ImageRejected, image_check
from catalog.models import Category, ImageKind, Product, ProductImage, ProductStatus, Seller


def _enqueue_embedding(image_ids: Sequence[int], product_ids: Sequence[int] = ()) -> None:
    """Ask the workers to embed these images (and product titles) once the transaction commits."""
    if not image_ids and not product_ids:
        return
    from visualsearch.services import embeddings_enqueue

    image_ids, product_ids = list(image_ids), list(product_ids)
    transaction.on_commit(lambda: embeddings_enqueue(image_ids=image_ids, product_ids=product_ids))


def image_validate(content: bytes) -> CheckedImage:
    """Check bytes against the configured limits; raises ImageRejected with a reason."""
    return image_check(
        content, max_bytes=settings.MAX_UPLOAD_BYTES, max_pixels=settings.MAX_IMAGE_PIXELS
    )


def seller_get_or_create(*, slug: str, display_name: str | None = None, user=None) -> Seller:
    slug = slugify(slug)
    if not slug:
        raise ValidationError({"seller": ["A seller slug needs letters or digits."]})
    seller, created = Seller.objects.get_or_create(
        slug=slug,
        defaults={
            "display_name": display_name or slug.replace("-", " ").title(),
            "user": user,
        },  # fmt: skip
    )
    return seller


def category_get_or_create_path(*, path: str | Sequence[str]) -> Category | None:
    """'Apparel > Topwear > Tshirts' → the leaf Category, creating missing nodes."""
    parts = path if not isinstance(path, str) else path.split(">")
    names = [p.strip() for p in parts if p and p.strip()]
    parent = None
    for name in names:
        slug = slugify(name)[:80] or "category"
        node = Category.objects.filter(parent=parent, slug=slug).first()
        if node is None:
            node = Category(parent=parent, name=name[:120], slug=slug)
            node.save()
        parent = node
    return parent


def price_parse(raw) -> Decimal:
    """A price as Decimal ≥ 0 with two places; raises ValueError with a reason."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise ValueError("price is missing")
    try:
        value = Decimal(str(raw).strip())
    except Exception:
        raise ValueError(f"price {raw!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"price {raw!r} is not a number")
    if value < 0:
        raise ValueError(f"price {raw!r} is negative")
    if value >= Decimal("1e10"):
        raise ValueError(f"price {raw!r} is too large")
    return value.quantize(Decimal("0.01"))


def currency_parse(raw: str | None, *, default: str = "EUR") -> str:
    code = (raw or default).strip().upper()
    if code not in ISO_4217:
        raise ValueError(f"currency {raw!r} is not an ISO 4217 code")
    return code


@dataclass
class ProductData:
    """Validated fields of a product, as a form, the API or an import row gives them."""

    title: str
    price: Decimal
    currency: str = "EUR"
    description: str = ""
    brand: str = ""
    category: Category | None = None
    status: str = ProductStatus.ACTIVE


def _apply(product: Product, data: ProductData) -> bool:
    changed = False
    for field in ("title", "price", "currency", "description", "brand", "category", "status"):
        new = getattr(data, field)
        if getattr(product, field) != new:
            setattr(product, field, new)
            changed = True
    return changed


# Foreign keys, uniqueness and check constraints are enforced by the database (an IntegrityError
# rolls the whole write back); checking them in Python too would cost a query each.
NOT_CLEANED = ["search_document", "seller", "category", "merged_into"]


@transaction.atomic
def product_create(
    *,
    seller: Seller,
    data: ProductData,
    external_id: str | None = None,
    images: Sequence[CheckedImage] = (),
    kinds: Sequence[str] | None = None,
) -> Product:
    product = Product(seller=seller, external_id=external_id or "")
    _apply(product, data)
    product.full_clean(exclude=NOT_CLEANED + ["external_id"], validate_unique=False,
                       validate_constraints=False)  # fmt: skip
    if not product.external_id:
        product.external_id = f"web-{Product.objects.filter(seller=seller).count() + 1}"
        while Product.objects.filter(seller=seller, external_id=product.external_id).exists():
            product.external_id += "x"
    product.save()
    added = images_attach(product=product, images=images, kinds=kinds, new=True)
    _enqueue_embedding([img.pk for img in added], [product.pk])
    return product


@transaction.atomic
def product_update(*, product: Product, data: ProductData) -> bool:
    """Update fields; returns whether anything changed. A changed title is re-embedded."""
    product = Product.objects.select_for_update().get(pk=product.pk)
    old_title = product.title
    if not _apply(product, data):
        return False
    product.full_clean(exclude=NOT_CLEANED, validate_unique=False, validate_constraints=False)
    product.save()
    if product.title != old_title:
        _enqueue_embedding([], [product.pk])
    return True


def images_attach(
    *,
    product: Product,
    images: Sequence[CheckedImage],
    kinds: Sequence[str] | None = None,
    new: bool = False,
) -> list[ProductImage]:
    """Add images at the end of the product's gallery, skipping exact duplicates (same bytes).
    ``new``: the product was just created, so it has no images to look up."""
    if new:
        return _images_attach_from(product, images, kinds, existing=set(), position=0)
    existing = set(product.images.values_list("sha256", flat=True))
    last = product.images.order_by("-position").values_list("position", flat=True).first()
    return _images_attach_from(
        product, images, kinds, existing=existing, position=0 if last is None else last + 1
    )


def _images_attach_from(product, images, kinds, *, existing: set, position: int):
    added = []
    for i, checked in enumerate(images):
        if checked.sha256 in existing:
            continue
        existing.add(checked.sha256)
        kind = (kinds[i] if kinds and i < len(kinds) else None) or ImageKind.CATALOG
        image = ProductImage(product=product, position=position, kind=kind, sha256=checked.sha256,
                             width=checked.width, height=checked.height)  # fmt: skip
        image.file.save(f"upload.{checked.extension}", ContentFile(checked.content), save=False)
        image.save()
        added.append(image)
        position += 1
    return added


@transaction.atomic
def product_images_add(
    *, product: Product, images: Sequence[CheckedImage], kinds: Sequence[str] | None = None
) -> list[ProductImage]:
    Product.objects.select_for_update().filter(pk=product.pk).first()
    added = images_attach(product=product, images=images, kinds=kinds)
    _enqueue_embedding([img.pk for img in added])
    return added


@transaction.atomic
def product_images_replace(*, product: Product, images: Sequence[CheckedImage]) -> bool:
    """Make the gallery exactly ``images`` in this order. Returns whether anything changed."""
    Product.objects.select_for_update().filter(pk=product.pk).first()
    current = list(product.images.order_by("position", "id"))
    wanted = [c.sha256 for c in images]
    if [img.sha256 for img in current] == wanted:
        return False
    keep = {img.sha256: img for img in current if img.sha256 in set(wanted)}
    for img in current:
        if img.sha256 not in keep:
            if not _file_shared(img):
                img.file.delete(save=False)
            img.delete()
    added = []
    for position, checked in enumerate(images):
        img = keep.get(checked.sha256)
        if img is None:
            img = ProductImage(product=product, position=position, sha256=checked.sha256,
                               width=checked.width, height=checked.height)  # fmt: skip
            img.file.save(f"upload.{checked.extension}", ContentFile(checked.content), save=False)
            img.save()
            added.append(img)
            keep[checked.sha256] = img
        elif img.position != position:
            img.position = position
            img.save(update_fields=["position", "updated_at"])
    _enqueue_embedding([img.pk for img in added])
    return True


def _file_shared(image: ProductImage) -> bool:
    """Files are content-addressed, so another row may point at the same file."""
    return ProductImage.objects.filter(file=image.file.name).exclude(pk=image.pk).exists()


@transaction.atomic
def product_images_reorder(*, product: Product, image_ids: Sequence[int]) -> None:
    current = {img.pk: img for img in product.images.select_for_update()}
    if sorted(current) != sorted(image_ids):
        raise ValidationError({"order": ["List every image of this product exactly once."]})
    for position, pk in enumerate(image_ids):
        img = current[pk]
        if img.position != position:
            img.position = position
            img.save(update_fields=["position", "updated_at"])


@transaction.atomic
def product_image_remove(*, image: ProductImage) -> None:
    shared = _file_shared(image)
    name = image.file.name
    storage = image.file.storage
    image.delete()
    if not shared:
        transaction.on_commit(lambda: storage.delete(name))


@transaction.atomic
def product_set_status(*, product: Product, status: str) -> Product:
    if status not in {ProductStatus.DRAFT, ProductStatus.ACTIVE, ProductStatus.HIDDEN}:
        raise ValidationError({"status": [f"A seller cannot set status {status!r}."]})
    product = Product.objects.select_for_update().get(pk=product.pk)
    if product.status == ProductStatus.MERGED:
        raise ValidationError({"status": ["This listing was merged into another one."]})
    product.status = status
    product.save(update_fields=["status", "updated_at"])
    return product


__all__ = [
    "ImageRejected",
    "ProductData",
    "category_get_or_create_path",
    "currency_parse",
    "image_validate",
    "price_parse",
    "product_create",
    "product_image_remove",
    "product_images_add",
    "product_images_reorder",
    "product_images_replace",
    "product_set_status",
    "product_update",
    "seller_get_or_create",
]
