"""The duplicates API."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from catalog.models import ProductStatus
from dedupe.models import DuplicateCandidate
from tests.dedupe.helpers import candidate_for, moderator
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    client = APIClient()
    client.force_authenticate(moderator())
    return client


def test_the_list_is_for_moderators_only():
    client = APIClient()
    assert client.get(reverse("api-duplicates")).status_code == 401
    client.force_authenticate(UserFactory())
    response = client.get(reverse("api-duplicates"))
    assert response.status_code == 403
    assert response.json() == {"errors": {"detail": ["Only moderators can review duplicates."]}}


def test_the_list_is_most_probable_first_filtered_and_paged(api):
    a = ProductFactory()
    mine = candidate_for(a, ProductFactory(), probability=0.7)
    others = [candidate_for(ProductFactory(), ProductFactory(), probability=0.8 + i / 100)
              for i in range(3)]  # fmt: skip
    body = api.get(reverse("api-duplicates"), {"page_size": 2}).json()
    assert [row["id"] for row in body["results"]] == [others[2].pk, others[1].pk]
    body = api.get(body["next"]).json()
    assert [row["id"] for row in body["results"]] == [others[0].pk, mine.pk]
    body = api.get(reverse("api-duplicates"), {"seller": a.seller_id}).json()
    assert [row["id"] for row in body["results"]] == [mine.pk]
    assert body["results"][0]["product_a"]["id"] == min(a.pk, body["results"][0]["product_b"]["id"])


def test_a_bad_filter_is_a_400_naming_the_field(api):
    response = api.get(reverse("api-duplicates"), {"status": "maybe"})
    assert response.status_code == 400
    assert "status" in response.json()["errors"]


def test_the_detail_shows_signals_with_contributions(api):
    candidate = candidate_for(ProductFactory(), ProductFactory())
    body = api.get(reverse("api-duplicate", args=[candidate.pk])).json()
    names = {row["name"] for row in body["contributions"]}
    assert {"token_set", "image_best_cos", "price_rel_diff"} <= names
    assert api.get(reverse("api-duplicate", args=[999999])).status_code == 404


def test_a_decision_through_the_api_merges_and_is_logged(api):
    a, b = ProductFactory(), ProductFactory()
    candidate = candidate_for(a, b)
    response = api.post(
        reverse("api-duplicate-decision", args=[candidate.pk]),
        {"action": "confirm", "canonical": b.pk, "reason": "same-item", "note": "same photo"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "confirmed"
    assert body["events"][-1]["action"] == "confirm"
    a.refresh_from_db()
    assert (a.status, a.merged_into_id) == (ProductStatus.MERGED, b.pk)


def test_decision_errors_are_4xx_with_messages(api):
    candidate = candidate_for(ProductFactory(), ProductFactory())
    url = reverse("api-duplicate-decision", args=[candidate.pk])
    unknown = api.post(url, {"action": "merge"}, format="json")
    assert unknown.status_code == 400
    assert "Unknown action" in unknown.json()["errors"]["action"][0]
    stranger = ProductFactory()
    bad_canonical = api.post(url, {"action": "confirm", "canonical": stranger.pk}, format="json")
    assert bad_canonical.status_code == 400
    assert bad_canonical.json()["errors"]["canonical"] == [
        "The canonical product must be one of the pair."
    ]
    assert api.post(url, {"action": "dismiss"}, format="json").status_code == 200
    again = api.post(url, {"action": "confirm"}, format="json")
    assert again.status_code == 409
    assert "already dismissed" in again.json()["errors"]["detail"][0]
    assert DuplicateCandidate.objects.get().status == "dismissed"
    outsider = APIClient()
    outsider.force_authenticate(UserFactory())
    assert outsider.post(url, {"action": "dismiss"}, format="json").status_code == 403


def test_the_schema_documents_the_duplicates_api(client):
    schema = client.get(reverse("api-schema")).content.decode()
    assert "/api/duplicates/{id}/decision/" in schema
    assert "DecisionIn" in schema
