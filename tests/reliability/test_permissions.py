"""Who may do what (issue 14): every role × every API operation and every page, the answer each
gets written once, in MATRIX. A URL the project serves that MATRIX does not list fails the test,
so a new endpoint comes with its row.

The API is called with each role's token, the pages with its session. Each role's request runs in
a savepoint rolled back after it, so every role meets the same catalog.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.models import ImportJob, ProductStatus
from catalog.roles import MODERATORS_GROUP
from dedupe import services as dedupe_services
from tests.dedupe.helpers import candidate_for
from tests.factories import ProductFactory, ProductImageFactory, SellerFactory, UserFactory
from tests.support import make_image_bytes, url_routes
from tests.visualsearch.search_helpers import add, axis
from visualsearch.spaces import space_activate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttles")]

ROLES = ("anonymous", "shopper", "seller", "other_seller", "moderator", "staff")
LOGIN = "login"  # 302 to the log-in page
BECOME = "become"  # 302 to "become a seller"
PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's

# {(method, path): (anonymous, shopper, seller, other seller, moderator, staff)}
# {product} is the seller's active product, {draft} their draft, {image} a photo of {product},
# {pair} a pending duplicate pair, {decided} a pair the moderator just dismissed, {import} the
# seller's import with an error report.
# fmt: off
MATRIX = {
    # ---------------------------------------------------------------- API   anon shop sell  oth  mod staff
    ("GET",    "/api/products/"):                                        (200, 200, 200, 200, 200, 200),
    ("POST",   "/api/products/"):                                        (401, 403, 201, 201, 403, 403),
    ("GET",    "/api/products/{product}/"):                              (200, 200, 200, 200, 200, 200),
    ("GET",    "/api/products/{draft}/"):                                (404, 404, 200, 404, 404, 200),
    ("PUT",    "/api/products/{product}/"):                              (401, 403, 200, 403, 403, 403),
    ("PATCH",  "/api/products/{product}/"):                              (401, 403, 200, 403, 403, 403),
    ("DELETE", "/api/products/{product}/"):                              (401, 403, 204, 403, 403, 403),
    ("GET",    "/api/products/{product}/images/"):                       (200, 200, 200, 200, 200, 200),
    ("POST",   "/api/products/{product}/images/"):                       (401, 403, 201, 403, 403, 403),
    ("POST",   "/api/products/{product}/images/order/"):                 (401, 403, 200, 403, 403, 403),
    ("PATCH",  "/api/products/{product}/images/{image}/"):               (401, 403, 200, 403, 403, 403),
    ("DELETE", "/api/products/{product}/images/{image}/"):               (401, 403, 204, 403, 403, 403),
    ("GET",    "/api/products/{product}/similar/"):                      (200, 200, 200, 200, 200, 200),
    ("POST",   "/api/search/"):                                          (200, 200, 200, 200, 200, 200),
    ("GET",    "/api/sellers/me/"):                                      (401, 404, 200, 200, 404, 404),
    ("POST",   "/api/sellers/me/"):                                      (401, 201, 200, 200, 201, 201),
    ("POST",   "/api/auth/token/"):                                      (201, 201, 201, 201, 201, 201),
    ("DELETE", "/api/auth/token/"):                                      (401, 204, 204, 204, 204, 204),
    ("GET",    "/api/duplicates/"):                                      (401, 403, 403, 403, 200, 200),
    ("GET",    "/api/duplicates/{pair}/"):                               (401, 403, 403, 403, 200, 200),
    ("POST",   "/api/duplicates/{pair}/decision/"):                      (401, 403, 403, 403, 200, 200),
    ("POST",   "/api/duplicates/{decided}/undo/"):                       (401, 403, 403, 403, 200, 200),
    ("GET",    "/api/schema/"):                                          (200, 200, 200, 200, 200, 200),
    ("GET",    "/api/docs/"):                                            (200, 200, 200, 200, 200, 200),
    # ---------------------------------------------------------------- pages
    ("GET",    "/"):                                                     (200, 200, 200, 200, 200, 200),
    ("GET",    "/products/{product}/"):                                  (200, 200, 200, 200, 200, 200),
    ("GET",    "/products/{draft}/"):                                    (404, 404, 200, 404, 404, 200),
    ("GET",    "/accounts/login/"):                                      (200, 200, 200, 200, 200, 200),
    ("POST",   "/accounts/logout/"):                                     (302, 302, 302, 302, 302, 302),
    ("GET",    "/accounts/signup/"):                                     (200, 302, 302, 302, 302, 302),
    ("GET",    "/accounts/"):                                            (LOGIN, 200, 200, 200, 200, 200),
    ("POST",   "/accounts/token/"):                                      (LOGIN, 302, 302, 302, 302, 302),
    ("POST",   "/accounts/token/revoke/"):                               (LOGIN, 302, 302, 302, 302, 302),
    ("GET",    "/accounts/password/"):                                   (LOGIN, 200, 200, 200, 200, 200),
    ("GET",    "/accounts/password/done/"):                              (LOGIN, 200, 200, 200, 200, 200),
    ("GET",    "/seller/become/"):                                       (LOGIN, 200, 302, 302, 200, 200),
    ("GET",    "/seller/"):                                              (LOGIN, BECOME, 200, 200, BECOME, BECOME),
    ("GET",    "/seller/products/new/"):                                 (LOGIN, BECOME, 200, 200, BECOME, BECOME),
    ("GET",    "/seller/products/{product}/"):                           (LOGIN, BECOME, 200, 404, BECOME, BECOME),
    ("POST",   "/seller/products/{product}/status/"):                    (LOGIN, BECOME, 302, 404, BECOME, BECOME),
    ("POST",   "/seller/products/{product}/delete/"):                    (LOGIN, BECOME, 302, 404, BECOME, BECOME),
    ("POST",   "/seller/products/{product}/photos/"):                    (LOGIN, BECOME, 302, 404, BECOME, BECOME),
    ("POST",   "/seller/products/{product}/photos/update/"):             (LOGIN, BECOME, 302, 404, BECOME, BECOME),
    ("POST",   "/seller/imports/"):                                      (LOGIN, BECOME, 400, 400, BECOME, BECOME),
    ("GET",    "/seller/imports/{import}/"):                             (LOGIN, BECOME, 200, 404, BECOME, BECOME),
    ("GET",    "/seller/imports/{import}/errors.csv"):                   (LOGIN, BECOME, 200, 404, BECOME, BECOME),
    ("GET",    "/moderation/duplicates/"):                               (LOGIN, 403, 403, 403, 200, 200),
    ("POST",   "/moderation/duplicates/dismiss/"):                       (LOGIN, 403, 403, 403, 302, 302),
    ("GET",    "/moderation/duplicates/{pair}/"):                        (LOGIN, 403, 403, 403, 200, 200),
    ("POST",   "/moderation/duplicates/{pair}/decide/"):                 (LOGIN, 403, 403, 403, 302, 302),
    ("POST",   "/moderation/duplicates/{decided}/undo/"):                (LOGIN, 403, 403, 403, 302, 302),
}
# fmt: on

# URL patterns that are not the product's own endpoints: Django's admin and the media files.
NOT_IN_MATRIX = re.compile(r"^/(admin/|media/)")


def body_for(method: str, path: str, world: dict):
    """(data, format) that the role allowed to call the endpoint gets a success with."""
    if path == "/api/products/" or method == "PUT":
        return {"title": "Mug", "price": "5.00"}, "json"
    if path.endswith("/images/") and method == "POST":
        photo = SimpleUploadedFile("new.jpg", make_image_bytes(seed=99), "image/jpeg")
        return {"image": [photo]}, "multipart"
    return {
        ("PATCH", "/api/products/{product}/"): ({"title": "Renamed"}, "json"),
        ("POST", "/api/products/{product}/images/order/"): (
            {"order": [world["image2"], world["image"]]}, "json"),
        ("PATCH", "/api/products/{product}/images/{image}/"): ({"kind": "lifestyle"}, "json"),
        ("POST", "/api/search/"): ({"text": "red"}, "json"),
        ("POST", "/api/auth/token/"): (
            {"username": world["seller_username"], "password": PASSWORD}, "json"),
        ("POST", "/api/duplicates/{pair}/decision/"): ({"action": "dismiss"}, "json"),
        ("POST", "/seller/products/{product}/status/"): ({"action": "hide"}, None),
        ("POST", "/moderation/duplicates/{pair}/decide/"): ({"action": "dismiss"}, None),
    }.get((method, path), (None, None))  # fmt: skip


@pytest.fixture
def world(word_space, word_embedder, settings):
    """Every role's user, the seller's catalog, two duplicate pairs and an import."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # 6 users a test
    space_activate(name="words")
    seller, other = SellerFactory(), SellerFactory()
    moderator = UserFactory()
    moderator.groups.add(Group.objects.get_or_create(name=MODERATORS_GROUP)[0])
    users = {
        "shopper": UserFactory(), "seller": seller.user, "other_seller": other.user,
        "moderator": moderator, "staff": UserFactory(is_staff=True),
    }  # fmt: skip
    product = add(word_space, axis("red"), title="Red scarf", seller=seller)
    image2 = ProductImageFactory(product=product, position=1)
    draft = ProductFactory(seller=seller, status=ProductStatus.DRAFT)
    theirs = add(word_space, axis("red"), title="Red scarf too", seller=other)
    pair = candidate_for(product, theirs)
    decided = candidate_for(draft, ProductFactory(seller=other), probability=0.5)
    dedupe_services.candidate_decide(candidate_id=decided.pk, moderator=moderator,
                                     action="dismiss")  # fmt: skip
    job = ImportJob.objects.create(
        seller=seller, csv_file=ContentFile(b"title\n", name="in.csv"), status="done",
        error_report=ContentFile(b"row,error\n2,bad price\n", name="errors.csv"),
    )  # fmt: skip
    return {
        "users": users,
        "tokens": {role: Token.objects.create(user=user).key for role, user in users.items()},
        "product": product.pk, "draft": draft.pk, "image": product.images.first().pk,
        "image2": image2.pk, "pair": pair.pk, "decided": decided.pk, "import": job.pk,
        "seller_username": seller.user.username,
    }  # fmt: skip


