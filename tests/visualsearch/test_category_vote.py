"""The category vote: a ranking re-scored by how many of its top results share each
candidate's catalog category. Pure: no database."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from visualsearch.search import CATEGORY_VOTE_COPY, CATEGORY_VOTE_TOP, category_vote


@st.composite
def rankings(draw):
    n = draw(st.integers(min_value=0, max_value=30))
    scores = sorted(
        draw(st.lists(st.floats(-2, 3, allow_nan=False), min_size=n, max_size=n)), reverse=True
    )
    ranked = [(pid, score) for pid, score in enumerate(scores, start=1)]
    categories = {
        pid: draw(st.one_of(st.none(), st.integers(min_value=1, max_value=3))) for pid, _ in ranked
    }
    return ranked, categories


@given(case=rankings(), weight=st.floats(0, 3, allow_nan=False), discount=st.booleans())
def test_the_vote_only_reorders_and_adds_at_most_its_weight(case, weight, discount):
    ranked, categories = case
    voted = category_vote(ranked=ranked, categories=categories, weight=weight, discount=discount)
    assert sorted(pid for pid, _ in voted) == [pid for pid, _ in ranked]
    before = dict(ranked)
    for pid, score in voted:
        assert before[pid] - 1e-9 <= score <= before[pid] + weight + 1e-9
        if categories[pid] is None:
            assert score == before[pid]
    assert [s for _, s in voted] == sorted((s for _, s in voted), reverse=True)


@given(case=rankings(), discount=st.booleans())
def test_no_weight_or_one_category_keeps_the_order(case, discount):
    ranked, categories = case
    assert category_vote(ranked=ranked, categories=categories, weight=0.0) == ranked
    same = dict.fromkeys(categories, 7)
    voted = category_vote(ranked=ranked, categories=same, weight=1.0, discount=discount)
    assert [pid for pid, _ in voted] == [
        pid for pid, _ in sorted(ranked, key=lambda r: (-r[1], r[0]))
    ]


def test_the_neighbours_category_lifts_its_listings_over_a_close_stranger():
    # Nine dresses and a bag at the top; a dress just under a second bag rises above it.
    ranked = [(i, 1.0 - i / 100) for i in range(1, 11)] + [(11, 0.5), (12, 0.49)]
    categories = {i: "dress" for i in range(1, 10)} | {10: "bag", 11: "bag", 12: "dress"}
    voted = category_vote(ranked=ranked, categories=categories, weight=0.5)
    order = [pid for pid, _ in voted]
    assert order.index(12) < order.index(11)
    assert dict(voted)[12] == pytest.approx(0.49 + 0.5 * 9 / CATEGORY_VOTE_TOP)
    assert dict(voted)[11] == pytest.approx(0.5 + 0.5 * 1 / CATEGORY_VOTE_TOP)
    # A voter's share is over the other nine: the bag among them gains nothing from itself.
    assert dict(voted)[10] == pytest.approx(ranked[9][1])
    assert dict(voted)[1] == pytest.approx(ranked[0][1] + 0.5 * 8 / 9)


@given(case=rankings(), weight=st.floats(0, 3, allow_nan=False))
def test_categories_that_all_differ_keep_the_order(case, weight):
    ranked, _ = case
    distinct = {pid: pid for pid, _ in ranked}
    voted = category_vote(ranked=ranked, categories=distinct, weight=weight)
    assert voted == sorted(ranked, key=lambda r: (-r[1], r[0]))


def test_a_copy_of_the_query_does_not_vote_and_keeps_its_place():
    # The top hit is the query's own photo (a bag); the ten voters after it are shoes.
    ranked = [(i, 1.0 - i / 100) for i in range(1, 12)]
    categories = {1: "bag"} | {i: "shoe" for i in range(2, 12)}
    cosines = {1: CATEGORY_VOTE_COPY + 0.01} | {i: 0.8 for i in range(2, 12)}
    voted = dict(category_vote(ranked=ranked, categories=categories, weight=1.0, cosines=cosines))
    # It cannot vote; as what the shopper photographed, it gains as much as the best-voted
    # shoe, so it stays first.
    assert voted[1] == pytest.approx(ranked[0][1] + 1.0)
    assert max(voted, key=voted.get) == 1
    assert voted[2] == pytest.approx(ranked[1][1] + 1.0)  # the other nine voters are shoes


@given(case=rankings(), weight=st.floats(0, 3, allow_nan=False))
def test_a_copy_of_the_query_ranked_first_stays_first(case, weight):
    ranked, categories = case
    assume(ranked)
    cosines = {pid: 0.5 for pid, _ in ranked} | {ranked[0][0]: CATEGORY_VOTE_COPY}
    voted = category_vote(ranked=ranked, categories=categories, weight=weight, cosines=cosines)
    top = max(score for _, score in voted)
    assert dict(voted)[ranked[0][0]] == pytest.approx(top)


def test_with_the_discount_the_nearer_voters_weigh_more():
    # Two voters of each category; the dresses are the nearer pair. Without the discount the two
    # candidates below gain alike; with it the dress gains more, by the DCG discount's shares.
    ranked = [(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6), (5, 0.3), (6, 0.3)]
    categories = {1: "dress", 2: "dress", 3: "bag", 4: "bag", 5: "dress", 6: "bag"}
    flat = dict(category_vote(ranked=ranked, categories=categories, weight=1.0, top=4))
    assert flat[5] == pytest.approx(flat[6]) == pytest.approx(0.3 + 0.5)
    voted = dict(
        category_vote(ranked=ranked, categories=categories, weight=1.0, top=4, discount=True)
    )
    votes = [1 / math.log2(rank + 1) for rank in (1, 2, 3, 4)]
    assert voted[5] == pytest.approx(0.3 + (votes[0] + votes[1]) / sum(votes))
    assert voted[6] == pytest.approx(0.3 + (votes[2] + votes[3]) / sum(votes))
    # Leave-one-out still: the first dress's share is the second dress's vote over the rest.
    assert voted[1] == pytest.approx(0.9 + votes[1] / (sum(votes) - votes[0]))
    assert voted[5] > voted[6]
