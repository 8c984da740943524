"""``seed_demo``: a catalog of real photos from the fashion set's test split, with colour variants
and planted re-listings by another seller, seeded idempotently; ``--drawn`` keeps the drawings.

The database tests seed 40 originals rather than the 320 shipped to stay fast; the plan is the
same code path, a prefix of the shipped order. Checks against the fashion set itself (the split,
the source bytes, reproducing the subset) skip when ``../shared/data`` is absent.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from PIL import Image, ImageChops, ImageStat

from catalog.images import image_check
from catalog.lab import demo
from catalog.models import Category, Product, ProductImage
from tests.support import SHARED_DATA
from visualsearch.lab.evaluation import load_products, split_ids

FASHION = SHARED_DATA / "fashion_product_images_small"
needs_fashion = pytest.mark.skipif(
    not (FASHION / "styles.csv").is_file(), reason=f"the fashion set is not at {FASHION}"
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    """Images land in a throwaway folder whether or not a shared conftest sets one."""
    settings.MEDIA_ROOT = tmp_path / "media"


def _seed(*args: str, products: str = "40") -> str:
    out = StringIO()
    call_command("seed_demo", "--products", products, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _by_id(plan: list[demo.DemoProduct]) -> dict[str, demo.DemoProduct]:
    return {item.external_id: item for item in plan}


# ------------------------------------------------------------------------- the shipped subset


def test_shipped_subset_is_under_2_mb_with_its_licence_and_source():
    files = [p for p in demo.DEMO_DATA.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 2_000_000
    licence = (demo.DEMO_DATA / "LICENSE.aditya-patil-00-repo.txt").read_text()
    assert "Apache License" in licence, "the licence of the repository the set was copied from"
    source = (demo.DEMO_DATA / "SOURCE").read_text()
    assert "MIT, Kaggle Fashion Product Images (Small), Myntra" in source
    assert "aditya-patil-00/Fashion-Recommender 6e6ee42e" in source
    assert "LICENSE.aditya-patil-00-repo.txt" in source
    rows = demo.photo_rows()
    assert len(rows) >= 300
    for row in rows:
        with Image.open(demo.DEMO_DATA / row["image"]) as photo:
            assert photo.format == "JPEG" and photo.size == (60, 80)
    assert len(files) == len(rows) + 3, "photos, styles.csv, licence, SOURCE and nothing else"


@needs_fashion
def test_shipped_photos_are_the_sets_own_and_all_from_its_test_split():

    train, test = split_ids([p.id for p in load_products(FASHION)], seed=0)
    with open(FASHION / "styles.csv", newline="", encoding="utf-8") as handle:
        source = {row["id"]: row for row in csv.DictReader(handle)}
    rows = demo.photo_rows()
    ids = {int(row["id"]) for row in rows}
    assert ids <= test and not ids & train
    for row in rows:
        assert row == source[row["id"]], "the styles.csv row as it is"
        shipped = (demo.DEMO_DATA / row["image"]).read_bytes()
        assert shipped == (FASHION / row["image"]).read_bytes()


@needs_fashion
def test_demo_subset_command_reproduces_the_shipped_subset(tmp_path):
    out = StringIO()
    call_command("demo_subset", "--out", str(tmp_path), stdout=out)

    assert "320 photos" in out.getvalue()
    assert (tmp_path / "styles.csv").read_bytes() == (demo.DEMO_DATA / "styles.csv").read_bytes()
    assert (tmp_path / "SOURCE").read_text() == (demo.DEMO_DATA / "SOURCE").read_text()
    written = sorted(p.name for p in (tmp_path / "images").iterdir())
    assert written == sorted(p.name for p in (demo.DEMO_DATA / "images").iterdir())


# ---------------------------------------------------------------------------------- the plan


def test_plan_is_deterministic_and_a_marketplace_of_many_article_types():
    plan = demo.demo_plan()
    assert plan == demo.demo_plan()
    assert demo.planted_pairs(plan) != demo.planted_pairs(demo.demo_plan(seed=7))

    originals = [item for item in plan if not item.duplicate_of]
    assert len(originals) == len(demo.photo_rows())
    assert len({item.article_type for item in originals}) >= 40
    for kind in ("Tshirts", "Shirts", "Casual Shoes", "Handbags", "Watches", "Backpacks"):
        assert sum(item.article_type == kind for item in originals) >= 5, kind
    assert {item.seller for item in plan} == {name for name, _ in demo.SELLERS}
    assert all(item.category_path.count(" > ") == 2 for item in plan)
    assert len({item.brand for item in originals}) >= 100
    assert demo.fashion_brand("United Colors of Benetton Women Solid Black Top") == (
        "United Colors of Benetton"
    )


def test_planted_pairs_are_reworded_relistings_by_another_seller():
    plan = demo.demo_plan()
    items = _by_id(plan)
    pairs = demo.planted_pairs(plan)

    assert len(pairs) == demo.DEFAULT_DUPLICATES == 8
    assert len({items[original].article_type for original, _ in pairs}) == 8
    position = {item.external_id: index for index, item in enumerate(plan)}
    assert all(position[copy] > position[original] for original, copy in pairs), "listed later"
    assert not any(item.duplicate_of for item in plan[-12:]), "not all on the front page"
    for original_id, duplicate_id in pairs:
        original, copy = items[original_id], items[duplicate_id]
        assert duplicate_id == demo.DUPLICATE_PREFIX + original_id
        assert copy.seller != original.seller
        assert copy.category_path == original.category_path
        assert copy.photo == original.photo and copy.relisting is not None
        assert 60 <= copy.relisting.quality <= 85
        assert all(0.01 <= side <= 0.06 for side in copy.relisting.crop)
        assert abs(copy.price / original.price - 1) <= Decimal("0.05")
        assert copy.title != original.title
        assert copy.title.startswith(original.brand.lower())


def test_variant_pairs_share_a_title_and_a_seller_and_are_never_planted():
    plan = demo.demo_plan()
    items = _by_id(plan)
    variants = demo.variant_pairs(plan)

    titles = {items[a].title for a, _ in variants}
    assert len(titles) >= 10, "several title groups"
    assert any(items[a].colour != items[b].colour for a, b in variants), "colour variants"
    for a, b in variants:
        assert items[a].title == items[b].title
        assert items[a].seller == items[b].seller
        assert items[a].photo != items[b].photo
    planted = {id_ for pair in demo.planted_pairs(plan) for id_ in pair}
    assert not planted & {id_ for pair in variants for id_ in pair}


def test_a_small_prefix_still_has_a_category_with_two_products_and_variants():
    """The browser tests seed 24 products and search within a category holding at least two."""
    plan = demo.demo_plan(products=24, duplicates=2)

    assert len(plan) == 26 and len(demo.planted_pairs(plan)) == 2
    paths = [item.category_path for item in plan if not item.duplicate_of]
    assert max(paths.count(path) for path in paths) >= 2
    assert len(set(paths)) >= 8
    assert demo.variant_pairs(plan)


def test_reword_keeps_the_meaning_in_other_words():
    title = "Puma Men Grey Solid Round Neck T-Shirt"
    reworded = demo.reword(title, "Puma", random.Random(1))

    assert reworded != title
    assert reworded.startswith("puma ")
    assert "Tee" in reworded and "T-Shirt" not in reworded
    assert "Gray" in reworded and "Men" in reworded
    other_way = demo.reword("Nike Men Black Tee", "Nike", random.Random(1))
    assert "T-shirt" in other_way and "Tee" not in other_way, "a rewording is not undone"


def test_relisted_photo_is_recropped_relit_and_recompressed_but_alike():
    row = demo.photo_rows()[0]
    content = (demo.DEMO_DATA / row["image"]).read_bytes()
    relisting = demo.Relisting(crop=(0.05, 0.03, 0.02, 0.04), brightness=1.06, contrast=0.97,
                               quality=62)  # fmt: skip

    copy = demo.relisted_photo(content, relisting)

    assert copy != content
    original = Image.open(io.BytesIO(content)).convert("RGB")
    relisted = Image.open(io.BytesIO(copy))
    assert relisted.format == "JPEG" and relisted.size == original.size
    diff = ImageStat.Stat(ImageChops.difference(original, relisted.convert("RGB"))).mean
    assert 1 < sum(diff) / 3 < 30, "visibly changed, still the same photo"


# --------------------------------------------------------------------------------- seeding


@pytest.mark.django_db
def test_seed_lists_real_photos_variants_and_planted_relistings():
    output = _seed()

    plan = demo.demo_plan(products=40)
    items = _by_id(plan)
    assert Product.objects.count() == len(plan) == 40 + demo.DEFAULT_DUPLICATES
    leaves = Category.objects.filter(products__isnull=False).distinct()
    assert leaves.count() >= 15
    assert all(leaf.depth == 2 for leaf in leaves)

    User = get_user_model()
    users = {u.username: u for u in User.objects.all()}
    assert {"shopper", "seller1", "seller2", "seller3", "moderator", "admin"} <= set(users)
    assert users["admin"].is_superuser and users["admin"].is_staff
    assert users["moderator"].groups.filter(name="moderators").exists()
    assert not users["shopper"].is_staff and not users["shopper"].groups.exists()
    for name in ("seller1", "seller2", "seller3"):
        assert users[name].seller.products.exists()
    table = [line.split() for line in output.splitlines() if line.startswith("  ")]
    assert sorted(row[0] for row in table[1:]) == sorted(users), "each password printed once"
    assert all(len(row[-1]) == 12 for row in table[1:])

    # Uploads are stored as their cleaned copy (metadata dropped, catalog.images.image_check):
    # the stored photo is the shipped photo as the upload path cleans it.

    shipped = {
        image_check(
            (demo.DEMO_DATA / row["image"]).read_bytes(), max_bytes=10**8, max_pixels=10**8
        ).sha256: row["id"]
        for row in demo.photo_rows()
    }
    for product in Product.objects.exclude(external_id__startswith=demo.DUPLICATE_PREFIX):
        item = items[product.external_id]
        assert product.title == item.title and product.price == item.price
        assert product.category.path == item.category_path
        image = product.images.get()
        assert shipped.get(image.sha256) == str(item.style_id), (
            "the shipped photo, as the upload cleans it"
        )
        with image.file.open("rb") as handle:
            assert Image.open(handle).size == (60, 80)

    pairs = demo.planted_pairs(plan)
    assert f"{len(pairs)} duplicates planted" in output
    for original_id, duplicate_id in pairs:
        original = Product.objects.get(external_id=original_id)
        duplicate = Product.objects.get(external_id=duplicate_id)
        assert original.seller_id != duplicate.seller_id
        assert original.category_id == duplicate.category_id
        assert abs(duplicate.price / original.price - 1) <= Decimal("0.05")
        assert duplicate.title != original.title
        assert duplicate.images.get().sha256 not in shipped, "a re-cropped, recompressed copy"

    variants = demo.variant_pairs(plan)
    assert f"{len(variants)} pairs of listings share a title" in output
    for a, b in variants:
        first, second = Product.objects.get(external_id=a), Product.objects.get(external_id=b)
        assert first.title == second.title and first.seller_id == second.seller_id
        assert first.images.get().sha256 != second.images.get().sha256


@pytest.mark.django_db
def test_rerun_creates_nothing_and_force_fills_in_only_what_is_missing():
    _seed()
    counts = (Product.objects.count(), ProductImage.objects.count(), Category.objects.count())
    hashes = dict(get_user_model().objects.values_list("username", "password"))

    assert "catalog not empty; nothing to do" in _seed()
    forced = _seed("--force")

    assert "0 products created" in forced and "0 duplicates planted" in forced
    assert "password" not in forced
    after = (Product.objects.count(), ProductImage.objects.count(), Category.objects.count())
    assert after == counts
    assert dict(get_user_model().objects.values_list("username", "password")) == hashes

    Product.objects.get(external_id=demo.planted_pairs(demo.demo_plan(products=40))[0][1]).delete()
    refilled = _seed("--force")
    assert "1 products created" in refilled and "1 duplicates planted" in refilled
    assert Product.objects.count() == counts[0]


@pytest.mark.django_db
def test_drawn_option_still_seeds_the_drawn_catalog():
    output = _seed("--drawn", "--duplicates", "2", products="12")

    assert "14 products created" in output
    assert Product.objects.count() == 14
    for image in ProductImage.objects.all()[:6]:
        with image.file.open("rb") as handle:
            picture = Image.open(handle)
            picture.load()
        assert picture.size == (224, 224)
        assert max(ImageStat.Stat(picture.convert("RGB")).stddev) > 10


@pytest.mark.django_db
def test_more_products_than_shipped_photos_is_refused_before_anything_is_written():
    with pytest.raises(CommandError, match="the photo demo has 320 photos"):
        _seed(products="321")
    assert not Product.objects.exists()
    assert not get_user_model().objects.exists()
