"""Shared set-up for the dedupe database tests: a tiny 8-d active space, hand-made vectors and
pairs (`candidate_for`)."""

import zlib
from decimal import Decimal

import numpy as np
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile

from dedupe.models import DuplicateCandidate
from tests.factories import ProductFactory, ProductImageFactory, UserFactory
from tests.support import make_image_bytes
from visualsearch.models import ImageEmbedding, TitleEmbedding


def unit(*values):
    vector = np.zeros(8, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def photo_of(title: str) -> bytes:
    """A photo that differs from product to product: colour and shape follow the title."""
    code = zlib.crc32(title.encode())
    colour = (code & 0xFF, (code >> 8) & 0xFF, (code >> 16) & 0xFF)
    return make_image_bytes(colour=colour, shape="circle" if code & 1 else "rect", seed=code)


def listed(space, *, vector, title_vector=None, price="49.99", photo=None, **fields):
    """An active product with one image (and its vector) and a title vector in ``space``.

    ``photo``: the image's bytes; by default one of its own (`photo_of` its title), so that
    only listings meant to share a photo look alike to copy detection.
    """
    product = ProductFactory(price=Decimal(price), **fields)
    image = ProductImageFactory(
        product=product, file=ContentFile(photo or photo_of(product.title), name="p.jpg")
    )
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


def candidate_for(a, b, probability=0.9):
    a, b = sorted([a, b], key=lambda p: p.pk)
    return DuplicateCandidate.objects.create(
        product_a=a, product_b=b, signals={"token_set": 0.9}, probability=probability,
        seller_a=a.seller, seller_b=b.seller, category=a.category,
    )  # fmt: skip
