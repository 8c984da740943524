"""Deleting a listing (issue 14, defects 10 and 11): a canonical listing can be deleted, and a
delete never erases the duplicate pairs or the moderators' audit trail that mention it."""

import pytest
from rest_framework.test import APIClient

from catalog.models import Product, ProductStatus
from dedupe.models import DuplicateCandidate, ReviewEvent
from dedupe.services import candidate_decide
from tests.dedupe.helpers import candidate_for, moderator
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def merged_pair():
    canonical, other = ProductFactory(), ProductFactory()
    candidate = candidate_for(canonical, other)
    candidate_decide(candidate_id=candidate.pk, moderator=moderator(), action="confirm",
                     canonical_id=canonical.pk, reason="same-item", note="same photo")  # fmt: skip
    return canonical, other, candidate


def owner_api(product) -> APIClient:
    api = APIClient()
    api.force_authenticate(product.seller.user)
    return api


def test_a_seller_can_delete_a_canonical_listing(client):
    canonical, other, _ = merged_pair()
    response = owner_api(canonical).delete(f"/api/products/{canonical.pk}/")
    assert response.status_code == 204
    assert owner_api(canonical).get(f"/api/products/{canonical.pk}/").status_code == 404
    assert client.get(canonical.get_absolute_url()).status_code == 404
    listed = owner_api(canonical).get("/api/products/", {"seller": canonical.seller.slug}).json()
    assert canonical.pk not in [row["id"] for row in listed["results"]]
    other.refresh_from_db()
    assert (other.status, other.merged_into_id) == (ProductStatus.MERGED, canonical.pk)


def test_deleting_a_listing_keeps_its_pairs_and_review_events():
    canonical, other, candidate = merged_pair()
    events = list(ReviewEvent.objects.filter(candidate=candidate).values_list("pk", flat=True))
    assert events
    for product in (other, canonical):
        assert owner_api(product).delete(f"/api/products/{product.pk}/").status_code == 204
    assert DuplicateCandidate.objects.filter(pk=candidate.pk).exists()
    kept = ReviewEvent.objects.filter(candidate=candidate).values_list("pk", flat=True)
    assert list(kept) == events
    assert Product.objects.filter(pk=canonical.pk, status=ProductStatus.DELETED).exists()
    api = APIClient()
    api.force_authenticate(moderator())
    assert api.get(f"/api/duplicates/{candidate.pk}/").status_code == 200


def test_a_deleted_listings_external_id_can_be_used_again():
    product = ProductFactory(external_id="SKU-1")
    assert owner_api(product).delete(f"/api/products/{product.pk}/").status_code == 204
    again = ProductFactory(seller=product.seller, external_id="SKU-1")
    assert again.pk != product.pk
