"""Search over hand-made 8-d vectors in a registered space.

The API tests replace ``visualsearch.spaces.embedder_for`` with a fake embedder that maps
images and texts to fixed vectors, so they run offline and in milliseconds.
"""

import io
import re
from decimal import Decimal

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image
from rest_framework.test import APIClient

from tests.factories import (
    CategoryFactory,
    ProductFactory,
    ProductImageFactory,
    SellerFactory,
)
from tests.support import TINY
from visualsearch.models import ImageEmbedding
from visualsearch.search import (
    EmptyQuery,
    Filters,
    nearest_query,
    products_search,
    products_similar,
    query_vectors_build,
)
from visualsearch.spaces import embedder_for, space_activate, space_register

pytestmark = pytest.mark.django_db


def unit(*values):
    vector = np.zeros(8, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


@pytest.fixture
def space():
    return space_register(name="tiny", architecture="x", pretrained="y", dimension=8)


def add(space, vector, **product_fields):
    product = product_fields.pop("product", None) or ProductFactory(**product_fields)
    image = ProductImageFactory(product=product)
    ImageEmbedding.objects.create(
        image=image, product=product, space=space, vector=list(map(float, vector)),
        image_sha256=image.sha256,
    )  # fmt: skip
    return product


def ids(result):
    return [product.pk for product, _ in result.results]


def test_the_nearest_product_comes_first(space):
    far = add(space, unit(0, 1))
    near = add(space, unit(1, 0.1))
    middle = add(space, unit(1, 1))
    result = products_search(space=space, query_vector=unit(1))
    assert ids(result) == [near.pk, middle.pk, far.pk]
    assert result.results[0][1] == pytest.approx(float(unit(1, 0.1)[0]), abs=1e-3)
    assert result.space == "tiny"


def test_a_product_with_several_images_appears_once_with_its_best_score(space):
    product = add(space, unit(0, 1))
    add(space, unit(1, 0.05), product=product)
    other = add(space, unit(1, 0.5))
    result = products_search(space=space, query_vector=unit(1))
    assert ids(result) == [product.pk, other.pk]


def test_inactive_products_are_not_found(space):
    add(space, unit(1), status="hidden")
    shown = add(space, unit(1, 1))
    assert ids(products_search(space=space, query_vector=unit(1))) == [shown.pk]


def test_the_category_filter_includes_descendants(space):
    apparel = CategoryFactory(slug="apparel")
    shirts = CategoryFactory(slug="shirts", parent=apparel)
    in_root = add(space, unit(1, 0.2), category=apparel)
    in_child = add(space, unit(1, 0.1), category=shirts)
    add(space, unit(1), category=CategoryFactory(slug="shoes"))
    result = products_search(space=space, query_vector=unit(1), category="apparel")
    assert ids(result) == [in_child.pk, in_root.pk]


def test_price_and_brand_filters(space):
    cheap = add(space, unit(1), price=Decimal("5.00"), brand="Acme")
    mid = add(space, unit(1, 0.1), price=Decimal("50.00"), brand="ACME")
    add(space, unit(1, 0.2), price=Decimal("500.00"), brand="Other")
    assert ids(products_search(space=space, query_vector=unit(1), min_price=10, max_price=100)) == [
        mid.pk
    ]
    assert ids(products_search(space=space, query_vector=unit(1), brand="acme")) == [
        cheap.pk,
        mid.pk,
    ]


def test_a_selective_filter_still_returns_k_results(space, settings):
    """The HNSW index is forced and ef_search kept small: only the iterative scan finds them."""
    settings.SEARCH_CANDIDATES = 10
    settings.HNSW_EF_SEARCH = 10
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
    rng = np.random.default_rng(1)
    shared = {"seller": SellerFactory(), "category": CategoryFactory()}
    for _ in range(60):
        add(space, unit(1) + rng.normal(scale=0.05, size=8), brand="Common", **shared)
    wanted = [
        add(space, unit(0, 1) + rng.normal(scale=0.05, size=8), brand="Rare", **shared)
        for _ in range(5)
    ]
    result = products_search(space=space, query_vector=unit(1), brand="rare", k=5)
    assert sorted(ids(result)) == sorted(p.pk for p in wanted)


def test_vector_search_caps_its_iterative_scan_at_hnsw_max_scan_tuples(space, settings):
    """The cap is set on the search's own transaction (pgvector's default, 20,000 tuples, is too
    few for a 1%-selective filter at ~1M vectors; see docs/benchmarks.md)."""
    settings.HNSW_MAX_SCAN_TUPLES = 54_321
    wanted = add(space, unit(1), brand="Rare")
    seen = []

    def spy(execute, sql, params, many, context):
        setting = sql.startswith("SET LOCAL hnsw.max_scan_tuples")
        if setting:
            seen.append(params)
        result = execute(sql, params, many, context)
        if setting:
            with context["connection"].cursor() as cursor:
                cursor.execute("SHOW hnsw.max_scan_tuples")
                seen.append(cursor.fetchone()[0])
        return result

    with connection.execute_wrapper(spy):
        result = products_search(space=space, query_vector=unit(1), brand="rare")
    assert ids(result) == [wanted.pk]
    assert seen[:2] == [[54_321], "54321"]


def test_min_score_drops_weak_matches(space):
    near = add(space, unit(1, 0.1))
    add(space, unit(0, 1))
    assert ids(products_search(space=space, query_vector=unit(1), min_score=0.5)) == [near.pk]


def test_pages_do_not_overlap(space):
    products = [add(space, unit(1, i / 10)) for i in range(5)]
    first = products_search(space=space, query_vector=unit(1), k=2, page=1)
    second = products_search(space=space, query_vector=unit(1), k=2, page=2)
    assert ids(first) == [p.pk for p in products[:2]]
    assert ids(second) == [p.pk for p in products[2:4]]


def test_diversity_changes_the_order_but_keeps_candidates(space):
    a = add(space, unit(1, 0.05))
    twin = add(space, unit(1, 0.06))
    different = add(space, unit(1, 0, 0.9))
    plain = products_search(space=space, query_vector=unit(1), k=2)
    diverse = products_search(space=space, query_vector=unit(1), k=2, diversity=0.8)
    assert ids(plain) == [a.pk, twin.pk]
    assert ids(diverse) == [a.pk, different.pk]
    everything = products_search(space=space, query_vector=unit(1), k=3, diversity=0.8)
    assert set(ids(everything)) == {a.pk, twin.pk, different.pk}


def test_similar_products_exclude_the_product_itself(space):
    space_activate(name="tiny")
    product = add(space, unit(1))
    close = add(space, unit(1, 0.1))
    add(space, unit(0, 1))
    result = products_similar(product=product, k=1)
    assert ids(result) == [close.pk]


class FakeEmbedder:
    """Red images → axis 0, any other image → axis 1; texts map by their first word."""

    words = {"red": 0, "blue": 1, "green": 2, "striped": 3}

    def encode_images(self, images):
        rows = []
        for image in images:
            r, g, b = image.convert("RGB").resize((1, 1)).getpixel((0, 0))
            rows.append(unit(1) if r > b else unit(0, 1))
        return np.stack(rows)

    def encode_texts(self, texts):
        rows = []
        for text in texts:
            vector = np.zeros(8, dtype=np.float32)
            vector[self.words.get(text.split()[0], 7)] = 1
            rows.append(vector)
        return np.stack(rows)


@pytest.fixture
def fake_embedder(monkeypatch):
    monkeypatch.setattr("visualsearch.spaces.embedder_for", lambda space: FakeEmbedder())


def test_the_query_vector_mixes_image_and_text_by_weight(space, fake_embedder, image_bytes):

    red = Image.open(io.BytesIO(image_bytes(colour=(250, 0, 0))))
    only_text = query_vectors_build(space=space, text="blue")[0]
    assert np.argmax(only_text) == 1
    mixed = query_vectors_build(space=space, images=[red], text="green", image_weight=0.75)[0]
    assert mixed[0] > mixed[2] > 0
    assert np.linalg.norm(mixed) == pytest.approx(1, abs=1e-5)
    negative = query_vectors_build(space=space, text="red", negative_text="blue")[0]
    assert negative[1] < 0
    with pytest.raises(EmptyQuery):
        query_vectors_build(space=space)


@pytest.fixture
def api(space, fake_embedder):

    space_activate(name="tiny")
    return APIClient()


def test_the_api_finds_products_by_photo(api, space, image_bytes):

    red = add(space, unit(1, 0.1), brand="Acme")
    add(space, unit(0, 1))
    photo = SimpleUploadedFile("q.jpg", image_bytes(colour=(250, 0, 0)), "image/jpeg")
    response = api.post("/api/search/", {"image": photo, "k": 1}, format="multipart")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert {"results", "took_ms", "space", "page", "has_next", "mode"} <= set(body)
    assert body["space"] == "tiny" and body["page"] == 1 and body["mode"] == "vector"
    (hit,) = body["results"]
    assert hit["product"]["id"] == red.pk
    assert set(hit["product"]) == {
        "id",
        "title",
        "price",
        "currency",
        "category",
        "brand",
        "url",
        "image_url",
    }
    assert hit["product"]["image_url"].startswith("http")
    assert 0.9 < hit["score"] <= 1


def test_the_api_accepts_json_text_queries(api, space):
    blue = add(space, unit(0, 1))
    add(space, unit(1))
    response = api.post("/api/search/", {"text": "blue shirt", "k": 1}, format="json")
    assert response.status_code == 200
    assert [hit["product"]["id"] for hit in response.json()["results"]] == [blue.pk]


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"text": "red", "k": 0}, "k"), ({"text": "red", "k": 101}, "k"),
     ({"text": "red", "category": "nope"}, "category"), ({"text": "red", "seller": "nope"}, "seller"),
     ({"text": "red", "diversity": 2}, "diversity"), ({"text": "red", "expand": "maybe"}, "expand"),
     ({}, "non_field_errors")],
)  # fmt: skip
def test_the_api_rejects_bad_input_per_field(api, payload, field):
    response = api.post("/api/search/", payload, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert response.json()["errors"][field][0]


def _expansion_catalog(space):
    """Five products tilted 31° towards axis 1 (the photo's top 5), then F 35° towards axis 2
    and G 40° towards axis 1: plain cosines rank F over G; the expanded query (the photo plus
    half the top 5's mean) leans towards axis 1 and ranks G, the cluster's kind, over F."""
    cluster = [add(space, unit(1, 0.6 + 0.01 * i)) for i in range(5)]
    far_kind = add(space, unit(np.cos(np.radians(35)), 0, np.sin(np.radians(35))))
    near_kind = add(space, unit(np.cos(np.radians(40)), np.sin(np.radians(40))))
    return cluster, far_kind, near_kind


def test_query_expansion_ranks_by_the_top_results_kind(space):

    cluster, far_kind, near_kind = _expansion_catalog(space)
    plain = ids(products_search(space=space, query_vector=unit(1), k=7))
    expanded = products_search(space=space, query_vector=unit(1), k=7, expand=True)
    assert set(plain[:5]) == set(ids(expanded)[:5]) == {p.pk for p in cluster}
    assert plain[5:] == [far_kind.pk, near_kind.pk]
    assert ids(expanded)[5:] == [near_kind.pk, far_kind.pk]
    scores = [score for _, score in expanded.results]
    assert scores == sorted(scores, reverse=True)
    # paging the expanded ranking neither repeats nor drops a product
    pages = [
        ids(products_search(space=space, query_vector=unit(1), k=3, page=n, expand=True))
        for n in (1, 2, 3)
    ]
    assert sum(pages, []) == ids(expanded)


def test_the_api_expands_photo_queries_only_when_asked(api, space, image_bytes):

    _, far_kind, near_kind = _expansion_catalog(space)

    def tail(expand):
        photo = SimpleUploadedFile("q.jpg", image_bytes(colour=(250, 0, 0)), "image/jpeg")
        payload = {"image": photo, "k": 7} | ({"expand": "true"} if expand else {})
        response = api.post("/api/search/", payload, format="multipart")
        assert response.status_code == 200, response.json()
        return [hit["product"]["id"] for hit in response.json()["results"]][5:]

    assert tail(False) == [far_kind.pk, near_kind.pk]
    assert tail(True) == [near_kind.pk, far_kind.pk]


def test_the_search_page_expands_a_photo_query_when_the_box_is_ticked(api, client, space,
                                                                    image_bytes):  # fmt: skip

    _, far_kind, near_kind = _expansion_catalog(space)

    def page(expand):
        photo = SimpleUploadedFile("q.jpg", image_bytes(colour=(250, 0, 0)), "image/jpeg")
        payload = {"image": photo, "k": "7"} | ({"expand": "true"} if expand else {})
        response = client.post("/", payload)
        assert response.status_code == 200
        return response.content.decode()

    def at(html, product):  # where the title first shows ("Product 1" is not "Product 12")
        return re.search(re.escape(product.title) + r"(?!\d)", html).start()

    plain, expanded = page(False), page(True)
    assert at(plain, far_kind) < at(plain, near_kind)
    assert at(expanded, near_kind) < at(expanded, far_kind)
    # the page keeps the box ticked for the next search, and only when it was
    assert 'name="expand" value="true" checked' in expanded
    assert 'name="expand" value="true" checked' not in plain


def test_the_api_rejects_a_file_that_is_not_an_image(api):

    upload = SimpleUploadedFile("notes.jpg", b"definitely not a picture", "image/jpeg")
    response = api.post("/api/search/", {"image": upload}, format="multipart")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["image"]
    assert response.json()["errors"]["image"][0]


def test_the_api_says_search_is_unavailable_without_an_active_space(space, fake_embedder):

    response = APIClient().post("/api/search/", {"text": "red"}, format="json")
    assert response.status_code == 503
    assert "no embedding space is active" in response.json()["errors"]["detail"][0]


def test_the_similar_products_endpoint(api, space):
    product = add(space, unit(1))
    close = add(space, unit(1, 0.1))
    add(space, unit(0, 1))
    response = api.get(f"/api/products/{product.pk}/similar/?k=1")
    assert response.status_code == 200
    assert [hit["product"]["id"] for hit in response.json()["results"]] == [close.pk]
    assert api.get(f"/api/products/{product.pk}/similar/?k=0").status_code == 400


def test_more_like_this_from_one_seller(api, space):
    shop, other = SellerFactory(), SellerFactory()
    product = add(space, unit(1), seller=shop)
    theirs = add(space, unit(1, 0.05), seller=other)  # the closest, but another seller's
    mine = add(space, unit(1, 0.3), seller=shop)
    url = f"/api/products/{product.pk}/similar/"
    everyone = api.get(url, {"k": 1}).json()["results"]
    assert [hit["product"]["id"] for hit in everyone] == [theirs.pk]
    response = api.get(url, {"k": 5, "seller": shop.slug})
    assert response.status_code == 200
    assert [hit["product"]["id"] for hit in response.json()["results"]] == [mine.pk]
    unknown = api.get(url, {"seller": "no-such-shop"})
    assert unknown.status_code == 400
    assert "Unknown seller" in unknown.json()["errors"]["seller"][0]


def test_the_home_page_lists_latest_products_without_a_query(client, space):
    product = add(space, unit(1))
    response = client.get("/")
    assert response.status_code == 200
    assert product.title in response.content.decode()
    assert 'capture="environment"' in response.content.decode()


def test_the_home_page_searches_by_text_and_shows_scores(api, client, space):
    blue = add(space, unit(0, 1))
    response = client.post("/", {"text": "blue", "k": "", "min_price": "", "diversity": "0"})
    page = response.content.decode()
    assert response.status_code == 200
    assert blue.title in page and "score" in page


def test_the_home_page_shows_errors_and_the_empty_state(api, client, space):
    response = client.post("/", {"text": "red", "category": "nope"})
    assert response.status_code == 400
    assert "Unknown category" in response.content.decode()
    response = client.post("/", {"text": "red"})
    assert "No products match" in response.content.decode()


def test_the_api_searches_with_a_real_tiny_open_clip_model(client, tiny_checkpoint, image_bytes):
    """End to end with the tiny offline open_clip checkpoint, tiny_checkpoint (no monkeypatch):
    the product whose stored vector is the photo's own embedding comes first."""

    _, _, checkpoint = tiny_checkpoint
    real = space_register(
        name="tiny-clip", architecture=TINY, pretrained=str(checkpoint), dimension=32
    )
    space_activate(name="tiny-clip")
    photos = [image_bytes(colour=(250, 0, 0)), image_bytes(colour=(0, 0, 250), shape="circle")]
    vectors = embedder_for(real).encode_images(
        [Image.open(io.BytesIO(b)).convert("RGB") for b in photos]
    )
    red, blue = add(real, vectors[0]), add(real, vectors[1])
    upload = SimpleUploadedFile("q.jpg", photos[1], "image/jpeg")
    response = client.post("/api/search/", {"image": upload, "text": ""})
    assert response.status_code == 200, response.json()
    hits = response.json()["results"]
    assert hits[0]["product"]["id"] == blue.pk
    assert hits[0]["score"] == pytest.approx(1, abs=1e-2)
    assert {hit["product"]["id"] for hit in hits} == {red.pk, blue.pk}


def _cosine_top(vectors: dict, query: np.ndarray, k: int) -> list[int]:
    scores = {pk: float(v @ query / np.linalg.norm(v)) for pk, v in vectors.items()}
    return sorted(scores, key=lambda pk: (-scores[pk], pk))[:k]


def test_a_filter_that_leaves_few_rows_is_sorted_exactly_and_agrees_with_the_index(space, settings):
    rng = np.random.default_rng(1)
    shoes, others = CategoryFactory(slug="shoes"), CategoryFactory(slug="others")
    kept = {}
    for _ in range(12):
        vector = rng.normal(size=8).astype(np.float32)
        kept[add(space, vector, category=shoes).pk] = vector
    for _ in range(30):
        add(space, rng.normal(size=8), category=others)
    query = unit(1, 0.3, -0.2)
    want = _cosine_top(kept, query, 5)

    settings.SEARCH_EXACT_MAX_ROWS = 1000
    exact = products_search(space=space, query_vector=query, category="shoes", k=5)
    assert exact.exact and ids(exact) == want
    assert not products_search(space=space, query_vector=query, k=5).exact  # no filter: HNSW

    settings.SEARCH_EXACT_MAX_ROWS = 0
    walked = products_search(space=space, query_vector=query, category="shoes", k=5)
    assert not walked.exact and ids(walked) == want


def test_the_exact_query_cannot_use_the_hnsw_index_and_the_other_one_does(space, settings):

    rng = np.random.default_rng(2)
    category = CategoryFactory(slug="bags")
    for _ in range(20):
        add(space, rng.normal(size=8), category=category)
    plans = {}
    for threshold in (1000, 0):
        settings.SEARCH_EXACT_MAX_ROWS = threshold
        with connection.cursor() as cursor:
            # Everything but index scans is discouraged: the planner takes the HNSW index wherever
            # the query lets it, and sorts only where it must.
            for switch in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                cursor.execute(f"SET LOCAL {switch} = off")
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            query = nearest_query(
                cursor,
                table=ImageEmbedding._meta.db_table,
                space=space,
                query_vector=unit(1),
                filters=Filters(category="bags"),
                limit=10,
            )
            cursor.execute("EXPLAIN " + query.sql, query.params)
            plans[query.exact] = "\n".join(row[0] for row in cursor.fetchall())
    assert space.image_index_name not in plans[True]
    assert space.image_index_name in plans[False]


def test_a_photo_query_ranks_the_category_of_its_neighbours_higher(space, settings):
    dresses, shirts = CategoryFactory(), CategoryFactory()
    # Four dresses near the query, one shirt a little nearer than the farthest dress.
    near_dresses = [add(space, unit(1, 0.3 * i), category=dresses) for i in range(1, 4)]
    shirt = add(space, unit(1, 1.0), category=shirts)
    far_dress = add(space, unit(1, 1.1), category=dresses)
    settings.SEARCH_CATEGORY_VOTE_WEIGHT = 0.0
    plain = ids(products_search(space=space, query_vector=unit(1)))
    assert plain == [*(p.pk for p in near_dresses), shirt.pk, far_dress.pk]
    settings.SEARCH_CATEGORY_VOTE_WEIGHT = 1.0
    voted = products_search(space=space, query_vector=unit(1))
    assert ids(voted) == [*(p.pk for p in near_dresses), far_dress.pk, shirt.pk]
    # min_score bounds the similarity, not the voted score.
    bounded = products_search(space=space, query_vector=unit(1), min_score=0.8)
    assert shirt.pk not in ids(bounded) and far_dress.pk not in ids(bounded)
