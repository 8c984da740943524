"""Zero-shot product attributes from any :class:`~visualsearch.embedders.Embedder`.

Each facet (colour, pattern, ...) lists labels; each label is embedded through several prompt
templates and averaged (prompt ensembling, as in CLIP). An image's confidences for a facet are a
softmax over its cosine to each label, sharpened by ``temperature`` because cosines of normalised
vectors sit in a narrow band. Prompt embeddings are cached per embedder, so scoring many images
costs one matrix product per facet. Pure: no ORM.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

from visualsearch.vectors import rows_normalise

TEMPLATES: tuple[str, ...] = ("a photo of a {} product.", "{}", "a {} item of clothing.")

TAXONOMY: dict[str, dict] = {
    "colour": {
        "templates": ("a photo of a {} product.", "{}", "a {} coloured item."),
        "labels": [
            "black",
            "white",
            "blue",
            "navy blue",
            "red",
            "green",
            "grey",
            "brown",
            "pink",
            "purple",
            "yellow",
            "orange",
            "beige",
            "silver",
            "gold",
            "maroon",
        ],
    },
    "pattern": {
        "labels": ["solid", "striped", "checked", "printed", "floral", "polka dot", "camouflage"],
    },
    "style": {"labels": ["casual", "formal", "sports", "ethnic", "party"]},
    "season": {"labels": ["summer", "winter", "spring", "fall"]},
    "fit": {"labels": ["slim fit", "regular fit", "loose fit"]},
    "category": {
        "templates": ("a photo of a {}.", "{}", "a product photo of a {}."),
        "labels": [
            "t-shirt",
            "shirt",
            "top",
            "dress",
            "jeans",
            "trousers",
            "shorts",
            "skirt",
            "jacket",
            "sweater",
            "kurta",
            "shoes",
            "sneakers",
            "sandals",
            "heels",
            "flip flops",
            "handbag",
            "backpack",
            "wallet",
            "watch",
            "belt",
            "sunglasses",
            "cap",
            "socks",
        ],
    },
}

_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def label_embeddings(*, labels: list[str], templates: tuple[str, ...], embedder) -> np.ndarray:
    """Prompt-ensembled, re-normalised text embeddings (len(labels), dim), cached per embedder."""
    key = (tuple(labels), tuple(templates))
    with _lock:
        per_model = _cache.setdefault(embedder, {})
        if key in per_model:
            return per_model[key]
    prompts = [t.format(label) for label in labels for t in templates]
    vecs = embedder.encode_texts(prompts).reshape(len(labels), len(templates), -1).mean(axis=1)
    with _lock:
        per_model[key] = rows_normalise(vecs)
    return per_model[key]


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


def attributes_score(
    image_vectors: np.ndarray,
    embedder,
    taxonomy: dict[str, dict] = TAXONOMY,
    *,
    temperature: float = 100.0,
    top_k: int | None = None,
) -> list[dict[str, list[tuple[str, float]]]]:
    """Per image, per facet: [(label, confidence)] sorted by confidence; each facet sums to 1."""
    vecs = np.asarray(image_vectors, dtype=np.float32)
    results: list[dict[str, list[tuple[str, float]]]] = [{} for _ in range(len(vecs))]
    for facet, spec in taxonomy.items():
        labels = list(spec["labels"])
        emb = label_embeddings(
            labels=labels, templates=tuple(spec.get("templates", TEMPLATES)), embedder=embedder
        )
        probs = _softmax(temperature * (vecs @ emb.T))
        for row, p in zip(results, probs, strict=True):
            order = np.argsort(-p)[: top_k or len(labels)]
            row[facet] = [(labels[i], float(p[i])) for i in order]
    return results


# The search filter (API and page parameter) for each facet. The "category" facet is filtered as
# ``item_type`` so it never clashes with the catalog category filter (a category slug).
ATTRIBUTE_PARAMS: dict[str, str] = {
    facet: ("item_type" if facet == "category" else facet) for facet in TAXONOMY
}
