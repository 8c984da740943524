"""Shared helpers for the search tests of engineer C2: a word-based fake embedder whose vectors
are easy to reason about, and a way to add products with stored image vectors. The fixtures
built on them (``word_embedder``, ``word_space``) are in tests/conftest.py."""

from __future__ import annotations

import numpy as np

from tests.factories import ProductFactory, ProductImageFactory
from visualsearch.attributes import TAXONOMY
from visualsearch.models import ImageEmbedding

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
