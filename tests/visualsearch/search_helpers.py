"""Shared helpers for the search tests of engineer C2: a word-based fake embedder whose vectors
are easy to reason about, and a way to add products with stored image vectors."""

from __future__ import annotations

import numpy as np
import pytest

from tests.factories import ProductFactory, ProductImageFactory
from visualsearch.attributes import TAXONOMY
from visualsearch.models import ImageEmbedding
from visualsearch.spaces import space_register

DIM = 256  # room for every taxonomy word (the item-type labels are many)
VOCAB: list[str] = sorted(
    {word for spec in TAXONOMY.values() for label in spec["labels"] for word in label.split()}
    | {"velvet", "scarf", "bag", "lamp"}
)
assert len(VOCAB) < DIM - 1
PALETTE = {"red": (250, 0, 0), "blue": (0, 0, 250), "green": (0, 200, 0)}


def axis(*words: str) -> np.ndarray:
    """The normalised sum of the words' axes (unknown words share the last axis)."""
    vector = np.zeros(DIM, dtype=np.float32)
    for word in words:
        vector[VOCAB.index(word) if word in VOCAB else DIM - 1] += 1
    return vector / np.linalg.norm(vector)


class WordEmbedder:
    """Texts → the sum of their known words' axes; images → their colours' axes, weighted by
    how many pixels have each colour (white pixels ignored)."""

    dim = DIM
    name = "words"

    def encode_texts(self, texts):
        rows = []
        for text in texts:
            words = [w.strip(".,").lower() for w in text.split()]
            known = [w for w in words if w in VOCAB] or ["?"]
            rows.append(axis(*known))
        return np.stack(rows)

    def encode_images(self, images):
        rows = []
        for image in images:
            pixels = np.asarray(image.convert("RGB"), dtype=np.int32).reshape(-1, 3)
            vector = np.zeros(DIM, dtype=np.float32)
            for word, colour in PALETTE.items():
                close = np.abs(pixels - np.array(colour)).sum(axis=1) < 150
                vector[VOCAB.index(word)] += close.sum()
            if not vector.any():
                vector[DIM - 1] = 1
            rows.append(vector / np.linalg.norm(vector))
        return np.stack(rows)


@pytest.fixture
def word_embedder(monkeypatch):
    embedder = WordEmbedder()
    monkeypatch.setattr("visualsearch.spaces.embedder_for", lambda space: embedder)
    return embedder


@pytest.fixture
def word_space():
    return space_register(name="words", architecture="x", pretrained="y", dimension=DIM)


def add(space, vector, **product_fields):
    """A product (or another photo of ``product=``) whose photo has ``vector`` in ``space``."""
    product = product_fields.pop("product", None) or ProductFactory(**product_fields)
    image = ProductImageFactory(product=product, position=product.images.count())
    ImageEmbedding.objects.create(
        image=image,
        product=product,
        space=space,
        vector=list(map(float, vector)),
        image_sha256=image.sha256,
    )
    return product


def ids(result) -> list[int]:
    return [product.pk for product, _ in result.results]


def field_errors(response) -> dict:
    """Per-field errors, in the global {"errors": {...}} format or DRF's plain one."""
    body = response.json()
    return body["errors"] if "errors" in body else body


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """The throttle counts live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
