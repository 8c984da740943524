"""``manage.py search_api_eval``: search quality as a user gets it, through ``POST /api/search/``.

Protocol (issue 12, "Done when"):

* The gallery is the fashion set's held-out 20%: ``evaluation.split_ids(ids, seed=0)[1]`` of the
  ids in styles.csv whose photo exists. It is written as an ``import_catalog`` CSV and imported
  for one seller with the documented command (idempotent: a rerun finds it imported and skips
  it); then the command waits until the server's worker has embedded every photo and title in
  the active space.
* Every query goes over HTTP to a running server, restricted to that seller. The server must
  use the same database as this command (the gallery's product ids and stored attributes are
  read through the ORM).
* Photo queries ask for k+1 results and drop the query's own product. Relevance comes from the
  set's labels (articleType, baseColour, title words); nothing is tuned here.

The pure metrics are in :mod:`visualsearch.lab.metrics`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import platform
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests
from django.core.management import call_command
from PIL import Image
from tqdm import tqdm

from catalog import importing
from catalog.models import Product, ProductImage, ProductStatus
from visualsearch.attributes import ATTRIBUTE_PARAMS, TAXONOMY
from visualsearch.lab import metrics
from visualsearch.lab.bench import cpu_model
from visualsearch.lab.evaluation import BM25, load_products, split_ids, tokenize, top_k
from visualsearch.models import EmbeddingFailure, ImageEmbedding, TitleEmbedding
from visualsearch.selectors import product_attributes
from visualsearch.spaces import space_active

SECTION = "## Search quality through the API (search_api_eval)"
# the validation split's run has its own section, so it never replaces the test split's
VALIDATION_SECTION = (
    "## Search quality through the API on validation (search_api_eval --split validation)"
)
K = 10
SPLIT_SEED = 0  # the held-out split of embedder_eval and issue 12, whatever --seed samples

# Goods a fashion shop does not sell. Random strings are added, seeded (see ooc_queries).
OUT_OF_CATALOG = (
    "espresso machine", "garden hose", "car battery", "lawn mower", "electric drill",
    "microwave oven", "dog food", "cat litter", "printer ink cartridge", "motor oil",
    "bicycle tyre", "kitchen sink", "ceiling fan", "fire extinguisher", "aquarium filter",
    "snow shovel", "circular saw", "baby stroller", "office chair", "washing machine",
    "graphics card", "solar panel", "guitar strings", "paint roller", "tennis racket",
    "smoke detector", "vacuum cleaner", "toaster", "frying pan", "water heater",
)  # fmt: skip
RANDOM_STRINGS = 10

# "Without: X": title words that say an item has the pattern, and the negative text sent.
PATTERNS: dict[str, tuple[frozenset[str], str]] = {
    "striped": (frozenset({"striped", "stripes", "stripe", "stripped"}), "stripes"),
    "printed": (frozenset({"printed", "print", "prints"}), "print"),
    "checked": (frozenset({"checked", "checks", "check", "checkered"}), "checks"),
    "floral": (frozenset({"floral", "flower", "flowers", "flowery"}), "flowers"),
}
PAGING_QUERIES = 10  # per kind (photo, text)
PAGES = 3


class EvalError(RuntimeError):
    """The evaluation cannot run or continue; the message says why and what to do."""


@dataclass(frozen=True)
class Item:
    external_id: str
    title: str
    colour: str
    type: str
    path: Path


# --- the held-out gallery ----------------------------------------------------------------


SPLITS = ("test", "validation")


def heldout_items(data_dir: Path, split: str = "test") -> list[Item]:
    """The held-out 20% of the styles.csv rows whose photo exists, by id (``split="test"``), or
    the validation rows that ``space_fit`` chooses on (``"validation"``: a tenth of the 80%,
    never fitted on), for choices made on the product path without reading the test split."""
    if split not in SPLITS:
        raise EvalError(f"unknown split {split!r}: one of {', '.join(SPLITS)}")
    if not (data_dir / "styles.csv").is_file():
        raise EvalError(f"no styles.csv in {data_dir} (give the fashion set's folder with --data)")
    products = load_products(data_dir)
    if not products:
        raise EvalError(f"{data_dir}/styles.csv lists no product whose photo exists")
    if split == "validation":
        from visualsearch.lab.space_fit import split as fit_split  # noqa: PLC0415

        wanted = {products[i].id for i in fit_split(products)[1]}
    else:
        _, wanted = split_ids([p.id for p in products], seed=SPLIT_SEED)
    return [Item(str(p.id), p.title, p.colour, p.type, p.path) for p in products if p.id in wanted]


def heldout_csv_write(*, data_dir: Path, items: list[Item], path: Path) -> int:
    """Write the items as an ``import_catalog`` CSV (styles.csv mapped by
    ``catalog.importing.fashion_rows``: category "master > sub > articleType", stand-in price).
    Returns the number of rows."""
    wanted = {i.external_id for i in items}
    rows = [
        r for r in importing.fashion_rows(data_dir / "styles.csv") if r["external_id"] in wanted
    ]
    columns = ["external_id", "title", "description", "brand", "category", "price", "currency",
               "images"]  # fmt: skip
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows({c: r[c] for c in columns} for r in rows)
    return len(rows)


def gallery_load(*, seller: str, items: list[Item]) -> dict[int, Item]:
    """{product id: item} of the seller's active products that are held-out items."""
    by_id = {i.external_id: i for i in items}
    rows = Product.objects.filter(
        seller__slug=seller, external_id__in=list(by_id), status=ProductStatus.ACTIVE
    ).values_list("pk", "external_id")
    return {pk: by_id[ext] for pk, ext in rows}


