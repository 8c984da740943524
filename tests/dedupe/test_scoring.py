"""Scoring: calibrated probability, symmetric, explainable, missing != zero."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.comparison import Listing, pair_signals
from dedupe.scoring import contributions, model_load, score

words = st.text(alphabet="abcdefgh0123456789 ", min_size=0, max_size=30)
prices = st.one_of(st.none(), st.just(0.0), st.floats(min_value=0.5, max_value=5000))


def listing(title, price):
    return Listing(title=title, price=price, title_vec=None)


@settings(max_examples=60, deadline=None)
@given(words, words, prices, prices)
def test_score_is_a_probability_and_symmetric(t1, t2, p1, p2):
    a, b = listing(t1, p1), listing(t2, p2)
    s_ab = score(pair_signals(a=a, b=b))
    s_ba = score(pair_signals(a=b, b=a))
    assert 0.0 <= s_ab <= 1.0
    assert math.isclose(s_ab, s_ba, abs_tol=1e-12)


@settings(max_examples=40, deadline=None)
@given(words, prices)
def test_contributions_sum_to_the_logit(t, p):
    sig = pair_signals(a=listing(t, p), b=listing(t[::-1], p))
    z = sum(c for _, _, c in contributions(sig))
    assert math.isclose(1 / (1 + math.exp(-z)), score(sig), rel_tol=1e-9, abs_tol=1e-12)


def test_identical_listings_score_higher_than_unrelated_ones():
    v = np.ones(8) / np.sqrt(8)
    a = Listing(
        title="sony bravia kdl-40ex500 40 inch lcd tv", price=899.0, brand="sony", title_vec=v
    )
    same = pair_signals(a=a, b=a)
    other = Listing(
        title="garmin nuvi 255w gps navigator", price=129.0, brand="garmin", title_vec=np.eye(8)[0]
    )
    assert score(same) > 0.5 > score(pair_signals(a=a, b=other))


def test_missing_price_scores_differently_from_zero_difference():
    a = Listing(title="canon eos 50d body", price=999.0)
    b_missing = Listing(title="canon eos 50d body", price=None)
    b_equal = Listing(title="canon eos 50d body", price=999.0)
    assert score(pair_signals(a=a, b=b_missing)) != score(pair_signals(a=a, b=b_equal))


def test_shipped_model_is_plain_json_with_a_threshold():
    m = model_load()
    assert len(m.coef) == len(m.feature_names) and 0 < m.threshold < 1
