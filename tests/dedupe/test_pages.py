"""The moderator pages: the queue, the pair page, decisions and bulk dismiss."""

import pytest
from django.urls import reverse

from catalog.models import ProductStatus
from dedupe.models import CandidateStatus, DuplicateCandidate
from tests.dedupe.helpers import candidate_for, moderator
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mod_client(client):
    client.force_login(moderator())
    return client


def test_the_queue_lists_pending_pairs_most_probable_first_for_a_moderator(mod_client):
    low = candidate_for(ProductFactory(title="Low one"), ProductFactory(), probability=0.55)
    high = candidate_for(ProductFactory(title="High one"), ProductFactory(), probability=0.95)
    response = mod_client.get(reverse("moderation-queue"))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("High one") < html.index("Low one")
    assert reverse("moderation-pair", args=[high.pk]) in html
    assert reverse("moderation-pair", args=[low.pk]) in html


def test_the_queue_redirects_anonymous_users_to_log_in_and_forbids_others(client):
    response = client.get(reverse("moderation-queue"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
    client.force_login(UserFactory())
    assert client.get(reverse("moderation-queue")).status_code == 403


def test_the_queue_filters_by_seller_and_strongest_signal_and_pages_by_keyset(mod_client):
    a = ProductFactory(title="Seller's own")
    candidate_for(a, ProductFactory(), probability=0.9)
    for i in range(30):
        DuplicateCandidate.objects.filter(pk=candidate_for(ProductFactory(title=f"Other {i}"), ProductFactory(),
                                                           probability=0.6 + i / 1000).pk).update(strongest_signal="image")  # fmt: skip
    html = mod_client.get(reverse("moderation-queue"), {"seller": a.seller_id}).content.decode()
    assert "Seller&#x27;s own" in html and "Other 1" not in html
    first = mod_client.get(reverse("moderation-queue"), {"signal": "image"})
    assert "Seller&#x27;s own" not in first.content.decode()
    assert len(first.context["page"].rows) == 25
    cursor = first.context["page"].next_cursor
    second = mod_client.get(reverse("moderation-queue"), {"signal": "image", "after": cursor})
    assert len(second.context["page"].rows) == 5
    seen = {c.pk for c in first.context["page"].rows} | {c.pk for c in second.context["page"].rows}
    assert len(seen) == 30


def test_the_pair_page_shows_both_listings_the_differences_and_every_signal(mod_client):
    a = ProductFactory(title="Aurelia Women Red Linen Shirt")
    b = ProductFactory(title="Aurelia Red Linen Button-Down")
    candidate = candidate_for(a, b)
    response = mod_client.get(reverse("moderation-pair", args=[candidate.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<mark>Button-Down</mark>" in html and "<mark>Women</mark>" in html
    assert "Title token-set similarity" in html and "Best image cosine" in html
    assert "Confirm duplicate" in html and "Dismiss" in html


def test_confirming_on_the_pair_page_merges_and_flashes_a_message(mod_client):
    a, b = ProductFactory(), ProductFactory()
    candidate = candidate_for(a, b)
    response = mod_client.post(
        reverse("moderation-decide", args=[candidate.pk]),
        {"action": "confirm", "canonical": a.pk, "reason": "same-item"},
        follow=True,
    )
    assert response.status_code == 200
    assert f"Confirmed and merged: pair #{candidate.pk}." in response.content.decode()
    b.refresh_from_db()
    assert (b.status, b.merged_into_id) == (ProductStatus.MERGED, a.pk)


def test_deciding_an_already_decided_pair_on_the_page_answers_409_with_a_message(mod_client):
    candidate = candidate_for(ProductFactory(), ProductFactory())
    url = reverse("moderation-decide", args=[candidate.pk])
    mod_client.post(url, {"action": "dismiss"})
    response = mod_client.post(url, {"action": "confirm"})
    assert response.status_code == 409
    assert "already dismissed" in response.content.decode()
    assert (
        mod_client.post(url.replace(str(candidate.pk), "999999"), {"action": "x"}).status_code
        == 404
    )


def test_an_unknown_action_on_the_page_answers_400(mod_client):
    candidate = candidate_for(ProductFactory(), ProductFactory())
    response = mod_client.post(
        reverse("moderation-decide", args=[candidate.pk]), {"action": "merge"}
    )
    assert response.status_code == 400
    assert "Unknown action" in response.content.decode()


def test_bulk_dismiss_from_the_queue(mod_client):
    rows = [candidate_for(ProductFactory(), ProductFactory()) for _ in range(3)]
    response = mod_client.post(
        reverse("moderation-bulk-dismiss"), {"candidates": [rows[0].pk, rows[1].pk]}, follow=True
    )
    assert "Dismissed 2 pairs." in response.content.decode()
    statuses = [DuplicateCandidate.objects.get(pk=r.pk).status for r in rows]
    assert statuses == [
        CandidateStatus.DISMISSED,
        CandidateStatus.DISMISSED,
        CandidateStatus.PENDING,
    ]
