"""Compound spellings in full-text search (catalog.keywords): "tshirts" finds "T-Shirt",
"t-shirt" finds "Tshirt", "hand bag" finds "Handbag"; a query in websearch syntax stays as typed."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.keywords import MAX_VARIANTS, keyword_variants, query_spellings, word_spellings
from catalog.selectors import products_filter
from tests.factories import ProductFactory


def squashed(text: str) -> str:
    return re.sub(r"[\s-]", "", text)


def test_a_word_is_also_tried_with_a_hyphen_and_a_compound_without_one():
    assert "grey t-shirts" in keyword_variants("grey tshirts")
    assert "navy blue tshirt" in keyword_variants("navy blue t-shirt")
    assert "handbag" in keyword_variants("hand bag")


def test_the_query_as_typed_comes_first_and_short_words_are_not_split():
    variants = keyword_variants("red DIR-412 cap")
    # "red" and "cap" are too short to split; the code is also tried without its hyphen
    assert variants == ["red DIR-412 cap", "red DIR412 cap"]


def test_a_code_is_also_tried_with_a_hyphen_put_in():
    assert "D-Link DIR-412" in keyword_variants("D-Link DIR412")
    assert "sony wh-1000xm4" in keyword_variants("sony wh1000xm4")
    assert "iphone12" in keyword_variants("iphone 12")
    # a number alone has no letters to meet: it is joined to its neighbour, never split
    assert keyword_variants("cap 42") == ["cap 42", "cap42"]


@pytest.mark.parametrize("text", ['"t shirt"', "dress -stripes", "tshirt or shirt"])
def test_websearch_syntax_is_left_as_typed(text):
    assert keyword_variants(text) == [text]


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)


@given(st.lists(words, min_size=1, max_size=8))
def test_variants_only_move_hyphens_and_spaces(parts):
    text = " ".join(parts)
    variants = keyword_variants(text)
    assert variants[0] == text
    assert len(variants) == len(set(variants)) <= MAX_VARIANTS + 1
    for variant in variants:
        assert squashed(variant) == squashed(text)


def test_the_setting_turns_the_variants_off(settings):
    settings.SEARCH_KEYWORD_SPELLINGS = False
    assert query_spellings("grey tshirts") == ["grey tshirts"]
    settings.SEARCH_KEYWORD_SPELLINGS = True
    assert len(query_spellings("grey tshirts")) > 1


@pytest.mark.django_db
def test_the_product_list_finds_a_compound_however_it_is_spelt(settings):
    hyphen = ProductFactory(title="Puma Men Grey Round Neck T-Shirt")
    joined = ProductFactory(title="Nike Men Grey Tshirt")
    shirt = ProductFactory(title="Arrow Men Grey Formal Shirt")
    found = set(products_filter(q="grey tshirts").values_list("pk", flat=True))
    assert found == {hyphen.pk, joined.pk}
    found = set(products_filter(q="grey t-shirt").values_list("pk", flat=True))
    assert found == {hyphen.pk, joined.pk}
    assert shirt.pk not in found
    settings.SEARCH_KEYWORD_SPELLINGS = False
    assert set(products_filter(q="grey tshirts").values_list("pk", flat=True)) == {joined.pk}


def test_a_word_s_own_spellings():
    assert word_spellings("t-shirt") == ["tshirt"]
    assert word_spellings("tshirt") == ["t-shirt", "ts-hirt", "tsh-irt"]
    assert word_spellings("cap") == []
    assert word_spellings("DIR412") == ["D-IR412", "DI-R412", "DIR-412", "DIR4-12", "DIR41-2"]
    assert "kx-tga670b" in word_spellings("kxtga670b")
    assert word_spellings("412") == []


@pytest.mark.django_db
def test_the_product_list_finds_a_model_number_with_or_without_its_hyphen():
    hyphen = ProductFactory(title="D-Link DIR-412 Wireless Router")
    joined = ProductFactory(title="D-Link DIR412 Router")
    other = ProductFactory(title="D-Link DIR-413 Router")
    for q in ("dir412", "DIR-412", "dir412 router"):
        assert set(products_filter(q=q).values_list("pk", flat=True)) == {hyphen.pk, joined.pk}, q
    assert other.pk not in set(products_filter(q="dir412").values_list("pk", flat=True))


@pytest.mark.django_db
def test_a_code_with_two_hyphens_is_found_typed_joined_or_hyphenated_elsewhere():
    # no query-side spelling puts two hyphens in: the search document holds the joined form
    listed = ProductFactory(title="Sony MDR-XB40-EX Headphones", brand="Sony")
    other = ProductFactory(title="Sony MDR-XB50-EX Headphones", brand="Sony")
    for q in ("mdrxb40ex", "MDR-XB40EX", "mdrxb40ex headphones", "MDR-XB40-EX"):
        assert set(products_filter(q=q).values_list("pk", flat=True)) == {listed.pk}, q
    # the parts still find it, as before
    assert listed.pk in set(products_filter(q="xb40").values_list("pk", flat=True))
    assert other.pk in set(products_filter(q="sony headphones").values_list("pk", flat=True))
