"""Calibrated heads and relevance: confidences are probabilities, calibration helps, the shipped
files load, and the modifier words are read as a shopper means them. Pure: no database."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from visualsearch.attributes import TAXONOMY, colour_named, modifier_split, negative_attributes
from visualsearch.default_space import shipped_files
from visualsearch.heads import (
    ConfidenceMap,
    Domain,
    Head,
    Relevance,
    SpaceHeads,
    confidence_map_fit,
    domain_fit,
    expected_calibration_error,
    relevance_fit,
    softmax,
    space_heads_fit,
    temperature_fit,
    top_calibrated,
)

finite = st.floats(-20, 20, allow_nan=False, allow_infinity=False)


@settings(max_examples=50, deadline=None)
@given(
    weight=arrays(np.float64, (4, 6), elements=finite),
    bias=arrays(np.float64, (4,), elements=finite),
    vectors=arrays(np.float64, (5, 6), elements=finite),
    temperature=st.floats(0.05, 20),
)
def test_head_confidences_are_probabilities(weight, bias, vectors, temperature):
    head = Head(labels=list("abcd"), weight=weight, bias=bias, temperature=temperature)
    probs = head.probabilities(vectors)
    assert np.all(probs >= 0) and np.all(probs <= 1)
    assert np.allclose(probs.sum(axis=1), 1.0)


@settings(max_examples=50, deadline=None)
@given(
    slope=st.floats(0.01, 50),
    intercept=finite,
    scores=st.lists(st.floats(-1, 1, allow_nan=False), min_size=2, max_size=30),
)
def test_relevance_is_within_0_and_1_and_monotone_in_the_score(slope, intercept, scores):
    relevance = Relevance(slope=slope, intercept=intercept, floor=0.5)
    ordered = np.sort(np.array(scores))
    probs = relevance.probability(ordered)
    assert np.all(probs >= 0) and np.all(probs <= 1)
    assert np.all(np.diff(probs) >= 0)


def _overconfident(seed=0, n=3000, k=5):
    """Logits 4x too sharp for how often the top label is right."""
    rng = np.random.default_rng(seed)
    true = rng.normal(size=(n, k))
    targets = np.array([rng.choice(k, p=softmax(row)) for row in true])
    return true * 4.0, targets


def test_temperature_scaling_softens_overconfident_logits_and_lowers_the_ece():
    logits, targets = _overconfident()
    t = temperature_fit(logits[:1500], targets[:1500])
    assert 3.0 < t < 5.5
    before = expected_calibration_error(softmax(logits[1500:]), targets[1500:])
    after = expected_calibration_error(softmax(logits[1500:] / t), targets[1500:])
    assert after < before / 2 and after < 0.05


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, (20, 3), elements=st.floats(0, 1)),
    st.lists(st.integers(0, 2), min_size=20, max_size=20),
)
def test_the_ece_is_between_0_and_1(raw, targets):
    probs = (raw + 1e-3) / (raw + 1e-3).sum(axis=1, keepdims=True)
    assert 0.0 <= expected_calibration_error(probs, np.array(targets)) <= 1.0


def test_the_ece_is_0_when_confidence_equals_accuracy():
    probs = np.array([[1.0, 0.0]] * 4 + [[0.5, 0.5]] * 4)
    targets = np.array([0, 0, 0, 0, 0, 1, 0, 1])  # confident ones right, half of the rest right
    assert expected_calibration_error(probs, targets) == 0.0


def test_relevance_calibration_rises_with_the_score():
    rng = np.random.default_rng(1)
    scores = rng.uniform(0, 1, 2000)
    relevant = rng.uniform(0, 1, 2000) < scores
    fitted = relevance_fit(scores=scores, relevant=relevant, floor=0.4)
    assert fitted.slope > 0
    assert fitted.probability([0.1])[0] < 0.3 < 0.7 < fitted.probability([0.9])[0]


@settings(max_examples=60, deadline=None)
@given(
    confidence=arrays(np.float64, (150,), elements=st.floats(0, 1)),
    correct=arrays(np.bool_, (150,)),
    probe=arrays(np.float64, (30,), elements=st.floats(-0.5, 1.5)),
)
def test_a_fitted_confidence_map_is_within_0_and_1_and_monotone(confidence, correct, probe):
    mapping = confidence_map_fit(confidence, correct)
    if correct.all() or not correct.any():
        assert mapping is None  # one outcome: nothing to calibrate against
        return
    mapped = mapping(np.sort(probe))
    assert np.all(mapped > 0) and np.all(mapped <= 1)
    assert np.all(np.diff(mapped) >= 0)


@settings(max_examples=60, deadline=None)
@given(
    logits=arrays(np.float64, (8, 5), elements=finite),
    knots=arrays(np.float64, (6,), elements=st.floats(1e-6, 1)),
)
def test_calibrated_confidences_keep_the_top_label_and_stay_probabilities(logits, knots):
    probs = softmax(logits)
    mapping = ConfidenceMap(x=np.linspace(0, 1, 6), y=np.sort(knots))
    out = top_calibrated(probs, mapping)
    rows = np.arange(len(probs))
    assert np.all(out >= 0) and np.all(out <= 1)
    assert np.all(out.sum(axis=1) <= 1 + 1e-9)
    assert np.array_equal(out.argmax(axis=1), probs.argmax(axis=1))  # the label never changes
    assert np.allclose(out[rows, probs.argmax(axis=1)], mapping(probs.max(axis=1)))
    # a row whose top confidence went up still sums to 1: the others gave up what it gained
    up = mapping(probs.max(axis=1)) >= probs.max(axis=1)
    assert np.allclose(out[up].sum(axis=1), 1.0)


def test_the_confidence_map_lowers_the_ece_of_a_head_that_temperature_cannot_fix():
    # the top label is right 50% of the time below 0.6 confidence and 95% above it: no single
    # temperature fits both, a monotone map does
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.3, 1.0, 4000)
    correct = rng.uniform(0, 1, 4000) < np.where(conf < 0.6, 0.5, 0.95)
    mapping = confidence_map_fit(conf[:2000], correct[:2000])

    def ece(c):  # top-1 confidence c, right when correct: 10 bins, as expected_calibration_error
        which = np.minimum((c * 10).astype(int), 9)
        return sum((which == b).mean() * abs(correct[2000:][which == b].mean() - c[which == b].mean())
                   for b in range(10) if (which == b).any())  # fmt: skip

    assert ece(mapping(conf[2000:])) < ece(conf[2000:]) / 3
    assert mapping([0.4])[0] == pytest.approx(0.5, abs=0.08)
    assert mapping([0.9])[0] == pytest.approx(0.95, abs=0.05)
    assert confidence_map_fit(conf[:50], correct[:50]) is None  # too few rows to trust


def test_heads_survive_a_save_and_load(tmp_path):
    heads = SpaceHeads(
        heads={"colour": Head(labels=["red", "blue"], weight=np.eye(2, 3), bias=np.zeros(2),
                              temperature=0.7)},
        zero_shot_temperature={"style": 0.2},
        relevance={"vector": Relevance(slope=8.0, intercept=-4.0, floor=0.3)},
        type_rerank_weight=2.0,
        modifier={"text": 1.0, "photo": 0.3, "colour": 0.5},
    )  # fmt: skip
    loaded = SpaceHeads.load(heads.save(tmp_path / "heads.safetensors"))
    assert loaded.heads["colour"].labels == ["red", "blue"]
    assert loaded.heads["colour"].temperature == 0.7
    assert np.allclose(loaded.heads["colour"].weight, np.eye(2, 3))
    assert loaded.relevance["vector"].floor == 0.3 and loaded.type_rerank_weight == 2.0
    assert loaded.modifier == {"text": 1.0, "photo": 0.3, "colour": 0.5}
    assert loaded.heads["colour"].confidence_map is None  # none fitted: temperature only
    heads.heads["colour"].confidence_map = ConfidenceMap(x=np.array([0.5, 0.9]),
                                                         y=np.array([0.4, 0.8]))  # fmt: skip
    again = SpaceHeads.load(heads.save(tmp_path / "mapped.safetensors")).heads["colour"]
    assert np.allclose(again.confidence_map([0.5, 0.7, 1.0]), [0.4, 0.6, 0.8])


def test_the_shipped_heads_load_and_their_labels_are_the_taxonomy():

    heads = SpaceHeads.load(shipped_files()[1])
    assert heads.heads["colour"].labels == TAXONOMY["colour"]["labels"]
    assert heads.heads["category"].labels == TAXONOMY["category"]["labels"]
    assert set(heads.relevance) == {"vector", "hybrid", "raw", "subject"}
    assert all(0 < r.floor < 1 for r in heads.relevance.values())
    assert heads.info["version"] == "offline-v9" and "space_fit" in heads.info["command"]
    # shopper photos' floor (subject_fit): lower than the catalog shots', as their cosines are;
    # the raw channel's fit is reported but not shipped
    fit = heads.info["subject_relevance"]
    assert fit["command"].startswith("python manage.py subject_fit")
    assert fit["subject"]["shipped"] and not fit["subject_raw"]["shipped"]
    assert heads.relevance["subject"].floor == fit["subject"]["floor"]
    check = fit["subject"]["check_subject"], fit["subject"]["check_catalog"]
    assert check[0]["no_match"] < check[1]["no_match"]
    # the training domain, in EfficientNet-Lite0's 1280 pooled features
    assert heads.domain is not None and heads.domain.centroids.shape == (256, 1280)
    assert 0 < heads.domain.threshold < 1


def _clusters(rng, centres, n):
    """n unit rows near the rows of ``centres`` (a few degrees of noise each)."""
    rows = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 0.05, (n, centres.shape[1]))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_the_domain_holds_photos_like_the_training_ones_and_not_others():
    rng = np.random.default_rng(0)
    centres = np.linalg.qr(rng.normal(size=(64, 64)))[0]  # orthonormal directions
    seen, unseen = centres[:8], centres[8:16]
    domain, report = domain_fit(
        fit_raw=_clusters(rng, seen, 400), val_raw=_clusters(rng, seen, 200), centroids=16
    )
    # by construction about 2% of validation photos fall under the threshold
    assert report["quantile"] == 0.02 and report["centroids"] == 16
    assert domain.contains(_clusters(rng, seen, 200)).mean() > 0.9
    assert domain.contains(_clusters(rng, unseen, 200)).mean() < 0.05
    # the score does not depend on the length of the raw vector
    row = _clusters(rng, seen, 1)
    assert np.allclose(domain.score(row), domain.score(7.0 * row), atol=1e-6)


def test_a_domain_survives_a_save_and_load(tmp_path):
    rng = np.random.default_rng(1)
    centroids = _clusters(rng, np.eye(8), 5).astype(np.float32)
    heads = SpaceHeads(domain=Domain(centroids=centroids, top_k=2, threshold=0.6))
    loaded = SpaceHeads.load(heads.save(tmp_path / "heads.safetensors"))
    assert loaded.domain.top_k == 2 and loaded.domain.threshold == 0.6
    assert np.allclose(loaded.domain.centroids, centroids, atol=1e-3)  # stored as float16
    assert SpaceHeads.load(SpaceHeads().save(tmp_path / "none.safetensors")).domain is None


def _heads_with_colours():
    labels = ["blue", "navy blue", "red"]
    return SpaceHeads(
        heads={"colour": Head(labels=labels, weight=np.zeros((3, 2)), bias=np.zeros(3))},
        zero_shot_temperature={"pattern": 0.1},
    )


def test_a_colour_modifier_is_read_longest_first_and_filler_words_are_dropped():
    heads = _heads_with_colours()
    assert modifier_split("but in navy blue", heads=heads) == ("navy blue", "")
    assert modifier_split("In Red, with long sleeves", heads=heads) == ("red", "long sleeves")
    assert modifier_split("with long sleeves", heads=heads) == (None, "with long sleeves")
    assert modifier_split("in blue", heads=None) == (None, "in blue")
    assert colour_named("bluetooth speaker", ["blue"]) is None


def test_a_negative_text_names_the_attribute_to_leave_out():
    heads = _heads_with_colours()
    assert negative_attributes("stripes", heads=heads) == {"pattern": "striped"}
    assert negative_attributes("red", heads=heads) == {"colour": "red"}
    assert negative_attributes("polka dots", heads=heads) == {"pattern": "polka dot"}
    assert negative_attributes("stripes", heads=None) == {}
    assert negative_attributes("velvet", heads=heads) == {}


def test_the_type_rerank_weight_is_chosen_on_a_gallery_of_validation_photos_only():
    # two types on two axes plus noise; the fit rows carry labels the head learns, the
    # validation rows are the gallery once there are enough of them
    rng = np.random.default_rng(0)
    types = np.array(["a", "b"] * 150)
    vectors = np.where((types == "a")[:, None], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    vectors = vectors + rng.normal(0, 0.6, vectors.shape)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    values = {"category": list(types), "colour": [None] * len(types)}
    fit_rows = np.arange(60)
    _, big = space_heads_fit(vectors=vectors, values=values, fit_rows=fit_rows,
                             val_rows=np.arange(60, 300), min_val_gallery=200)  # fmt: skip
    _, small = space_heads_fit(vectors=vectors, values=values, fit_rows=fit_rows,
                               val_rows=np.arange(60, 300), min_val_gallery=1000)  # fmt: skip
    assert big["photo_rerank_gallery"] == "validation"
    assert small["photo_rerank_gallery"] == "all rows"
    # the re-rank helps on both galleries, and the two galleries give different P@10
    for report in (big, small):
        assert report["photo_rerank_p10"][2.0] > report["photo_rerank_p10"][0.0]
    assert big["photo_rerank_p10"] != small["photo_rerank_p10"]
