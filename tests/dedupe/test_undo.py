"""Undo: a moderator's decision can be reverted for a short window, and the revert is audited."""

from datetime import timedelta

import pytest
from django.db.models import F

from catalog.models import Product, ProductStatus
from dedupe.models import CandidateStatus, DuplicateCandidate, ReviewEvent
from dedupe.services import AlreadyDecided, candidate_decide, candidate_decision_undo
from tests.dedupe.helpers import candidate_for, moderator
from tests.factories import ProductFactory


@pytest.mark.django_db
def test_undo_of_a_confirm_restores_both_listings_and_stops_the_redirect(client):
    a, b = ProductFactory(), ProductFactory()
    candidate = candidate_for(a, b)
    mod = moderator()
    candidate_decide(candidate_id=candidate.pk, moderator=mod, action="confirm", canonical_id=b.pk)
    assert client.get(a.get_absolute_url()).status_code == 301

    undone = candidate_decision_undo(candidate_id=candidate.pk, moderator=mod)

    assert undone.status == CandidateStatus.PENDING
    states = dict(Product.objects.filter(pk__in=[a.pk, b.pk]).values_list("pk", "status"))
    assert states == {a.pk: ProductStatus.ACTIVE, b.pk: ProductStatus.ACTIVE}
    assert Product.objects.get(pk=a.pk).merged_into_id is None
    assert client.get(a.get_absolute_url()).status_code == 200
    event = ReviewEvent.objects.filter(candidate=candidate).order_by("-id").first()
    assert (event.action, event.from_status, event.to_status) == ("undo", "confirmed", "pending")
    assert event.details["action"] == "confirm"


@pytest.mark.django_db
def test_undo_of_a_confirm_reopens_the_pairs_it_closed_as_one_group():
    a, b, c = ProductFactory(), ProductFactory(), ProductFactory()
    mod = moderator()
    first = candidate_for(a, b)
    candidate_decide(candidate_id=first.pk, moderator=mod, action="confirm", canonical_id=b.pk)
    second, third = candidate_for(b, c), candidate_for(a, c)
    candidate_decide(candidate_id=second.pk, moderator=mod, action="confirm", canonical_id=c.pk)
    assert DuplicateCandidate.objects.get(pk=third.pk).reason == "same-group"

    candidate_decision_undo(candidate_id=second.pk, moderator=mod)

    merged = dict(Product.objects.filter(pk__in=[a.pk, b.pk]).values_list("pk", "merged_into_id"))
    assert merged == {a.pk: b.pk, b.pk: None}
    assert Product.objects.get(pk=b.pk).status == ProductStatus.ACTIVE
    assert DuplicateCandidate.objects.get(pk=third.pk).status == CandidateStatus.PENDING


@pytest.mark.django_db
def test_a_dismiss_is_undone_once_and_not_after_the_window(settings):
    a, b = ProductFactory(), ProductFactory()
    candidate = candidate_for(a, b)
    mod = moderator()
    candidate_decide(candidate_id=candidate.pk, moderator=mod, action="dismiss")
    assert candidate_decision_undo(candidate_id=candidate.pk, moderator=mod).status == "pending"
    with pytest.raises(AlreadyDecided):
        candidate_decision_undo(candidate_id=candidate.pk, moderator=mod)

    candidate_decide(candidate_id=candidate.pk, moderator=mod, action="dismiss")
    ReviewEvent.objects.filter(candidate=candidate).update(at=F("at") - timedelta(hours=1))
    settings.DEDUPE_UNDO_SECONDS = 600
    with pytest.raises(AlreadyDecided, match="can be undone for 10 min"):
        candidate_decision_undo(candidate_id=candidate.pk, moderator=mod)
    assert DuplicateCandidate.objects.get(pk=candidate.pk).status == CandidateStatus.DISMISSED


@pytest.mark.django_db
def test_undo_through_the_api_and_the_page(client):
    a, b = ProductFactory(), ProductFactory()
    candidate = candidate_for(a, b)
    mod = moderator()
    client.force_login(mod)
    candidate_decide(candidate_id=candidate.pk, moderator=mod, action="confirm", canonical_id=a.pk)
    response = client.post(f"/api/duplicates/{candidate.pk}/undo/")
    assert response.status_code == 200 and response.json()["status"] == "pending"
    assert client.post(f"/api/duplicates/{candidate.pk}/undo/").status_code == 409
    candidate_decide(candidate_id=candidate.pk, moderator=mod, action="dismiss")
    page = client.get(f"/moderation/duplicates/{candidate.pk}/").content.decode()
    assert "Undo this decision" in page and "For a duplicate" in page
    response = client.post(f"/moderation/duplicates/{candidate.pk}/undo/")
    assert response.status_code == 302
    assert DuplicateCandidate.objects.get(pk=candidate.pk).status == CandidateStatus.PENDING
    page = client.get(f"/moderation/duplicates/{candidate.pk}/").content.decode()
    assert "Undo this decision" not in page
