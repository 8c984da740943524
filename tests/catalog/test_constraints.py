from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from catalog.models import Product
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "field, value",
    [("price", Decimal("-0.01")), ("currency", "eur"), ("title", ""), ("status", "merged")],
)
def test_the_database_refuses_invalid_products(field, value):
    product = ProductFactory()
    setattr(product, field, value)
    with pytest.raises(IntegrityError), transaction.atomic():
        product.save()


def test_external_ids_are_unique_per_seller_only():
    product = ProductFactory(external_id="X")
    ProductFactory(external_id="X")  # another seller
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductFactory(external_id="X", seller=product.seller)


def test_a_merged_product_must_point_at_its_canonical():
    canonical, other = ProductFactory(), ProductFactory()
    Product.objects.filter(pk=other.pk).update(status="merged", merged_into=canonical)
    other.refresh_from_db()
    assert other.merged_into == canonical
