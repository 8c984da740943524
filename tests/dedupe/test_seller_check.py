"""The seller's "possible duplicate of …" check, and the scan sent after embedding."""

import json

import dramatiq
import numpy as np
import pytest
from django.conf import settings

from catalog.models import ProductStatus
from dedupe.selectors import text_neighbours
from dedupe.services import _neighbour_ids, product_duplicates_check
from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory
from visualsearch.services import titles_embed
from visualsearch.spaces import space_register

pytestmark = pytest.mark.django_db


def test_a_draft_that_copies_an_active_listing_is_flagged_with_a_link():
    shirts = CategoryFactory(name="Shirts")
    existing = ProductFactory(
        title="Aurelia Women Red Linen Shirt", brand="Aurelia", category=shirts
    )
    ProductFactory(title="Oakhaven Blue Denim Jeans", brand="Oakhaven")
    draft = ProductFactory(title="Aurelia Women Red Linen Shirt", brand="Aurelia", category=shirts,
                           status=ProductStatus.DRAFT)  # fmt: skip
    notes = product_duplicates_check(product=draft)
    assert [n["other_id"] for n in notes] == [existing.pk]
    assert notes[0]["other_url"] == existing.get_absolute_url()
    assert notes[0]["status"] == "possible"
    assert notes[0]["probability"] >= settings.DEDUPE_REVIEW_THRESHOLD


def test_the_title_look_up_finds_a_compound_spelt_the_other_way():
    """A draft titled "T-Shirt" finds the listing that writes "Tshirt" first, ahead of newer
    listings that share only the other words (and so the reverse)."""
    tshirt = ProductFactory(title="Roadster Men Navy Tshirt")
    ProductFactory(title="Roadster Men Navy Jeans")
    ProductFactory(title="Roadster Men Navy Shorts")
    draft = ProductFactory(title="Roadster Men Navy T-Shirt", status=ProductStatus.DRAFT)
    assert text_neighbours(product=draft, k=1) == [tshirt.pk]
    hyphen = ProductFactory(title="Roadster Women Olive T-Shirt")
    ProductFactory(title="Roadster Women Olive Skirt")
    draft = ProductFactory(title="Roadster Women Olive Tshirt", status=ProductStatus.DRAFT)
    assert text_neighbours(product=draft, k=1) == [hyphen.pk]


def test_the_title_look_up_finds_a_model_number_written_with_or_without_its_hyphen():
    hyphen = ProductFactory(title="D-Link DIR-412 Wireless Router")
    ProductFactory(title="D-Link Wireless Router")  # newer, and shares every other word
    draft = ProductFactory(title="D-Link DIR412 Wireless Router", status=ProductStatus.DRAFT)
    assert text_neighbours(product=draft, k=1) == [hyphen.pk]


def test_an_identical_photo_is_found_even_with_a_different_title():
    existing = ProductFactory(title="Vintage lamp")
    ProductImageFactory(product=existing, sha256="ab" * 32)
    draft = ProductFactory(title="Brass desk light", status=ProductStatus.DRAFT)
    ProductImageFactory(product=draft, sha256="ab" * 32)

    assert existing.pk in _neighbour_ids(product=draft, k=5, space=None)


def test_an_unrelated_draft_gets_no_warning_and_hidden_products_are_not_compared():
    ProductFactory(title="Aurelia Women Red Linen Shirt", status=ProductStatus.HIDDEN)
    ProductFactory(title="Oakhaven Blue Denim Jeans")
    draft = ProductFactory(title="Aurelia Women Red Linen Shirt", status=ProductStatus.DRAFT)
    assert product_duplicates_check(product=draft) == []


class _TextEmbedder:
    dim = 4

    def encode_texts(self, texts):
        return np.tile(np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32), (len(texts), 1))


def _scans_sent(broker) -> list[list[int]]:
    stored = broker.client.hvals(f"{broker.namespace}:dedupe.msgs")
    return sorted(json.loads(raw)["args"][0] for raw in stored)


def test_written_title_vectors_send_a_duplicate_scan_for_their_products_once_committed(
    monkeypatch, settings, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("visualsearch.spaces.embedder_for", lambda space: _TextEmbedder())
    space = space_register(name="words", architecture="x", pretrained="y", dimension=4)
    product = ProductFactory()
    broker = dramatiq.get_broker()
    broker.flush("dedupe")
    with django_capture_on_commit_callbacks(execute=True):
        assert titles_embed(product_ids=[product.pk], space=space) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert titles_embed(product_ids=[product.pk], space=space) == 0  # nothing new written
    settings.DEDUPE_SCAN_ON_EMBED = False
    product.title = "Another title"
    product.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert titles_embed(product_ids=[product.pk], space=space) == 1
    sent = _scans_sent(broker)
    broker.flush("dedupe")
    assert sent == [[product.pk]]
