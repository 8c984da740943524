"""`dedupe_eval --demo`'s queue report counts the demo's own listings against its ground truth."""

import pytest

from catalog.lab import demo
from dedupe.lab.demo_report import demo_queue_report
from tests.dedupe.helpers import candidate_for
from tests.factories import ProductFactory


@pytest.mark.django_db
def test_the_report_sorts_queued_pairs_by_the_demo_ground_truth_and_skips_other_listings():
    plan = demo.demo_plan()
    copy_of = {item.external_id: item.duplicate_of for item in plan if item.duplicate_of}
    planted_copy, planted_original = next(iter(copy_of.items()))
    variant = sorted(next(iter(demo.variant_pairs(plan))))
    taken = {planted_copy, planted_original, *variant}
    stranger_id = next(item.external_id for item in plan if item.external_id not in taken)
    listing = {ext: ProductFactory(external_id=ext) for ext in [*taken, stranger_id]}
    outsider = ProductFactory(external_id="feed-123")  # imported beside the demo

    candidate_for(listing[planted_copy], listing[planted_original], probability=0.95)
    candidate_for(listing[variant[0]], listing[variant[1]], probability=0.7)
    candidate_for(listing[stranger_id], listing[planted_original], probability=0.6)
    candidate_for(outsider, listing[stranger_id], probability=0.99)
    candidate_for(listing[variant[0]], listing[planted_copy], probability=0.01)  # under it

    lines = []
    report = demo_queue_report(log=lines.append)

    assert report["planted_in_queue"] == 1
    assert report["planted"] == len(copy_of)
    assert report["variants_above_threshold"] == 1
    assert report["other_non_duplicates_above_threshold"] == 1
    assert report["pairs_above_threshold"] == 3
    assert report["pairs_outside_the_demo"] == 1
    assert any("outside the demo catalog" in line for line in lines)
