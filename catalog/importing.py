"""CSV catalog import, shared by the ``import_catalog`` command and the seller dashboard job.

Each row is checked completely (fields, then every image file) before anything is written, then
written in its own transaction: a bad row is reported with its number and reason and skipped,
good rows land, and no row lands half-written. Re-running the same file changes nothing.

Columns: external_id, title, description, brand, category ("A > B > C"), price, currency,
images (';'-separated paths relative to the images folder).

``--format fashion`` reads Kaggle's Fashion Product Images ``styles.csv`` as it is. That file has
no prices, so a deterministic stand-in is used: a base price per articleType family plus an
offset from the CRC32 of the id (see :func:`fashion_price`), the same on every run and machine.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from catalog import services
from catalog.images import CheckedImage, ImageRejected
from catalog.models import Product, Seller

REQUIRED_COLUMNS = {"external_id", "title", "price"}
KNOWN_COLUMNS = {
    "external_id", "title", "description", "brand", "category", "price", "currency", "images",
}  # fmt: skip


@dataclass
class RowError:
    row: int
    external_id: str
    reason: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + len(self.errors)

    def summary(self) -> str:
        return (
            f"{self.total} rows: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {len(self.errors)} skipped with errors"
        )

    def to_dict(self) -> dict:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [e.__dict__ for e in self.errors],
        }


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (missing columns, not a CSV)."""


