import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog import services
from catalog.models import ImageKind, Product, ProductImage, ProductStatus
from dedupe.models import DuplicateCandidate
from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory, SellerFactory
from tests.support import make_image_bytes
from visualsearch.models import EmbeddingFailure, EmbeddingSpace, ImageEmbedding
from visualsearch.spaces import space_register

pytestmark = pytest.mark.django_db


def photo(name="p.jpg", seed=0, colour=(200, 30, 30)):
    return SimpleUploadedFile(name, make_image_bytes(colour=colour, seed=seed), "image/jpeg")


def product_form(**overrides):
    return {"title": "Linen shirt", "description": "Light", "brand": "Acme", "category": "",
            "price": "39.90", "currency": "EUR"} | overrides  # fmt: skip


def test_a_seller_publishes_a_product_with_two_photos(seller_client):
    category = CategoryFactory()
    response = seller_client.post(
        "/seller/products/new/",
        product_form(category=category.pk, images=[photo("a.jpg", 1), photo("b.jpg", 2, (0, 0, 99))],
                     publish="1"),
    )  # fmt: skip
    product = Product.objects.get(seller=seller_client.seller)
    assert response.url == f"/seller/products/{product.pk}/"
    assert product.status == ProductStatus.ACTIVE
    assert product.category == category
    assert list(product.images.values_list("position", flat=True)) == [0, 1]
    page = seller_client.get("/seller/").content.decode()
    assert "Linen shirt" in page
    assert page.count("pending") == 2  # no embedding space in this test: both photos wait


def test_save_as_draft_keeps_the_product_off_the_shop(seller_client, client):
    seller_client.post("/seller/products/new/", product_form(draft="1"))
    product = Product.objects.get(seller=seller_client.seller)
    assert product.status == ProductStatus.DRAFT


def test_form_errors_are_shown_next_to_their_fields(seller_client):
    response = seller_client.post(
        "/seller/products/new/",
        product_form(title="", price="-3", currency="EURO", images=[
            SimpleUploadedFile("notes.jpg", b"not an image", "image/jpeg")]),
    )  # fmt: skip
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"title", "price", "currency", "images"}
    assert "notes.jpg" in errors["images"][0]
    assert response.content.decode().count('class="field-error"') >= 4
    assert not Product.objects.exists()


def test_the_edit_page_updates_details(seller_client):
    product = ProductFactory(seller=seller_client.seller, title="Old")
    response = seller_client.post(
        f"/seller/products/{product.pk}/", product_form(title="New title", price="5")
    )
    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.title, str(product.price)) == ("New title", "5.00")


def test_photos_are_added_reordered_relabelled_and_removed(seller_client):
    product = ProductFactory(seller=seller_client.seller)
    url = f"/seller/products/{product.pk}/photos/"
    seller_client.post(url, {"images": [photo("a.jpg", 1), photo("b.jpg", 2, (9, 9, 9))]})
    seller_client.post(url, {"images": [photo("c.jpg", 3, (0, 200, 0))]})
    a, b, c = product.images.order_by("position")
    response = seller_client.post(
        f"{url}update/",
        {f"position-{a.pk}": "3", f"position-{b.pk}": "1", f"position-{c.pk}": "2",
         f"kind-{a.pk}": "lifestyle", f"kind-{b.pk}": "catalog", f"kind-{c.pk}": "catalog",
         f"remove-{c.pk}": "1"},
    )  # fmt: skip
    assert response.status_code == 302
    assert list(product.images.order_by("position").values_list("pk", "position")) == [
        (b.pk, 0),
        (a.pk, 1),
    ]
    assert ProductImage.objects.get(pk=a.pk).kind == ImageKind.LIFESTYLE


def test_a_bad_photo_upload_says_why(seller_client):
    product = ProductFactory(seller=seller_client.seller)
    response = seller_client.post(
        f"/seller/products/{product.pk}/photos/",
        {"images": [SimpleUploadedFile("x.jpg", b"nope", "image/jpeg")]},
        follow=True,
    )
    assert "x.jpg" in response.content.decode()
    assert not product.images.exists()


def test_hide_publish_and_delete(seller_client):
    product = ProductFactory(seller=seller_client.seller)
    ProductImageFactory(product=product)
    url = f"/seller/products/{product.pk}/"
    seller_client.post(f"{url}status/", {"action": "hide"})
    product.refresh_from_db()
    assert product.status == ProductStatus.HIDDEN
    seller_client.post(f"{url}status/", {"action": "publish"})
    product.refresh_from_db()
    assert product.status == ProductStatus.ACTIVE
    seller_client.post(f"{url}delete/")
    product.refresh_from_db()  # soft-deleted: gone from the seller's pages, kept for the audit
    assert product.status == ProductStatus.DELETED
    assert seller_client.get(url).status_code == 404


def test_a_seller_cannot_touch_another_sellers_product(seller_client):
    other = ProductFactory(title="Theirs")
    for url, data in [
        (f"/seller/products/{other.pk}/", product_form(title="Mine now")),
        (f"/seller/products/{other.pk}/status/", {"action": "hide"}),
        (f"/seller/products/{other.pk}/delete/", {}),
        (f"/seller/products/{other.pk}/photos/", {"images": [photo()]}),
    ]:
        assert seller_client.post(url, data).status_code == 404
    other.refresh_from_db()
    assert (other.title, other.status) == ("Theirs", ProductStatus.ACTIVE)
    assert "Theirs" not in seller_client.get("/seller/").content.decode()


def test_the_edit_page_warns_about_a_listing_with_the_same_photo_and_title(seller_client):
    image = make_image_bytes(seed=5)
    existing = services.product_create(
        seller=SellerFactory(), data=services.ProductData(title="Blue denim jacket", price=50),
        images=[services.image_validate(image)],
    )  # fmt: skip
    mine = services.product_create(
        seller=seller_client.seller,
        data=services.ProductData(title="Blue denim jacket", price=50, status="draft"),
        images=[services.image_validate(image)],
    )
    page = seller_client.get(f"/seller/products/{mine.pk}/").content.decode()
    assert "Possible duplicate of" in page
    assert existing.get_absolute_url() in page


def test_the_dashboard_shows_duplicate_notes_from_the_moderation_queue(seller_client):

    mine = ProductFactory(seller=seller_client.seller, title="Mine")
    theirs = ProductFactory(title="Theirs, maybe the same")
    a, b = sorted([mine, theirs], key=lambda p: p.pk)
    DuplicateCandidate.objects.create(
        product_a=a, product_b=b, seller_a=a.seller, seller_b=b.seller, signals={},
        probability=0.9, status="pending",
    )  # fmt: skip
    page = seller_client.get("/seller/").content.decode()
    assert "Possible duplicate of" in page
    assert "Theirs, maybe the same" in page


def test_the_dashboard_shows_each_photos_indexing_status(seller_client):

    space = space_register(name="tiny-dash", architecture="x", pretrained="y", dimension=2)
    EmbeddingSpace.objects.filter(pk=space.pk).update(is_active=True)
    product = ProductFactory(seller=seller_client.seller)
    done, failed, waiting = (ProductImageFactory(product=product, position=i) for i in range(3))
    ImageEmbedding.objects.create(image=done, product=product, space=space, vector=[1.0, 0.0],
                                  image_sha256=done.sha256)  # fmt: skip
    EmbeddingFailure.objects.create(image=failed, space=space, reason="cannot decode")
    page = seller_client.get("/seller/").content.decode()
    assert page.count(">indexed<") == 1
    assert "failed: cannot decode" in page
    assert page.count(">pending<") == 1
