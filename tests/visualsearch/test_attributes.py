"""Zero-shot attributes give normalised confidences per facet, with prompts embedded once."""

from __future__ import annotations

import numpy as np

from visualsearch.attributes import TAXONOMY, attributes_score


class FakeEmbedder:
    """Hashes each prompt to a fixed random unit vector; counts text calls."""

    name = "fake"
    dim = 16

    def __init__(self):
        self.text_calls = 0

    def _vec(self, text: str) -> np.ndarray:
        rng = np.random.default_rng(abs(hash(text)) % 2**32)
        v = rng.normal(size=self.dim)
        return v / np.linalg.norm(v)

    def encode_texts(self, texts):
        self.text_calls += 1
        return np.stack([self._vec(t) for t in texts]).astype(np.float32)

    def encode_images(self, images):
        raise NotImplementedError


def test_every_facet_has_confidences_that_sum_to_one_sorted_best_first():
    embedder = FakeEmbedder()
    images = np.random.default_rng(0).normal(size=(3, 16)).astype(np.float32)
    result = attributes_score(images, embedder)
    assert len(result) == 3
    for row in result:
        assert set(row) == set(TAXONOMY)
        for facet, pairs in row.items():
            confidences = [c for _, c in pairs]
            assert abs(sum(confidences) - 1.0) < 1e-5
            assert confidences == sorted(confidences, reverse=True)
            assert {label for label, _ in pairs} == set(TAXONOMY[facet]["labels"])


def test_an_image_at_a_label_prompt_is_scored_as_that_label():
    embedder = FakeEmbedder()
    taxonomy = {"colour": {"labels": ["red", "blue", "green"], "templates": ("{}",)}}
    images = np.stack([embedder._vec("blue"), embedder._vec("green")]).astype(np.float32)
    result = attributes_score(images, embedder, taxonomy)
    assert [r["colour"][0][0] for r in result] == ["blue", "green"]


def test_prompt_embeddings_are_computed_once_per_embedder():
    embedder = FakeEmbedder()
    images = np.ones((1, 16), dtype=np.float32)
    attributes_score(images, embedder)
    calls = embedder.text_calls
    attributes_score(images, embedder, top_k=2)
    assert embedder.text_calls == calls == len(TAXONOMY)
