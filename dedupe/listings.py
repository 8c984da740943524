"""From catalog rows to `dedupe.comparison.Listing`s, and the per-pair scoring that follows.

Reads plus two caches (pHash per image, MiniLM vector per title) that are filled on demand.
Slow work (decoding images, running MiniLM) happens here, outside any transaction the callers
open for their writes.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image
from rapidfuzz import fuzz
from threadpoolctl import threadpool_limits

from catalog.models import Product, ProductImage
from dedupe import image_copy, scoring
from dedupe.comparison import Listing, PairSignals, normalise_text, pair_signals, phash_hex
from dedupe.models import ImageHash, SignalGroup, TitleVector
from visualsearch.minilm import minilm_encode
from visualsearch.models import EmbeddingSpace, ImageEmbedding
from visualsearch.selectors import product_attributes
from visualsearch.vector_sql import halfvec_decode

log = logging.getLogger(__name__)


def title_normalised(product: Product) -> str:
    return normalise_text(product.title)


@dataclass
class ImageFingerprint:
    """What copy detection knows about one image (see `dedupe.image_copy`)."""

    phash: str
    copy_vector: np.ndarray
    colour_hist: np.ndarray
    align_thumb: bytes


def fingerprints_compute(images: Sequence[Image.Image]) -> list[ImageFingerprint]:
    """The fingerprint of each decoded RGB photo (no cache; `image_fingerprints` caches)."""
    if not images:
        return []
    vectors, colours = image_copy.copy_descriptors(list(images))
    return [
        ImageFingerprint(phash_hex(pil), vec, hist, image_copy.align_thumbnail(pil))
        for pil, vec, hist in zip(images, vectors, colours, strict=True)
    ]


def listing_photo_fields(found: Sequence[ImageFingerprint]) -> dict:
    """The `Listing` fields that come from a listing's photo fingerprints."""
    return {
        "image_phashes": [f.phash for f in found],
        "image_copy_vecs": np.stack([f.copy_vector for f in found]) if found else None,
        "image_colours": np.stack([f.colour_hist for f in found]) if found else None,
        "image_thumbs": [f.align_thumb for f in found if f.align_thumb],
    }


def image_fingerprints(*, images: Sequence[ProductImage]) -> dict[int, ImageFingerprint]:
    """pHash and copy descriptors per image id, computed once per image content and cached in
    ImageHash. An image that cannot be decoded has none (and is not retried until it changes)."""
    cached = {
        h.image_id: h
        for h in ImageHash.objects.filter(image_id__in=[img.pk for img in images])
    }  # fmt: skip
    out: dict[int, ImageFingerprint] = {}
    todo: list[tuple[ProductImage, object]] = []
    for image in images:
        hit = cached.get(image.pk)
        if (
            hit is not None
            and hit.sha256 == image.sha256
            and hit.descriptor_version == image_copy.DESCRIPTOR_VERSION
        ):
            if hit.phash:
                out[image.pk] = ImageFingerprint(
                    hit.phash,
                    halfvec_decode(hit.copy_vector),
                    np.asarray(hit.colour_hist, np.float32),
                    bytes(hit.align_thumb or b""),
                )
            continue
        pil = None
        try:
            with image.file.open("rb") as handle:
                with Image.open(handle) as opened:
                    pil = opened.convert("RGB")
        except Exception as exc:  # noqa: BLE001 - an unreadable image just has no fingerprint
            log.warning("no fingerprint for image %s: %s", image.pk, exc)
        todo.append((image, pil))
    decoded = [(image, pil) for image, pil in todo if pil is not None]
    for (image, _pil), found in zip(
        decoded, fingerprints_compute([pil for _, pil in decoded]), strict=True
    ):
        out[image.pk] = found
    for image, _pil in todo:
        found = out.get(image.pk)
        ImageHash.objects.update_or_create(
            image_id=image.pk,
            defaults={
                "sha256": image.sha256,
                "phash": found.phash if found else "",
                "copy_vector": found.copy_vector.tolist() if found else None,
                "colour_hist": [float(x) for x in found.colour_hist] if found else None,
                "align_thumb": found.align_thumb if found else None,
                "descriptor_version": image_copy.DESCRIPTOR_VERSION,
            },
        )
    return out


def title_vectors(*, products: Sequence[Product]) -> dict[int, np.ndarray]:
    """MiniLM title vector per product id (the embedder the scoring model was trained with)."""
    cached = {t.product_id: t for t in TitleVector.objects.filter(product__in=products)}
    out: dict[int, np.ndarray] = {}
    todo = []
    for product in products:
        hit = cached.get(product.pk)
        if hit is not None and hit.text == title_normalised(product):
            out[product.pk] = np.asarray(hit.vector, dtype=np.float32)
        else:
            todo.append(product)
    if todo:
        vectors = minilm_encode([title_normalised(p) for p in todo])
        for product, vec in zip(todo, vectors, strict=True):
            out[product.pk] = vec
            if product.pk is not None:
                TitleVector.objects.update_or_create(
                    product_id=product.pk,
                    defaults={
                        "text": title_normalised(product),
                        "vector": [round(float(x), 6) for x in vec],
                    },
                )
    return out


