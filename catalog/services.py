"""Writes to the catalog. Pages, API, commands and jobs all come through here.

Image decoding and hashing happen before the transaction opens; each write runs in
``transaction.atomic`` and announces what changed (``catalog.signals``) once it commits, so the
apps above (embedding, duplicate checks) never see a row that is not committed yet and a failed
write announces nothing.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from rest_framework.authtoken.models import Token

from catalog import importing, tasks
from catalog.currencies import ISO_4217
from catalog.images import CheckedImage, ImageRejected, image_check
from catalog.models import (
    Category,
    ImageKind,
    ImportJob,
    ImportJobStatus,
    Product,
    ProductImage,
    ProductStatus,
    Seller,
)
from catalog.signals import announce_on_commit, product_content_changed, product_deleted

log = logging.getLogger(__name__)


def _content_changed(image_ids: Sequence[int], product_ids: Sequence[int] = ()) -> None:
    """Announce new photos (and changed product text) once the transaction commits; visualsearch
    embeds them (``catalog.signals.product_content_changed``)."""
    announce_on_commit(product_content_changed, image_ids=image_ids, product_ids=product_ids)


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
    _content_changed([img.pk for img in added], [product.pk])
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
        _content_changed([], [product.pk])
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
    _content_changed([img.pk for img in added])
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
    _content_changed([img.pk for img in added])
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


# ----------------------------------------------------------------------------- import jobs
IMPORT_PROGRESS_EVERY = 10  # rows between progress writes


@transaction.atomic
def import_job_create(*, seller: Seller, csv_file, images_zip=None) -> ImportJob:
    """Store the upload and queue the import; the worker runs :func:`import_job_run`."""

    if images_zip is not None and not zipfile.is_zipfile(images_zip):
        raise ValidationError({"images_zip": ["This is not a ZIP file."]})
    if images_zip is not None:
        images_zip.seek(0)
    job = ImportJob(seller=seller)
    job.csv_file.save("catalog.csv", csv_file, save=False)
    if images_zip is not None:
        job.images_zip.save("images.zip", images_zip, save=False)
    job.save()
    job_id = job.pk
    transaction.on_commit(lambda: _import_job_send(job_id))
    return job


def _import_job_send(job_id: int) -> None:
    try:
        tasks.import_job_run_task.send(job_id)
    except Exception as error:  # noqa: BLE001 - the job is saved; reconcile sends it later
        log.warning("import job %s is saved but not queued (%s); `manage.py reconcile` queues "
                    "it", job_id, error)  # fmt: skip


# Session-level PostgreSQL advisory locks (class id, job id) say which import jobs a worker is
# running now: PostgreSQL releases one when its session ends, so a job whose worker was killed
# is free again at once. (The two-int form: job ids below 2**31. Behind a transaction-pooling
# proxy such as PgBouncer, session locks need a direct connection.)
IMPORT_JOB_LOCK = 0x696D_706A  # "impj"


@contextlib.contextmanager
def _import_job_lock(job_id: int) -> Iterator[bool]:
    """Try to take the job's lock on this connection; yields whether it was free."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_lock(%s::integer, %s::integer)", [IMPORT_JOB_LOCK, job_id]
        )
        taken = cursor.fetchone()[0]
    try:
        yield taken
    finally:
        if taken:
            with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                # a broken connection has dropped the lock with its session
                cursor.execute(
                    "SELECT pg_advisory_unlock(%s::integer, %s::integer)", [IMPORT_JOB_LOCK, job_id]
                )


def import_jobs_resume() -> list[int]:
    """Queue again the import jobs that are queued or running but that no worker runs: their
    message was lost (the broker was down when the upload committed) or their worker died.
    ``reconcile`` calls this; a job that is queued twice runs once (:func:`import_job_run`)."""

    orphans = []
    for job_id in ImportJob.objects.filter(
        status__in=[ImportJobStatus.QUEUED, ImportJobStatus.RUNNING]
    ).values_list("pk", flat=True):
        with _import_job_lock(job_id) as free:
            if free:
                orphans.append(job_id)
    for job_id in orphans:
        tasks.import_job_run_task.send(job_id)
    return orphans


def _import_job_save(job_id: int, **fields) -> None:
    ImportJob.objects.filter(pk=job_id).update(**fields)


def import_job_run(*, job_id: int) -> ImportJob:
    """Run a queued import: rows are written one transaction each (catalog.importing), progress
    is saved every few rows, and the rows that failed go to a CSV error report.

    The job's advisory lock is held while it runs, so a second message for it (``reconcile``
    re-queues jobs no worker holds) returns at once. A job started again after its worker died
    starts from the first row: rows already written count as unchanged."""

    with _import_job_lock(job_id) as free:
        if not free:
            log.info("import job %s is running in another worker", job_id)
            return ImportJob.objects.get(pk=job_id)
        return _import_job_run(job_id)


