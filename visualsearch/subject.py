"""The subject of a shopper's photo: where the product is, when it is not a studio shot.

Catalog photos show the product alone on a light studio background, and the shipped space and
its heads were fitted on such photos. A shopper's photo shows it somewhere: small in the frame,
off-centre, on a table or a bed. Searched whole, such a photo falls outside the space's training
domain and ranks badly (docs/benchmarks.md, "Shopper photos"). No object detector ships in a
wheel, so the subject is found with the space itself:

1. :func:`studio_shot`: a photo whose border is mostly light and colourless is a studio shot
   and is searched as it is (every catalog photo, at no cost);
2. else :func:`proposals`: the whole photo and a grid of boxes at three scales (45%, 60% and 75%
   of each side, 3×3 positions each), each cut out;
3. the crop the space finds most like its training photos wins: the highest training-domain
   score (:class:`visualsearch.heads.Domain`, the tower's features against the centroids of the
   training photos'), the same measure that sends far-off photos to the raw channel.

Pure: images and arrays in, a :class:`Subject` out; :mod:`visualsearch.search` calls
:func:`subject_find` for every photo query when ``SEARCH_SUBJECT_CROP`` is on, and the API
and the search page show the shopper the box that was searched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

BORDER = 0.04  # the outer band read by studio_shot, as a share of each side
STUDIO_SHARE = 0.6  # of the border's pixels light and colourless: a studio shot
TEST_SIDE = 256  # studio_shot samples a longer photo's band down to about this many pixels
SCALES = (0.45, 0.6, 0.75)
POSITIONS = (0.0, 0.5, 1.0)
CUTOUT_SIDE = 320  # cutout segments a copy of the photo no longer than this
CUTOUT_MARGIN = 0.06  # the box widened by this share of each side for the segmentation
CUTOUT_ITERATIONS = 4
CUTOUT_SHARE = (0.08, 0.97)  # a foreground outside this share of the box is no cutout


def studio_shot(image, *, light: int = 215, spread: int = 30) -> bool:
    """Whether ``image`` looks like a studio shot: at least ``STUDIO_SHARE`` of its border band
    is light (every channel ≥ ``light``) and colourless (channels within ``spread``). Only the
    band is read, every ``step``-th pixel of it on a photo longer than ``TEST_SIDE``: an upload
    may have 40 million pixels, and every photo query runs this test."""
    w, h = image.size
    bh, bw = max(1, round(h * BORDER)), max(1, round(w * BORDER))
    step = max(1, max(w, h) // TEST_SIDE)
    strips = [(0, 0, w, bh), (0, h - bh, w, h), (0, 0, bw, h), (w - bw, 0, w, h)]
    band = np.concatenate([
        np.asarray(image.crop(box).convert("RGB"), dtype=np.int16)[::step, ::step].reshape(-1, 3)
        for box in strips
    ])  # fmt: skip
    pale = (band.min(axis=1) >= light) & (band.max(axis=1) - band.min(axis=1) <= spread)
    return bool(pale.mean() >= STUDIO_SHARE)


def proposals(size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Boxes (left, top, right, bottom) over an image of ``size`` (width, height): the whole
    image first, then each scale of ``SCALES`` at the 3×3 ``POSITIONS``."""
    width, height = size
    boxes = [(0, 0, width, height)]
    for scale in SCALES:
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
        for fy in POSITIONS:
            for fx in POSITIONS:
                left, top = round((width - w) * fx), round((height - h) * fy)
                boxes.append((left, top, left + w, top + h))
    return boxes


def subject_choose(domain_scores: np.ndarray) -> int:
    """The proposal to search with: the highest training-domain score (the first on ties, so
    the whole photo wins a tie)."""
    return int(np.argmax(np.asarray(domain_scores)))


@dataclass(frozen=True)
class Subject:
    """What a query photo is searched by: ``image`` (the photo itself or its chosen crop),
    ``box`` (where that crop lies in the photo, (left, top, right, bottom) in its pixels; None
    when the whole photo is searched), the photo's ``size`` (width, height), and ``encoded``:
    the (space vector, raw vector or None) of ``image`` when finding it already encoded it, so
    the search does not encode it twice."""

    image: object
    box: tuple[int, int, int, int] | None
    size: tuple[int, int]
    encoded: tuple[np.ndarray, np.ndarray | None] | None = None


