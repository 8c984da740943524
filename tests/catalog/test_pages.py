import pytest

from tests.factories import ProductFactory, ProductImageFactory

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
