"""Pagination: k results per page, pages that do not overlap, and whether a next page exists,
in the API and on the search page."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.visualsearch.search_helpers import add, axis
from visualsearch.spaces import space_activate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttles")]


@pytest.fixture
def catalog(word_space, word_embedder):
    space_activate(name="words")
    # Ever further from "red": the rank order is the creation order.
    return [add(word_space, axis("red", *["green"] * n)) for n in range(7)]


def test_the_api_pages_through_results_without_overlap(catalog, client):
    pages = []
    for page in (1, 2, 3):
        body = client.post("/api/search/", {"text": "red", "k": 3, "page": page}).json()
        assert body["page"] == page and body["k"] == 3
        pages.append(([h["product"]["id"] for h in body["results"]], body["has_next"]))
    assert pages == [
        ([p.pk for p in catalog[:3]], True),
        ([p.pk for p in catalog[3:6]], True),
        ([catalog[6].pk], False),
    ]


def test_a_page_past_the_end_is_empty_and_has_no_next(catalog, client):
    body = client.post("/api/search/", {"text": "red", "k": 5, "page": 9}).json()
    assert body["results"] == [] and body["has_next"] is False


def test_page_must_be_a_positive_number(catalog, client):
    response = client.post("/api/search/", {"text": "red", "page": 0})
    assert response.status_code == 400
    body = response.json()
    assert "page" in body.get("errors", body)


def test_the_search_page_has_next_and_previous_page_buttons(catalog, client):
    first = client.post("/", {"text": "red", "k": "3"}).content.decode()
    assert 'name="page" value="2"' in first and "Next page" in first
    assert "Previous page" not in first
    second = client.post("/", {"text": "red", "k": "3", "page": "2"}).content.decode()
    assert "Previous page" in second and 'name="page" value="1"' in second
    assert catalog[3].title in second and catalog[0].title not in second
    last = client.post("/", {"text": "red", "k": "3", "page": "3"}).content.decode()
    assert "Next page" not in last and catalog[6].title in last


def test_paging_a_photo_search_keeps_the_photo(catalog, client, image_bytes):

    photo = SimpleUploadedFile("q.jpg", image_bytes(colour=(250, 0, 0)), "image/jpeg")
    first = client.post("/", {"image": photo, "k": "3"})
    page = first.content.decode()
    assert first.status_code == 200 and "visual search" in page
    kept = page.split('name="photo_kept" value="')[1].split('"')[0]
    second = client.post("/", {"photo_kept": kept, "k": "3", "page": "2"}).content.decode()
    assert "visual search" in second and "Searching with your earlier photo" in second
    assert catalog[3].title in second and catalog[0].title not in second
    forgotten = client.post("/", {"photo_kept": kept, "forget_photo": "1"})
    assert forgotten.status_code == 400
