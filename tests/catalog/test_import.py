import csv
from decimal import Decimal

import pytest
from django.core.management import call_command

from catalog import importing, services
from catalog.models import Category, Product, ProductImage
from tests.support import SHARED_DATA, make_image_bytes

pytestmark = pytest.mark.django_db


def write_csv(path, rows):
    fields = ["external_id", "title", "description", "brand", "category", "price", "currency",
              "images"]  # fmt: skip
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in fields})


@pytest.fixture
def images_dir(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "red.jpg").write_bytes(make_image_bytes((220, 20, 20)))
    (folder / "blue.png").write_bytes(make_image_bytes((20, 20, 220), fmt="PNG"))
    (folder / "notes.txt").write_bytes(b"this is not an image")
    (folder / "empty.jpg").write_bytes(b"")
    whole = make_image_bytes((20, 200, 20), size=(300, 300))
    (folder / "cut.jpg").write_bytes(whole[: len(whole) // 2])
    (folder / "huge.png").write_bytes(make_image_bytes(size=(2100, 2100), fmt="PNG"))
    return folder


def good_row(**overrides):
    row = {"external_id": "A1", "title": "Red Cotton T-shirt", "brand": "Northwind",
           "category": "Apparel > Topwear > Tshirts", "price": "19.90", "currency": "EUR",
           "images": "red.jpg;blue.png", "description": "Soft cotton"}  # fmt: skip
    return row | overrides


def run_import(tmp_path, rows, images_dir):
    path = tmp_path / "catalog.csv"
    write_csv(path, rows)
    parsed, first = importing.read_csv_rows(path)
    seller = services.seller_get_or_create(slug="acme")
    return importing.catalog_import(
        rows=parsed, seller=seller, images_dir=images_dir, first_row_number=first
    )


def test_good_rows_create_products_with_images_and_category_tree(tmp_path, images_dir):
    report = run_import(tmp_path, [good_row()], images_dir)
    assert (report.created, report.errors) == (1, [])
    product = Product.objects.get(external_id="A1")
    assert product.price == Decimal("19.90")
    assert product.category.path == "Apparel > Topwear > Tshirts"
    assert Category.objects.get(slug="apparel").parent is None
    images = list(product.images.order_by("position"))
    assert [(i.width, i.height) for i in images] == [(64, 64), (64, 64)]
    assert images[0].file.read()[:2] == b"\xff\xd8"


def test_running_the_same_file_again_changes_nothing(tmp_path, images_dir):
    run_import(tmp_path, [good_row(), good_row(external_id="A2", images="blue.png")], images_dir)
    stamp = list(Product.objects.order_by("pk").values_list("pk", "updated_at"))
    report = run_import(tmp_path, [good_row(), good_row(external_id="A2", images="blue.png")],
                        images_dir)  # fmt: skip
    assert (report.created, report.updated, report.unchanged) == (0, 0, 2)
    assert list(Product.objects.order_by("pk").values_list("pk", "updated_at")) == stamp
    assert ProductImage.objects.count() == 3


def test_a_changed_row_updates_the_product_in_place(tmp_path, images_dir):
    run_import(tmp_path, [good_row()], images_dir)
    report = run_import(tmp_path, [good_row(price="25.00", images="blue.png")], images_dir)
    assert report.updated == 1
    product = Product.objects.get(external_id="A1")
    assert product.price == Decimal("25.00")
    assert product.images.count() == 1


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"title": ""}, "title is missing"),
        ({"price": "-1"}, "negative"),
        ({"price": "abc"}, "not a number"),
        ({"price": ""}, "price is missing"),
        ({"currency": "XYZ"}, "ISO 4217"),
        ({"images": "missing.jpg"}, "does not exist"),
        ({"images": "notes.txt"}, "not an image"),
        ({"images": "empty.jpg"}, "empty"),
        ({"images": "cut.jpg"}, "truncated or corrupt"),
        ({"images": "huge.png"}, "limit"),
        ({"images": "../outside.jpg"}, "escapes"),
        ({"images": "red.jpg;notes.txt"}, "not an image"),
    ],
)
def test_a_bad_row_is_reported_and_skipped_while_good_rows_land(
    tmp_path, images_dir, overrides, reason
):
    (tmp_path / "outside.jpg").write_bytes(make_image_bytes())
    rows = [good_row(external_id="OK1"), good_row(external_id="BAD", **overrides),
            good_row(external_id="OK2", images="blue.png")]  # fmt: skip
    report = run_import(tmp_path, rows, images_dir)
    assert report.created == 2
    assert len(report.errors) == 1
    error = report.errors[0]
    assert (error.row, error.external_id) == (3, "BAD")
    assert reason in error.reason
    assert not Product.objects.filter(external_id="BAD").exists()
    # No half-written row: the good rows' images are all there, and nothing else.
    assert ProductImage.objects.count() == 3


def test_a_file_without_required_columns_is_refused_as_a_whole(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("name,cost\nx,1\n")
    with pytest.raises(importing.ImportFileError, match="external_id"):
        importing.read_csv_rows(path)


def test_the_command_prints_row_errors_and_a_summary(tmp_path, images_dir, capsys):
    path = tmp_path / "catalog.csv"
    write_csv(path, [good_row(), good_row(external_id="B", price="-3")])
    report_path = tmp_path / "errors.csv"
    call_command("import_catalog", str(path), "--seller", "acme", "--images", str(images_dir),
                 "--report", str(report_path))  # fmt: skip
    out, err = capsys.readouterr()
    assert "1 created" in out and "1 skipped with errors" in out
    assert "row 3 (B): price '-3' is negative" in err
    assert "price '-3' is negative" in report_path.read_text()


@pytest.mark.skipif(not (SHARED_DATA / "fashion_product_images_small").is_dir(),
                    reason="../shared/data/fashion_product_images_small is absent")  # fmt: skip
def test_the_fashion_format_reads_styles_csv_as_it_is():
    folder = SHARED_DATA / "fashion_product_images_small"
    call_command("import_catalog", str(folder / "styles.csv"), "--seller", "myntra",
                 "--format", "fashion", "--limit", "30")  # fmt: skip
    product = Product.objects.get(external_id="1531")
    assert product.title == "Puma Men Grey Solid Round Neck T-Shirt"
    assert product.brand == "Puma"
    assert product.category.path == "Apparel > Topwear > Tshirts"
    assert product.price == importing.fashion_price("1531", "Apparel")
    assert product.images.get().width == 60
    assert Product.objects.count() == 30
