"""Copy-detection descriptors, the fitted image likelihood ratio, and how it enters the score."""

import csv
import io
import json
import random

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image, ImageDraw

from dedupe import image_copy, scoring
from dedupe.comparison import PairSignals
from dedupe.lab.image_evidence import (
    EvidenceFit,
    evidence_fit,
    evidence_fold,
    evidence_report,
    pair_rows,
)
from dedupe.listings import image_fingerprints
from dedupe.models import DuplicateCandidate, ImageHash
from dedupe.selectors import candidate_explain
from tests.factories import ProductImageFactory

COLOURS = [(200, 30, 30), (30, 60, 200), (30, 160, 60), (230, 200, 40), (120, 40, 160)]


def garment(colour, *, shape: str, seed: int) -> Image.Image:
    """A product-like photo: a coloured shape with a darker detail on a white background."""
    rng = random.Random(seed)
    image = Image.new("RGB", (96, 128), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    box = [14 + rng.randint(0, 8), 18 + rng.randint(0, 8), 80 - rng.randint(0, 8), 110]
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "triangle":
        draw.polygon([(box[0], box[3]), (box[2], box[3]), ((box[0] + box[2]) // 2, box[1])], colour)
    else:
        draw.rectangle(box, fill=colour)
    dark = tuple(c // 2 for c in colour)
    top = 50 + rng.randint(0, 20)
    draw.rectangle([40, top, 56, top + 10 + rng.randint(0, 10)], fill=dark)
    return image


def catalog(n: int, seed: int) -> tuple[list[Image.Image], list[str]]:
    rng = random.Random(seed)
    images, titles = [], []
    for i in range(n):
        shape = rng.choice(["rect", "circle", "triangle"])
        colour = (rng.randint(0, 230), rng.randint(0, 230), rng.randint(0, 230))
        images.append(garment(colour, shape=shape, seed=seed * 1000 + i))
        titles.append(f"brand {shape} {i % 7}")
    return images, titles


def test_a_relisted_photo_is_closer_to_its_original_than_a_colour_variant_is():
    photo = garment(COLOURS[0], shape="rect", seed=1)
    variant = garment(COLOURS[1], shape="rect", seed=1)
    copy = image_copy.relisted(photo, random.Random(3))
    vec, col = image_copy.copy_descriptors([photo, copy, variant])
    assert vec.shape == (3, 1280) and np.allclose(np.linalg.norm(vec, axis=1), 1, atol=1e-4)
    assert np.allclose(col.sum(axis=1), 1, atol=1e-4)
    assert image_copy.colour_similarity(col[0], col[1]) > image_copy.colour_similarity(
        col[0], col[2]
    )
    assert float(vec[0] @ vec[1]) > 0.8


def test_a_relisted_photo_aligns_with_its_original_better_than_a_variant_shot_the_same_way():
    """Same colour, same detail, another cut: alike at a glance, but not the same pixels."""
    photo = garment(COLOURS[0], shape="rect", seed=1)
    variant = garment(COLOURS[0], shape="circle", seed=1)
    thumbs = [image_copy.align_thumbnail(im) for im in (photo, variant)]
    for seed in range(5):
        copy = image_copy.align_thumbnail(image_copy.relisted(photo, random.Random(seed)))
        assert image_copy.aligned_similarity(thumbs[0], copy) > 0.95
        assert image_copy.aligned_similarity(thumbs[0], copy) > image_copy.aligned_similarity(
            thumbs[0], thumbs[1]
        )
    assert image_copy.aligned_similarity(*thumbs) == image_copy.aligned_similarity(*thumbs[::-1])
    assert image_copy.aligned_similarity(thumbs[0], thumbs[0]) == pytest.approx(1.0, abs=1e-5)


def test_the_fitted_likelihood_ratio_ranks_relisted_copies_above_hard_negatives_held_out():
    x_train, y_train = pair_rows(*catalog(30, seed=1), seed=0)
    fit = evidence_fit(x_train, y_train)
    x_test, y_test = pair_rows(*catalog(20, seed=2), seed=1)
    report = evidence_report(fit, x_test, y_test)
    assert report["positives"] == 20 and report["negatives"] >= 20
    assert report["auc"] > 0.8
    assert report["copies_above_0"] > 0.5 > report["negatives_above_0"]


def test_image_evidence_is_added_to_the_text_logit_only_when_both_listings_have_photos():
    text_model = scoring.model_load()
    fit = EvidenceFit(coef=[10.0, 5.0, -4.0, 2.0], intercept=-12.0)
    model = evidence_fold(model=text_model, fit=fit)
    words = dict(token_set=0.8, ratio=0.7, title_embedding_cos=0.8, brand="equal")
    no_photos = PairSignals(**words)
    assert model.logit(scoring.features(no_photos))[0] == pytest.approx(
        text_model.logit(scoring.features(no_photos))[0]
    )
    photos = PairSignals(
        **words, image_copy_cos=0.95, image_colour_sim=0.9, image_phash_min=8,
        image_best_cos=0.5, image_sha256_match=False, image_aligned_sim=0.9,
    )  # fmt: skip
    gain = model.logit(scoring.features(photos))[0] - model.logit(scoring.features(no_photos))[0]
    assert gain == pytest.approx(
        -12.0 + 10.0 * 0.95 + 5.0 * 0.9 - 4.0 * 8 / 64 + 2.0 * np.arctanh(0.9)
    )
    contributions = {n: c for n, _v, c in scoring.contributions(photos, model)}
    assert contributions["image_best_cos"] == 0.0  # the old hand-set prior is gone
    assert model.meta["image_evidence"]["coef"]["image_copy_cos"] == 10.0


def test_the_shipped_model_scores_a_relisted_photo_higher_than_a_colour_variant():
    words = dict(token_set=0.9, ratio=0.8, title_embedding_cos=0.85, brand="equal")
    copy = PairSignals(**words, image_copy_cos=0.96, image_colour_sim=0.9, image_phash_min=14,
                       image_aligned_sim=0.99)  # fmt: skip
    variant = PairSignals(**words, image_copy_cos=0.85, image_colour_sim=0.3, image_phash_min=14,
                          image_aligned_sim=0.8)  # fmt: skip
    assert scoring.score(copy) > scoring.score(PairSignals(**words)) > scoring.score(variant)


def _fashion_folder(root, images):
    (root / "images").mkdir(parents=True)
    with open(root / "styles.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "productDisplayName", "baseColour", "articleType", "image"])
        for i, image in enumerate(images):
            image.save(root / "images" / f"{i + 1}.jpg", "JPEG", quality=90)
            writer.writerow([i + 1, f"title {i % 9}", "Red", "Tshirts", f"images/{i + 1}.jpg"])


def test_dedupe_train_refits_the_photo_terms_and_keeps_the_text_terms(tmp_path):
    _fashion_folder(tmp_path / "photos", catalog(40, seed=4)[0])
    out = tmp_path / "model.json"
    stdout = io.StringIO()
    call_command("dedupe_train", "--image-evidence", str(tmp_path / "photos"), "--photos", "30",
                 "--out", str(out), stdout=stdout)  # fmt: skip
    assert "image log-LR" in stdout.getvalue()
    saved = json.loads(out.read_text())
    shipped = scoring.model_load()
    i = saved["feature_names"].index("token_set")
    assert saved["coef"][i] == shipped.coef[i]
    assert saved["meta"]["image_evidence"]["held_out"]["positives"] > 0


def test_dedupe_train_refuses_a_folder_without_styles_csv(tmp_path):
    with pytest.raises(CommandError, match="styles.csv"):
        call_command("dedupe_train", "--image-evidence", str(tmp_path), "--out",
                     str(tmp_path / "m.json"))  # fmt: skip


@pytest.mark.django_db
def test_photo_fingerprints_are_computed_once_per_image_and_then_read_back(monkeypatch):

    images = [ProductImageFactory(), ProductImageFactory()]
    first = image_fingerprints(images=images)
    stored = ImageHash.objects.get(image=images[0])
    assert stored.phash and len(stored.colour_hist) == 64
    assert np.asarray(stored.copy_vector, dtype=np.float32).shape == (1280,)

    def no_second_pass(_images):
        raise AssertionError("descriptors recomputed")

    monkeypatch.setattr(image_copy, "copy_descriptors", no_second_pass)
    again = image_fingerprints(images=images)
    assert again[images[0].pk].phash == first[images[0].pk].phash
    assert np.allclose(again[images[1].pk].copy_vector, first[images[1].pk].copy_vector, atol=1e-3)


def test_moderators_see_the_photo_offset_apart_from_the_copy_likeness():
    signals = PairSignals(token_set=0.9, image_copy_cos=0.97, image_colour_sim=0.9,
                          image_phash_min=10, image_best_cos=0.9)  # fmt: skip
    rows = {
        r.name: r
        for r in candidate_explain(candidate=DuplicateCandidate(signals=signals.to_dict()))
    }
    assert rows["image_copy_cos"].contribution > 0
    assert (
        rows["image_offset"].contribution < 0 and rows["image_offset"].value == "both have photos"
    )
    model = scoring.model_load()
    total = sum(r.contribution for r in rows.values()) + model.intercept
    assert total == pytest.approx(model.logit(scoring.features(signals))[0], abs=0.01)