def gallery_import(
    *, data_dir: Path, items: list[Item], seller: str, log: Callable[[str], None]
) -> dict[int, Item]:
    """Import the held-out items for ``seller`` unless they are all there already."""
    gallery = gallery_load(seller=seller, items=items)
    if len(gallery) == len(items):
        log(f"gallery: {len(gallery)} held-out products already imported for seller {seller!r}")
        return gallery
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "heldout.csv"
        n = heldout_csv_write(data_dir=data_dir, items=items, path=path)
        log(f"importing {n} held-out products for seller {seller!r} (import_catalog)")
        call_command("import_catalog", str(path), "--seller", seller, "--images", str(data_dir))
    gallery = gallery_load(seller=seller, items=items)
    if not gallery:
        raise EvalError(f"no held-out product was imported for seller {seller!r}")
    if len(gallery) < len(items):
        log(f"gallery: {len(gallery)} of {len(items)} held-out rows imported (the rest had errors)")
    return gallery


def embeddings_wait(
    *, gallery: dict[int, Item], timeout: float, progress: bool = True, poll: float = 2.0
) -> str:
    """Wait until every gallery photo has a vector (or a permanent failure) and every gallery
    title a vector in the active space. Returns the space's name."""
    product_ids = list(gallery)
    image_ids = list(
        ProductImage.objects.filter(product_id__in=product_ids).values_list("pk", flat=True)
    )
    total = len(image_ids) + len(product_ids)
    deadline = time.monotonic() + timeout
    done, space = 0, None
    with tqdm(
        total=total, unit="vector", desc="waiting for the worker", disable=not progress or None
    ) as bar:
        while True:
            space = space_active()
            if space is not None:
                images = ImageEmbedding.objects.filter(space=space, image_id__in=image_ids).count()
                failed = EmbeddingFailure.objects.filter(
                    space=space, image_id__in=image_ids, permanent=True
                ).count()
                titles = TitleEmbedding.objects.filter(
                    space=space, product_id__in=product_ids
                ).count()
                done = images + failed + titles
                bar.n = done
                bar.set_postfix_str(space.name)
                bar.refresh()
                if done >= total:
                    return space.name
            if time.monotonic() > deadline:
                where = (
                    "no embedding space is active yet"
                    if space is None
                    else f"{total - done} of {total} photo and title vectors are still missing "
                    f"in space {space.name!r}"
                )
                raise EvalError(
                    f"gave up after {timeout:.0f} s: {where}. Is the server's worker running "
                    "(`python manage.py rundramatiq`, started by `make run`)? "
                    "`python manage.py reconcile` re-enqueues missing work; --wait sets the "
                    "timeout."
                )
            time.sleep(poll)


# --- the HTTP client ---------------------------------------------------------------------


class SearchApi:
    """``POST {url}/api/search/`` for one seller, over one requests Session."""

    def __init__(self, *, url: str, seller: str, session: requests.Session | None = None):
        self.base = url.rstrip("/")
        self.url = self.base + "/api/search/"
        self.seller = seller
        self.session = session or requests.Session()
        self.latency_ms: dict[str, list[float]] = defaultdict(list)
        self._photos: dict[Path, bytes] = {}

    def search(
        self, *, kind: str, photo: Path | None = None, text: str = "", negative_text: str = "",
        k: int = K, page: int = 1, expand: bool = False, photo_bytes: bytes | None = None,
        correct: bool = True,
    ) -> dict:  # fmt: skip
        data = {"seller": self.seller, "k": str(k), "page": str(page)}
        if expand:
            data["expand"] = "true"
        if not correct:
            data["correct"] = "false"
        if text:
            data["text"] = text
        if negative_text:
            data["negative_text"] = negative_text
        files = None
        if photo is not None:
            if photo not in self._photos:
                self._photos[photo] = photo.read_bytes()
            files = {"image": (photo.name, self._photos[photo], "image/jpeg")}
        elif photo_bytes is not None:
            files = {"image": ("photo.jpg", photo_bytes, "image/jpeg")}
        return self._request(kind, "POST", self.url, data=data, files=files)

    def similar(self, *, product_id: int, k: int = K) -> dict:
        """``GET {url}/api/products/<id>/similar/`` within the seller: more like this."""
        url = f"{self.base}/api/products/{product_id}/similar/"
        return self._request("similar", "GET", url, params={"seller": self.seller, "k": str(k)})

    def _request(self, kind: str, method: str, url: str, **kwargs) -> dict:
        for attempt in range(6):
            started = time.monotonic()
            try:
                response = self.session.request(method, url, timeout=120, **kwargs)
            except requests.RequestException as exc:
                raise EvalError(f"cannot reach {url}: {exc}") from None
            elapsed = (time.monotonic() - started) * 1000
            if response.status_code == 429 and attempt < 5:
                time.sleep(min(60.0, float(response.headers.get("Retry-After") or 1)))
                continue
            break
        if response.status_code != 200:
            body = response.text[:500]
            hint = ""
            if response.status_code == 400 and "seller" in body:
                hint = " (does the server use the same database as this command?)"
            if response.status_code == 429:
                hint = " (raise THROTTLE_SEARCH on the server)"
            raise EvalError(f"{method} {url} answered {response.status_code}: {body}{hint}")
        self.latency_ms[kind].append(elapsed)
        return response.json()


