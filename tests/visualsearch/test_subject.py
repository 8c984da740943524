"""The subject of a shopper's photo: studio shots are searched whole, other photos by the crop
the space finds most like its training photos."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from visualsearch.heads import Domain
from visualsearch.subject import cutout, proposals, studio_shot, subject_find


def _studio(size=(60, 80), colour=(200, 30, 30)):
    image = Image.new("RGB", size, (255, 255, 255))
    w, h = size
    ImageDraw.Draw(image).rectangle((w // 4, h // 4, 3 * w // 4, 3 * h // 4), fill=colour)
    return image


def _scene(box=(20, 30, 90, 120), size=(240, 320), seed=0):
    """A red product at ``box`` on a noisy blue-green background."""
    rng = np.random.default_rng(seed)
    pixels = np.clip(rng.normal((40, 120, 140), 25, (size[1], size[0], 3)), 0, 255)
    image = Image.fromarray(pixels.astype(np.uint8))
    ImageDraw.Draw(image).rectangle(box, fill=(210, 30, 30))
    return image


def _redness_encoder(crops):
    """A toy tower whose raw feature is the crop's mean colour: its "training domain" below is
    red products, so the crop that is most product wins."""
    raws = np.array([np.asarray(c, dtype=np.float64).reshape(-1, 3).mean(axis=0) for c in crops])
    raws /= np.linalg.norm(raws, axis=1, keepdims=True)
    return np.zeros((len(crops), 4)), raws


RED = Domain(centroids=np.array([[1.0, 0.0, 0.0]]), top_k=1, threshold=0.9)


def test_a_catalog_photo_on_white_is_a_studio_shot_and_a_photo_in_a_room_is_not():
    assert studio_shot(_studio())
    assert studio_shot(_studio(colour=(250, 250, 250)))  # a white product on white too
    assert not studio_shot(_scene())
    assert not studio_shot(Image.new("RGB", (60, 80), (120, 90, 60)))  # a wooden table


@given(
    w=st.integers(8, 400),
    h=st.integers(8, 400),
    inside=st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
)
def test_any_photo_with_a_white_border_is_a_studio_shot(w, h, inside):
    image = Image.new("RGB", (w, h), (255, 255, 255))
    ImageDraw.Draw(image).rectangle((w // 5, h // 5, w - 1 - w // 5, h - 1 - h // 5), fill=inside)
    assert studio_shot(image)


@given(w=st.integers(1, 2000), h=st.integers(1, 2000))
def test_proposals_start_with_the_whole_photo_and_stay_inside_it(w, h):
    boxes = proposals((w, h))
    assert boxes[0] == (0, 0, w, h) and len(boxes) == 28
    for left, top, right, bottom in boxes:
        assert 0 <= left < right <= w and 0 <= top < bottom <= h


def test_a_studio_shot_is_searched_as_it_is():
    image = _studio()
    called = []
    subject = subject_find(image, encode=lambda c: called.append(c), domain=RED)
    assert subject.image is image and subject.box is None and subject.encoded is None
    assert subject.size == image.size
    assert not called  # no proposal was even encoded


def test_the_crop_most_like_the_training_photos_is_the_subject():
    product = (20, 30, 110, 150)
    subject = subject_find(_scene(product), encode=_redness_encoder, domain=RED)
    chosen = subject.image
    assert chosen.size != (240, 320) and subject.box is not None  # not the whole photo
    assert chosen.size == (subject.box[2] - subject.box[0], subject.box[3] - subject.box[1])
    pixels = np.asarray(chosen, dtype=np.int16)
    red = (pixels[..., 0] > 150) & (pixels[..., 1] < 80)
    assert red.mean() > 0.35  # mostly product, where the whole photo is 14% product
    # the crop's own encoding comes with it, so the search need not encode it again
    _, raw = subject.encoded
    assert np.allclose(raw, _redness_encoder([chosen])[1][0])
    # the same product elsewhere moves the crop with it
    other = subject_find(_scene((140, 200, 230, 310)), encode=_redness_encoder, domain=RED)
    assert np.asarray(other.image, dtype=np.int16)[..., 0].mean() > 100
    assert other.box[0] >= 60 and other.box[1] >= 80


def test_without_a_training_domain_or_raw_features_the_photo_is_searched_whole():
    scene = _scene()
    assert subject_find(scene, encode=_redness_encoder, domain=None).image is scene
    no_raw = subject_find(scene, encode=lambda crops: (np.zeros((len(crops), 4)), None), domain=RED)
    assert no_raw.image is scene and no_raw.box is None


def test_the_cutout_is_the_product_on_white_framed_like_a_studio_shot_and_always_the_same():
    product = (60, 90, 150, 230)
    scene = _scene(product)
    found = cutout(scene, (50, 80, 160, 240))
    assert found is not None
    image, (left, top, right, bottom) = found
    # the bounds hug the product (within a few pixels), and so does the framed image
    assert abs(left - 60) <= 4 and abs(top - 90) <= 4 and abs(right - 151) <= 4
    assert abs(bottom - 231) <= 4
    assert abs(image.width - (right - left) * 1.12) <= 3
    pixels = np.asarray(image, dtype=np.int16)
    red = (pixels[..., 0] > 150) & (pixels[..., 1] < 80)
    white = pixels.min(axis=2) >= 250
    assert (red | white).mean() > 0.95 and white[0].all() and white[-1].all()
    again, bounds = cutout(scene, (50, 80, 160, 240))
    assert bounds == (left, top, right, bottom) and np.array_equal(np.asarray(again), pixels)


def test_a_box_with_nothing_to_cut_out_gives_no_cutout():
    assert cutout(Image.new("RGB", (240, 320), (120, 90, 60)), (40, 40, 200, 280)) is None
    assert cutout(_scene(), (0, 0, 6, 6)) is None  # too small to segment


def _studio_likeness(crops):
    """A toy tower whose raw feature is the crop's mean colour; its training domain below is
    red products on white, so a cutout onto white beats the crop with the scene around it."""
    return _redness_encoder(crops)


def _catalog_shot():
    """A red product filling a white frame but for a margin, as catalog shots are framed."""
    image = Image.new("RGB", (112, 112), (255, 255, 255))
    ImageDraw.Draw(image).rectangle((6, 6, 105, 105), fill=(210, 30, 30))
    return image


STUDIO = Domain(centroids=_redness_encoder([_catalog_shot()])[1], top_k=1, threshold=0.9)


def test_the_cutout_is_searched_only_when_the_space_finds_it_more_like_its_training_photos():
    scene = _scene((60, 90, 150, 230))
    crop = subject_find(scene, encode=_studio_likeness, domain=STUDIO)
    cut = subject_find(scene, encode=_studio_likeness, domain=STUDIO, cut_out=True)
    assert cut.image.size != crop.image.size
    assert np.asarray(cut.image).min(axis=2)[0].min() >= 250  # on white
    assert (
        STUDIO.score(_studio_likeness([cut.image])[1])[0]
        > STUDIO.score(_studio_likeness([crop.image])[1])[0]
    )
    assert cut.box is not None and cut.encoded is not None
    # where white is not the training domain (red products alone), the crop stays the subject
    red_only = subject_find(scene, encode=_redness_encoder, domain=RED, cut_out=True)
    plain = subject_find(scene, encode=_redness_encoder, domain=RED)
    assert red_only.box == plain.box and red_only.image.size == plain.image.size


def test_a_large_photo_is_cut_out_on_a_small_copy_and_its_bounds_are_in_its_own_pixels():
    # the scene of the test above at ten times the size: a 2400x3200 upload
    scene = _scene((60, 90, 150, 230)).resize((2400, 3200), Image.NEAREST)
    image, (left, top, right, bottom) = cutout(scene, (500, 800, 1600, 2400))
    assert abs(left - 600) <= 40 and abs(top - 900) <= 40
    assert abs(right - 1510) <= 40 and abs(bottom - 2310) <= 40
    assert max(image.size) <= 1.12 * 320  # the cutout is made at the small copy's size
