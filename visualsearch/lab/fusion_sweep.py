"""Lab: search weights chosen on validation on the product path.

Runs ``visualsearch.search.search`` in process (what ``POST /api/search/`` calls) on a gallery
that ``search_api_eval`` imported (seller ``validation`` for the choice, ``heldout`` to report
once), under each setting of a grid of settings overrides (the first is the baseline), and
prints the measure with the paired standard error of the gain against the first setting, same
queries in the same run:

- ``main``: every "<baseColour> <articleType>" text query, nDCG@10 (default grid
  ``KEYWORD_GRID``);
- ``photo``: every gallery photo as a query (its own product dropped, as ``search_api_eval``
  drops it), P@10 by articleType (default grid ``CATEGORY_VOTE_GRID``);
- ``similar``: "more like this" for every gallery product, its item type read from its photos
  only against its photos and title, P@10 and P@5 by articleType.

    python manage.py shell -c "from visualsearch.lab.fusion_sweep import main; main()"
    python manage.py shell -c "from visualsearch.lab.fusion_sweep import main; main(split='test')"
    python manage.py shell -c "from visualsearch.lab.fusion_sweep import photo; photo()"
    python manage.py shell -c "from visualsearch.lab.fusion_sweep import similar; similar()"

Of the text weights only the keyword part (weight and half-saturation) and ranking-only terms
move here: the text relevance (``space_fit``, step 4c) is calibrated on the image and title
parts in their default ratio, which therefore stays. Numbers in docs/benchmarks.md ("The keyword
weight of hybrid text search", "Query understanding terms in hybrid text search", "The category
vote").
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

KEYWORD_GRID = tuple({"FUSION_KEYWORD_WEIGHT": w} for w in (0.2, 0.3, 0.4, 0.6, 0.8))
CATEGORY_VOTE_GRID = tuple({"SEARCH_CATEGORY_VOTE_WEIGHT": w} for w in (0.0, 0.25, 0.5, 1.0, 2.0))
K = 10


def _gallery(split: str, data: Path | None):
    """(seller, {product id: its styles.csv item}) of the imported gallery."""
    from catalog.models import Product  # noqa: PLC0415
    from visualsearch.lab import api_eval  # noqa: PLC0415
    from visualsearch.lab.evaluation import DEFAULT_DATA  # noqa: PLC0415

    seller = "validation" if split == "validation" else "heldout"
    items = {i.external_id: i for i in api_eval.heldout_items(data or DEFAULT_DATA, split)}
    products = Product.objects.filter(seller__slug=seller).values_list("pk", "external_id")
    gallery = {pk: items[external] for pk, external in products if external in items}
    if not gallery:
        raise SystemExit(f"no gallery for seller {seller!r}: run search_api_eval first")
    return seller, gallery


def text_pairs(gallery: dict) -> dict[tuple[str, str], set[int]]:
    """{(baseColour, articleType): the gallery products with it}: the text queries' relevance."""
    by_pair: dict[tuple[str, str], set[int]] = defaultdict(set)
    for pk, item in gallery.items():
        if item.colour:
            by_pair[(item.colour, item.type)].add(pk)
    return by_pair


def _sweep(
    *, split: str, grid, measure: Callable[[], dict[str, np.ndarray]]
) -> dict[str, dict[str, tuple[float, float, float]]]:
    """{setting label: {measure name: (mean, gain over the first setting, paired SE)}}."""
    from django.test import override_settings  # noqa: PLC0415

    from visualsearch.lab.metrics import paired_standard_error  # noqa: PLC0415

    runs = {}
    for overrides in grid:
        label = ", ".join(f"{key}={value}" for key, value in overrides.items())
        with override_settings(**overrides):
            runs[label] = measure()
    base = next(iter(runs.values()))
    report: dict[str, dict[str, tuple[float, float, float]]] = {}
    for label, measures in runs.items():
        report[label] = {}
        for name, values in measures.items():
            gain = values - base[name]
            error = paired_standard_error(gain)
            report[label][name] = (float(values.mean()), float(gain.mean()), error)
            print(f"{split}: {label}: {name} {values.mean():.4f} "
                  f"(gain {gain.mean():+.4f}, paired standard error {error:.4f}, "
                  f"{len(gain)} queries)", flush=True)  # fmt: skip
    return report


