"""Pure pair signals for near-duplicate listing detection (no Django, no database).

Every signal is symmetric in the pair order, and every "no data" case is its own state rather
than a zero: a missing price is not a free listing, a missing photo is not a different photo.
`PairSignals` is what gets stored per candidate pair and shown to moderators, so it is a plain
JSON-serialisable dataclass.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
from rapidfuzz import fuzz

from dedupe import tfidf, variants
from dedupe.image_copy import aligned_similarity

Agreement = Literal["equal", "different", "missing"]
IdState = Literal["share", "conflict", "missing"]
PriceState = Literal["known", "missing", "unknown"]

_TOKEN_RE = re.compile(r"[a-z0-9]+(?:[-/._][a-z0-9]+)*")
_PUNCT_RE = re.compile(r"[^a-z0-9]+")


def normalise_text(text: str | None) -> str:
    """Lowercase and collapse whitespace; None becomes ''."""
    return " ".join((text or "").lower().split())


def identifiers(text: str | None) -> set[str]:
    """Model-number-like tokens: they contain a digit and are at least 3 chars once normalised.

    "SF16N4/TQP" and "sf16n4-tqp" both become "sf16n4tqp": sellers punctuate codes freely.
    Pure numbers count too ("121066"), since catalogue numbers are often all digits.
    """
    out = set()
    for tok in _TOKEN_RE.findall(normalise_text(text)):
        norm = _PUNCT_RE.sub("", tok)
        if len(norm) >= 3 and any(c.isdigit() for c in norm):
            out.add(norm)
    return out


def numeric_tokens(text: str | None) -> set[str]:
    """All numbers in the text (sizes, capacities, years): '24', '1.5', '500'."""
    return set(re.findall(r"\d+(?:\.\d+)?", normalise_text(text)))


def char_ngrams(text: str | None, *, n: int = 3) -> set[str]:
    s = f" {normalise_text(text)} "
    return {s[i : i + n] for i in range(max(len(s) - n + 1, 0))}


def jaccard(a: set, b: set) -> float | None:
    """Jaccard similarity; None when both sets are empty (nothing to compare)."""
    if not a and not b:
        return None
    return len(a & b) / len(a | b)


def _sym(fn, a: str, b: str) -> float:
    return max(fn(a, b), fn(b, a)) / 100.0


def title_fuzzy(*, a: str | None, b: str | None) -> dict[str, float | None]:
    """Token fuzzy similarities in [0, 1]; all None when either title is empty."""
    a_n, b_n = normalise_text(a), normalise_text(b)
    keys = ("token_set", "token_sort", "partial", "ratio", "char3_jaccard", "token_jaccard")
    if not a_n or not b_n:
        return dict.fromkeys(keys)
    return {
        "token_set": _sym(fuzz.token_set_ratio, a_n, b_n),
        "token_sort": _sym(fuzz.token_sort_ratio, a_n, b_n),
        "partial": _sym(fuzz.partial_ratio, a_n, b_n),
        "ratio": _sym(fuzz.ratio, a_n, b_n),
        "char3_jaccard": jaccard(char_ngrams(a_n), char_ngrams(b_n)),
        "token_jaccard": jaccard(set(a_n.split()), set(b_n.split())),
    }


def identifier_agreement(*, a: set[str], b: set[str]) -> tuple[IdState, float | None]:
    """share / conflict / missing, plus the longest shared-identifier length ratio.

    A code in one listing that appears *inside* a longer code of the other (e.g. "lds4821"
    in "lds4821ww") counts as shared: colour / region suffixes are common.
    """
    if not a or not b:
        return "missing", None
    best = 0
    for x in a:
        for y in b:
            if x == y or (len(x) >= 4 and x in y) or (len(y) >= 4 and y in x):
                best = max(best, min(len(x), len(y)))
    if best == 0:
        return "conflict", 0.0
    longest = max(len(t) for t in a | b)
    return "share", best / longest


def cosine(*, a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    """Cosine similarity of two vectors; None when either is missing or zero."""
    if a is None or b is None:
        return None
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return None
    return float(a @ b / (na * nb))


def price_signal(
    *,
    a: float | None,
    b: float | None,
    currency_a: str | None = None,
    currency_b: str | None = None,
    rates: dict[str, float] | None = None,
) -> tuple[PriceState, float | None]:
    """Relative price difference |a-b| / max(a,b) in [0, 1].

    None and 0.0 both mean "no price" (feeds put 0.0 where the price is unknown), which is
    state "missing". Different currencies without a rate to a common unit give "unknown":
    guessing a rate would invent evidence.
    """
    if not a or not b or a < 0 or b < 0:
        return "missing", None
    if (currency_a or "") != (currency_b or ""):
        rates = rates or {}
        if currency_a not in rates or currency_b not in rates:
            return "unknown", None
        a, b = a * rates[currency_a], b * rates[currency_b]
    return "known", abs(a - b) / max(a, b)


def agreement(
    *, a: str | None, b: str | None, fuzzy: bool = False, compact: bool = False
) -> Agreement:
    """equal / different / missing for brand, category, model number, seller.

    With fuzzy=True, one value contained in the other ("elite" vs "elite screens") is equal.
    With compact=True (codes), spaces and punctuation do not count: "dir412" equals "DIR-412".
    """
    sep = "" if compact else " "
    a_n = _PUNCT_RE.sub(sep, normalise_text(a)).strip()
    b_n = _PUNCT_RE.sub(sep, normalise_text(b)).strip()
    if not a_n or not b_n:
        return "missing"
    if a_n == b_n:
        return "equal"
    if fuzzy and (a_n in b_n or b_n in a_n or fuzz.token_set_ratio(a_n, b_n) >= 90):
        return "equal"
    return "different"


def best_image_cosine(*, a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    """Best cosine between any image of A and any of B (rows are vectors); None if either empty."""
    if a is None or b is None or len(a) == 0 or len(b) == 0:
        return None
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    a = a / np.clip(np.linalg.norm(a, axis=1, keepdims=True), 1e-12, None)
    b = b / np.clip(np.linalg.norm(b, axis=1, keepdims=True), 1e-12, None)
    return float((a @ b.T).max())


def best_colour_similarity(*, a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    """Best histogram intersection between any image of A and any of B; None if either empty."""
    if a is None or b is None or len(a) == 0 or len(b) == 0:
        return None
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    return float(np.minimum(a[:, None, :], b[None, :, :]).sum(axis=2).max())


def best_aligned_similarity(*, a: list[bytes], b: list[bytes]) -> float | None:
    """Best aligned correlation between any photo of A and any of B; None if either has none."""
    if not a or not b:
        return None
    return max(aligned_similarity(x, y) for x in a for y in b)


def phash_hex(image) -> str:
    """64-bit perceptual hash of a PIL image as 16 hex chars (robust to resize/recompress)."""
    import imagehash  # noqa: PLC0415

    return str(imagehash.phash(image))


def phash_distance(a_hex: str, b_hex: str) -> int:
    """Hamming distance between two pHash hex strings (0 = same picture, 64 = unrelated)."""
    return bin(int(a_hex, 16) ^ int(b_hex, 16)).count("1")


def min_phash_distance(*, a: list[str] | None, b: list[str] | None) -> int | None:
    if not a or not b:
        return None
    return min(phash_distance(x, y) for x in a for y in b)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Listing:
    """What the signals need to know about one listing; every field is optional."""

    title: str | None = None
    description: str | None = None
    brand: str | None = None
    category: str | None = None
    modelno: str | None = None
    price: float | None = None
    currency: str | None = None
    seller_id: str | int | None = None
    title_vec: np.ndarray | None = None
    image_vecs: np.ndarray | None = None
    image_phashes: list[str] = field(default_factory=list)
    image_sha256: list[str] = field(default_factory=list)
    # copy-detection descriptors (`dedupe.image_copy`): (n, 1280) unit rows and (n, 64) histograms
    image_copy_vecs: np.ndarray | None = None
    image_colours: np.ndarray | None = None
    image_thumbs: list[bytes] = field(default_factory=list)  # image_copy.align_thumbnail
    # the stored colour attribute of the primary photo (`visualsearch` ImageAttribute: the
    # space's calibrated colour head, else zero-shot), None when unknown or under the floor
    photo_colour: str | None = None


@dataclass
class PairSignals:
    """All signals for one pair; JSON-serialisable through `to_dict()`. None = no data."""

    token_set: float | None = None
    token_sort: float | None = None
    partial: float | None = None
    ratio: float | None = None
    char3_jaccard: float | None = None
    token_jaccard: float | None = None
    numeric_jaccard: float | None = None
    desc_cross: float | None = None
    title_embedding_cos: float | None = None
    id_state: IdState = "missing"
    id_overlap: float | None = None
    price_state: PriceState = "missing"
    price_rel_diff: float | None = None
    brand: Agreement = "missing"
    category: Agreement = "missing"
    modelno: Agreement = "missing"
    same_seller: Agreement = "missing"
    image_best_cos: float | None = None
    image_phash_min: int | None = None
    image_sha256_match: bool | None = None
    image_copy_cos: float | None = None
    image_colour_sim: float | None = None
    # best grey-level correlation once one photo is aligned on the other (image_copy)
    image_aligned_sim: float | None = None
    # TF-IDF cosines of the titles (word, char 3-5-grams); None without IDF tables or titles
    title_tfidf_word: float | None = None
    title_tfidf_char: float | None = None
    # variant signals (`dedupe.variants`): conflict / agree / missing
    colour_words: str = "missing"
    gender_words: str = "missing"
    quantity: str = "missing"
    pack_count: str = "missing"
    model_number_near: str = "missing"
    photo_colour: str = "missing"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PairSignals:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def photo_colour_state(*, a: str | None, b: str | None) -> str:
    """conflict / agree / missing for the photos' stored colour labels."""
    if not a or not b:
        return "missing"
    return "agree" if a.strip().lower() == b.strip().lower() else "conflict"


