"""Fixtures for the catalog tests."""

import pytest

from tests.factories import SellerFactory


@pytest.fixture
def seller_client(client):
    """The test client, logged in as a new seller (``client.seller``)."""
    seller = SellerFactory()
    client.force_login(seller.user)
    client.seller = seller
    return client
