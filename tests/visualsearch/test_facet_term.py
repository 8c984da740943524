"""Hybrid text search's facet term: P(the colour a query names) · P(the item type it names),
read by the space's heads from each candidate's photo and title."""

from __future__ import annotations

import pytest

from tests.visualsearch.search_helpers import axis
from tests.visualsearch.test_calibrated_search import COLOURS, TYPES, _head
from visualsearch.heads import SpaceHeads
from visualsearch.search import facet_term


def _heads(*, title_weight: float = 0.0) -> SpaceHeads:
    colour, category = _head(COLOURS), _head(TYPES)
    category.title_weight = title_weight
    return SpaceHeads(heads={"colour": colour, "category": category})


def test_a_product_with_the_named_colour_and_type_scores_near_one_and_others_near_zero():
    vectors = {1: axis("red", "bag"), 2: axis("red", "scarf"), 3: axis("blue", "bag")}
    term = facet_term(heads=_heads(), text="red bags", vectors=vectors, titles={}, ids=[1, 2, 3])
    assert term[0] > 0.9
    assert term[1] < 0.1 and term[2] < 0.1
    assert ((term >= 0) & (term <= 1)).all()


def test_a_facet_the_query_does_not_name_counts_one():
    vectors = {1: axis("red", "bag"), 2: axis("red", "scarf")}
    term = facet_term(heads=_heads(), text="something red", vectors=vectors, titles={}, ids=[1, 2])
    assert term[0] == pytest.approx(term[1], abs=0.05) and term.min() > 0.9


def test_no_named_facet_no_heads_or_no_vector_gives_zero():
    vectors = {1: axis("red", "bag")}
    assert not facet_term(heads=_heads(), text="velvet", vectors=vectors, titles={}, ids=[1]).any()
    assert not facet_term(heads=None, text="red bag", vectors=vectors, titles={}, ids=[1]).any()
    term = facet_term(heads=_heads(), text="red bag", vectors=vectors, titles={}, ids=[1, 2])
    assert term[0] > 0.9 and term[1] == 0.0


def test_with_title_evidence_the_title_settles_a_type_the_photo_leaves_open():
    vectors = {1: axis("red", "bag", "scarf"), 2: axis("red", "bag", "scarf")}
    titles = {1: "Red leather bag", 2: "Red wool scarf"}
    photo_only = facet_term(heads=_heads(), text="red bag", vectors=vectors, titles=titles,
                            ids=[1, 2])  # fmt: skip
    assert photo_only[0] == pytest.approx(photo_only[1])
    titled = facet_term(heads=_heads(title_weight=4.0), text="red bag", vectors=vectors,
                        titles=titles, ids=[1, 2])  # fmt: skip
    assert titled[0] > photo_only[0] > titled[1]
