"""Scanning: neighbours through the HNSW indexes, scoring, and what a rescan does."""

import pytest

from catalog.models import Product
from dedupe.listings import listings_build
from dedupe.models import CandidateStatus, DuplicateCandidate
from dedupe.services import candidate_decide, duplicate_candidates_find
from tests.dedupe.helpers import listed, moderator, photo_of, unit
from tests.factories import CategoryFactory, SellerFactory
from visualsearch.models import ImageAttribute
from visualsearch.spaces import space_activate, space_register

pytestmark = pytest.mark.django_db


@pytest.fixture
def space():
    space_register(name="tiny", architecture="x", pretrained="y", dimension=8)
    return space_activate(name="tiny")


@pytest.fixture
def pair(space):
    shirts = CategoryFactory(name="Shirts")
    original = listed(space, vector=unit(1, 0.05), title="Aurelia Women Red Linen Shirt",
                      brand="Aurelia", category=shirts, price="49.99")  # fmt: skip
    copy = listed(space, vector=unit(1, 0.08), title="Aurelia Red Linen Shirt - Women",
                  photo=photo_of("Aurelia Women Red Linen Shirt"),
                  brand="Aurelia", category=shirts, price="50.49",
                  seller=SellerFactory())  # fmt: skip
    unrelated = [
        listed(
            space,
            vector=unit(0, 1, i),
            title=f"Oakhaven Blue Denim Jeans {i}",
            brand="Oakhaven",
            price="89.00",
        )  # fmt: skip
        for i in range(4)
    ]
    return original, copy, unrelated


def test_scanning_finds_a_planted_near_duplicate_through_the_hnsw_neighbours(pair):
    original, copy, unrelated = pair
    result = duplicate_candidates_find(product=original, k=3)
    assert result.created == 1
    candidate = DuplicateCandidate.objects.get()
    assert (candidate.product_a_id, candidate.product_b_id) == (original.pk, copy.pk)
    assert candidate.status == CandidateStatus.PENDING
    assert candidate.probability >= 0.5
    assert candidate.signals["image_best_cos"] == pytest.approx(
        float(unit(1, 0.05) @ unit(1, 0.08)), abs=1e-2
    )
    assert candidate.signals["brand"] == "equal"


def test_a_pair_is_stored_once_whichever_side_is_scanned(pair):
    original, copy, _ = pair
    duplicate_candidates_find(product=original, k=3)
    duplicate_candidates_find(product=copy, k=3)
    assert DuplicateCandidate.objects.count() == 1


def test_a_dismissed_pair_stays_dismissed_on_rescan(pair):
    original, copy, _ = pair
    duplicate_candidates_find(product=original, k=3)
    candidate = DuplicateCandidate.objects.get()
    candidate_decide(candidate_id=candidate.pk, moderator=moderator(), action="dismiss")
    copy.description = "A new description is not a material change"
    copy.price = copy.price * 1  # unchanged
    copy.save()
    result = duplicate_candidates_find(product=original, k=3)
    assert result.reopened == 0
    assert DuplicateCandidate.objects.get().status == CandidateStatus.DISMISSED


@pytest.mark.parametrize("change", ["title", "price"])
def test_a_dismissed_pair_comes_back_after_a_material_change(pair, change):
    original, copy, _ = pair
    duplicate_candidates_find(product=original, k=3)
    candidate = DuplicateCandidate.objects.get()
    candidate_decide(candidate_id=candidate.pk, moderator=moderator(), action="dismiss")
    if change == "title":
        Product.objects.filter(pk=copy.pk).update(title="Aurelia Red Linen Shirt for Women, new")
    else:
        Product.objects.filter(pk=copy.pk).update(price=copy.price * 2 / 3)
    result = duplicate_candidates_find(product=original, k=3)
    candidate.refresh_from_db()
    assert result.reopened == 1
    assert candidate.status == CandidateStatus.PENDING
    assert candidate.events.last().action == "reopened"
    assert f"b.{change}" in candidate.events.last().details["changed"]


def test_auto_hide_is_off_by_default_and_hides_the_newer_listing_when_on(pair, settings):
    original, copy, _ = pair
    duplicate_candidates_find(product=original, k=3)
    copy.refresh_from_db()
    assert copy.status == "active"
    DuplicateCandidate.objects.all().delete()
    settings.DEDUPE_AUTOHIDE_THRESHOLD = 0.5
    result = duplicate_candidates_find(product=original, k=3)
    copy.refresh_from_db()
    original.refresh_from_db()
    assert result.hidden == 1
    assert (original.status, copy.status) == ("active", "hidden")
    assert DuplicateCandidate.objects.get().events.last().action == "auto-hidden"


def colour_label(product, space, *, value, confidence):
    image = product.images.get()
    ImageAttribute.objects.create(image=image, product=product, space=space, name="colour",
                                  value=value, confidence=confidence)  # fmt: skip


def test_the_scan_reads_each_photo_s_stored_colour_label_and_ignores_it_below_the_floor(
    pair, space, settings
):
    settings.ATTRIBUTE_MIN_CONFIDENCE = 0.5
    original, copy, unrelated = pair
    colour_label(original, space, value="red", confidence=0.9)
    colour_label(copy, space, value="white", confidence=0.8)
    colour_label(unrelated[0], space, value="red", confidence=0.3)  # under the floor: unknown
    found = listings_build(products=[original, copy, *unrelated[:2]], space=space)
    assert [found[p.pk].photo_colour for p in (original, copy, *unrelated[:2])] == [
        "red", "white", None, None,
    ]  # fmt: skip
    duplicate_candidates_find(product=original, k=3)
    assert DuplicateCandidate.objects.get().signals["photo_colour"] == "conflict"
