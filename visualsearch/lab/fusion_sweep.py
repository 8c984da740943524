"""Lab: the hybrid text search's weights, chosen on validation on the product path.

Runs ``visualsearch.search.search`` in process (what ``POST /api/search/`` calls) for every
"<baseColour> <articleType>" query of a gallery that ``search_api_eval`` imported (seller
``validation`` for the choice, ``heldout`` to report once), under each ``FUSION_*`` setting
given, and prints nDCG@10 with the paired standard error of the gain against the first
setting, same queries in the same run:

    python manage.py shell -c "from visualsearch.lab.fusion_sweep import main; main()"
    python manage.py shell -c "from visualsearch.lab.fusion_sweep import main; main(split='test')"

``grid`` is a sequence of settings overrides, the first the baseline (default ``KEYWORD_GRID``).
Only the keyword part (weight and half-saturation) moves here: the text relevance
(``space_fit``, step 4c) is calibrated on the image and title parts in their default ratio,
which therefore stays. Numbers in docs/benchmarks.md ("The keyword weight of hybrid text
search", "Query understanding terms in hybrid text search").
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

KEYWORD_GRID = tuple({"FUSION_KEYWORD_WEIGHT": w} for w in (0.2, 0.3, 0.4, 0.6, 0.8))


def main(
    *, split: str = "validation", grid=KEYWORD_GRID, data: Path | None = None
) -> dict[str, tuple[float, float, float]]:
    from django.test import override_settings  # noqa: PLC0415

    from catalog.models import Product  # noqa: PLC0415
    from visualsearch.lab import api_eval, metrics  # noqa: PLC0415
    from visualsearch.lab.evaluation import DEFAULT_DATA  # noqa: PLC0415
    from visualsearch.lab.metrics import paired_standard_error  # noqa: PLC0415
    from visualsearch.search import SearchQuery, search  # noqa: PLC0415

    seller = "validation" if split == "validation" else "heldout"
    items = {i.external_id: i for i in api_eval.heldout_items(data or DEFAULT_DATA, split)}
    products = Product.objects.filter(seller__slug=seller).values_list("pk", "external_id")
    by_pair: dict[tuple[str, str], set[int]] = defaultdict(set)
    for pk, external_id in products:
        item = items.get(external_id)
        if item is not None and item.colour:
            by_pair[(item.colour, item.type)].add(pk)
    if not by_pair:
        raise SystemExit(f"no gallery for seller {seller!r}: run search_api_eval first")
    pairs = sorted(by_pair)

    def ndcg() -> np.ndarray:
        out = []
        for colour, type_ in pairs:
            result = search(SearchQuery(text=f"{colour} {type_}", seller=seller, k=10))
            relevant = by_pair[(colour, type_)]
            hits = [product.pk in relevant for product, _ in result.results]
            out.append(metrics.ndcg_at_k(hits, n_relevant=len(relevant)))
        return np.array(out)

    runs = {}
    for overrides in grid:
        name = ", ".join(f"{key}={value}" for key, value in overrides.items())
        with override_settings(**overrides):
            runs[name] = ndcg()
    base = next(iter(runs.values()))
    report = {}
    for name, values in runs.items():
        gain = values - base
        error = paired_standard_error(gain)
        report[name] = (float(values.mean()), float(gain.mean()), error)
        print(f"{split}: {name}: nDCG@10 {values.mean():.4f} "
              f"(gain {gain.mean():+.4f}, paired standard error {error:.4f}, "
              f"{len(gain)} queries)", flush=True)  # fmt: skip
    return report
