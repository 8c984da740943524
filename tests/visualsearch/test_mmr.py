import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from visualsearch.mmr import mmr

finite = st.floats(min_value=-1, max_value=1, allow_nan=False, width=32)


@st.composite
def candidates(draw):
    n = draw(st.integers(min_value=0, max_value=30))
    dim = draw(st.integers(min_value=1, max_value=6))
    sims = draw(arrays(np.float64, n, elements=finite))
    vectors = draw(arrays(np.float64, (n, dim), elements=finite))
    k = draw(st.integers(min_value=0, max_value=40))
    return sims, vectors, k


@settings(max_examples=150, deadline=None)
@given(candidates())
def test_no_diversity_keeps_the_relevance_order(case):
    sims, vectors, k = case
    picked = mmr(query_sims=sims, item_vectors=vectors, k=k, diversity=0.0)
    assert [sims[i] for i in picked] == sorted(sims, reverse=True)[: len(picked)]


@settings(max_examples=150, deadline=None)
@given(candidates(), st.floats(min_value=0, max_value=1))
def test_picks_are_distinct_candidates_and_min_k_n_of_them(case, diversity):
    sims, vectors, k = case
    picked = mmr(query_sims=sims, item_vectors=vectors, k=k, diversity=diversity)
    assert len(picked) == min(k, len(sims))
    assert len(set(picked)) == len(picked)
    assert all(0 <= i < len(sims) for i in picked)


def test_diversity_prefers_a_different_item_over_a_near_duplicate():
    vectors = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]])
    sims = np.array([0.9, 0.89, 0.5])
    assert mmr(query_sims=sims, item_vectors=vectors, k=2, diversity=0.0) == [0, 1]
    assert mmr(query_sims=sims, item_vectors=vectors, k=2, diversity=0.7) == [0, 2]
