"""Stacked photo terms: fitted with the text model's logit as a fixed offset (pure, no database)."""

from pathlib import Path

import numpy as np
import pytest

from dedupe import scoring
from dedupe.comparison import PairSignals
from dedupe.lab.image_evidence import (
    FEATURES,
    EvidenceFit,
    evidence_carry,
    evidence_fit,
    evidence_fold,
)
from dedupe.lab.stacked import (
    TERMS,
    fit_and_report_ids,
    label_states,
    offset_fit,
    photo_columns,
    text_offset,
)
from visualsearch.lab.evaluation import load_products, split_ids

FASHION = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
FASHION = FASHION / "fashion_product_images_small"


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def synthetic_pairs(seed: int):
    """(photo features, text offset, labels, same-title mask) shaped like the fashion pairs:
    re-listings have reworded titles (a modest text logit) and photos that align almost
    perfectly; same-title variants have identical titles (a large text logit) and photos shot
    the same way that align a little less well; nearest photos have other titles."""
    rng = np.random.default_rng(seed)

    def photos(n, aligned_lo, aligned_hi, copy):
        return np.column_stack([
            rng.uniform(copy - 0.05, copy + 0.05, n),  # copy cosine
            rng.uniform(0.7, 0.95, n),  # colour similarity
            rng.uniform(0.2, 0.45, n),  # pHash / 64
            np.arctanh(rng.uniform(aligned_lo, aligned_hi, n)),  # aligned correlation, Fisher's z
        ])  # fmt: skip

    x = np.vstack([photos(200, 0.98, 0.996, 0.9), photos(150, 0.85, 0.95, 0.88),
                   photos(400, 0.4, 0.9, 0.8)])  # fmt: skip
    offset = np.concatenate([rng.normal(1.5, 1.0, 200), rng.normal(6.0, 0.5, 150),
                             rng.normal(-4.0, 1.0, 400)])  # fmt: skip
    y = np.array([1] * 200 + [0] * 550)
    same_title = np.array([False] * 200 + [True] * 150 + [False] * 400)
    return x, offset, y, same_title


def test_the_stacked_fit_pulls_same_title_variants_below_half_and_keeps_relistings_above():
    x, offset, y, same_title = synthetic_pairs(seed=0)
    assert (sigmoid(offset[same_title]) > 0.5).all()  # the words alone queue every variant

    fit = offset_fit(x=x, offset=offset, y=y, names=FEATURES)  # classes balanced, as shipped

    x2, offset2, y2, same2 = synthetic_pairs(seed=1)  # judged on pairs the fit never saw
    p = sigmoid(offset2 + fit.log_lr(x2))
    assert (p[same2] >= 0.5).mean() < 0.1
    assert (p[y2 == 1] >= 0.5).mean() > 0.95
    assert (p[(y2 == 0) & ~same2] >= 0.5).mean() < 0.01
    assert fit.coef[3] > 0  # better aligned pixels count for a duplicate


def test_the_fit_that_ignores_the_text_logit_leaves_those_variants_in_the_queue():
    x, offset, y, same_title = synthetic_pairs(seed=0)
    apart = evidence_fit(x, y)  # naive Bayes: photo terms fitted without the words
    p = sigmoid(offset + apart.log_lr(x))
    assert (p[same_title] >= 0.5).mean() > 0.5


def test_with_no_offset_the_stacked_fit_is_the_class_balanced_logistic_regression():
    x, _offset, y, _ = synthetic_pairs(seed=2)
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    mine = offset_fit(x=x, offset=np.zeros(len(y)), y=y, names=FEATURES)
    sk = LogisticRegression(class_weight="balanced", C=1.0, tol=1e-10, max_iter=20000).fit(x, y)
    assert mine.coef == pytest.approx(sk.coef_[0].tolist(), abs=1e-4)
    assert mine.intercept == pytest.approx(float(sk.intercept_[0]), abs=1e-4)


def test_the_offset_is_what_the_words_say_with_or_without_photos():
    model = scoring.model_load()
    words = dict(token_set=1.0, ratio=1.0, title_embedding_cos=1.0, brand="equal",
                 same_seller="equal", price_state="known", price_rel_diff=0.1)  # fmt: skip
    photos = PairSignals(**words, image_copy_cos=0.9, image_colour_sim=0.8, image_phash_min=20,
                         image_aligned_sim=0.96, image_best_cos=0.9)  # fmt: skip
    bare = PairSignals(**words)
    x = scoring.feature_matrix([photos, bare])
    offset = text_offset(model=model, x=x)
    assert offset[0] == pytest.approx(offset[1])
    assert offset[1] == pytest.approx(model.logit(x[1:])[0])
    assert x[0, photo_columns()] == pytest.approx([0.9, 0.8, 20 / 64, np.arctanh(0.96), 0, 0])


