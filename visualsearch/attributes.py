"""Zero-shot product attributes from any :class:`~visualsearch.embedders.Embedder`.

Each facet (colour, pattern, ...) lists labels; each label is embedded through several prompt
templates and averaged (prompt ensembling, as in CLIP). An image's confidences for a facet are a
softmax over its cosine to each label, sharpened by ``temperature`` because cosines of normalised
vectors sit in a narrow band. Prompt embeddings are cached per embedder, so scoring many images
costs one matrix product per facet. Pure: no ORM.
"""

from __future__ import annotations

import functools
import re
import threading
import weakref

import numpy as np

from visualsearch.vectors import rows_normalise

TEMPLATES: tuple[str, ...] = ("a photo of a {} product.", "{}", "a {} item of clothing.")

# fmt: off
TAXONOMY: dict[str, dict] = {
    "colour": {
        "templates": ("a photo of a {} product.", "{}", "a {} coloured item."),
        "labels": [  # the shipped colour head's labels (visualsearch/weights)
            "beige", "black", "blue", "bronze", "brown", "burgundy", "charcoal", "coffee brown",
            "copper", "cream", "gold", "green", "grey", "grey melange", "khaki", "lavender",
            "magenta", "maroon", "metallic", "multi", "mushroom brown", "mustard", "navy blue",
            "nude", "off white", "olive", "orange", "peach", "pink", "purple", "red", "rose",
            "rust", "sea green", "silver", "skin", "steel", "tan", "teal", "turquoise blue",
            "white", "yellow",
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
        "labels": [  # the shipped item-type head's labels (the fashion set's articleTypes)
            "accessory gift set", "baby dolls", "backpacks", "bangle", "basketballs", "bath robe",
            "beauty accessory", "belts", "blazers", "body lotion", "booties", "boxers", "bra",
            "bracelet", "briefs", "camisoles", "capris", "caps", "casual shoes", "churidar",
            "clothing set", "clutches", "compact", "cufflinks", "deodorant", "dresses",
            "duffel bag", "dupatta", "earrings", "eyeshadow", "face moisturisers",
            "face scrub and exfoliator", "face wash and cleanser", "flats", "flip flops",
            "footballs", "formal shoes", "foundation and primer", "fragrance gift set",
            "free gifts", "gloves", "hair colour", "handbags", "hat", "headband", "heels",
            "highlighter and blush", "innerwear vests", "jackets", "jeans", "jeggings",
            "jewellery set", "jumpsuit", "kajal and eyeliner", "kurta sets", "kurtas", "kurtis",
            "laptop bag", "leggings", "lip gloss", "lip liner", "lipstick", "lounge pants",
            "lounge shorts", "mascara", "messenger bag", "mobile pouch", "mufflers",
            "nail polish", "necklace and chains", "nehru jackets", "night suits", "nightdress",
            "patiala", "pendant", "perfume and body mist", "rain jacket", "rain trousers", "ring",
            "robe", "rompers", "rucksacks", "salwar", "salwar and dupatta", "sandals", "sarees",
            "scarves", "shirts", "shoe accessories", "shorts", "skirts", "socks",
            "sports sandals", "sports shoes", "stockings", "stoles", "sunglasses", "sunscreen",
            "suspenders", "sweaters", "sweatshirts", "swimwear", "ties", "tops", "track pants",
            "tracksuits", "travel accessory", "trousers", "trunk", "tshirts", "tunics",
            "waist pouch", "wallets", "watches",
        ],
    },
}
# fmt: on

_WORD = re.compile(r"[a-z]+")
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


def facet_probabilities(
    image_vectors: np.ndarray,
    embedder,
    taxonomy: dict[str, dict] = TAXONOMY,
    *,
    temperature: float = 100.0,
    heads=None,
    titles: list[str | None] | None = None,
) -> dict[str, tuple[list[str], np.ndarray]]:
    """{facet: (labels, (n_images, n_labels) probabilities)}.

    Without ``heads`` (a space with no calibration, e.g. a downloaded CLIP), every facet is
    zero-shot at ``temperature``. With a :class:`~visualsearch.heads.SpaceHeads`, a facet that
    has a supervised head uses it (its own labels; temperature-scaled, and its top label's
    confidence calibrated by the head's monotone map), a zero-shot facet uses its
    calibrated temperature, and a facet with neither is left out: its confidences would not mean
    anything, so it is unknown. With ``titles`` (one per image: its product's title), a head
    with title evidence also reads the labels the title names (:meth:`Head.confidences`).
    """
    vecs = np.asarray(image_vectors, dtype=np.float32)
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    for facet, spec in taxonomy.items():
        if heads is not None and facet in heads.heads:
            head = heads.heads[facet]
            named = (
                labels_named_matrix(titles, head.labels)
                if titles is not None and head.title_weight > 0
                else None
            )
            out[facet] = (list(head.labels), head.confidences(vecs, named))
            continue
        if heads is not None and facet not in heads.zero_shot_temperature:
            continue
        scale = 1.0 / heads.zero_shot_temperature[facet] if heads is not None else temperature
        labels = list(spec["labels"])
        emb = label_embeddings(
            labels=labels, templates=tuple(spec.get("templates", TEMPLATES)), embedder=embedder
        )
        out[facet] = (labels, _softmax(scale * (vecs @ emb.T)))
    return out


def attributes_score(
    image_vectors: np.ndarray,
    embedder,
    taxonomy: dict[str, dict] = TAXONOMY,
    *,
    temperature: float = 100.0,
    top_k: int | None = None,
    heads=None,
    titles: list[str | None] | None = None,
) -> list[dict[str, list[tuple[str, float]]]]:
    """Per image, per facet: [(label, confidence)] sorted by confidence; each facet sums to 1,
    or less where a supervised head's calibrated top label left less for the others than they
    had (none is ever shown above the top label).

    See :func:`facet_probabilities` for where the confidences come from."""
    vecs = np.asarray(image_vectors, dtype=np.float32)
    results: list[dict[str, list[tuple[str, float]]]] = [{} for _ in range(len(vecs))]
    scored = facet_probabilities(
        vecs, embedder, taxonomy, temperature=temperature, heads=heads, titles=titles
    )
    for facet, (labels, probs) in scored.items():
        for row, p in zip(results, probs, strict=True):
            order = np.argsort(-p)[: top_k or len(labels)]
            row[facet] = [(labels[i], float(p[i])) for i in order]
    return results


# The search filter (API and page parameter) for each facet. The "category" facet is filtered as
# ``item_type`` so it never clashes with the catalog category filter (a category slug).
ATTRIBUTE_PARAMS: dict[str, str] = {
    facet: ("item_type" if facet == "category" else facet) for facet in TAXONOMY
}


def colour_named(text: str, labels: list[str]) -> str | None:
    """The colour label that ``text`` names ("in navy blue" → "navy blue"), longest first, as
    whole words; None when it names none."""
    words = " " + " ".join(_WORD.findall((text or "").lower())) + " "
    for label in sorted(labels, key=len, reverse=True):
        if f" {label} " in words:
            return label
    return None


@functools.lru_cache(maxsize=65536)
def _forms(word: str) -> frozenset[str]:
    """The forms a word may take as a label: itself and its singulars ("ties" → "tie",
    "dresses" → "dress", "hoodies" → "hoody"), so plural and singular names meet."""
    forms = {word}
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        forms.add(word[:-1])
        if word.endswith("es"):
            forms.add(word[:-2])
        if word.endswith("ies"):
            forms.add(word[:-3] + "y")
    return frozenset(forms)


@functools.lru_cache(maxsize=64)
def _label_index(labels: tuple[str, ...]) -> dict[str, list[tuple[int, str, tuple]]]:
    """{a form of a label's first word: [(priority, label, its words' forms)]}; priority 0 is
    the label with the most words, then the longest."""
    index: dict[str, list[tuple[int, str, tuple]]] = {}
    ordered = sorted(labels, key=lambda x: (-len(x.split()), -len(x), x))
    for priority, label in enumerate(ordered):
        parts = tuple(_forms(w) for w in _WORD.findall(label.lower()))
        for form in parts[0] if parts else ():
            index.setdefault(form, []).append((priority, label, parts))
    return index


@functools.lru_cache(maxsize=65536)
def _labels_named(text: str, labels: tuple[str, ...]) -> tuple[str, ...]:
    tokens = _WORD.findall(text.lower())
    words = [_forms(w) for w in tokens]
    joined = [_forms(a + b) for a, b in zip(tokens, tokens[1:], strict=False)]
    index = _label_index(labels)
    matches = set()  # (priority, written together, start, words taken, label)
    for i, forms in enumerate(words):
        for form in forms:
            for priority, label, parts in index.get(form, ()):
                n = len(parts)
                if i + n <= len(words) and all(
                    not words[i + j].isdisjoint(parts[j]) for j in range(1, n)
                ):
                    matches.add((priority, 0, i, n, label))
    for i, forms in enumerate(joined):
        for form in forms:
            for priority, label, parts in index.get(form, ()):
                if len(parts) == 1:
                    matches.add((priority, 1, i, 2, label))
    taken = [False] * len(words)
    found: list[str] = []
    for _, _, i, n, label in sorted(matches):
        if label in found or any(taken[i : i + n]):
            continue
        taken[i : i + n] = [True] * n
        found.append(label)
    return tuple(found)


def labels_named(text: str, labels: list[str]) -> list[str]:
    """The labels that ``text`` (a product title) names as whole words, in any number: "Navy
    Blue T-Shirts" names "navy blue" and "tshirts". Longer labels are matched first and the words
    they use are taken, so "navy blue" leaves no "blue"; a one-word label also matches two
    adjacent words written together ("t shirt" → "tshirts"). Cached per (text, labels)."""
    return list(_labels_named(text or "", tuple(labels)))


def labels_named_matrix(texts: list[str | None], labels: list[str]) -> np.ndarray:
    """(len(texts), len(labels)) of 0/1: which labels each text names (:func:`labels_named`)."""
    index = {label: j for j, label in enumerate(labels)}
    out = np.zeros((len(texts), len(labels)), dtype=np.float64)
    for i, text in enumerate(texts):
        for label in labels_named(text or "", labels):
            out[i, index[label]] = 1.0
    return out


# Words a shopper uses for a facet label ("without stripes" → pattern "striped").
LABEL_SYNONYMS: dict[str, tuple[str, ...]] = {
    "striped": ("stripes", "stripe", "striped", "stripy"),
    "checked": ("checks", "check", "checked", "checkered", "plaid"),
    "printed": ("print", "prints", "printed"),
    "floral": ("floral", "flowers", "flower", "flowery"),
    "polka dot": ("polka dot", "polka dots", "dots", "dotted"),
    "camouflage": ("camouflage", "camo"),
    "solid": ("solid", "plain"),
}
_FILLER = {"in", "but", "the", "a", "an", "colour", "color", "like", "this", "one", "please",
           "with", "and", "same", "it", "make", "instead"}  # fmt: skip


def modifier_split(text: str, *, heads) -> tuple[str | None, str]:
    """(colour label, the rest of the text) of a photo query's text modifier. The colour is one
    the space's colour head knows ("in navy blue"); the rest drops filler words, so "but in red"
    leaves nothing to mix into the photo's vector. Without a colour head: (None, text)."""
    head = heads.heads.get("colour") if heads is not None else None
    if head is None or not (text or "").strip():
        return None, text or ""
    colour = colour_named(text, head.labels)
    if colour is None:
        return None, text
    words = " ".join(_WORD.findall(text.lower()))
    rest = f" {words} ".replace(f" {colour} ", " ").split()
    rest = [w for w in rest if w not in _FILLER]
    return colour, " ".join(rest)


def negative_attributes(text: str, *, heads) -> dict[str, str]:
    """{facet: label} that a negative text names ("stripes" → {"pattern": "striped"}), so
    results with that (confident) attribute are left out. Only facets the space scores."""
    if heads is None or not (text or "").strip():
        return {}
    words = " " + " ".join(_WORD.findall(text.lower())) + " "
    out: dict[str, str] = {}
    for facet, spec in TAXONOMY.items():
        if facet not in heads.heads and facet not in heads.zero_shot_temperature:
            continue
        labels = heads.heads[facet].labels if facet in heads.heads else list(spec["labels"])
        for label in sorted(labels, key=len, reverse=True):
            names = LABEL_SYNONYMS.get(label, (label,))
            if any(f" {name} " in words for name in names):
                out[facet] = label
                break
    return out
