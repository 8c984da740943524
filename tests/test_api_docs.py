"""The OpenAPI schema is valid and documents every URL under /api/ with request and response
shapes, including endpoints added later (search, duplicates, …)."""

import pytest
from openapi_spec_validator import validate

from tests.support import url_routes

# The schema and its viewers describe the API; they are not part of it.
NOT_DOCUMENTED = {"/api/schema/", "/api/docs/"}
BODY_METHODS = {"post", "put", "patch"}


def api_routes() -> dict[str, set[str]]:
    routes = {}
    for path, cls in url_routes():
        if not path.startswith("/api/") or path in NOT_DOCUMENTED:
            continue
        methods = {m for m in getattr(cls, "http_method_names", ()) if hasattr(cls, m)}
        # drf-spectacular writes {pk} as {id} (SCHEMA_COERCE_PATH_PK)
        routes[path.replace("{pk}", "{id}")] = methods - {"options", "head"}
    return routes


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


@pytest.mark.django_db
def test_the_openapi_schema_builds_and_swagger_ui_is_served_without_a_cdn(client, schema):
    assert schema["openapi"].startswith("3.")
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn.jsdelivr" not in docs.content
    assert b"swagger-ui" in docs.content


@pytest.mark.django_db
def test_the_schema_is_valid_openapi(schema):
    validate(schema)


@pytest.mark.django_db
def test_the_route_walker_finds_the_products_api():
    routes = api_routes()
    assert routes["/api/products/{id}/"] == {"get", "put", "patch", "delete"}
    assert "/api/search/" in routes


@pytest.mark.django_db
def test_every_api_url_and_method_is_in_the_schema(schema):
    missing = []
    for path, methods in api_routes().items():
        documented = schema["paths"].get(path, {})
        missing += [f"{method.upper()} {path}" for method in methods if method not in documented]
    assert not missing, f"not in the OpenAPI schema: {missing}"


@pytest.mark.django_db
def test_every_operation_documents_its_request_and_response_shapes(schema):
    problems = []
    for path, methods in api_routes().items():
        for method in methods:
            operation = schema["paths"].get(path, {}).get(method)
            if operation is None:
                continue  # reported by the test above
            name = f"{method.upper()} {path}"
            if method in BODY_METHODS and "requestBody" not in operation:
                if operation.get("x-request-body") != "none":
                    problems.append(f"{name}: no request body documented")
            responses = operation.get("responses", {})
            success = {code: r for code, r in responses.items() if code.startswith("2")}
            if not success:
                problems.append(f"{name}: no success response")
            for code, response in success.items():
                if code != "204" and not response.get("content"):
                    problems.append(f"{name}: response {code} has no shape")
            if not any(code.startswith("4") for code in responses):
                problems.append(f"{name}: no error response")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_errors_are_documented_with_one_shape(schema):
    errors = schema["components"]["schemas"]["Errors"]
    assert errors["required"] == ["errors"]
    ref = {"$ref": "#/components/schemas/Errors"}
    assert schema["paths"]["/api/products/"]["get"]["responses"]["400"]["content"] == {
        "application/json": {"schema": ref}
    }
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for code, response in operation["responses"].items():
                if code[0] in "45":
                    assert response["content"] == {"application/json": {"schema": ref}}, (
                        f"{method.upper()} {path} {code}"
                    )