def pair_signals(
    *,
    a: Listing,
    b: Listing,
    rates: dict[str, float] | None = None,
    weights: tfidf.TextWeights | None = None,
) -> PairSignals:
    """Compute every signal for a pair. Symmetric: pair_signals(a, b) == pair_signals(b, a).

    ``weights``: the TF-IDF tables; None uses the shipped ones (`tfidf.default_weights`).
    """
    weights = weights or tfidf.default_weights()
    tf_word = tf_char = None
    if weights is not None:
        tf_word = weights.similarity(a.title, b.title, "word")
        tf_char = weights.similarity(a.title, b.title, "char")
    fz = title_fuzzy(a=a.title, b=b.title)
    ids_a = identifiers(a.title) | identifiers(a.modelno)
    ids_b = identifiers(b.title) | identifiers(b.modelno)
    id_state, id_overlap = identifier_agreement(a=ids_a, b=ids_b)
    price_state, price_diff = price_signal(
        a=a.price, b=b.price, currency_a=a.currency, currency_b=b.currency, rates=rates
    )
    desc_cross = None
    pairs = [(a.title, b.description), (b.title, a.description)]
    scores = [
        fuzz.token_set_ratio(normalise_text(t), normalise_text(d)) / 100.0
        for t, d in pairs
        if normalise_text(t) and normalise_text(d)
    ]
    if scores:
        desc_cross = max(scores)
    sha = None
    if a.image_sha256 and b.image_sha256:
        sha = bool(set(a.image_sha256) & set(b.image_sha256))
    seller = "missing"
    if a.seller_id is not None and b.seller_id is not None:
        seller = "equal" if str(a.seller_id) == str(b.seller_id) else "different"
    return PairSignals(
        **fz,
        numeric_jaccard=jaccard(numeric_tokens(a.title), numeric_tokens(b.title)),
        desc_cross=desc_cross,
        title_embedding_cos=cosine(a=a.title_vec, b=b.title_vec),
        id_state=id_state,
        id_overlap=id_overlap,
        price_state=price_state,
        price_rel_diff=price_diff,
        brand=agreement(a=a.brand, b=b.brand, fuzzy=True),
        category=agreement(a=a.category, b=b.category),
        modelno=agreement(a=a.modelno, b=b.modelno, compact=True),
        same_seller=seller,
        image_best_cos=best_image_cosine(a=a.image_vecs, b=b.image_vecs),
        image_phash_min=min_phash_distance(a=a.image_phashes, b=b.image_phashes),
        image_sha256_match=sha,
        image_copy_cos=best_image_cosine(a=a.image_copy_vecs, b=b.image_copy_vecs),
        image_colour_sim=best_colour_similarity(a=a.image_colours, b=b.image_colours),
        image_aligned_sim=best_aligned_similarity(a=a.image_thumbs, b=b.image_thumbs),
        title_tfidf_word=tf_word,
        title_tfidf_char=tf_char,
        **variants.variant_states(a=a.title, b=b.title),
        photo_colour=photo_colour_state(a=a.photo_colour, b=b.photo_colour),
    )
