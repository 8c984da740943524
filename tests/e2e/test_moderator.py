"""Journey 3: a moderator opens the duplicate queue, confirms one pair (the merged listing's page
then redirects, 301, to the canonical product) and dismisses another, which stays dismissed after
a rescan (``dedupe_scan --wait``)."""

import re

import pytest

pytestmark = pytest.mark.e2e

# Scores chosen pairs of active products with the scan's own scoring and upsert, at a review
# threshold of 0, so the queue has pending pairs even though the tiny random model's real
# neighbour scores may all fall under the threshold. Prints the open pairs' ids.
ENSURE_PENDING = """
import json
from django.test import override_settings
from catalog.models import Product, ProductStatus
from dedupe import services
from dedupe.listings import pairs_score
from dedupe.models import CandidateStatus, DuplicateCandidate
from visualsearch.spaces import space_active

def pending():
    return list(DuplicateCandidate.objects.filter(status=CandidateStatus.PENDING)
                .values_list("pk", "product_a_id", "product_b_id"))

if len(pending()) < 2:
    busy = {p for _, a, b in pending() for p in (a, b)}
    products = list(Product.objects.filter(status=ProductStatus.ACTIVE)
                    .exclude(pk__in=busy).select_related("category", "seller").order_by("pk"))
    space = space_active()
    with override_settings(DEDUPE_REVIEW_THRESHOLD=0):
        for product, other in zip(products[0::2], products[1::2]):
            if len(pending()) >= 2:
                break
            shas = services._sha256s([product.pk, other.pk])
            for pair in pairs_score(product=product, others=[other], space=space):
                services._candidate_upsert(product=product, other=other, pair=pair,
                                           shas=shas, result=services.ScanResult())
print(json.dumps(pending()))
"""


def _candidate(live_site, pk: int) -> dict:
    return live_site.json(
        "import json\n"
        "from dedupe.models import DuplicateCandidate\n"
        f"c = DuplicateCandidate.objects.get(pk={pk})\n"
        "print(json.dumps({'status': c.status, 'a': c.product_a_id, 'b': c.product_b_id}))\n"
    )


def _product(live_site, pk: int) -> dict:
    return live_site.json(
        "import json\n"
        "from catalog.models import Product\n"
        f"p = Product.objects.get(pk={pk})\n"
        "print(json.dumps({'status': p.status, 'merged_into': p.merged_into_id,"
        " 'title': p.title, 'url': p.get_absolute_url()}))\n"
    )


def test_a_moderator_confirms_one_duplicate_and_dismisses_another(page, live_site, login):
    live_site.manage("dedupe_scan", "--wait")
    pending = live_site.json(ENSURE_PENDING)
    assert len(pending) >= 2, pending
    # Two pairs with no product in common, so confirming one leaves the other open.
    first = pending[0]
    second = next(c for c in pending[1:] if not {c[1], c[2]} & {first[1], first[2]})
    confirm_pk, canonical_pk, merged_pk = first[0], first[1], first[2]
    dismiss_pk = second[0]
    canonical, merged = _product(live_site, canonical_pk), _product(live_site, merged_pk)
    merged_url = merged["url"]

    login(page, "moderator")
    page.get_by_role("link", name="Duplicates").click()
    page.wait_for_load_state()
    assert page.url.endswith("/moderation/duplicates/")
    rows = page.locator("tbody tr")
    assert rows.count() >= 2
    for pk in (confirm_pk, dismiss_pk):
        row = rows.filter(has=page.locator(f'a[href$="/moderation/duplicates/{pk}/"]'))
        assert row.first.is_visible()
        assert row.first.get_by_text("Pending", exact=True).is_visible()

    # Confirm the first pair, keeping product A as canonical.
    rows.filter(
        has=page.locator(f'a[href$="/moderation/duplicates/{confirm_pk}/"]')
    ).first.get_by_role("link", name="Review").click()
    page.wait_for_load_state()
    assert f"Possible duplicate #{confirm_pk}" in page.get_by_role("heading", level=1).inner_text()
    page.locator(f'input[name="canonical"][value="{canonical_pk}"]').check()
    page.get_by_role("button", name="Confirm duplicate").click()
    page.wait_for_load_state()
    assert page.get_by_text(f"Confirmed and merged: pair #{confirm_pk}.").is_visible()
    assert _candidate(live_site, confirm_pk)["status"] == "confirmed"
    after = _product(live_site, merged_pk)
    assert after["status"] == "merged", after
    assert after["merged_into"] == canonical_pk, after

    # The merged listing's page now redirects permanently to the canonical product.
    response = page.request.get(merged_url, max_redirects=0)
    assert response.status == 301, response.status
    assert response.headers["location"].endswith(canonical["url"])
    page.goto(merged_url)
    page.wait_for_load_state()
    assert page.url.endswith(canonical["url"]), page.url
    assert page.get_by_role("heading", level=1).inner_text() == canonical["title"]

    # Dismiss the second pair.
    page.goto(f"/moderation/duplicates/{dismiss_pk}/")
    page.wait_for_load_state()
    assert page.get_by_role("button", name="Dismiss").is_visible()
    page.get_by_role("button", name="Dismiss").click()
    page.wait_for_load_state()
    assert page.get_by_text(f"Dismissed: pair #{dismiss_pk}.").is_visible()
    assert _candidate(live_site, dismiss_pk)["status"] == "dismissed"

    page.goto("/moderation/duplicates/?status=dismissed")
    page.wait_for_load_state()
    row = page.locator("tbody tr").filter(
        has=page.locator(f'a[href$="/moderation/duplicates/{dismiss_pk}/"]')
    )
    assert row.first.get_by_text("Dismissed", exact=True).is_visible()

    # A rescan leaves the dismissed pair alone (nothing about either product changed).
    live_site.manage("dedupe_scan", "--wait")
    assert _candidate(live_site, dismiss_pk)["status"] == "dismissed"
    page.goto(f"/moderation/duplicates/{dismiss_pk}/")
    page.wait_for_load_state()
    heading = page.get_by_role("heading", level=1)
    assert heading.get_by_text("Dismissed", exact=True).is_visible()
    assert page.get_by_role("button", name="Dismiss").count() == 0
    assert page.get_by_text(re.compile(r"^Decided by moderator")).is_visible()