def result_ids(body: dict) -> list[int]:
    return [hit["product"]["id"] for hit in body["results"]]


def without(ids: list[int], drop: int) -> list[int]:
    return [i for i in ids if i != drop]


def answered_no_match(body: dict) -> bool:
    """The response says there is no good match: ``no_match`` is true, or every result is marked
    ``"match": false`` (an empty result list too)."""
    if body.get("no_match") is True:
        return True
    return all(hit.get("match") is False for hit in body["results"])


def marks_matches(body: dict) -> bool:
    """Whether the response carries the relevance-floor fields at all."""
    return "no_match" in body or any("match" in hit for hit in body["results"])


# --- the run -----------------------------------------------------------------------------


@dataclass
class Row:
    measure: str
    value: str
    target: str = ""
    n: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    numbers: dict = field(default_factory=dict)

    def add(self, measure: str, value, target: str = "", n="") -> None:
        self.rows.append(Row(measure, _fmt(value), target, str(n)))

    def table(self) -> str:
        lines = ["| measure, through the API | value | target | queries |", "|---|---|---|---|"]
        lines += [f"| {r.measure} | {r.value} | {r.target} | {r.n} |" for r in self.rows]
        return "\n".join(lines)


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _sample(items: list, n: int, rng: np.random.Generator) -> list:
    if n >= len(items):
        return list(items)
    picked = rng.choice(len(items), size=n, replace=False)
    return [items[i] for i in sorted(picked)]


def ooc_queries(*, seed: int) -> list[str]:
    """The out-of-catalog queries: other domains' goods plus seeded random strings."""
    rng = np.random.default_rng(seed + 7)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    strings = [
        " ".join(
            "".join(rng.choice(letters, size=int(rng.integers(4, 10))))
            for _ in range(int(rng.integers(1, 3)))
        )
        for _ in range(RANDOM_STRINGS)
    ]
    return list(OUT_OF_CATALOG) + strings


def _title_has(title: str, words: frozenset[str]) -> bool:
    return bool(words & set(tokenize(title)))


def _facet_of(param: str) -> str | None:
    return next((facet for facet, p in ATTRIBUTE_PARAMS.items() if p == param), None)


def attributes_quality(*, gallery: dict[int, Item], space_name: str, report: Report) -> None:
    """Accuracy and ECE of the stored colour and item-type attributes over the whole gallery,
    the taxonomy's labels mapped to the set's by lower-casing."""
    space = space_active()
    if space is None or space.name != space_name:
        report.notes.append("the active space changed during the run: stored attributes skipped")
        return
    stored = product_attributes(product_ids=list(gallery), space=space, min_confidence=0)
    for param, truth_of, name in (
        ("colour", lambda i: i.colour, "colour"),
        ("item_type", lambda i: i.type, "item type"),
    ):
        facet = _facet_of(param)
        if facet is None:
            report.notes.append(f"the API has no {param!r} attribute: {name} skipped")
            continue
        labels = {label.lower() for label in TAXONOMY[facet]["labels"]}
        truths = {truth_of(i).lower() for i in gallery.values() if truth_of(i)}
        unmapped_labels = sorted(labels - truths)
        unmapped_truths = sorted(truths - labels)
        conf, correct, all_correct, missing = [], [], [], 0
        for pk, item in gallery.items():
            truth = truth_of(item).lower()
            found = stored.get(pk, {}).get(facet)
            hit = found is not None and found[0].lower() == truth
            all_correct.append(hit)
            if found is None:
                missing += 1
            elif truth in labels:
                conf.append(found[1])
                correct.append(hit)
        report.add(f"stored {name}: accuracy (gallery products whose label maps)",
                   metrics.mean(correct), ">= 0.70" if param == "colour" else ">= 0.85",
                   len(correct))  # fmt: skip
        report.add(f"stored {name}: ECE, 10 bins (same products)",
                   metrics.expected_calibration_error(conf, correct) if conf else None,
                   "<= 0.05", len(conf))  # fmt: skip
        report.add(f"stored {name}: accuracy over all gallery products (unmappable = wrong)",
                   metrics.mean(all_correct), "", len(all_correct))  # fmt: skip
        n_unmapped = sum(1 for i in gallery.values() if truth_of(i).lower() not in labels)
        report.notes.append(
            f"{name}: {len(unmapped_labels)} of {len(labels)} taxonomy labels match no label of "
            f"the set ({', '.join(unmapped_labels) or 'none'}); {len(unmapped_truths)} of the "
            f"gallery's {len(truths)} labels are not in the taxonomy, covering {n_unmapped} of "
            f"{len(gallery)} products; {missing} products had no stored {name}"
        )
        report.numbers[f"{param}_accuracy"] = metrics.mean(correct)


