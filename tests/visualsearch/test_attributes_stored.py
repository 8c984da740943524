"""Zero-shot attributes are stored when an image is embedded, backfilled by reconcile, shown on
product pages and in search results, and usable as search filters and facets."""

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from catalog.models import ImageKind
from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory, SellerFactory
from tests.support import worker_until
from tests.visualsearch.search_helpers import add, axis, field_errors, ids
from visualsearch.models import ImageAttribute, ImageEmbedding
from visualsearch.models import ImageEmbedding as Table
from visualsearch.search import Filters, nearest_query, products_search
from visualsearch.selectors import product_attributes
from visualsearch.services import image_attributes_compute, images_embed
from visualsearch.spaces import space_activate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttles")]


def photo(image_bytes, colour):

    return ContentFile(image_bytes(colour=colour, size=(64, 64)), name="p.jpg")


def test_embedding_an_image_stores_one_attribute_per_facet_with_its_confidence(
    word_space, word_embedder, image_bytes
):
    image = ProductImageFactory(file=photo(image_bytes, (250, 0, 0)))
    assert images_embed(image_ids=[image.pk], space=word_space) == 1
    stored = {a.name: a for a in ImageAttribute.objects.filter(image=image, space=word_space)}
    assert set(stored) == {"colour", "pattern", "style", "season", "fit", "category"}
    assert stored["colour"].value == "red"
    assert stored["colour"].confidence > 0.9
    assert all(0 <= a.confidence <= 1 for a in stored.values())
    assert stored["colour"].product_id == image.product_id


def test_attributes_are_backfilled_for_images_embedded_before_they_existed(
    word_space, word_embedder
):
    product = add(word_space, axis("blue"))
    assert not ImageAttribute.objects.exists()
    image_id = ImageEmbedding.objects.get(product=product).image_id
    assert image_attributes_compute(image_ids=[image_id], space=word_space) == 1
    assert image_attributes_compute(image_ids=[image_id], space=word_space) == 0  # idempotent
    assert (
        product_attributes(product_ids=[product.pk], space=word_space)[product.pk]["colour"][0]
        == "blue"
    )


@pytest.mark.django_db(transaction=True)
def test_reconcile_enqueues_the_attribute_backfill_and_a_worker_writes_it(
    word_space, word_embedder
):
    """Through the real Redis queue and an in-process dramatiq worker."""

    space_activate(name="words")
    product = add(word_space, axis("green"))
    call_command("reconcile")
    worker_until(lambda: ImageAttribute.objects.filter(product=product).exists())
    stored = ImageAttribute.objects.get(product=product, name="colour")
    assert stored.value == "green"


def test_a_products_attributes_come_from_its_first_catalog_photo(word_space, word_embedder):
    product = ProductFactory()
    lifestyle = add(word_space, axis("blue"), product=product)
    lifestyle_image = ImageEmbedding.objects.get(product=product).image
    lifestyle_image.kind = ImageKind.LIFESTYLE
    lifestyle_image.save()
    add(word_space, axis("red"), product=product)  # catalog photo, position 1
    add(word_space, axis("green"), product=product)  # catalog photo, position 2
    image_ids = list(ImageEmbedding.objects.filter(product=product).values_list("image", flat=True))
    image_attributes_compute(image_ids=image_ids, space=word_space)
    found = product_attributes(product_ids=[product.pk], space=word_space)
    assert found[product.pk]["colour"][0] == "red"
    assert lifestyle.pk == product.pk


def test_the_product_page_shows_its_attributes_with_confidence(client, word_space, word_embedder):
    space_activate(name="words")
    product = add(word_space, axis("red"))
    image_attributes_compute(
        image_ids=list(ImageEmbedding.objects.values_list("image", flat=True)), space=word_space
    )
    page = client.get(product.get_absolute_url()).content.decode()
    assert "Attributes" in page
    assert "<dt>Colour</dt><dd>red" in page
    assert "%)" in page


def test_the_product_page_has_no_attributes_section_before_any_space_is_active(client):
    product = ProductImageFactory().product
    response = client.get(product.get_absolute_url())
    assert response.status_code == 200
    assert "attributes-heading" not in response.content.decode()


def _catalog(space):
    shared = {"seller": SellerFactory(), "category": CategoryFactory()}
    red = [add(space, axis("red", "scarf"), **shared) for _ in range(3)]
    blue = [add(space, axis("blue", "scarf"), **shared) for _ in range(2)]
    image_attributes_compute(
        image_ids=list(ImageEmbedding.objects.values_list("image", flat=True)), space=space
    )
    return red, blue