def outcome(response) -> int | str:
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith("/accounts/login/"):
            return LOGIN
        if location == "/seller/become/":
            return BECOME
    return response.status_code


def call(role: str, method: str, path: str, world: dict):
    url = re.sub(r"\{(\w+)\}", lambda m: str(world[m.group(1)]), path)
    data, format = body_for(method, path, world)
    if path.startswith("/api/"):
        client = APIClient()
        if role != "anonymous":
            client.credentials(HTTP_AUTHORIZATION=f"Token {world['tokens'][role]}")
        kwargs = {"format": format} if data is not None else {}
        return getattr(client, method.lower())(url, data, **kwargs)
    client = Client()
    if role != "anonymous":
        client.force_login(world["users"][role])
    return getattr(client, method.lower())(url, data or {})


@pytest.mark.parametrize("method, path", list(MATRIX), ids=[" ".join(key) for key in MATRIX])
def test_each_role_gets_the_answer_the_matrix_says(world, method, path):
    got = {}
    for role in ROLES:
        with transaction.atomic():
            response = call(role, method, path, world)
            got[role] = outcome(response)
            if getattr(response, "file_to_stream", None):  # the error report's FileResponse
                response.file_to_stream.close()  # (not response.close(): it ends the "request")
            transaction.set_rollback(True)
    expected = dict(zip(ROLES, MATRIX[method, path], strict=True))
    wrong = {role: f"expected {expected[role]}, got {got[role]}" for role in ROLES
             if got[role] != expected[role]}  # fmt: skip
    assert not wrong, f"{method} {path}: {wrong}"


def shape(path: str) -> str:
    """A path with every parameter written ``{}``, as URL patterns and MATRIX rows compare."""
    return re.sub(r"\{\w+\}", "{}", path)


def test_every_url_the_project_serves_has_a_row():
    listed = {shape(path) for _, path in MATRIX}
    served = {shape(path) for path, _ in url_routes() if not NOT_IN_MATRIX.match(path)}
    assert served - listed == set(), "add these to MATRIX"
    assert listed - served == set(), "MATRIX lists URLs that no longer exist"


def test_every_api_operation_has_a_row(client):
    schema = client.get("/api/schema/?format=json").json()
    listed = {(method, shape(path)) for method, path in MATRIX}
    documented = {
        (method.upper(), shape(path))
        for path, item in schema["paths"].items()
        for method in item
    }  # fmt: skip
    assert documented - listed == set(), "add these operations to MATRIX"