@dataclass
class Evaluation:
    """One run's shared state: the API client, the gallery and its labels, the seeded sampler
    and the report every measure adds its rows to."""

    api: SearchApi
    gallery: dict[int, Item]
    titles: dict[int, str]
    space_name: str
    rng: np.random.Generator
    progress: bool = True
    report: Report = field(default_factory=Report)

    def __post_init__(self) -> None:
        self.ordered = sorted(self.gallery.items(), key=lambda kv: int(kv[1].external_id))
        self.by_pair: dict[tuple[str, str], set[int]] = defaultdict(set)
        for pk, item in self.ordered:
            self.by_pair[(item.colour, item.type)].add(pk)
        self.photo_results: dict[int, list[int]] = {}  # photo query → top 10, itself dropped
        self.text_ndcg: list[float] = []
        self.text_ndcg_kept: list[float] = []  # `match: false` results dropped
        self.marked = 0  # responses that carry the relevance-floor fields

    def bar(self, total: int, desc: str) -> tqdm:
        return tqdm(total=total, unit="query", desc=desc, disable=not self.progress or None)

    def photo(self, photo_queries: list[tuple[int, Item]]) -> None:
        """Photo → products: P@10 and P@5 by articleType, and the top hit's colour."""
        relevant, top_colour = [], []
        with self.bar(len(photo_queries), "photo queries") as bar:
            for pk, item in photo_queries:
                body = self.api.search(kind="photo", photo=item.path, k=K + 1)
                if body.get("space") != self.space_name:
                    self.report.notes.append(
                        f"a photo query was answered from {body.get('space')!r}"
                    )
                hits = [h for h in body["results"] if h["product"]["id"] != pk][:K]
                self.photo_results[pk] = [h["product"]["id"] for h in hits]
                relevant.append([self._type(h["product"]["id"]) == item.type for h in hits])
                if hits:
                    value = (hits[0].get("attributes") or {}).get("colour", {}).get("value")
                    truth = self.gallery.get(hits[0]["product"]["id"])
                    top_colour.append(
                        truth is not None
                        and value is not None
                        and value.lower() == truth.colour.lower()
                    )
                bar.update()
        p10 = metrics.mean([metrics.precision_at_k(r, k=10) for r in relevant])
        p5 = metrics.mean([metrics.precision_at_k(r, k=5) for r in relevant])
        n = len(relevant)
        self.report.add(
            "photo → products: P@10, same articleType (own product dropped)", p10, ">= 0.75", n
        )
        self.report.add("photo → products: P@5", p5, ">= 0.80", n)
        self.report.add(
            "photo: the top hit's zero-shot colour is its true baseColour",
            metrics.mean(top_colour),
            ">= 0.70",
            len(top_colour),
        )
        self.report.numbers.update(photo_p10=p10, photo_p5=p5)

    def similar(self, photo_queries: list[tuple[int, Item]]) -> None:
        """More like this for the photo queries' own products (their photos and title, the
        product page's "similar items"): P@10 and P@5 by articleType within the gallery."""
        relevant = []
        with self.bar(len(photo_queries), "more like this") as bar:
            for pk, item in photo_queries:
                body = self.api.similar(product_id=pk)
                hits = [h["product"]["id"] for h in body["results"] if h["product"]["id"] != pk]
                relevant.append([self._type(h) == item.type for h in hits[:K]])
                bar.update()
        n = len(relevant)
        self.report.add("more like this (a product's photos and title): P@10, same articleType",
                        metrics.mean([metrics.precision_at_k(r, k=10) for r in relevant]), "", n)  # fmt: skip
        self.report.add("more like this: P@5",
                        metrics.mean([metrics.precision_at_k(r, k=5) for r in relevant]), "", n)  # fmt: skip

    def expansion(self, photo_queries: list[tuple[int, Item]]) -> None:
        """The same photo queries with ``expand`` on (query expansion, issue 12 item 7): P@10
        and P@5 by articleType against :meth:`photo`'s rows of this run."""
        relevant, gains = [], []
        with self.bar(len(photo_queries), "photo queries, expanded") as bar:
            for pk, item in photo_queries:
                body = self.api.search(kind="photo expanded", photo=item.path, k=K + 1, expand=True)
                found, gain = self._versus_photo(pk, item, body)
                relevant.append(found)
                gains.append(gain)
                bar.update()
        p10, p5 = self._precisions(relevant)
        n = len(relevant)
        target = "default only if it wins on validation"
        self.report.add("photo, expanded (`expand`): P@10", p10, target, n)
        self.report.add("photo, expanded: P@5", p5, target, n)
        error = metrics.paired_standard_error(gains)
        self.report.notes.append(
            f"query expansion against photo only, same queries in this run: P@10 "
            f"{p10 - self.report.numbers['photo_p10']:+.3f} (paired standard error {error:.3f}; "
            f"{sum(g > 0 for g in gains)} queries gain, {sum(g < 0 for g in gains)} lose), "
            f"P@5 {p5 - self.report.numbers['photo_p5']:+.3f}"
        )
        self.report.numbers.update(expand_p10=p10, expand_p5=p5)

    def _versus_photo(self, pk: int, item: Item, body: dict) -> tuple[list[bool], float]:
        """(whether each of the answer's top 10 is relevant, its own product dropped; its P@10
        gain over :meth:`photo`'s answer for the same product in this run)."""
        relevant = [self._type(hit) == item.type for hit in without(result_ids(body), pk)[:K]]
        plain = [self._type(hit) == item.type for hit in self.photo_results[pk]]
        return relevant, metrics.precision_at_k(relevant, k=10) - metrics.precision_at_k(
            plain, k=10
        )

    @staticmethod
    def _precisions(relevant: list[list[bool]]) -> tuple[float | None, float | None]:
        """(mean P@10, mean P@5) of the queries' relevance lists."""
        return (metrics.mean([metrics.precision_at_k(r, k=10) for r in relevant]),
                metrics.mean([metrics.precision_at_k(r, k=5) for r in relevant]))  # fmt: skip

    def shopper_photos(self, photo_queries: list[tuple[int, Item]], *, seed: int) -> None:
        """The same photo queries as a shopper might take them: each product cut out of its
        studio shot and pasted small, tilted and re-lit onto a scene
        (:func:`visualsearch.lab.wild_photos.wild`, seeded by the product), uploaded as JPEG.
        P@10 and P@5 by articleType against :meth:`photo`'s catalog shots of this run, and how
        many answers name a searched part of the photo (``subjects``)."""
        from visualsearch.lab import wild_photos  # noqa: PLC0415  (scipy, scikit-learn)

        scenes = wild_photos.scene_photos()
        relevant, gains, boxed, unmatched = [], [], 0, 0
        with self.bar(len(photo_queries), "shopper photos") as bar:
            for pk, item in photo_queries:
                with Image.open(item.path) as image:
                    clean = image.convert("RGB")
                rng = np.random.default_rng([seed, int(item.external_id)])
                buffer = io.BytesIO()
                wild_photos.wild(clean, rng=rng, scenes=scenes).save(buffer, "JPEG", quality=95)
                body = self.api.search(kind="shopper photo", photo_bytes=buffer.getvalue(),
                                       k=K + 1)  # fmt: skip
                boxed += any(subject.get("box") for subject in body.get("subjects") or [])
                unmatched += answered_no_match(body)
                found, gain = self._versus_photo(pk, item, body)
                relevant.append(found)
                gains.append(gain)
                bar.update()
        p10, p5 = self._precisions(relevant)
        n = len(relevant)
        self.report.add("shopper photo (simulated, the same products off the studio background):"
                        " P@10", p10, "", n)  # fmt: skip
        self.report.add("shopper photo: P@5", p5, "", n)
        self.report.add("shopper photo: answers that name a searched part (`subjects`)",
                        f"{boxed}/{n}", "", n)  # fmt: skip
        self.report.add("shopper photo: answered with no match (their product is in the "
                        "gallery)", f"{unmatched}/{n}", "", n)  # fmt: skip
        self.report.notes.append(
            f"shopper photos against the catalog shots of the same products, this run: P@10 "
            f"{p10 - self.report.numbers['photo_p10']:+.3f} (paired standard error "
            f"{metrics.paired_standard_error(gains):.3f})"
        )
        self.report.numbers.update(shopper_p10=p10, shopper_p5=p5)

    def foreign_photos(self) -> None:
        """Photos of things a fashion shop does not sell (a cat, a rocket, coins, bricks:
        :func:`visualsearch.lab.wild_photos.foreign_photos`) answered with no match."""
        from visualsearch.lab import wild_photos  # noqa: PLC0415

        try:
            photos = wild_photos.foreign_photos()
        except ImportError as error:  # scikit-image is a dev dependency
            self.report.notes.append(f"foreign photos not measured: {error}")
            return
        unmatched = 0
        with self.bar(len(photos), "foreign photos") as bar:
            for photo in photos:
                buffer = io.BytesIO()
                photo.save(buffer, "JPEG", quality=95)
                body = self.api.search(kind="foreign photo", photo_bytes=buffer.getvalue(), k=K)
                unmatched += answered_no_match(body)
                bar.update()
        n = len(photos)
        self.report.add("photos of things the shop does not sell answered with no match",
                        f"{unmatched}/{n}", "", n)  # fmt: skip
        self.report.numbers.update(foreign_no_match=unmatched, foreign_total=n)

    def text(self) -> list[str]:
        """Text "<baseColour> <articleType>" nDCG@10 against BM25 over the same titles.
        Returns the query texts."""
        pairs = sorted({(i.colour, i.type) for _, i in self.ordered if i.colour})
        gallery_ids = [pk for pk, _ in self.ordered]
        bm25 = BM25([self.titles[pk] for pk in gallery_ids])
        bm25_ndcg = []
        with self.bar(len(pairs), "text queries") as bar:
            for colour, type_ in pairs:
                text = f"{colour} {type_}"
                relevant = self.by_pair[(colour, type_)]
                body = self.api.search(kind="text", text=text, k=K)
                self.marked += marks_matches(body)
                kept = [h for h in body["results"] if h.get("match", True) is not False]
                self.text_ndcg.append(self._ndcg(result_ids(body), relevant))
                self.text_ndcg_kept.append(self._ndcg([h["product"]["id"] for h in kept], relevant))
                scores = bm25.scores(text)
                ranked = [gallery_ids[j] for j in top_k(scores, K) if scores[j] > 0]
                bm25_ndcg.append(self._ndcg(ranked, relevant))
                bar.update()
        t_api, t_bm25 = metrics.mean(self.text_ndcg), metrics.mean(bm25_ndcg)
        ratio = t_api / t_bm25 if t_api is not None and t_bm25 else None
        n = len(pairs)
        self.report.add('text "<colour> <type>": nDCG@10 through the API', t_api, "", n)
        self.report.add("text: nDCG@10 of BM25 over the same gallery titles", t_bm25, "", n)
        self.report.add("text: API / BM25", f"×{ratio:.3f}" if ratio else None, ">= ×1.75", n)
        self.report.numbers.update(text_ndcg=t_api, bm25_ndcg=t_bm25, text_ratio=ratio)
        return [f"{c} {t}" for c, t in pairs]

    def typos(self, *, seed: int) -> None:
        """The text queries with one seeded typo each (``typo_queries.typo``), searched with
        spelling correction (the API's default) and as typed (``correct: false``): nDCG@10 and
        the share answered with no match, both in this run."""
        from visualsearch.lab.typo_queries import typo  # noqa: PLC0415

        rng = np.random.default_rng(seed)
        queries = []
        for colour, type_ in sorted(p for p in self.by_pair if p[0]):
            text = f"{colour} {type_}"
            bad = typo(text, rng)
            if bad is not None and bad.lower() != text.lower():
                queries.append((bad, self.by_pair[(colour, type_)]))
        ndcg: dict[bool, list[float]] = {True: [], False: []}
        none: dict[bool, list[bool]] = {True: [], False: []}
        with self.bar(2 * len(queries), "text queries with a typo") as bar:
            for bad, relevant in queries:
                for correct in (True, False):
                    body = self.api.search(kind="text", text=bad, k=K, correct=correct)
                    ndcg[correct].append(self._ndcg(result_ids(body), relevant))
                    none[correct].append(answered_no_match(body))
                    bar.update()
        n = len(queries)
        self.report.add("text with one typo: nDCG@10, spelling correction on (the default)",
                        metrics.mean(ndcg[True]), "", n)  # fmt: skip
        self.report.add("… the same queries as typed (`correct: false`)",
                        metrics.mean(ndcg[False]), "", n)  # fmt: skip
        self.report.add("text with one typo: answered with no match, correction on",
                        metrics.mean(none[True]), "", n)  # fmt: skip
        self.report.add("… as typed", metrics.mean(none[False]), "", n)
        self.report.numbers.update(typo_ndcg=metrics.mean(ndcg[True]))

    def modifier(self, photo_queries: list[tuple[int, Item]]) -> None:
        """Photo + "in <colour>" (a colour the gallery has for the photo's type, not its own)
        against photo-only and text-only "<colour> <type>" on the same queries."""
        colours_of_type: dict[str, set[str]] = defaultdict(set)
        for _, item in self.ordered:
            if item.colour:
                colours_of_type[item.type].add(item.colour)
        queries = []
        for pk, item in photo_queries:
            options = sorted(colours_of_type[item.type] - {item.colour})
            if options and pk in self.photo_results:
                queries.append((pk, item, options[int(self.rng.integers(len(options)))]))
        shares: dict[str, list[float]] = defaultdict(list)
        with self.bar(len(queries), "photo + colour queries") as bar:
            for pk, item, colour in queries:
                relevant = self.by_pair[(colour, item.type)] - {pk}
                both = self.api.search(
                    kind="photo+text", photo=item.path, text=f"in {colour.lower()}", k=K + 1
                )
                text_only = self.api.search(kind="text", text=f"{colour} {item.type}", k=K + 1)
                lists = {
                    "photo + text": without(result_ids(both), pk)[:K],
                    "photo only": self.photo_results[pk],
                    "text only": without(result_ids(text_only), pk)[:K],
                }
                for name, ids in lists.items():
                    flags = [i in relevant for i in ids]
                    shares[name].append(metrics.normalised_share(flags, n_exist=len(relevant)))
                bar.update()
        both, photo = metrics.mean(shares["photo + text"]), metrics.mean(shares["photo only"])
        n = len(queries)
        self.report.add(
            'photo + "in <colour>": share of top 10 with that type and colour, normalised',
            both,
            ">= 2 × photo-only",
            n,
        )
        self.report.add("… the same queries, photo only", photo, "", n)
        self.report.add(
            '… the same queries, text only "<colour> <type>"',
            metrics.mean(shares["text only"]),
            "",
            n,
        )
        self.report.add(
            "… photo + text / photo only",
            f"×{both / photo:.2f}" if both is not None and photo else None,
            ">= ×2",
            n,
        )
        self.report.numbers.update(modifier=both, modifier_photo=photo)

    def negative(self, *, per_pattern: int) -> None:
        """ "Without: X": photos of items whose titles say X, with and without negative_text;
        the share of the top 10 whose titles still say X."""
        samples = []
        for name, (words, negative) in PATTERNS.items():
            having = [(pk, i) for pk, i in self.ordered if _title_has(self.titles[pk], words)]
            samples.append((name, words, negative, _sample(having, per_pattern, self.rng)))
        with self.bar(sum(len(s[3]) for s in samples), '"without" queries') as bar:
            for name, words, negative, sample in samples:
                if not sample:
                    self.report.notes.append(f'"without {negative}": no held-out title says {name}')
                    continue
                still: dict[str, list[float]] = defaultdict(list)
                for pk, item in sample:
                    plain = self.api.search(kind="photo", photo=item.path, k=K + 1)
                    minus = self.api.search(
                        kind="photo+negative", photo=item.path, negative_text=negative, k=K + 1
                    )
                    for label, body in (("plain", plain), ("negative", minus)):
                        has = [
                            _title_has(self.titles.get(i, ""), words)
                            for i in without(result_ids(body), pk)[:K]
                        ]
                        still[label].append(sum(has) / len(has) if has else 0.0)
                    bar.update()
                self.report.add(
                    f'photo of a {name} item + negative_text "{negative}": '
                    f"share of top 10 still {name}",
                    metrics.mean(still["negative"]),
                    "lower than photo only",
                    len(sample),
                )
                self.report.add(
                    "… the same photos without negative_text",
                    metrics.mean(still["plain"]),
                    "",
                    len(sample),
                )

    def out_of_catalog(self, *, seed: int) -> None:
        """Other domains' goods and random strings answered with no match, and what dropping
        `match: false` results costs the real text queries."""
        queries = ooc_queries(seed=seed)
        no_match = 0
        with self.bar(len(queries), "out-of-catalog queries") as bar:
            for text in queries:
                body = self.api.search(kind="text", text=text, k=K)
                no_match += answered_no_match(body)
                self.marked += marks_matches(body)
                bar.update()
        n = len(queries)
        self.report.add(
            "out-of-catalog queries answered with no match",
            f"{no_match} of {n} ({no_match / n:.2f})",
            ">= 0.9",
            n,
        )
        full, kept = metrics.mean(self.text_ndcg), metrics.mean(self.text_ndcg_kept)
        cost = full - kept if full is not None and kept is not None else None
        self.report.add(
            "text nDCG@10 lost when `match: false` results are dropped",
            cost,
            "<= 0.01",
            len(self.text_ndcg),
        )
        self.report.numbers.update(ooc_no_match=no_match, ooc_total=n, floor_cost=cost)
        if not self.marked:
            self.report.notes.append(
                "no response carried `no_match` or a per-result `match` field (the API has no "
                "relevance floor yet), so no query could be answered with no match and dropping "
                "`match: false` results removes nothing"
            )

    def paging(self, *, photos: list[Item], texts: list[str]) -> None:
        """Pages 1..PAGES (k=10) of the same query share no product."""
        queries = [("photo", q) for q in photos] + [("photo, expanded", q) for q in photos]
        queries += [("text", q) for q in texts]
        stable, totals, repeats = Counter(), Counter(), Counter()
        with self.bar(len(queries), "paging") as bar:
            for kind, query in queries:
                pages = []
                for page in range(1, PAGES + 1):
                    if kind != "text":
                        body = self.api.search(
                            kind="paging", photo=query.path, k=K, page=page,
                            expand=kind == "photo, expanded",
                        )  # fmt: skip
                    else:
                        body = self.api.search(kind="paging", text=query, k=K, page=page)
                    pages.append(result_ids(body))
                    if not body.get("has_next"):
                        break
                count = metrics.pages_repeat(pages)
                repeats[kind] += count
                stable[kind] += count == 0
                totals[kind] += 1
                bar.update()
        for kind in ("photo", "photo, expanded", "text"):
            self.report.add(
                f"{kind} queries whose pages 1–{PAGES} (k=10) share no product",
                f"{stable[kind]} of {totals[kind]} ({repeats[kind]} repeated products)",
                "all",
                totals[kind],
            )

    def latency(self) -> None:
        """p50 / p95 as the client saw them (HTTP included)."""
        for kind in ("photo", "photo expanded", "shopper photo", "text", "photo+text", "similar"):
            values = self.api.latency_ms.get(kind, [])
            if values:
                p50, p95 = metrics.percentile(values, 50), metrics.percentile(values, 95)
                self.report.add(
                    f"latency of a {kind} query, p50 / p95 (ms, client side)",
                    f"{p50:.0f} / {p95:.0f}",
                    "",
                    len(values),
                )

    def _type(self, product_id: int) -> str | None:
        item = self.gallery.get(product_id)
        return item.type if item else None

    @staticmethod
    def _ndcg(ids: list[int], relevant: set[int]) -> float:
        return metrics.ndcg_at_k([i in relevant for i in ids], n_relevant=len(relevant))


