import pytest


@pytest.mark.django_db
def test_the_openapi_schema_builds_and_swagger_ui_is_served_without_a_cdn(client):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn.jsdelivr" not in docs.content
    assert b"swagger-ui" in docs.content
