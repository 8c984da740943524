from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.pagination import PageNumberPagination
from rest_framework.test import APIClient

from catalog.models import Product, ProductImage, ProductStatus, Seller
from tests.factories import (
    CategoryFactory,
    ProductFactory,
    ProductImageFactory,
    SellerFactory,
    UserFactory,
)
from tests.support import low_rate, make_image_bytes

pytestmark = pytest.mark.django_db


def client_for(user=None) -> APIClient:
    api = APIClient()
    if user is not None:
        api.force_authenticate(user)
    return api


def photo(name="p.jpg", seed=0, colour=(200, 30, 30)) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, make_image_bytes(colour=colour, seed=seed), "image/jpeg")


@pytest.fixture
def seller():
    return SellerFactory()


@pytest.fixture
def other_seller():
    return SellerFactory()


# ----------------------------------------------------------------------------- reading
def test_anyone_lists_active_products_paginated_newest_first(monkeypatch):

    monkeypatch.setattr(PageNumberPagination, "page_size", 2)  # read once, at import
    old, mid, new = ProductFactory(), ProductFactory(), ProductFactory()
    ProductFactory(status=ProductStatus.HIDDEN)
    ProductFactory(status=ProductStatus.DRAFT)
    body = client_for().get("/api/products/").json()
    assert body["count"] == 3
    assert [p["id"] for p in body["results"]] == [new.pk, mid.pk]
    assert body["next"]
    second = client_for().get(body["next"]).json()
    assert [p["id"] for p in second["results"]] == [old.pk]


def test_the_list_filters_by_category_subtree_brand_seller_and_price():
    shoes = CategoryFactory(slug="shoes")
    boots = CategoryFactory(slug="boots", parent=shoes)
    boot = ProductFactory(category=boots, brand="Acme", price=Decimal("80"))
    cheap = ProductFactory(category=shoes, brand="Other", price=Decimal("10"))
    ProductFactory(brand="Acme")  # another category
    api = client_for()

    def ids(query):
        response = api.get(f"/api/products/?{query}")
        assert response.status_code == 200, response.json()
        return {p["id"] for p in response.json()["results"]}

    assert ids("category=shoes") == {boot.pk, cheap.pk}
    assert ids("category=shoes&brand=acme") == {boot.pk}
    assert ids("category=shoes&min_price=50") == {boot.pk}
    assert ids("category=shoes&max_price=50") == {cheap.pk}
    assert ids(f"seller={cheap.seller.slug}") == {cheap.pk}


def test_bad_filters_are_400_per_field():
    response = client_for().get("/api/products/?min_price=abc&max_price=-1")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"min_price", "max_price"}


def test_a_draft_is_404_for_others_but_visible_to_its_seller(seller):
    draft = ProductFactory(seller=seller, status=ProductStatus.DRAFT)
    assert client_for().get(f"/api/products/{draft.pk}/").status_code == 404
    assert client_for(UserFactory()).get(f"/api/products/{draft.pk}/").status_code == 404
    response = client_for(seller.user).get(f"/api/products/{draft.pk}/")
    assert response.status_code == 200
    assert response.json()["status"] == "draft"


def test_a_product_shows_its_images_in_order():
    product = ProductFactory()
    second = ProductImageFactory(product=product, position=1)
    first = ProductImageFactory(product=product, position=0)
    body = client_for().get(f"/api/products/{product.pk}/").json()
    assert [img["id"] for img in body["images"]] == [first.pk, second.pk]
    assert body["images"][0]["url"].startswith("http://testserver/media/")