def listings_build(
    *, products: Sequence[Product], space: EmbeddingSpace | None
) -> dict[int, Listing]:
    """A Listing per product: text fields, MiniLM title vector, image vectors, pHashes, sha256s,
    and the space's colour of its primary photo (None under the attribute confidence floor)."""
    products = list(products)
    ids = [p.pk for p in products if p.pk is not None]
    images_by_product: dict[int, list[ProductImage]] = defaultdict(list)
    for image in ProductImage.objects.filter(product_id__in=ids).order_by("position", "id"):
        images_by_product[image.product_id].append(image)
    all_images = [img for imgs in images_by_product.values() for img in imgs]
    prints = image_fingerprints(images=all_images)
    vectors: dict[int, list[np.ndarray]] = defaultdict(list)
    if space is not None:
        rows = ImageEmbedding.objects.filter(space=space, product_id__in=ids).values_list(
            "product_id", "vector"
        )
        for product_id, value in rows:
            vectors[product_id].append(halfvec_decode(value))
    titles = title_vectors(products=products)
    attributes = product_attributes(product_ids=ids, space=space)
    out = {}
    for product in products:
        images = images_by_product.get(product.pk, [])
        found = [prints[img.pk] for img in images if img.pk in prints]
        vecs = vectors.get(product.pk)
        out[product.pk] = Listing(
            title=product.title,
            description=product.description,
            brand=product.brand,
            category=product.category.path if product.category_id else None,
            price=float(product.price) if product.price is not None else None,
            currency=product.currency,
            seller_id=product.seller_id,
            title_vec=titles.get(product.pk),
            image_vecs=np.stack(vecs) if vecs else None,
            image_sha256=[img.sha256 for img in images],
            photo_colour=attributes.get(product.pk, {}).get("colour", (None,))[0],
            **listing_photo_fields(found),
        )
    return out


SIGNAL_GROUPS = {
    "image": SignalGroup.IMAGE,
    "title": SignalGroup.TITLE,
    "identifier": SignalGroup.IDENTIFIER,
    "price": SignalGroup.PRICE,
    "brand": SignalGroup.BRAND,
}


def feature_group(name: str) -> str:
    """The family a scoring feature belongs to (what moderators filter the queue by)."""
    if name.startswith("image_"):
        return SignalGroup.IMAGE
    if name.startswith(("id_", "emb_x_id", "token_set_x_id", "modelno")):
        return SignalGroup.IDENTIFIER
    if name.startswith("price_"):
        return SignalGroup.PRICE
    if name.startswith(("brand", "category", "same_seller")):
        return SignalGroup.BRAND
    if name == "intercept":
        return SignalGroup.OTHER
    return SignalGroup.TITLE


def strongest_group(signals: PairSignals) -> str:
    """The signal family whose contributions add most to the log-odds."""
    totals: dict[str, float] = defaultdict(float)
    for name, _value, contribution in scoring.contributions(signals):
        if name != "intercept":
            totals[feature_group(name)] += contribution
    if not totals:
        return SignalGroup.OTHER
    return max(totals.items(), key=lambda kv: kv[1])[0]


@dataclass
class ScoredPair:
    other_id: int
    signals: PairSignals
    probability: float
    strongest: str


def pairs_score(
    *, product: Product, others: Iterable[Product], space: EmbeddingSpace | None
) -> list[ScoredPair]:
    """Signals and calibrated probability of ``product`` against each of ``others``."""
    others = [o for o in others if o.pk != product.pk]
    if not others:
        return []
    listings = listings_build(products=[product, *others], space=space)
    mine = listings[product.pk]
    out = []
    # The aligned-pixel signal multiplies small matrices: one BLAS thread is ~7x faster there
    # than BLAS threads fighting over the cores the workers share.
    with threadpool_limits(limits=1, user_api="blas"):
        for other in others:
            signals = pair_signals(a=mine, b=listings[other.pk])
            out.append(
                ScoredPair(
                    other_id=other.pk,
                    signals=signals,
                    probability=scoring.score(signals),
                    strongest=strongest_group(signals),
                )
            )
    return out


def fingerprint(*, product: Product, image_sha256: Sequence[str]) -> dict:
    """What a product looked like when a pair was scored, to tell a material change later."""
    return {
        "title": title_normalised(product),
        "price": str(product.price),
        "currency": product.currency,
        "images": sorted(set(image_sha256)),
    }


def fingerprint_changes(*, old: dict, new: dict, min_price_change: float) -> list[str]:
    """Which of title / price / images changed materially between two fingerprints."""
    if not old:
        return []
    changes = []
    if old.get("title") != new.get("title"):
        similarity = fuzz.ratio(old.get("title") or "", new.get("title") or "") / 100.0
        if similarity < 0.95:
            changes.append("title")
    try:
        old_price, new_price = float(old.get("price")), float(new.get("price"))
    except (TypeError, ValueError):
        old_price = new_price = None
    if old.get("currency") != new.get("currency"):
        changes.append("price")
    elif old_price is not None and new_price is not None:
        top = max(old_price, new_price)
        if top > 0 and abs(old_price - new_price) / top >= min_price_change:
            changes.append("price")
    if sorted(old.get("images") or []) != sorted(new.get("images") or []):
        changes.append("images")
    return changes
