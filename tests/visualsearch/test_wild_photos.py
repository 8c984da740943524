"""The lab's shopper-photo simulation: the product is cut out of its studio background and
pasted, smaller, somewhere on another scene."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from visualsearch.lab.wild_photos import FRAME, cutout_mask, scene_photos, wild
from visualsearch.subject import studio_shot


def _shirt():
    image = Image.new("RGB", (60, 80), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((15, 10, 45, 70), fill=(250, 250, 250))  # a white shirt, on white
    draw.rectangle((15, 10, 45, 70), outline=(90, 90, 90))  # its seams
    draw.rectangle((25, 30, 35, 40), fill=(200, 20, 20))  # a red print
    return image


def test_the_cutout_keeps_the_product_and_drops_only_the_background_reaching_the_border():
    mask = np.asarray(cutout_mask(_shirt())) > 127
    assert not mask[0, 0] and not mask[-1, -1] and not mask[5, 30]  # studio background
    assert mask[35, 30]  # the print
    assert mask[60, 20]  # the white shirt itself: enclosed by its seams, not background


def test_a_wild_photo_fills_the_frame_puts_the_product_inside_it_and_is_no_studio_shot():
    scenes = scene_photos()
    assert len(scenes) == 2  # scikit-learn's sample photographs, offline
    for seed in range(6):
        box = []
        photo = wild(_shirt(), rng=np.random.default_rng(seed), scenes=scenes, box=box)
        assert photo.size == FRAME and photo.mode == "RGB"
        left, top, right, bottom = box
        assert 0 <= left < right <= FRAME[0] and 0 <= top < bottom <= FRAME[1]
        assert 0.35 * FRAME[1] <= bottom - top <= 0.8 * FRAME[1]
        assert not studio_shot(photo)
    # seeded: the same seed makes the same photo
    a = wild(_shirt(), rng=np.random.default_rng(1), scenes=scenes)
    b = wild(_shirt(), rng=np.random.default_rng(1), scenes=scenes)
    assert np.array_equal(np.asarray(a), np.asarray(b))
