"""Shared set-up for the dedupe database tests: a tiny 8-d active space and hand-made vectors."""

from decimal import Decimal

import numpy as np
from django.contrib.auth.models import Group

from tests.factories import ProductFactory, ProductImageFactory, UserFactory
from visualsearch.models import ImageEmbedding, TitleEmbedding


def unit(*values):
    vector = np.zeros(8, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def listed(space, *, vector, title_vector=None, price="49.99", **fields):
    """An active product with one image (and its vector) and a title vector in ``space``."""
    product = ProductFactory(price=Decimal(price), **fields)
    image = ProductImageFactory(product=product)
    ImageEmbedding.objects.create(
        image=image, product=product, space=space, vector=list(map(float, vector)),
        image_sha256=image.sha256,
    )  # fmt: skip
    TitleEmbedding.objects.create(
        product=product, space=space, text=product.title,
        vector=list(map(float, vector if title_vector is None else title_vector)),
    )  # fmt: skip
    return product


def moderator(username="mod"):
    user = UserFactory(username=username)
    user.groups.add(Group.objects.get_or_create(name="moderators")[0])
    return user
