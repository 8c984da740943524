"""Hybrid fusion follows the formula documented in visualsearch.fusion."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from visualsearch.fusion import DEFAULT_WEIGHTS, FusionWeights, fuse, keyword_normalise

unit = st.floats(min_value=-1, max_value=1, allow_nan=False)
rank = st.floats(min_value=0, max_value=1e3, allow_nan=False)
weight = st.floats(min_value=0, max_value=1, allow_nan=False)


@given(
    rows=st.lists(st.tuples(unit, unit, rank), min_size=1, max_size=20),
    wi=weight,
    wt=weight,
    wk=weight,
    k=st.floats(min_value=0.01, max_value=100),
)
def test_scores_equal_the_documented_formula(rows, wi, wt, wk, k):
    img, title, kw = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    w = FusionWeights(image=wi, title=wt, keyword=wk, keyword_k=k)
    expected = wi * img + wt * title + wk * kw / (kw + k)
    np.testing.assert_allclose(
        fuse(image_sim=img, title_sim=title, keyword=kw, weights=w), expected, rtol=1e-9, atol=1e-12
    )


@given(a=unit, b=unit, title=unit, kw=rank)
def test_a_closer_image_never_ranks_lower_when_the_rest_is_equal(a, b, title, kw):
    scores = fuse(
        image_sim=np.array([a, b]), title_sim=np.array([title, title]), keyword=np.array([kw, kw])
    )
    if a > b + 1e-9:
        assert scores[0] > scores[1]
    elif b > a + 1e-9:
        assert scores[1] > scores[0]


@given(s=st.lists(rank, min_size=1, max_size=20), k=st.floats(min_value=0.01, max_value=100))
def test_keyword_scores_map_into_zero_one_and_keep_their_order(s, k):
    arr = np.array(s)
    norm = keyword_normalise(arr, k=k)
    assert ((norm >= 0) & (norm < 1)).all()
    for x, y in zip(arr, arr[1:], strict=False):
        if x > y:
            assert (
                keyword_normalise(np.array([x]), k=k)[0] >= keyword_normalise(np.array([y]), k=k)[0]
            )


def test_a_keyword_match_breaks_a_tie_in_similarity():
    scores = fuse(
        image_sim=np.array([0.3, 0.3]),
        title_sim=np.array([0.5, 0.5]),
        keyword=np.array([0.0, 2.0]),
        weights=DEFAULT_WEIGHTS,
    )
    assert scores[1] > scores[0]
    assert keyword_normalise(np.array([1.0]), k=1.0)[0] == 0.5
