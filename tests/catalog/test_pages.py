import pytest

from tests.factories import ProductFactory, ProductImageFactory
from visualsearch.models import ImageEmbedding
from visualsearch.spaces import space_activate, space_register

pytestmark = pytest.mark.django_db


def test_the_home_page_shows_products_before_any_search(client):
    image = ProductImageFactory(product__title="Blue Canvas Backpack")
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Blue Canvas Backpack" in body
    assert image.file.url in body


def test_a_product_page_shows_its_gallery_and_price(client):
    image = ProductImageFactory(product__title="Red Dress")
    response = client.get(f"/products/{image.product_id}/")
    assert response.status_code == 200
    assert b"Red Dress" in response.content and b"19.99 EUR" in response.content


def test_a_merged_listing_redirects_permanently_to_its_canonical(client):
    canonical = ProductFactory()
    merged = ProductFactory(status="merged", merged_into=canonical)
    response = client.get(f"/products/{merged.pk}/")
    assert response.status_code == 301
    assert response["Location"] == f"/products/{canonical.pk}/"


def test_hidden_and_unknown_products_answer_404_in_the_site_style(client):
    hidden = ProductFactory(status="hidden")
    for url in (f"/products/{hidden.pk}/", "/products/999999/"):
        response = client.get(url)
        assert response.status_code == 404
        assert b"Page not found" in response.content


def test_a_product_page_lists_similar_items_once_vectors_exist(client):

    space = space_register(name="tiny", architecture="x", pretrained="y", dimension=4)
    space_activate(name="tiny")
    shown = ProductImageFactory(product__title="Navy Shirt")
    twin = ProductImageFactory(product__title="Navy Oxford Shirt")
    other = ProductImageFactory(product__title="Hidden Twin", product__status="hidden")
    for image, vector in ((shown, [1, 0, 0, 0]), (twin, [0.9, 0.1, 0, 0]), (other, [1, 0, 0, 0])):
        ImageEmbedding.objects.create(image=image, product=image.product, space=space,
                                      vector=vector, image_sha256=image.sha256)  # fmt: skip
    body = client.get(f"/products/{shown.product_id}/").content.decode()
    assert "Similar items" in body
    similar = body.split("Similar items", 1)[1]
    assert "Navy Oxford Shirt" in similar
    assert "Hidden Twin" not in similar and "Navy Shirt<" not in similar


def test_a_product_page_works_before_any_space_is_active(client):
    image = ProductImageFactory(product__title="Lone Cap")
    response = client.get(f"/products/{image.product_id}/")
    assert response.status_code == 200
    assert b"Similar items" not in response.content
