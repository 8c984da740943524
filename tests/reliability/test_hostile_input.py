"""Input an attacker or a careless client sends: each is a 4xx in the API's error shape, never
a 500 (issue 14, defects 1-4)."""

import base64

import pytest
from rest_framework.test import APIClient

from catalog.parsers import json_depth_exceeds
from tests.dedupe.helpers import moderator
from tests.factories import SellerFactory
from tests.support import low_rate
from tests.visualsearch.search_helpers import add, axis
from visualsearch.spaces import space_activate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttles")]


@pytest.fixture
def active(word_space, word_embedder):
    space_activate(name="words")
    add(word_space, axis("red"), title="Red scarf")
    return word_space


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_a_huge_page_number_is_a_400_on_the_api(active):
    response = APIClient().post("/api/search/", {"text": "red", "page": 10**17}, format="json")
    assert response.status_code == 400
    assert "page" in response.json()["errors"]


def test_a_huge_page_number_is_a_400_on_the_search_page(client, active):
    response = client.get("/", {"text": "red", "page": str(10**17)})
    assert response.status_code == 400
    assert "100" in response.content.decode()


def test_deeply_nested_json_is_a_400_on_search_and_on_product_create(active):
    body = '{"text": ' + nested(5000) + "}"
    response = APIClient().post("/api/search/", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested" in response.json()["errors"]["detail"][0]
    seller = SellerFactory()
    api = APIClient()
    api.force_authenticate(seller.user)
    response = api.post("/api/products/", body, content_type="application/json")
    assert response.status_code == 400


def test_the_depth_scan_ignores_brackets_inside_strings():
    assert not json_depth_exceeds(b'{"text": "[[[[[[[[[[\\"[[[["}', limit=3)
    assert json_depth_exceeds(nested(5).encode(), limit=4)
    assert not json_depth_exceeds(nested(4).encode(), limit=4)


@pytest.mark.parametrize("position", ["r=0&p=abc", "p=nan", "p=inf", "o=x", "p=1e999"], ids=str)
def test_a_forged_duplicates_cursor_is_a_400(position):
    api = APIClient()
    api.force_authenticate(moderator())
    cursor = base64.b64encode(position.encode()).decode()
    response = api.get("/api/duplicates/", {"cursor": cursor})
    assert response.status_code == 400
    assert "cursor" in response.json()["errors"]


def test_the_search_page_shares_the_search_apis_throttle(client, active, settings, monkeypatch):
    low_rate(monkeypatch, settings, search="3/min")
    assert [client.get("/", {"text": "red"}).status_code for _ in range(3)] == [200] * 3
    response = client.get("/", {"text": "red"})
    assert response.status_code == 429
    assert "Too many searches" in response.content.decode()
    assert int(response["Retry-After"]) > 0
    # The same budget: the API is refused as well, and the plain page (no query) still serves.
    assert APIClient().post("/api/search/", {"text": "red"}).status_code == 429
    assert client.get("/").status_code == 200