def test_an_attribute_filter_keeps_only_matching_products(word_space, word_embedder):
    red, blue = _catalog(word_space)
    query = axis("red", "scarf")
    result = products_search(space=word_space, query_vector=query, attributes={"colour": "blue"})
    assert sorted(ids(result)) == sorted(p.pk for p in blue)
    assert result.facets["colour"] == {"blue": 2}


def test_an_attribute_filter_still_uses_the_hnsw_index_with_iterative_scan(
    word_space, word_embedder, settings
):
    """Forty red products lie nearer the query than the six blue ones. With ef_search = 10
    and every other path closed (sequential scans off; the b-tree indexes on product_id and
    space_id dropped inside this test's transaction, which rolls back), only the HNSW index with
    an iterative scan can return five products that pass the colour filter. (With the space_id
    index left, a database whose statistics say the table is tiny planned that instead.)"""

    settings.SEARCH_CANDIDATES = 10
    settings.HNSW_EF_SEARCH = 10
    settings.SEARCH_EXACT_MAX_ROWS = 0  # the HNSW path even though the filter keeps six rows
    shared = {"seller": SellerFactory(), "category": CategoryFactory()}
    blue = [add(word_space, axis("blue", "blue", "red"), **shared)]
    blue += [add(word_space, axis("blue"), **shared) for _ in range(5)]
    for _ in range(40):
        add(word_space, axis("red"), **shared)
    image_attributes_compute(
        image_ids=list(ImageEmbedding.objects.values_list("image", flat=True)), space=word_space
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'visualsearch_imageembedding' "
            "AND indexdef NOT LIKE '%%hnsw%%' AND (indexdef LIKE '%%product_id%%' "
            "OR indexdef LIKE '%%btree (space_id)%%')"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
    result = products_search(
        space=word_space, query_vector=axis("red"), attributes={"colour": "blue"}, k=5
    )
    assert len(ids(result)) == 5
    assert set(ids(result)) <= {p.pk for p in blue}
    assert ids(result)[0] == blue[0].pk
    with connection.cursor() as cursor:
        query = nearest_query(
            cursor,
            table=Table._meta.db_table,
            space=word_space,
            query_vector=axis("red"),
            filters=Filters(attributes={"colour": "blue"}),
            limit=10,
        )
        assert not query.exact
        cursor.execute("EXPLAIN " + query.sql, query.params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert word_space.image_index_name in plan


@pytest.fixture
def api(word_space, word_embedder, settings):

    # The word space has no calibration, so its long-tail confidences are low; show them all.
    settings.ATTRIBUTE_MIN_CONFIDENCE = 0.0
    space_activate(name="words")
    return APIClient()


def test_the_api_returns_attributes_per_result_and_facets(api, word_space):
    red, blue = _catalog(word_space)
    response = api.post("/api/search/", {"text": "red scarf", "k": 10}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["facets"]["colour"] == {"red": 3, "blue": 2}
    first = body["results"][0]
    assert first["product"]["id"] in {p.pk for p in red}
    assert first["attributes"]["colour"]["value"] == "red"
    assert 0.9 < first["attributes"]["colour"]["confidence"] <= 1
    assert set(first["attributes"]) == {"colour", "pattern", "style", "season", "fit", "item_type"}


def test_the_api_filters_by_an_attribute(api, word_space):
    red, blue = _catalog(word_space)
    response = api.post("/api/search/", {"text": "red scarf", "colour": "blue"}, format="json")
    assert response.status_code == 200
    assert sorted(hit["product"]["id"] for hit in response.json()["results"]) == sorted(
        p.pk for p in blue
    )


@pytest.mark.parametrize("field", ["colour", "pattern", "item_type"])
def test_an_attribute_value_outside_the_taxonomy_is_rejected_on_its_field(api, field):
    response = api.post("/api/search/", {"text": "red", field: "tartan-ish"}, format="json")
    assert response.status_code == 400
    errors = field_errors(response)
    assert list(errors) == [field]
    assert "tartan-ish" in errors[field][0]


def test_the_openapi_schema_documents_the_attribute_filters_and_facets(client):
    schema = client.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    request = components["SearchInputRequest"]["properties"]
    assert {"$ref": "#/components/schemas/ColourEnum"} in request["colour"]["oneOf"]
    assert "red" in components["ColourEnum"]["enum"]
    assert {"$ref": "#/components/schemas/ItemTypeEnum"} in request["item_type"]["oneOf"]
    assert "casual shoes" in components["ItemTypeEnum"]["enum"]
    assert request["crops"]["type"] == "boolean"
    response = components["SearchOut"]["properties"]
    assert {"facets", "mode", "has_next", "page", "k"} <= set(response)