def read_csv_rows(path: Path) -> tuple[list[dict], int]:
    """Read a catalog CSV; returns (rows, number of the first data row)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = {(h or "").strip() for h in (reader.fieldnames or [])}
            missing = REQUIRED_COLUMNS - header
            if missing:
                raise ImportFileError(f"missing column(s): {', '.join(sorted(missing))}")
            rows = [{(k or "").strip(): (v or "") for k, v in row.items()} for row in reader]
    except UnicodeDecodeError:
        raise ImportFileError("the file is not UTF-8 text") from None
    except csv.Error as exc:
        raise ImportFileError(f"not a readable CSV file: {exc}") from None
    return rows, 2


FASHION_BASE_PRICES = {
    "Apparel": Decimal("24.00"),
    "Footwear": Decimal("49.00"),
    "Accessories": Decimal("19.00"),
    "Personal Care": Decimal("9.00"),
}


def fashion_price(style_id: str, master_category: str) -> Decimal:
    """Stand-in price for the fashion set: base by masterCategory + CRC32(id) % 6000 cents."""
    base = FASHION_BASE_PRICES.get(master_category, Decimal("15.00"))
    offset = Decimal(zlib.crc32(style_id.encode()) % 6000) / 100
    return (base + offset).quantize(Decimal("0.01"))


def fashion_rows(styles_csv: Path) -> list[dict]:
    """Map styles.csv onto the catalog columns."""
    with open(styles_csv, newline="", encoding="utf-8") as handle:
        rows = []
        for raw in csv.DictReader(handle):
            title = (raw.get("productDisplayName") or "").strip()
            parts = [raw.get("masterCategory"), raw.get("subCategory"), raw.get("articleType")]
            description = ", ".join(
                p for p in (raw.get("gender"), raw.get("baseColour"), raw.get("usage"),
                            " ".join(filter(None, [raw.get("season"), raw.get("year")])))
                if p
            )  # fmt: skip
            rows.append(
                {
                    "external_id": raw.get("id", ""),
                    "title": title,
                    "description": description,
                    "brand": title.split()[0] if title else "",
                    "category": " > ".join(p.strip() for p in parts if p and p.strip()),
                    "price": str(fashion_price(raw.get("id", ""), raw.get("masterCategory", ""))),
                    "currency": "EUR",
                    "images": raw.get("image", ""),
                }
            )
    return rows


@dataclass
class _CheckedRow:
    external_id: str
    data_fields: dict
    category_path: str
    images: list[CheckedImage]


def _resolve_image(raw: str, images_dir: Path | None) -> Path:
    if images_dir is None:
        raise ValueError(f"image {raw!r} given but no images folder (--images)")
    root = images_dir.resolve()
    candidate = (root / raw).resolve()
    if not candidate.is_relative_to(root):
        raise ValueError(f"image path {raw!r} escapes the images folder")
    return candidate


def _check_row(row: dict, images_dir: Path | None) -> _CheckedRow:
    external_id = (row.get("external_id") or "").strip()
    if not external_id:
        raise ValueError("external_id is missing")
    if len(external_id) > 100:
        raise ValueError("external_id is longer than 100 characters")
    title = (row.get("title") or "").strip()
    if not title:
        raise ValueError("title is missing")
    if len(title) > 300:
        raise ValueError("title is longer than 300 characters")
    brand = (row.get("brand") or "").strip()
    if len(brand) > 120:
        raise ValueError("brand is longer than 120 characters")
    price = services.price_parse(row.get("price"))
    currency = services.currency_parse(row.get("currency") or None)
    images = []
    for raw in [p.strip() for p in (row.get("images") or "").split(";") if p.strip()]:
        path = _resolve_image(raw, images_dir)
        if not path.is_file():
            raise ValueError(f"image {raw!r} does not exist")
        try:
            size = path.stat().st_size
            # Checked before reading, so an oversized file is never loaded into memory.
            if size > settings.MAX_UPLOAD_BYTES:
                raise ValueError(
                    f"image {raw!r} is {size:,} bytes; the limit is {settings.MAX_UPLOAD_BYTES:,}"
                )
            content = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"image {raw!r} cannot be read: {exc.strerror}") from None
        try:
            images.append(services.image_validate(content))
        except ImageRejected as exc:
            raise ValueError(f"image {raw!r}: {exc}") from None
    return _CheckedRow(
        external_id=external_id,
        data_fields={
            "title": title,
            "description": (row.get("description") or "").strip(),
            "brand": brand,
            "price": price,
            "currency": currency,
        },
        category_path=(row.get("category") or "").strip(),
        images=images,
    )


def _write_row(seller: Seller, checked: _CheckedRow, category_cache: dict) -> str:
    """Write one checked row in its own transaction. Returns created|updated|unchanged."""
    with transaction.atomic():
        category = None
        if checked.category_path:
            category = category_cache.get(checked.category_path)
            if category is None:
                category = services.category_get_or_create_path(path=checked.category_path)
                category_cache[checked.category_path] = category
        product = Product.objects.filter(seller=seller, external_id=checked.external_id).first()
        if product is None:
            services.product_create(
                seller=seller,
                external_id=checked.external_id,
                data=services.ProductData(category=category, **checked.data_fields),
                images=checked.images,
            )
            return "created"
        data = services.ProductData(category=category, status=product.status, **checked.data_fields)
        changed = services.product_update(product=product, data=data)
        changed = services.product_images_replace(product=product, images=checked.images) or changed
        return "updated" if changed else "unchanged"


def catalog_import(
    *,
    rows: Iterable[dict],
    seller: Seller,
    images_dir: Path | None,
    first_row_number: int = 2,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import rows for ``seller``. Never raises for a bad row; the report lists them."""
    report = ImportReport()
    category_cache: dict = {}
    for number, row in _numbered(rows, first_row_number):
        external_id = (row.get("external_id") or "").strip()
        try:
            checked = _check_row(row, images_dir)
            outcome = _write_row(seller, checked, category_cache)
        except ValueError as exc:
            report.errors.append(RowError(number, external_id, str(exc)))
        except ValidationError as exc:
            report.errors.append(RowError(number, external_id, "; ".join(exc.messages)))
        except IntegrityError as exc:
            category_cache.clear()
            report.errors.append(RowError(number, external_id, f"rejected by the database: {exc}"))
        else:
            setattr(report, outcome, getattr(report, outcome) + 1)
        if on_progress:
            on_progress(1)
    return report


def _numbered(rows: Iterable[dict], start: int) -> Iterator[tuple[int, dict]]:
    yield from enumerate(rows, start=start)


def errors_write_csv(report: ImportReport, path: Path) -> None:
    """The per-row error report a person can open in a spreadsheet."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "external_id", "reason"])
        for error in report.errors:
            writer.writerow([error.row, error.external_id, error.reason])
