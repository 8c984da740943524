"""``seed_demo``: a small seeded catalog has the shape the demo promises, and re-running is safe.

The test seeds 40 originals rather than 300 to stay fast; the plan is the same code path, and
categories go round-robin, so every leaf is still covered.
"""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from PIL import Image, ImageStat

from catalog import demo
from catalog.models import Category, ImageKind, Product, ProductImage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    """Images land in a throwaway folder whether or not a shared conftest sets one."""
    settings.MEDIA_ROOT = tmp_path / "media"


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", "--products", "40", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_plan_is_deterministic_and_covers_every_leaf():
    first = demo.demo_plan(seed=7, products=40, duplicates=6)
    assert first == demo.demo_plan(seed=7, products=40, duplicates=6)
    assert first != demo.demo_plan(seed=8, products=40, duplicates=6)
    assert len({item.category.path for item in first}) == len(demo.CATEGORIES) >= 8
    assert len(demo.planted_pairs(first)) == 6


def test_seed_creates_catalog_accounts_and_planted_duplicates():
    output = _seed()

    plan = demo.demo_plan(products=40)
    assert Product.objects.count() == len(plan) == 40 + demo.DEFAULT_DUPLICATES
    leaves = Category.objects.filter(products__isnull=False).distinct()
    assert leaves.count() >= 8
    assert all(leaf.depth == 2 for leaf in leaves)

    User = get_user_model()
    users = {u.username: u for u in User.objects.all()}
    assert {"shopper", "seller1", "seller2", "moderator", "admin"} <= set(users)
    assert users["admin"].is_superuser and users["admin"].is_staff
    assert users["moderator"].groups.filter(name="moderators").exists()
    assert not users["shopper"].is_staff and not users["shopper"].groups.exists()
    for name in ("seller1", "seller2"):
        assert users[name].seller.products.exists()
    table = [line.split() for line in output.splitlines() if line.startswith("  ")]
    assert sorted(row[0] for row in table[1:]) == sorted(users), "each password printed once"
    assert all(len(row[-1]) == 12 for row in table[1:])

    for image in ProductImage.objects.select_related("product")[:20]:
        with image.file.open("rb") as handle:
            picture = Image.open(handle)
            picture.load()
        assert picture.size == (224, 224)
        assert picture.format == "JPEG"
        # Real pixels: a drawn product, not a flat canvas.
        assert max(ImageStat.Stat(picture.convert("RGB")).stddev) > 10
    assert ProductImage.objects.filter(kind=ImageKind.LIFESTYLE).exists()

    pairs = demo.planted_pairs(plan)
    assert f"{len(pairs)} duplicates planted" in output
    assert len(pairs) >= 5
    for original_id, duplicate_id in pairs:
        assert duplicate_id.startswith(demo.DUPLICATE_PREFIX)
        original = Product.objects.get(external_id=original_id)
        duplicate = Product.objects.get(external_id=duplicate_id)
        assert original.seller_id != duplicate.seller_id
        assert original.category_id == duplicate.category_id
        assert abs(duplicate.price / original.price - 1) <= Decimal("0.05")
        assert duplicate.title != original.title
        assert original.images.first().sha256 != duplicate.images.first().sha256


def test_rerun_creates_nothing_and_keeps_passwords():
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
