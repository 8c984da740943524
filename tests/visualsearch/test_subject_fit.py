"""subject_fit's pure parts: a shopper photo is scored as search scores it (whole, by its
subject in the space, or by its subject in the raw channel), and the floor check counts what a
floor costs and how often it answers "no good match"."""

from __future__ import annotations

import numpy as np
import pytest

from tests.visualsearch.test_subject import RED, _scene, _studio
from visualsearch.heads import Domain, Relevance, SpaceHeads
from visualsearch.lab.subject_fit import floor_check, subject_scores


def _encode(crops):
    """Vectors and raw features are both the crop's normalised mean colour."""
    raws = np.array([np.asarray(c, dtype=np.float64).reshape(-1, 3).mean(axis=0) for c in crops])
    raws /= np.linalg.norm(raws, axis=1, keepdims=True)
    return raws, raws


GALLERY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # red, green, blue


def _scores(photo, domain):
    return subject_scores(photo, heads=SpaceHeads(domain=domain), encode=_encode,
                          gallery=GALLERY, gallery_types=np.zeros((3, 1)),
                          gallery_raw=GALLERY[::-1])  # fmt: skip


def test_a_studio_shot_is_left_to_the_catalog_calibration():
    assert _scores(_studio(), RED) == (None, "whole")


def test_a_subject_inside_the_domain_is_scored_in_the_space():
    scores, channel = _scores(_scene((20, 30, 110, 150)), RED)
    assert channel == "subject"
    assert scores.argmax() == 0 and scores[0] > 0.9  # the red product, by its cosine


def test_a_subject_outside_the_domain_is_scored_in_the_raw_channel():
    blue = Domain(centroids=np.array([[0.0, 0.0, 1.0]]), top_k=1, threshold=0.99)
    scores, channel = _scores(_scene((20, 30, 110, 150)), blue)
    assert channel == "subject_raw"
    # the raw gallery is the space's reversed: whatever crop was chosen, its raw cosines are
    # its space cosines read backwards
    space, _ = _scores(_scene((20, 30, 110, 150)), Domain(
        centroids=np.array([[0.0, 0.0, 1.0]]), top_k=1, threshold=-1.0))  # fmt: skip
    assert np.allclose(scores, space[::-1])


def test_the_floor_check_counts_hits_under_the_floor_and_queries_without_a_match():
    labels = np.array(["a", "a", "b", "b", "a"], dtype=object)
    # P(relevant) = sigmoid(10 · (score − 0.5)): the floor 0.5 sits at score 0.5
    relevance = Relevance(slope=10.0, intercept=-5.0, floor=0.5)
    scores = np.array([
        [9.0, 0.9, 0.8, 0.1, 0.3],  # query of row 0 ("a"): rows 1 ✓ 0.9, 2 0.8, 4 ✓ 0.3, 3 0.1
        [0.2, 0.4, 9.0, 0.1, 0.3],  # query of row 2 ("b"): nothing reaches the floor
    ])  # fmt: skip
    check = floor_check(scores=scores, labels=labels, query_rows=np.array([0, 2]),
                        relevance=relevance)  # fmt: skip
    assert check["queries"] == 2
    assert check["p10"] == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert check["floor_p10_cost"] == pytest.approx((1 + 1) / 2 / 10)  # row 4, then row 3
    assert check["no_match"] == pytest.approx(0.5)
    foreign = floor_check(scores=np.array([[0.9, 0.2, 0.1, 0.0, 0.3]]), labels=labels,
                          query_rows=np.array([-1]), relevance=relevance)  # fmt: skip
    assert foreign == {"queries": 1, "p10": 0.0, "floor_p10_cost": 0.0, "no_match": 0.0}
