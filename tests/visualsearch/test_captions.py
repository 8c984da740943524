"""Extra attribute captions become extra training rows for the same image (pure, no model)."""

import numpy as np

from visualsearch.offline_model import attribute_captions, with_captions


def test_attribute_captions_are_short_prompts_for_the_labels_present():
    assert attribute_captions(category="Sports Shoes", colour="Red") == [
        "a photo of red.",
        "a photo of sports shoes.",
    ]
    assert attribute_captions(category="Bags") == ["a photo of bags."]
    assert attribute_captions(category=" ", colour=None) == []


def test_each_caption_is_paired_with_the_image_it_describes():
    img = np.arange(6, dtype=np.float32).reshape(3, 2)
    txt = -np.arange(9, dtype=np.float32).reshape(3, 3)
    captions = np.full((2, 3), 7.0, dtype=np.float32)
    rows_img, rows_txt = with_captions(
        img_feats=img, txt_feats=txt, owners=[2, 0], caption_feats=captions
    )
    assert rows_img.shape == (5, 2) and rows_txt.shape == (5, 3)
    np.testing.assert_array_equal(rows_img[:3], img)
    np.testing.assert_array_equal(rows_img[3], img[2])
    np.testing.assert_array_equal(rows_img[4], img[0])
    np.testing.assert_array_equal(rows_txt[3:], captions)


def test_no_captions_leaves_the_pairs_unchanged():
    img, txt = np.ones((2, 2)), np.zeros((2, 3))
    rows_img, rows_txt = with_captions(
        img_feats=img, txt_feats=txt, owners=[], caption_feats=np.zeros((0, 3))
    )
    assert rows_img is img and rows_txt is txt
