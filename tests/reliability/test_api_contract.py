"""The API's schema and its behaviour agree (issue 14, defect 8): who may call an operation,
which errors it answers and in which shape, and which values it accepts."""

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from catalog import selectors
from tests.dedupe.helpers import candidate_for, moderator
from tests.factories import ProductFactory, ProductImageFactory, SellerFactory, UserFactory
from tests.visualsearch.search_helpers import add, axis
from visualsearch.spaces import space_activate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttles")]

ERRORS = {"$ref": "#/components/schemas/Errors"}


@pytest.fixture
def schema(client):
    return client.get("/api/schema/?format=json").json()


def operation(schema, method: str, path: str) -> dict:
    return schema["paths"][path][method.lower()]


def query_parameter(schema, method: str, path: str, name: str) -> dict:
    (found,) = [p for p in operation(schema, method, path)["parameters"] if p["name"] == name]
    return found["schema"]


def request_schema(schema, method: str, path: str, media: str = "application/json") -> dict:
    ref = operation(schema, method, path)["requestBody"]["content"][media]["schema"]["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


@pytest.fixture
def active(word_space, word_embedder):
    space_activate(name="words")
    return add(word_space, axis("red"), title="Red scarf")


# ----------------------------------------------------------------------------- who may call
@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/api/products/"),
        ("GET", "/api/products/{id}/"),
        ("GET", "/api/products/{id}/images/"),
        ("GET", "/api/products/{product_id}/similar/"),
        ("POST", "/api/search/"),
        ("POST", "/api/auth/token/"),
    ],
)
def test_public_operations_are_documented_as_needing_no_authentication(schema, method, path):
    assert {} in operation(schema, method, path)["security"]


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/api/products/"),
        ("PATCH", "/api/products/{id}/"),
        ("GET", "/api/sellers/me/"),
        ("DELETE", "/api/auth/token/"),
        ("GET", "/api/duplicates/"),
        ("POST", "/api/duplicates/{id}/decision/"),
    ],
)
def test_operations_for_signed_in_users_are_documented_as_needing_authentication(
    schema, method, path
):
    security = operation(schema, method, path)["security"]
    assert {} not in security
    assert {"tokenAuth": []} in security


def test_anonymous_on_a_moderators_endpoint_is_told_to_authenticate_with_401():
    response = APIClient().get("/api/duplicates/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {
        "errors": {"detail": ["Authentication credentials were not provided."]}
    }
    decision = APIClient().post("/api/duplicates/1/decision/", {"action": "dismiss"})
    assert decision.status_code == 401


def test_a_bad_token_on_a_moderators_endpoint_is_a_401():
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert api.get("/api/duplicates/").status_code == 401


def test_a_signed_in_user_who_is_not_a_moderator_gets_403():
    api = APIClient()
    api.force_authenticate(UserFactory())
    assert api.get("/api/duplicates/").status_code == 403


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "method, path, statuses",
    [
        ("POST", "/api/duplicates/{id}/decision/", {"400", "401", "403", "404", "409", "415"}),
        ("POST", "/api/duplicates/{id}/undo/", {"401", "403", "404", "409"}),
        ("GET", "/api/duplicates/", {"400", "401", "403"}),
        ("GET", "/api/products/", {"400", "401", "404"}),
        ("GET", "/api/products/{id}/", {"401", "404"}),
        ("POST", "/api/products/{id}/images/", {"400", "401", "403", "404", "415", "429"}),
        ("POST", "/api/search/", {"400", "401", "403", "415", "429", "503"}),
        ("GET", "/api/products/{product_id}/similar/", {"400", "401", "404", "409", "429", "503"}),
        ("GET", "/api/sellers/me/", {"401", "404"}),
        ("POST", "/api/auth/token/", {"400", "401", "403", "415", "429"}),
    ],
)
def test_every_error_an_operation_can_answer_is_documented_with_the_error_shape(
    schema, method, path, statuses
):
    responses = operation(schema, method, path)["responses"]
    errors = {code for code in responses if code[0] in "45"}
    assert errors == statuses
    for code in errors:
        assert responses[code]["content"]["application/json"]["schema"] == ERRORS, code


def test_a_public_read_documents_no_403(schema):
    assert "403" not in operation(schema, "GET", "/api/products/{id}/")["responses"]


def test_an_api_path_that_matches_no_route_answers_a_json_404():
    for path in ["/api/products/abc/", "/api/nothing-here/", "/api/products/1/images/x/"]:
        response = Client().get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"errors": {"detail": ["Not found."]}}


