"""The seller's "possible duplicate of …" check, and the scan sent after embedding."""

import json

import dramatiq
import pytest
from django.conf import settings

from catalog.models import ProductStatus
from dedupe.services import product_duplicates_check
from dedupe.tasks import DuplicateScanAfterEmbedding
from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory

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


def test_an_identical_photo_is_found_even_with_a_different_title():
    existing = ProductFactory(title="Vintage lamp")
    ProductImageFactory(product=existing, sha256="ab" * 32)
    draft = ProductFactory(title="Brass desk light", status=ProductStatus.DRAFT)
    ProductImageFactory(product=draft, sha256="ab" * 32)
    from dedupe.services import _neighbour_ids

    assert existing.pk in _neighbour_ids(product=draft, k=5, space=None)


def test_an_unrelated_draft_gets_no_warning_and_hidden_products_are_not_compared():
    ProductFactory(title="Aurelia Women Red Linen Shirt", status=ProductStatus.HIDDEN)
    ProductFactory(title="Oakhaven Blue Denim Jeans")
    draft = ProductFactory(title="Aurelia Women Red Linen Shirt", status=ProductStatus.DRAFT)
    assert product_duplicates_check(product=draft) == []


def test_a_finished_embedding_job_sends_a_duplicate_scan_for_its_products():
    product = ProductFactory()
    image = ProductImageFactory(product=product)
    broker = dramatiq.get_broker()
    broker.flush("dedupe")
    middleware = DuplicateScanAfterEmbedding()
    for actor, ids in (("images_embed_task", [image.pk]), ("titles_embed_task", [product.pk])):
        message = dramatiq.Message(queue_name="embedding", actor_name=actor, args=(ids, 1),
                                   kwargs={}, options={})  # fmt: skip
        middleware.after_process_message(broker, message, result=None)
    failed = dramatiq.Message(queue_name="embedding", actor_name="titles_embed_task",
                              args=([product.pk], 1), kwargs={}, options={})  # fmt: skip
    middleware.after_process_message(broker, failed, exception=RuntimeError("boom"))
    stored = broker.client.hvals(f"{broker.namespace}:dedupe.msgs")
    sent = sorted(json.loads(raw)["args"][0] for raw in stored)
    broker.flush("dedupe")
    assert sent == [[product.pk], [product.pk]]