def cutout(image, box: tuple[int, int, int, int]):
    """(the product inside ``box`` cut out of its surroundings onto white, framed like a studio
    shot with a margin of ``CUTOUT_MARGIN``; its bounding box in ``image``), or None when the
    segmentation finds no plausible product (a foreground outside ``CUTOUT_SHARE`` of the box).

    OpenCV's GrabCut, started from ``box`` (widened by ``CUTOUT_MARGIN``: outside it is
    background, inside probably product), on a copy no longer than ``CUTOUT_SIDE``. Its
    k-means start is seeded, so the same photo always gives the same cutout (and page 2 of a
    search the same query as page 1)."""
    import cv2  # noqa: PLC0415

    if image.mode != "RGB":
        image = image.convert("RGB")
    width, height = image.size
    scale = min(1.0, CUTOUT_SIDE / max(width, height))
    # Everything happens on the small copy, which is larger than the tower's input: a 40 MP
    # upload costs no full-size masks or canvases. Only the bounds are scaled back.
    small = image.resize((max(1, round(width * scale)), max(1, round(height * scale))))
    pixels = np.ascontiguousarray(np.asarray(small)[:, :, ::-1])  # BGR, as OpenCV reads it
    sh, sw = pixels.shape[:2]
    left, top, right, bottom = (value * scale for value in box)
    mx, my = CUTOUT_MARGIN * (right - left), CUTOUT_MARGIN * (bottom - top)
    # GrabCut needs background outside the rectangle: keep it 2 pixels inside the photo
    left, top = max(2, int(left - mx)), max(2, int(top - my))
    right, bottom = min(sw - 2, int(right + mx)), min(sh - 2, int(bottom + my))
    if right - left < 8 or bottom - top < 8:
        return None
    mask = np.zeros((sh, sw), np.uint8)
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    cv2.grabCut(pixels, mask, (left, top, right - left, bottom - top), background, foreground,
                CUTOUT_ITERATIONS, cv2.GC_INIT_WITH_RECT)  # fmt: skip
    product = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    share = float(product[top:bottom, left:right].mean())
    if not CUTOUT_SHARE[0] <= share <= CUTOUT_SHARE[1]:
        return None
    matte = Image.fromarray(product.astype(np.uint8) * 255)
    found = matte.getbbox()
    if found is None:
        return None
    on_white = Image.new("RGB", (sw, sh), (255, 255, 255))
    on_white.paste(small, mask=matte)
    bl, bt, br, bb = found
    px, py = round(CUTOUT_MARGIN * (br - bl)), round(CUTOUT_MARGIN * (bb - bt))
    framed = Image.new("RGB", (br - bl + 2 * px, bb - bt + 2 * py), (255, 255, 255))
    framed.paste(on_white.crop(found), (px, py))
    bounds = (
        max(0, int(bl / scale)), max(0, int(bt / scale)),
        min(width, round(br / scale)), min(height, round(bb / scale)),
    )  # fmt: skip
    return framed, bounds


def subject_find(image, *, encode, domain, cut_out: bool = False) -> Subject:
    """The :class:`Subject` of ``image``: the whole photo when it is a studio shot (or without
    a training domain or raw features); else its proposal the space finds most like its
    training photos and, with ``cut_out``, that proposal's product cut out onto white
    (:func:`cutout`) when the space finds the cutout more like its training photos still.
    ``encode(images)`` returns (vectors, raw vectors or None), as
    :func:`visualsearch.embedders.images_encode`."""
    whole = Subject(image=image, box=None, size=image.size)
    if domain is None or studio_shot(image):
        return whole
    boxes = proposals(image.size)
    crops = [image.crop(box) for box in boxes]
    vectors, raws = encode(crops)
    if raws is None:
        return Subject(image=image, box=None, size=image.size, encoded=(vectors[0], None))
    scores = domain.score(raws)
    best = subject_choose(scores)
    chosen = Subject(
        image=crops[best],
        box=None if best == 0 else boxes[best],
        size=image.size,
        encoded=(np.asarray(vectors[best]), np.asarray(raws[best])),
    )
    found = cutout(image, boxes[best]) if cut_out else None
    if found is None:
        return chosen
    cut, bounds = found
    cut_vectors, cut_raws = encode([cut])
    if float(domain.score(cut_raws)[0]) <= float(scores[best]):
        return chosen
    return Subject(image=cut, box=tuple(int(v) for v in bounds), size=image.size,
                   encoded=(np.asarray(cut_vectors[0]), np.asarray(cut_raws[0])))  # fmt: skip
