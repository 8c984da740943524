from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile

from catalog.models import Category, Product, ProductImage, Seller
from tests.support import make_image_bytes


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests-1")


class SellerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Seller

    user = factory.SubFactory(UserFactory)
    display_name = factory.Sequence(lambda n: f"Seller {n}")
    slug = factory.Sequence(lambda n: f"seller-{n}")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    seller = factory.SubFactory(SellerFactory)
    external_id = factory.Sequence(lambda n: f"ext-{n}")
    title = factory.Sequence(lambda n: f"Product {n}")
    price = Decimal("19.99")
    currency = "EUR"
    category = factory.SubFactory(CategoryFactory)


class ProductImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductImage

    product = factory.SubFactory(ProductFactory)
    position = 0
    width = 64
    height = 64
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    file = factory.LazyAttribute(
        lambda o: ContentFile(make_image_bytes(seed=int(o.sha256, 16)), name="p.jpg")
    )