def test_folding_stacked_terms_changes_only_pairs_with_photos():
    model = scoring.model_load()
    stacked = evidence_fold(model=model, fit=EvidenceFit(coef=[1.0, 2.0, 0.0, 9.0], intercept=-25))
    bare = PairSignals(token_set=0.9, ratio=0.8, title_embedding_cos=0.9, brand="equal")
    assert stacked.logit(scoring.features(bare))[0] == pytest.approx(
        model.logit(scoring.features(bare))[0]
    )


@pytest.mark.skipif(
    not FASHION.is_dir(), reason="../shared/data/fashion_product_images_small absent"
)
def test_the_stacked_pairs_come_from_the_train_split_only_and_the_report_part_is_apart():
    ids = [p.id for p in load_products(FASHION)]
    _train, test = split_ids(ids, seed=0)
    fitted_on, reported_on = fit_and_report_ids(FASHION)
    assert not (fitted_on | reported_on) & test
    assert not fitted_on & reported_on
    assert len(reported_on) == pytest.approx(0.2 * (len(fitted_on) + len(reported_on)), abs=1)


def test_the_fit_refuses_columns_that_do_not_match_its_terms():
    x, offset, y, _ = synthetic_pairs(seed=0)
    with pytest.raises(ValueError, match="4 columns for 6 terms"):
        offset_fit(x=x, offset=offset, y=y, names=TERMS)


def with_colour_labels(x, y, same_title, rng):
    """The four photo features plus colour-label states: re-listings' labels mostly agree,
    same-title variants' mostly conflict (colour variants), the rest at random."""
    n = len(y)
    conflict_rate = np.where(y == 1, 0.05, np.where(same_title, 0.7, 0.5))
    known = rng.uniform(size=n) < 0.85
    conflict = known & (rng.uniform(size=n) < conflict_rate)
    return np.column_stack([x, conflict, known & ~conflict]).astype(float)


def test_colour_labels_that_conflict_count_against_a_duplicate_and_agreeing_ones_for_it():
    rng = np.random.default_rng(0)
    x, offset, y, same_title = synthetic_pairs(seed=0)
    fit = offset_fit(x=with_colour_labels(x, y, same_title, rng), offset=offset, y=y)
    conflict, agree = fit.coef[4], fit.coef[5]
    assert conflict < agree
    assert conflict < 0

    x2, offset2, y2, same2 = synthetic_pairs(seed=1)
    x2 = with_colour_labels(x2, y2, same2, rng)
    four = offset_fit(x=x[:, :4], offset=offset, y=y, names=FEATURES)
    with_labels = sigmoid(offset2 + fit.log_lr(x2))
    without = sigmoid(offset2 + four.log_lr(x2[:, :4]))
    flagged = (x2[:, 4] == 1) & same2  # variants whose photos' colour labels conflict
    assert with_labels[flagged].mean() < without[flagged].mean()


def test_colour_label_terms_fold_into_the_model_and_survive_a_carry_to_a_text_refit():
    model = scoring.model_load()
    fit = EvidenceFit(coef=[1.0, 2.0, 0.0, 9.0, -3.0, 0.5], intercept=-25, names=TERMS)
    stacked = evidence_fold(model=model, fit=fit)
    words = dict(token_set=0.9, ratio=0.8, title_embedding_cos=0.9, brand="equal")
    photos = dict(image_copy_cos=0.9, image_colour_sim=0.8, image_phash_min=20,
                  image_aligned_sim=0.96)  # fmt: skip
    conflict = scoring.features(PairSignals(**words, **photos, photo_colour="conflict"))
    agree = scoring.features(PairSignals(**words, **photos, photo_colour="agree"))
    unknown = scoring.features(PairSignals(**words, **photos))
    assert stacked.logit(conflict)[0] - stacked.logit(unknown)[0] == pytest.approx(-3.0)
    assert stacked.logit(agree)[0] - stacked.logit(unknown)[0] == pytest.approx(0.5)
    assert stacked.meta["image_evidence"]["coef"]["photo_colour=conflict"] == -3.0

    carried = evidence_carry(model=model, previous_meta=stacked.meta)
    assert carried.logit(conflict)[0] == pytest.approx(stacked.logit(conflict)[0])
    four = evidence_fold(model=stacked, fit=EvidenceFit(coef=[1.0, 2.0, 0.0, 9.0], intercept=-25))
    assert four.logit(conflict)[0] == pytest.approx(four.logit(unknown)[0])  # terms reset to 0


def test_label_states_are_the_share_of_each_kind_of_pair_by_colour_label_state():
    rows = [PairSignals(photo_colour=state) for state in ("conflict", "agree", "missing", "agree")]
    x = scoring.feature_matrix(rows)
    states = label_states(x=x, kinds=["relisting", "relisting", "same_title", "same_title"])
    assert states["relisting"] == {"conflict": 0.5, "agree": 0.5, "unknown": 0.0}
    assert states["same_title"] == {"conflict": 0.0, "agree": 0.5, "unknown": 0.5}
    assert "nearest" not in states
