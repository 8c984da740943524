"""Moderator decisions: merging, the audit trail, locking, and refusals."""

import threading

import pytest
from django.db import connection

from catalog.models import Product, ProductStatus
from dedupe.models import CandidateStatus, DuplicateCandidate, ReviewEvent
from dedupe.selectors import seller_duplicate_notes
from dedupe.services import (
    AlreadyDecided,
    DecisionError,
    NotAModerator,
    candidate_decide,
    candidates_dismiss_bulk,
)
from tests.dedupe.helpers import candidate_for, moderator
from tests.factories import ProductFactory, UserFactory


@pytest.mark.django_db
def test_confirming_merges_the_other_product_and_its_page_redirects_to_the_canonical(client):
    a, b = ProductFactory(), ProductFactory()
    candidate = candidate_for(a, b)
    candidate_decide(candidate_id=candidate.pk, moderator=moderator(), action="confirm",
                     canonical_id=b.pk, reason="same-item", note="same photo")  # fmt: skip
    a.refresh_from_db()
    assert (a.status, a.merged_into_id) == (ProductStatus.MERGED, b.pk)
    response = client.get(a.get_absolute_url())
    assert response.status_code == 301
    assert response["Location"].endswith(b.get_absolute_url())
    event = ReviewEvent.objects.get(candidate=candidate, action="confirm")
    assert (event.from_status, event.to_status, event.reason) == (
        "pending",
        "confirmed",
        "same-item",
    )
    assert event.details["merged"] == [a.pk]


@pytest.mark.django_db
def test_confirmed_pairs_form_one_group_under_one_canonical_product():
    a, b, c = ProductFactory(), ProductFactory(), ProductFactory()
    mod = moderator()
    first = candidate_for(a, b)
    candidate_decide(candidate_id=first.pk, moderator=mod, action="confirm", canonical_id=b.pk)
    second = candidate_for(b, c)
    candidate_decide(candidate_id=second.pk, moderator=mod, action="confirm", canonical_id=c.pk)
    merged = dict(Product.objects.filter(pk__in=[a.pk, b.pk]).values_list("pk", "merged_into_id"))
    assert merged == {a.pk: c.pk, b.pk: c.pk}
    assert Product.objects.get(pk=c.pk).status == ProductStatus.ACTIVE


@pytest.mark.django_db
def test_an_open_pair_inside_a_new_group_is_closed_with_it():
    a, b, c = ProductFactory(), ProductFactory(), ProductFactory()
    mod = moderator()
    ab, bc, ac = candidate_for(a, b), candidate_for(b, c), candidate_for(a, c)
    candidate_decide(candidate_id=ab.pk, moderator=mod, action="confirm", canonical_id=a.pk)
    candidate_decide(candidate_id=bc.pk, moderator=mod, action="confirm", canonical_id=b.pk)
    ac.refresh_from_db()
    assert ac.status == CandidateStatus.CONFIRMED
    assert ac.events.get().action == "grouped"


@pytest.mark.django_db
def test_a_failed_confirmation_changes_nothing():
    a, b, stranger = ProductFactory(), ProductFactory(), ProductFactory()
    candidate = candidate_for(a, b)
    with pytest.raises(DecisionError) as excinfo:
        candidate_decide(candidate_id=candidate.pk, moderator=moderator(), action="confirm",
                         canonical_id=stranger.pk)  # fmt: skip
    assert excinfo.value.field == "canonical"
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.PENDING
    assert not Product.objects.filter(status=ProductStatus.MERGED).exists()
    assert not ReviewEvent.objects.exists()


@pytest.mark.django_db
def test_deciding_an_already_decided_pair_is_refused_plainly():
    candidate = candidate_for(ProductFactory(), ProductFactory())
    candidate_decide(candidate_id=candidate.pk, moderator=moderator("ann"), action="dismiss")
    with pytest.raises(AlreadyDecided, match="already dismissed by ann"):
        candidate_decide(candidate_id=candidate.pk, moderator=moderator("bob"), action="confirm")
    assert ReviewEvent.objects.count() == 1