def run(
    *, url: str, data_dir: Path, seller: str, queries: int, seed: int, wait_timeout: float,
    log: Callable[[str], None], progress: bool = True, session: requests.Session | None = None,
    split: str = "test",
) -> Report:  # fmt: skip
    """Import (once), wait for the vectors, run every query kind and return the report; the
    gallery is the ``split`` (see :func:`heldout_items`)."""
    if queries < 1:
        raise EvalError("--queries must be at least 1")
    items = heldout_items(data_dir, split)
    gallery = gallery_import(data_dir=data_dir, items=items, seller=seller, log=log)
    space_name = embeddings_wait(gallery=gallery, timeout=wait_timeout, progress=progress)
    titles = dict(Product.objects.filter(pk__in=list(gallery)).values_list("pk", "title"))
    run = Evaluation(
        api=SearchApi(url=url, seller=seller, session=session), gallery=gallery, titles=titles,
        space_name=space_name, rng=np.random.default_rng(seed), progress=progress,
    )  # fmt: skip
    run.report.numbers.update(gallery=len(gallery), heldout=len(items), space=space_name,
                              split=split)  # fmt: skip
    photo_queries = _sample(run.ordered, queries, run.rng)
    run.photo(photo_queries)
    run.similar(photo_queries)
    run.expansion(photo_queries)
    run.shopper_photos(photo_queries, seed=seed)
    run.foreign_photos()
    texts = run.text()
    run.typos(seed=seed)
    run.modifier(photo_queries)
    run.negative(per_pattern=max(5, queries // 10))
    attributes_quality(gallery=gallery, space_name=space_name, report=run.report)
    run.out_of_catalog(seed=seed)
    run.paging(
        photos=[item for _, item in photo_queries[:PAGING_QUERIES]], texts=texts[:PAGING_QUERIES]
    )
    run.latency()
    return run.report


# --- output ------------------------------------------------------------------------------


def machine_description() -> str:
    model = cpu_model()
    return (
        f"{os.cpu_count()}-core CPU ({model or platform.processor() or 'unknown'}), no GPU; "
        "the server and this command on the same machine"
    )


def section_markdown(*, report: Report, command: str, note: str = "") -> str:
    n = report.numbers
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    validation = n.get("split") == "validation"
    gallery = (
        "the validation rows `space_fit` chooses on (a tenth of the 80%, seed 1, never fitted on"
        if validation
        else "the fashion set's held-out 20% (`split_ids(..., seed=0)[1]`"
    )
    lines = [
        VALIDATION_SECTION if validation else SECTION,
        "",
        f"Date: {when}. Machine: {machine_description()}.{(' ' + note) if note else ''}",
        "",
        "```sh",
        command,
        "```",
        "",
        f"Gallery: {gallery}, {n['heldout']} "
        f"photos, {n['gallery']} imported), one seller, searched with `seller` set; space "
        f"`{n['space']}`. Photo queries drop their own product from the results.",
        "",
        report.table(),
    ]
    if report.notes:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in report.notes]
    return "\n".join(lines) + "\n"