def main(
    *, split: str = "validation", grid=KEYWORD_GRID, data: Path | None = None
) -> dict[str, dict[str, tuple[float, float, float]]]:
    """Text queries, nDCG@10."""
    from visualsearch.lab import metrics  # noqa: PLC0415
    from visualsearch.search import SearchQuery, search  # noqa: PLC0415

    seller, gallery = _gallery(split, data)
    by_pair = text_pairs(gallery)
    pairs = sorted(by_pair)

    def ndcg() -> dict[str, np.ndarray]:
        out = []
        for colour, type_ in pairs:
            result = search(SearchQuery(text=f"{colour} {type_}", seller=seller, k=K))
            relevant = by_pair[(colour, type_)]
            hits = [product.pk in relevant for product, _ in result.results]
            out.append(metrics.ndcg_at_k(hits, n_relevant=len(relevant)))
        return {"nDCG@10": np.array(out)}

    return _sweep(split=split, grid=grid, measure=ndcg)


def photo(
    *, split: str = "validation", grid=CATEGORY_VOTE_GRID, data: Path | None = None
) -> dict[str, dict[str, tuple[float, float, float]]]:
    """Photo queries, P@10 and P@5 by articleType; each photo is read once and reused for every
    setting."""
    from PIL import Image  # noqa: PLC0415

    seller, gallery = _gallery(split, data)
    photos = {}
    for pk in sorted(gallery):
        with Image.open(gallery[pk].path) as image:
            photos[pk] = image.convert("RGB")

    def precision() -> dict[str, np.ndarray]:
        found = photo_precision(photos, gallery=gallery, seller=seller)
        return {"P@10": found["P@10"], "P@5": found["P@5"]}

    return _sweep(split=split, grid=grid, measure=precision)


def photo_precision(
    photos: dict, *, gallery: dict, seller: str, search_kwargs: dict | None = None
) -> dict[str, np.ndarray]:
    """Per photo query ({product id: its photo}): P@10 and P@5 by articleType within the
    seller's gallery, its own product dropped, whether the answer was "no good match" (every
    result under the relevance floor) and the query's time in ms."""
    from visualsearch.lab import metrics  # noqa: PLC0415
    from visualsearch.search import SearchQuery, search  # noqa: PLC0415

    at_10, at_5, ms, unmatched = [], [], [], []
    for pk, photo in photos.items():
        started = time.perf_counter()
        result = search(
            SearchQuery(images=[photo], seller=seller, k=K + 1, **(search_kwargs or {}))
        )
        ms.append((time.perf_counter() - started) * 1000)
        unmatched.append(result.no_match)
        hits = [p.pk for p, _ in result.results if p.pk != pk][:K]
        relevant = [h in gallery and gallery[h].type == gallery[pk].type for h in hits]
        at_10.append(metrics.precision_at_k(relevant, k=K))
        at_5.append(metrics.precision_at_k(relevant, k=5))
    return {"P@10": np.array(at_10), "P@5": np.array(at_5), "ms": np.array(ms),
            "no match": np.array(unmatched)}  # fmt: skip


