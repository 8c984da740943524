"""The search page `/` (labels, latest products, facets, errors next to their field, empty
state, loading indicator) and the search API's guards (throttling, upload size)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.throttling import ScopedRateThrottle

from tests.visualsearch.search_helpers import add, axis, field_errors
from visualsearch.models import ImageEmbedding
from visualsearch.services import image_attributes_compute
from visualsearch.spaces import space_activate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttles")]

LABELS = [
    "Photo",
    "Description or modifier",
    "Without",
    "Photo vs. text weight",
    "Category",
    "Min price",
    "Max price",
    "Brand",
    "Diversity",
    "Search parts of the photo",
    "Colour",
    "Pattern",
    "Item type",
]


@pytest.fixture
def active(word_space, word_embedder):
    space_activate(name="words")
    return word_space


def test_the_page_shows_every_labelled_control_and_the_latest_products(client, active):
    product = add(active, axis("red"), title="Crimson scarf")
    page = client.get("/").content.decode()
    for label in LABELS:
        assert f"{label}</label>" in page or f"> {label}</label>" in page, label
    assert ">Search</button>" in page
    assert "Latest products" in page and "Crimson scarf" in page
    assert 'class="loading-indicator"' in page and "js/search.js" in page
    assert product.get_absolute_url() in page


def test_facets_are_shown_with_counts_and_clicking_one_filters(client, active):
    reds = [add(active, axis("red", "scarf"), title=f"Red scarf {n}") for n in range(2)]
    blue = add(active, axis("blue", "scarf"), title="Blue scarf")
    image_attributes_compute(
        image_ids=list(ImageEmbedding.objects.values_list("image", flat=True)), space=active
    )
    page = client.post("/", {"text": "scarf"}).content.decode()
    assert 'name="pick_colour" value="red"' in page and "red (2)" in page and "blue (1)" in page
    picked = client.post("/", {"text": "scarf", "pick_colour": "blue"}).content.decode()
    assert blue.title in picked
    assert all(p.title not in picked for p in reds)
    assert 'value="blue" selected' in picked  # the Colour select keeps the choice


def test_an_error_is_shown_next_to_the_field_at_fault(client, active):
    response = client.post("/", {"text": "scarf", "colour": "tartan-ish", "min_price": "-3"})
    page = response.content.decode()
    assert response.status_code == 400
    colour_field = page.split('id="id_colour"')[1].split('class="field"')[0]
    assert "tartan-ish" in colour_field
    price_field = page.split('id="id_min_price"')[1].split('class="field"')[0]
    assert 'class="error"' in price_field


def test_a_link_with_q_searches_its_text(client, active):
    add(active, axis("red", "scarf"), title="Red scarf")
    add(active, axis("blue"), title="Blue lamp")
    page = client.get("/", {"q": "red scarf"}).content.decode()
    assert 'value="red scarf"' in page  # the text box shows the query
    assert "Latest products" not in page and "hybrid text search" in page
    results = page.split('<section id="results">')[1]
    assert "Red scarf" in results


def test_a_search_without_matches_says_so(client, active):
    response = client.post("/", {"text": "scarf", "brand": "Nobody"})
    assert response.status_code == 200
    assert "No products match" in response.content.decode()


def test_the_search_api_is_throttled(client, active, monkeypatch):

    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "search", "2/min")
    codes = [client.post("/api/search/", {"text": "red"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    product = add(active, axis("red"))
    assert client.get(f"/api/products/{product.pk}/similar/").status_code == 429


def test_an_oversized_upload_is_refused_on_its_field_before_it_is_read(
    client, active, settings, monkeypatch
):
    settings.MAX_UPLOAD_BYTES = 2048
    read = []
    monkeypatch.setattr(
        "visualsearch.serializers.image_validate", lambda content: read.append(content) or None
    )
    noise = bytes(range(256)) * 20  # 5,120 bytes; its size alone must get it refused
    big = SimpleUploadedFile("big.png", noise, "image/png")
    assert big.size > 2048
    response = client.post("/api/search/", {"image": big})
    assert response.status_code == 400
    errors = field_errors(response)
    assert list(errors) == ["image"]
    assert "the limit is 2 KB" in errors["image"][0]
    assert read == []


def test_a_typo_is_searched_as_the_catalog_word_and_the_page_offers_the_words_as_typed(
    client, active
):
    from catalog.spelling import lexicon_clear  # noqa: PLC0415

    add(active, axis("red", "scarf"), title="Red scarf")
    lexicon_clear()
    page = client.post("/", {"text": "red scraf"}).content.decode()
    assert "Showing results for <strong>red scarf</strong>" in page
    # the offer is a button of the search form, so filters, photos and pages come along
    assert 'form="search-form" name="as_typed" value="red scraf"' in page
    typed = client.post("/", {"text": "red scraf", "as_typed": "red scraf"}).content.decode()
    assert "Showing results for" not in typed
    # page 2 of the search as typed stays as typed
    assert '<input type="hidden" name="as_typed" value="red scraf">' in typed
    page_2 = client.post("/", {"text": "red scraf", "as_typed": "red scraf", "page": "2"})
    assert "Showing results for" not in page_2.content.decode()
    # new words typed into the same form are corrected again
    edited = client.post("/", {"text": "red scraff", "as_typed": "red scraf"}).content.decode()
    assert "Showing results for <strong>red scarf</strong>" in edited
    assert 'name="as_typed" value="red scraf">' not in edited
    # the words come back into the page escaped
    hostile = '"><script>alert(1)</script>'
    echoed = client.post("/", {"text": hostile, "as_typed": hostile}).content.decode()
    assert "<script>alert(1)</script>" not in echoed
    assert 'name="as_typed" value="&quot;&gt;&lt;script&gt;' in echoed