def _import_job_run(job_id: int) -> ImportJob:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().select_related("seller").get(pk=job_id)
        if job.status not in {ImportJobStatus.QUEUED, ImportJobStatus.RUNNING}:
            return job  # a redelivered message for a finished job
        job.status = ImportJobStatus.RUNNING
        job.processed = 0
        job.save(update_fields=["status", "processed"])
    with tempfile.TemporaryDirectory(prefix=f"import-{job_id}-") as tmp:
        folder = Path(tmp)
        csv_path = folder / "catalog.csv"
        with job.csv_file.open("rb") as source:
            csv_path.write_bytes(source.read())
        images_dir = None
        try:
            if job.images_zip:
                images_dir = folder / "images"
                with job.images_zip.open("rb") as source, zipfile.ZipFile(source) as archive:
                    archive.extractall(images_dir)  # extractall drops absolute and '..' parts
            rows, first = importing.read_csv_rows(csv_path)
        except (importing.ImportFileError, zipfile.BadZipFile, OSError) as exc:
            _import_job_save(job_id, status=ImportJobStatus.FAILED, message=str(exc),
                             finished_at=timezone.now())  # fmt: skip
            return ImportJob.objects.get(pk=job_id)
        _import_job_save(job_id, total=len(rows))
        done = 0

        def progress(step: int) -> None:
            nonlocal done
            done += step
            if done % IMPORT_PROGRESS_EVERY == 0:
                _import_job_save(job_id, processed=done)

        report = importing.catalog_import(
            rows=rows, seller=job.seller, images_dir=images_dir, first_row_number=first,
            on_progress=progress,
        )  # fmt: skip
        errors_path = folder / "errors.csv"
        importing.errors_write_csv(report, errors_path)
        with transaction.atomic():
            job = ImportJob.objects.select_for_update().get(pk=job_id)
            if report.errors:
                job.error_report.save("errors.csv", ContentFile(errors_path.read_bytes()),
                                      save=False)  # fmt: skip
            job.processed = job.total = len(rows)
            job.created_count, job.updated_count = report.created, report.updated
            job.unchanged_count, job.error_count = report.unchanged, len(report.errors)
            job.status = ImportJobStatus.DONE
            job.finished_at = timezone.now()
            job.save()
    return job


# ----------------------------------------------------------------------------- accounts & tokens
SELLERS_GROUP = "sellers"


@transaction.atomic
def seller_become(*, user) -> Seller:
    """Give ``user`` a Seller profile (named after them) and put them in the sellers group."""

    seller = Seller.objects.filter(user=user).first()
    if seller is None:
        base = slugify(user.get_username())[:70] or "seller"
        slug, n = base, 1
        while Seller.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        seller = seller_get_or_create(slug=slug, display_name=user.get_username(), user=user)
    group, _ = Group.objects.get_or_create(name=SELLERS_GROUP)
    user.groups.add(group)
    return seller


@transaction.atomic
def token_create(*, user):
    """A fresh API token for ``user`` (any previous one is revoked)."""

    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


@transaction.atomic
def token_revoke(*, user) -> bool:

    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)


@transaction.atomic
def product_delete(*, product: Product) -> None:
    """A seller's delete is a soft delete: the listing leaves every page, search and the
    seller's own lists, but its row (and photos) stay, so the duplicate pairs and review events
    that mention it are never erased by a user action. A canonical listing can be deleted too:
    the listings merged into it stay merged. Its external id is freed for a later import."""
    product = Product.objects.select_for_update().get(pk=product.pk)
    if product.status == ProductStatus.DELETED:
        return
    product.status = ProductStatus.DELETED
    product.merged_into = None
    product.external_id = f"deleted-{product.pk}-{product.external_id}"[:100]
    product.save(update_fields=["status", "merged_into", "external_id", "updated_at"])
    announce_on_commit(product_deleted, product_ids=[product.pk])


@transaction.atomic
def product_image_set_kind(*, image: ProductImage, kind: str) -> ProductImage:
    if kind not in ImageKind.values:
        raise ValidationError({"kind": [f"Choose one of: {', '.join(ImageKind.values)}."]})
    image.kind = kind
    image.save(update_fields=["kind", "updated_at"])
    return image


__all__ = [
    "ImageRejected",
    "import_job_create",
    "import_job_run",
    "import_jobs_resume",
    "product_delete",
    "product_image_set_kind",
    "seller_become",
    "token_create",
    "token_revoke",
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
