"""How the duplicate queue does on the demo catalog: planted re-listings found, variants kept out.

The demo generator (`catalog.lab.demo`) knows which pairs are planted duplicates (`planted_pairs`)
and, where it has them, which are variants (`variant_pairs`: listings of one product line in
another colour or design, NOT duplicates). Run after `make run` (or `seed_demo` + a scan):

    python manage.py dedupe_eval --demo
"""

from __future__ import annotations

from django.conf import settings

from catalog.lab import demo
from catalog.models import Product
from dedupe.models import OPEN_STATUSES, DuplicateCandidate


def demo_queue_report(*, log=print) -> dict:
    plan = demo.demo_plan()
    planted = {tuple(p) for p in demo.planted_pairs(plan)}
    variant_fn = getattr(demo, "variant_pairs", None)
    variants = {tuple(sorted(p)) for p in variant_fn(plan)} if variant_fn else set()
    # Only the demo's own listings count: a catalog imported beside the demo (a benchmark
    # gallery, a seller's feed) adds pairs that the demo's ground truth knows nothing of.
    listed = {item.external_id for item in plan}
    ext = dict(Product.objects.filter(external_id__in=listed).values_list("pk", "external_id"))
    threshold = float(settings.DEDUPE_REVIEW_THRESHOLD)
    rows = DuplicateCandidate.objects.filter(probability__gte=threshold).values_list(
        "product_a_id", "product_b_id", "probability", "status", "signals"
    )
    found, variant_hits, other_hits = set(), [], []
    queue = outside = 0
    # queued pairs whose photos' stored colour labels conflict (the "photo colour" flag)
    colour_flags = {"planted": 0, "variant": 0, "other": 0}
    for a, b, probability, status, signals in rows:
        ea, eb = ext.get(a), ext.get(b)
        if ea is None or eb is None:
            outside += 1
            continue
        key = tuple(sorted((ea, eb)))
        queue += status in OPEN_STATUSES
        flagged = (signals or {}).get("photo_colour") == "conflict"
        if (ea, eb) in planted or (eb, ea) in planted:
            found.add((ea, eb) if (ea, eb) in planted else (eb, ea))
            colour_flags["planted"] += flagged
        elif key in variants:
            variant_hits.append((key, round(probability, 3)))
            colour_flags["variant"] += flagged
        else:
            other_hits.append((key, round(probability, 3)))
            colour_flags["other"] += flagged
    report = {
        "planted": len(planted),
        "planted_in_queue": len(found),
        "variant_pairs": len(variants),
        "variants_above_threshold": len(variant_hits),
        "other_non_duplicates_above_threshold": len(other_hits),
        "pairs_above_threshold": queue,
        "pairs_outside_the_demo": outside,
        "threshold": threshold,
        "photo_colour_flags": colour_flags,
    }
    log(
        f"demo queue (threshold {threshold}): planted duplicates {len(found)}/{len(planted)}; "
        f"variant pairs above threshold {len(variant_hits)} of {len(variants)}; other "
        f"non-duplicates above threshold {len(other_hits)}; pairs above threshold {queue}"
    )
    if outside:
        log(f"  {outside} pairs above the threshold involve listings outside the demo "
            "catalog and are not counted")  # fmt: skip
    log(
        "  of those, flagged 'photo colour' (the photos' colour labels conflict): "
        f"{colour_flags['planted']} planted, {colour_flags['variant']} variants, "
        f"{colour_flags['other']} other"
    )
    for pair, p in sorted(variant_hits, key=lambda x: -x[1])[:10]:
        log(f"  variant above threshold: {pair[0]} ~ {pair[1]} p={p}")
    for pair, p in sorted(other_hits, key=lambda x: -x[1])[:10]:
        log(f"  other above threshold: {pair[0]} ~ {pair[1]} p={p}")
    missed = planted - found
    for a, b in sorted(missed):
        log(f"  planted pair not in the queue: {a} ~ {b}")
    return report
