import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import ProductImageFactory, UserFactory


@pytest.mark.django_db
def test_every_admin_list_and_search_page_opens_for_an_admin(client):
    ProductImageFactory()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = client.get(url, {"q": "x"})
        assert response.status_code == 200, url