def photo_categories(
    *, split: str = "validation", data: Path | None = None, seed: int = 0, names=None
) -> dict[str, dict[str, dict[str, tuple[float, float, float]]]]:
    """How the category vote depends on the sellers' categories: :func:`photo` (vote off
    against on, same queries) with the gallery's categories swapped for coarser ones
    (styles.csv's subCategory, masterCategory) or for wrong ones (each product's articleType
    category replaced by a random other one with probability 0.3, and 1.0), relevance staying
    articleType."""
    import csv  # noqa: PLC0415
    import random  # noqa: PLC0415
    from unittest import mock  # noqa: PLC0415

    from visualsearch import search as search_module  # noqa: PLC0415
    from visualsearch.lab.evaluation import DEFAULT_DATA  # noqa: PLC0415

    _, gallery = _gallery(split, data)
    with open((data or DEFAULT_DATA) / "styles.csv", newline="", encoding="utf-8") as fh:
        rows = {row["id"]: row for row in csv.DictReader(fh)}
    types = sorted({item.type for item in gallery.values()})
    rng = random.Random(seed)

    def wrong(share: float) -> dict[int, object]:
        return {pk: (rng.choice(types) if rng.random() < share else item.type)
                for pk, item in gallery.items()}  # fmt: skip

    labellings = {
        "subCategory": {pk: rows[item.external_id]["subCategory"] for pk, item in gallery.items()},
        "masterCategory": {
            pk: rows[item.external_id]["masterCategory"] for pk, item in gallery.items()
        },
        "30% wrong": wrong(0.3),
        "all random": wrong(1.0),
    }
    grid = [{"SEARCH_CATEGORY_VOTE_WEIGHT": 0.0}, {}]
    report = {}
    for name, labels in labellings.items():
        if names is not None and name not in names:
            continue
        print(f"categories: {name}", flush=True)
        with mock.patch.object(
            search_module, "_categories", lambda ids, labels=labels: {i: labels.get(i) for i in ids}
        ):
            report[name] = photo(split=split, grid=grid, data=data)
    return report


def similar(*, split: str = "validation", data: Path | None = None) -> dict[str, tuple]:
    """More like this (:func:`visualsearch.search.products_similar`, within the gallery's
    seller) for every gallery product, P@10 and P@5 by articleType: the query's item type read
    from its photos only, against its photos and its title (what ships), same queries in the
    same run. Returns {measure: (photo only, with the title, gain, paired SE)}."""
    from unittest import mock  # noqa: PLC0415

    from catalog.models import Product  # noqa: PLC0415
    from visualsearch import search as search_module  # noqa: PLC0415
    from visualsearch.lab import metrics  # noqa: PLC0415
    from visualsearch.lab.metrics import paired_standard_error  # noqa: PLC0415

    seller, gallery = _gallery(split, data)
    products = list(Product.objects.filter(pk__in=list(gallery)).order_by("pk"))
    real = search_module.products_search

    def run(*, titled: bool) -> dict[str, np.ndarray]:
        def untitled(**kwargs):
            return real(**kwargs | {"query_title": None})

        at_10, at_5 = [], []
        with mock.patch.object(search_module, "products_search", real if titled else untitled):
            for product in products:
                found = search_module.products_similar(product=product, k=K, seller=seller)
                hits = [p.pk for p, _ in found.results]
                relevant = [gallery[h].type == gallery[product.pk].type if h in gallery else False
                            for h in hits]  # fmt: skip
                at_10.append(metrics.precision_at_k(relevant, k=K))
                at_5.append(metrics.precision_at_k(relevant, k=5))
        return {"P@10": np.array(at_10), "P@5": np.array(at_5)}

    base, titled = run(titled=False), run(titled=True)
    report = {}
    for name in base:
        gain = titled[name] - base[name]
        report[name] = (float(base[name].mean()), float(titled[name].mean()), float(gain.mean()),
                        paired_standard_error(gain))  # fmt: skip
        print(f"{split}: more like this {name}: photo only {base[name].mean():.4f}, with the "
              f"title {titled[name].mean():.4f} (gain {gain.mean():+.4f}, paired standard error "
              f"{report[name][3]:.4f}, {len(gain)} products)", flush=True)  # fmt: skip
    return report