@pytest.mark.django_db
def test_unknown_actions_and_non_moderators_are_refused():
    candidate = candidate_for(ProductFactory(), ProductFactory())
    with pytest.raises(DecisionError, match="Unknown action"):
        candidate_decide(candidate_id=candidate.pk, moderator=moderator(), action="merge")
    with pytest.raises(NotAModerator):
        candidate_decide(candidate_id=candidate.pk, moderator=UserFactory(), action="dismiss")
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.PENDING


@pytest.mark.django_db
def test_escalated_pairs_can_still_be_decided():
    candidate = candidate_for(ProductFactory(), ProductFactory())
    mod = moderator()
    candidate_decide(candidate_id=candidate.pk, moderator=mod, action="escalate", note="unsure")
    candidate_decide(candidate_id=candidate.pk, moderator=mod, action="dismiss")
    actions = list(candidate.events.values_list("action", "to_status"))
    assert actions == [("escalate", "escalated"), ("dismiss", "dismissed")]


@pytest.mark.django_db
def test_bulk_dismiss_skips_pairs_already_decided():
    mod = moderator()
    rows = [candidate_for(ProductFactory(), ProductFactory()) for _ in range(3)]
    candidate_decide(candidate_id=rows[0].pk, moderator=mod, action="confirm")
    dismissed, skipped = candidates_dismiss_bulk(candidate_ids=[r.pk for r in rows], moderator=mod)
    assert (dismissed, skipped) == (2, 1)
    statuses = [DuplicateCandidate.objects.get(pk=r.pk).status for r in rows]
    assert statuses == ["confirmed", "dismissed", "dismissed"]


@pytest.mark.django_db
def test_review_events_cannot_be_changed_or_deleted():
    candidate = candidate_for(ProductFactory(), ProductFactory())
    candidate_decide(candidate_id=candidate.pk, moderator=moderator(), action="dismiss")
    event = ReviewEvent.objects.get()
    event.note = "rewritten"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()


@pytest.mark.django_db(transaction=True)
def test_two_moderators_deciding_at_once_land_exactly_one_decision():
    candidate = candidate_for(ProductFactory(), ProductFactory())
    mods = [moderator("ann"), moderator("bob")]
    barrier = threading.Barrier(2)
    outcomes = []

    def decide(user, action):
        try:
            barrier.wait()
            candidate_decide(candidate_id=candidate.pk, moderator=user, action=action)
            outcomes.append(("ok", action))
        except AlreadyDecided as exc:
            outcomes.append(("refused", str(exc)))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=decide, args=(mods[0], "confirm")),
        threading.Thread(target=decide, args=(mods[1], "dismiss")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"]
    candidate.refresh_from_db()
    landed = next(action for kind, action in outcomes if kind == "ok")
    assert candidate.status == {"confirm": "confirmed", "dismiss": "dismissed"}[landed]
    assert ReviewEvent.objects.filter(candidate=candidate).count() == 1


@pytest.mark.django_db
def test_sellers_see_open_and_merged_duplicates_of_their_products():
    a, b, c = ProductFactory(), ProductFactory(), ProductFactory()
    open_pair = candidate_for(a, c, probability=0.7)
    merged_pair = candidate_for(a, b, probability=0.95)
    candidate_decide(candidate_id=merged_pair.pk, moderator=moderator(), action="confirm",
                     canonical_id=b.pk)  # fmt: skip
    notes_a = seller_duplicate_notes(seller=a.seller)
    assert [n["status"] for n in notes_a[a.pk]] == ["merged", "pending"]
    assert notes_a[a.pk][0]["other_id"] == b.pk
    assert notes_a[a.pk][0]["other_url"] == b.get_absolute_url()
    assert notes_a[a.pk][1]["probability"] == pytest.approx(open_pair.probability)
    notes_b = seller_duplicate_notes(seller=b.seller)
    assert notes_b[b.pk] == [
        {"other_id": a.pk, "other_title": a.title, "other_url": a.get_absolute_url(),
         "probability": 0.95, "status": "confirmed"}
    ]  # fmt: skip