# ----------------------------------------------------------------------------- writing
def test_a_seller_creates_a_draft_then_publishes_it(seller):
    category = CategoryFactory()
    api = client_for(seller.user)
    response = api.post(
        "/api/products/",
        {"title": "Red mug", "price": "12.50", "currency": "usd", "category": category.pk},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft"
    assert body["currency"] == "USD"
    assert body["seller"]["slug"] == seller.slug
    product = Product.objects.get(pk=body["id"])
    assert product.category == category
    response = api.patch(f"/api/products/{product.pk}/", {"status": "active"}, format="json")
    assert response.status_code == 200
    product.refresh_from_db()
    assert product.status == ProductStatus.ACTIVE
    assert product.title == "Red mug"


def test_create_errors_are_reported_per_field_and_nothing_is_written(seller):
    response = client_for(seller.user).post(
        "/api/products/", {"title": "", "price": "-1", "currency": "XXY"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"title", "price", "currency"}
    assert not Product.objects.exists()


def test_a_merged_listing_cannot_be_republished(seller):
    target = ProductFactory()
    merged = ProductFactory(seller=seller, status=ProductStatus.MERGED, merged_into=target)
    response = client_for(seller.user).patch(
        f"/api/products/{merged.pk}/", {"status": "active"}, format="json"
    )
    # a merged listing is not visible to anyone but its seller, who gets the reason
    assert response.status_code == 400
    assert "merged" in response.json()["errors"]["status"][0]


def test_only_sellers_create_products():
    assert client_for().post("/api/products/", {}, format="json").status_code == 401
    response = client_for(UserFactory()).post("/api/products/", {}, format="json")
    assert response.status_code == 403
    assert list(response.json()["errors"]) == ["detail"]


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_only_the_owner_changes_or_deletes_a_product(method, seller, other_seller):
    product = ProductFactory(seller=seller, title="Mine")
    payload = {"title": "Stolen", "price": "1.00"}
    anonymous = getattr(client_for(), method)(
        f"/api/products/{product.pk}/", payload, format="json"
    )
    assert anonymous.status_code == 401
    other = getattr(client_for(other_seller.user), method)(
        f"/api/products/{product.pk}/", payload, format="json"
    )
    assert other.status_code == 403
    assert other.json()["errors"]["detail"] == [
        "Only the seller who owns this product can change it."
    ]
    product.refresh_from_db()
    assert product.title == "Mine"
    owner = getattr(client_for(seller.user), method)(
        f"/api/products/{product.pk}/", payload, format="json"
    )
    assert owner.status_code == (204 if method == "delete" else 200)
    if method == "delete":
        assert (
            not Product.objects.exclude(status=ProductStatus.DELETED).filter(pk=product.pk).exists()
        )
    else:
        product.refresh_from_db()
        assert product.title == "Stolen"


def test_put_needs_every_required_field(seller):
    product = ProductFactory(seller=seller)
    response = client_for(seller.user).put(
        f"/api/products/{product.pk}/", {"title": "x"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["price"]


# ----------------------------------------------------------------------------- images
def test_the_owner_uploads_several_images_at_once(seller):
    product = ProductFactory(seller=seller)
    response = client_for(seller.user).post(
        f"/api/products/{product.pk}/images/",
        {"image": [photo("a.jpg", 1), photo("b.jpg", 2, (0, 0, 200))], "kind": "lifestyle"},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    assert [img["position"] for img in response.json()] == [0, 1]
    assert {img["kind"] for img in response.json()} == {"lifestyle"}
    assert product.images.count() == 2


def test_a_bad_image_is_400_on_the_image_field_and_nothing_is_added(seller):
    product = ProductFactory(seller=seller)
    bad = SimpleUploadedFile("notes.jpg", b"not a picture", "image/jpeg")
    response = client_for(seller.user).post(
        f"/api/products/{product.pk}/images/", {"image": [photo(), bad]}, format="multipart"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["image"]
    assert "notes.jpg" in response.json()["errors"]["image"][0]
    assert not product.images.exists()


def test_a_bad_kind_and_a_missing_image_are_400_per_field(seller):
    product = ProductFactory(seller=seller)
    response = client_for(seller.user).post(
        f"/api/products/{product.pk}/images/", {"kind": "poster"}, format="multipart"
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"image", "kind"}


def test_an_oversized_upload_is_refused_before_reading(seller, settings):
    settings.MAX_UPLOAD_BYTES = 1024
    product = ProductFactory(seller=seller)
    big = SimpleUploadedFile("big.png", make_image_bytes(size=(400, 400), fmt="PNG"), "image/png")
    response = client_for(seller.user).post(
        f"/api/products/{product.pk}/images/", {"image": [big]}, format="multipart"
    )
    assert response.status_code == 400
    assert "limit" in response.json()["errors"]["image"][0]


def test_another_seller_cannot_upload_reorder_or_delete_images(seller, other_seller):
    product = ProductFactory(seller=seller)
    image = ProductImageFactory(product=product)
    api = client_for(other_seller.user)
    assert api.post(f"/api/products/{product.pk}/images/", {"image": [photo()]},
                    format="multipart").status_code == 403  # fmt: skip
    assert api.post(f"/api/products/{product.pk}/images/order/", {"order": [image.pk]},
                    format="json").status_code == 403  # fmt: skip
    assert api.delete(f"/api/products/{product.pk}/images/{image.pk}/").status_code == 403
    assert ProductImage.objects.filter(pk=image.pk).exists()


def test_the_owner_reorders_relabels_and_deletes_images(seller):
    product = ProductFactory(seller=seller)
    a = ProductImageFactory(product=product, position=0)
    b = ProductImageFactory(product=product, position=1)
    c = ProductImageFactory(product=product, position=2)
    api = client_for(seller.user)
    response = api.post(
        f"/api/products/{product.pk}/images/order/", {"order": [c.pk, a.pk, b.pk]}, format="json"
    )
    assert response.status_code == 200
    assert [img["id"] for img in response.json()] == [c.pk, a.pk, b.pk]
    incomplete = api.post(
        f"/api/products/{product.pk}/images/order/", {"order": [c.pk]}, format="json"
    )
    assert incomplete.status_code == 400
    assert list(incomplete.json()["errors"]) == ["order"]

    response = api.patch(
        f"/api/products/{product.pk}/images/{a.pk}/", {"kind": "lifestyle"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["kind"] == "lifestyle"

    assert api.delete(f"/api/products/{product.pk}/images/{b.pk}/").status_code == 204
    assert list(product.images.order_by("position").values_list("pk", flat=True)) == [c.pk, a.pk]
    # an image of another product is not found through this one
    stranger = ProductImageFactory(product=ProductFactory(seller=seller))
    assert api.delete(f"/api/products/{product.pk}/images/{stranger.pk}/").status_code == 404


def test_uploads_are_throttled_with_the_error_format(seller, settings, monkeypatch):

    cache.clear()
    low_rate(monkeypatch, settings, upload="2/min")
    product = ProductFactory(seller=seller)
    api = client_for(seller.user)
    codes = [
        api.post(f"/api/products/{product.pk}/images/", {"image": [photo(seed=i)]},
                 format="multipart").status_code
        for i in range(3)
    ]  # fmt: skip
    assert codes == [201, 201, 429]
    response = api.post(f"/api/products/{product.pk}/images/", {"image": [photo(seed=9)]},
                        format="multipart")  # fmt: skip
    assert list(response.json()["errors"]) == ["detail"]
    assert "throttled" in response.json()["errors"]["detail"][0].lower()
    assert response.headers["Retry-After"]
    cache.clear()


# ----------------------------------------------------------------------------- sellers & tokens
def test_sellers_me_shows_the_profile_and_post_makes_one():
    user = UserFactory(username="zoe")
    api = client_for(user)
    assert api.get("/api/sellers/me/").status_code == 404
    created = api.post("/api/sellers/me/")
    assert created.status_code == 201
    assert created.json()["slug"] == "zoe"
    assert api.post("/api/sellers/me/").status_code == 200
    body = api.get("/api/sellers/me/").json()
    assert body["products"] == 0
    assert Seller.objects.filter(user=user).count() == 1
    assert client_for().get("/api/sellers/me/").status_code == 401


def test_a_token_from_the_api_authenticates_and_can_be_revoked():
    user = UserFactory(username="tim")
    api = APIClient()
    wrong = api.post("/api/auth/token/", {"username": "tim", "password": "x"}, format="json")
    assert wrong.status_code == 400
    assert list(wrong.json()["errors"]) == ["non_field_errors"]
    response = api.post(
        "/api/auth/token/", {"username": "tim", "password": "pw-for-tests-1"}, format="json"
    )
    assert response.status_code == 201
    key = response.json()["token"]
    assert Token.objects.get(user=user).key == key
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    api.post("/api/sellers/me/")
    assert api.get("/api/sellers/me/").json()["slug"] == "tim"
    assert api.delete("/api/auth/token/").status_code == 204
    assert api.get("/api/sellers/me/").status_code == 401


def test_token_logins_are_throttled(settings, monkeypatch):

    cache.clear()
    low_rate(monkeypatch, settings, login="1/min")
    api = APIClient()
    first = api.post("/api/auth/token/", {"username": "a", "password": "b"}, format="json")
    second = api.post("/api/auth/token/", {"username": "a", "password": "b"}, format="json")
    assert (first.status_code, second.status_code) == (400, 429)
    assert list(second.json()["errors"]) == ["detail"]
    cache.clear()


def test_unknown_methods_and_missing_products_use_the_error_format():
    response = client_for().delete("/api/products/")
    assert response.status_code in {401, 405}
    assert list(response.json()["errors"]) == ["detail"]
    missing = client_for().get("/api/products/999999/")
    assert missing.status_code == 404
    assert missing.json() == {"errors": {"detail": ["No such product."]}}