def test_a_page_that_matches_no_route_is_still_the_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_unhandled_error_in_the_api_answers_a_json_500(monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "products_filter", broken)
    response = Client(raise_request_exception=False).get("/api/products/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"errors": {"detail": ["Server error."]}}


def test_an_unhandled_error_on_a_page_is_still_the_html_500(monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "product_get", broken)
    response = Client(raise_request_exception=False).get("/products/1/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


# ----------------------------------------------------------------------------- accepted values
def test_the_similar_k_range_is_in_the_schema(schema, active):
    k = query_parameter(schema, "GET", "/api/products/{product_id}/similar/", "k")
    assert (k["minimum"], k["maximum"]) == (1, 100)
    diversity = query_parameter(schema, "GET", "/api/products/{product_id}/similar/", "diversity")
    assert (diversity["minimum"], diversity["maximum"]) == (0, 1)
    assert APIClient().get(f"/api/products/{active.pk}/similar/", {"k": 1}).status_code == 200
    assert APIClient().get(f"/api/products/{active.pk}/similar/", {"k": 0}).status_code == 400


@pytest.mark.parametrize("value", ["", "-1", "1e3", " 5", "12.345", ".5"])
def test_a_price_the_schema_refuses_is_refused_with_a_400_on_the_price(schema, value):
    pattern = request_schema(schema, "POST", "/api/products/")["properties"]["price"]["pattern"]
    assert not re.search(pattern, value)
    seller = SellerFactory()
    api = APIClient()
    api.force_authenticate(seller.user)
    response = api.post("/api/products/", {"title": "Mug", "price": value}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["price"]


@pytest.mark.parametrize("value", ["0", "12", "12.5", "0012.50"])
def test_a_price_the_schema_accepts_is_accepted(schema, value):
    pattern = request_schema(schema, "POST", "/api/products/")["properties"]["price"]["pattern"]
    assert re.search(pattern, value)
    seller = SellerFactory()
    api = APIClient()
    api.force_authenticate(seller.user)
    response = api.post("/api/products/", {"title": "Mug", "price": value}, format="json")
    assert response.status_code == 201, response.json()


def test_an_empty_optional_price_means_no_filter_in_json_forms_and_queries(active):
    for body, format in [({"text": "red", "min_price": ""}, "json"), ({"text": "red",
                         "max_price": ""}, "multipart")]:  # fmt: skip
        response = APIClient().post("/api/search/", body, format=format)
        assert response.status_code == 200, response.json()
        assert response.json()["results"]
    response = APIClient().get("/api/products/", {"min_price": "", "max_price": ""})
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_a_negative_max_price_is_documented_as_invalid_and_refused(schema):
    pattern = query_parameter(schema, "GET", "/api/products/", "max_price")["pattern"]
    assert not pattern.startswith("^-")
    response = APIClient().get("/api/products/", {"max_price": "-1"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["max_price"]


def test_an_empty_image_patch_changes_nothing_and_is_a_200():
    image = ProductImageFactory(kind="lifestyle")
    api = APIClient()
    api.force_authenticate(image.product.seller.user)
    url = f"/api/products/{image.product_id}/images/{image.pk}/"
    response = api.patch(url, {}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["kind"] == "lifestyle"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"text": 0}, "text"),
        ({"text": "red", "k": "5"}, "k"),
        ({"text": "red", "crops": "yes"}, "crops"),
        ({"text": "red", "image_weight": "0.5"}, "image_weight"),
        ({"text": "red", "min_price": 5}, "min_price"),
        ({"text": ["red"]}, "text"),
    ],
)
def test_a_json_value_of_the_wrong_type_is_a_400_on_its_field(active, body, field):
    response = APIClient().post("/api/search/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_a_form_boolean_is_true_or_false(active):
    response = APIClient().post("/api/search/", {"text": "red", "crops": "0"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["crops"]


def test_form_values_are_text_and_still_accepted(active):
    response = APIClient().post("/api/search/", {"text": "red", "k": "5", "crops": "true"})
    assert response.status_code == 200, response.json()
    assert response.json()["k"] == 5


def test_product_and_decision_fields_are_strict_too():
    seller = SellerFactory()
    api = APIClient()
    api.force_authenticate(seller.user)
    response = api.post("/api/products/", {"title": 5, "price": 5, "category": "1"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"title", "price", "category"}
    candidate = candidate_for(ProductFactory(), ProductFactory())
    api.force_authenticate(moderator())
    response = api.post(
        f"/api/duplicates/{candidate.pk}/decision/", {"action": "dismiss", "note": 1}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["note"]


def test_a_search_needs_a_photo_or_words_and_the_schema_says_so(schema, active):
    upload = request_schema(schema, "POST", "/api/search/", "multipart/form-data")
    assert [branch["required"] for branch in upload["anyOf"]] == [["image"], ["text"]]
    body = request_schema(schema, "POST", "/api/search/")
    assert "image" not in body["properties"]  # photos are multipart uploads
    assert [branch["required"] for branch in body["anyOf"]] == [["text"]]
    for empty in [{}, {"text": "   "}]:
        response = APIClient().post("/api/search/", empty, format="json")
        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["non_field_errors"]
