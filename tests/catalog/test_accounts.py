import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.models import Seller
from tests.factories import SellerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_signing_up_logs_the_new_user_in(client):
    response = client.post(
        "/accounts/signup/",
        {"username": "newbie", "password1": "a-Long-pass-42", "password2": "a-Long-pass-42"},
    )
    assert response.status_code == 302
    assert get_user_model().objects.filter(username="newbie").exists()
    assert client.get("/accounts/").context["user"].username == "newbie"


def test_sign_up_errors_are_shown_next_to_the_field(client):
    response = client.post(
        "/accounts/signup/", {"username": "x", "password1": "a", "password2": "b"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["password2"]
    assert 'class="field-error"' in response.content.decode()


def test_logging_in_and_out(client):
    UserFactory(username="ann")
    response = client.post("/accounts/login/", {"username": "ann", "password": "pw-for-tests-1"})
    assert response.status_code == 302
    assert client.get("/accounts/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/accounts/").status_code == 302  # back to the login page


def test_a_wrong_password_is_refused_with_a_message(client):
    UserFactory(username="ann")
    response = client.post("/accounts/login/", {"username": "ann", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_login_attempts_are_throttled_per_ip_and_username(client, settings):

    cache.clear()
    rates = dict(settings.REST_FRAMEWORK)
    rates["DEFAULT_THROTTLE_RATES"] = {**rates["DEFAULT_THROTTLE_RATES"], "login": "2/min"}
    settings.REST_FRAMEWORK = rates
    UserFactory(username="ann")
    codes = [
        client.post("/accounts/login/", {"username": "ann", "password": "nope"}).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    blocked = client.post("/accounts/login/", {"username": "ann", "password": "pw-for-tests-1"})
    assert blocked.status_code == 429
    assert "Too many log-in attempts" in blocked.content.decode()
    # another username from the same address is not blocked
    UserFactory(username="bob")
    assert (
        client.post(
            "/accounts/login/", {"username": "bob", "password": "pw-for-tests-1"}
        ).status_code
        == 302
    )
    cache.clear()


def test_password_change(client):
    user = UserFactory(username="ann")
    client.force_login(user)
    response = client.post(
        "/accounts/password/",
        {"old_password": "pw-for-tests-1", "new_password1": "n3w-Secret-pw", "new_password2":
         "n3w-Secret-pw"},
    )  # fmt: skip
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("n3w-Secret-pw")


def test_becoming_a_seller_creates_the_profile_and_joins_the_sellers_group(client):
    user = UserFactory(username="Ann Smith")
    client.force_login(user)
    assert client.get("/seller/").url == "/seller/become/"
    response = client.post("/seller/become/")
    assert response.url == "/seller/"
    seller = Seller.objects.get(user=user)
    assert seller.slug == "ann-smith"
    assert user.groups.filter(name="sellers").exists()
    assert client.get("/seller/").status_code == 200
    # asking again changes nothing
    client.post("/seller/become/")
    assert Seller.objects.filter(user=user).count() == 1


def test_a_seller_slug_taken_by_an_import_gets_a_suffix(client):
    SellerFactory(slug="ann", user=None)
    user = UserFactory(username="ann")
    client.force_login(user)
    client.post("/seller/become/")
    assert Seller.objects.get(user=user).slug == "ann-2"


def test_the_account_page_creates_shows_once_and_revokes_a_token(client):
    user = UserFactory(username="ann")
    client.force_login(user)
    page = client.post("/accounts/token/", follow=True).content.decode()
    token = Token.objects.get(user=user)
    assert token.key in page
    assert token.key not in client.get("/accounts/").content.decode()  # shown only once

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/sellers/me/").status_code in {200, 404}  # authenticated either way

    client.post("/accounts/token/revoke/")
    assert not Token.objects.filter(user=user).exists()
    response = api.get("/api/sellers/me/")
    assert response.status_code == 401
    assert list(response.json()["errors"]) == ["detail"]


def test_account_pages_need_a_login(client):
    for url in ["/accounts/", "/seller/", "/seller/become/", "/seller/products/new/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")
