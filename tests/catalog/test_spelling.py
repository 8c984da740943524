"""Spelling correction against the catalog's words (catalog.spelling): a typo is searched as the
nearest catalog word; English words, catalog words and codes stay as typed."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.spelling import Lexicon, corrected, lexicon_build, lexicon_clear, max_edits
from tests.factories import ProductFactory

LEXICON = Lexicon({"jeans": 40, "black": 90, "backpacks": 12, "shirts": 30, "tshirts": 20})


def test_a_typo_becomes_the_nearest_catalog_word():
    assert corrected("black jeasn", LEXICON) == "black jeans"
    assert corrected("Black backpcks", LEXICON) == "Black backpacks"


def test_punctuation_around_a_word_is_kept_and_the_word_corrected():
    assert corrected("black jeasn, red backpcks!", LEXICON) == "black jeans, red backpacks!"
    assert corrected("(jeasn)", LEXICON) == "(jeans)"
    # a word joined to digits, hyphens or inner dots is a token of its own kind: left alone
    assert corrected("jeasn-412 jeasn.x 4jeasn", LEXICON) is None


def test_ties_prefer_the_same_first_letter_then_more_listings():
    # "thirts" is one edit from both "shirts" (more listings) and "tshirts"
    assert corrected("thirts", LEXICON) == "tshirts"


def test_catalog_words_english_words_codes_and_syntax_stay_as_typed():
    lexicon = Lexicon({"green": 5, "rose": 2}, known={"garden": 30324, "hose": 7114})
    assert corrected("green rose", lexicon) is None
    assert corrected("garden hose", lexicon) is None
    assert corrected("DIR-412 jeasn", LEXICON) == "DIR-412 jeans"
    assert corrected('"jeasn"', LEXICON) is None
    assert corrected("zzzzqqqq", LEXICON) is None  # nothing within two edits


def test_a_rare_english_word_is_corrected_to_a_far_more_common_catalog_word_one_edit_away():
    english = {"blu": 173, "blue": 124161, "hose": 7114, "rose": 27460, "gley": 50, "grey": 10933}
    english["the"] = 1_600_000_000  # the rest of English: the shop's words are rare there
    counts = {"blue": 9, "rose": 2, "grey": 4, "jeans": 40}
    lexicon = Lexicon(counts, known=english, english_ratio=20, listings=50)
    assert corrected("blu jeans", lexicon) == "blue jeans"  # "blue" is 718 times as common
    assert corrected("gley jeans", lexicon) == "grey jeans"
    assert corrected("garden hose", lexicon) is None  # "rose" only 4 times as common
    # ratio 0: English words stay as typed
    assert corrected("blu jeans", Lexicon(counts, known=english)) is None
    # an English word is corrected by one edit at most (seven letters allow two otherwise)
    two = Lexicon(
        counts, known={**english, "jeansxy": 50, "jeans": 9000}, english_ratio=20, listings=50
    )
    assert corrected("jeansxy", two) is None
    assert corrected("jeansxz", two) == "jeans"  # not English: two edits


def test_an_english_word_is_not_taken_by_a_common_word_that_a_few_titles_use():
    # "dog food" must not become "do food": "do" is 77 times as common as "dog" in English, but
    # no more common in the titles (2 of 1,000) than in English (0.8%)
    english = {"do": 12_695_125, "dog": 164_131, "food": 200_246, "blue": 124_161, "blu": 173}
    english["the"] = 1_600_000_000 - sum(english.values())
    counts = {"do": 2, "blue": 150, "jeans": 300}
    lexicon = Lexicon(counts, known=english, english_ratio=20, listings=1000)
    assert not lexicon.domain_word("do") and lexicon.domain_word("blue")
    assert corrected("dog food", lexicon) is None
    assert corrected("blu jeans", lexicon) == "blue jeans"


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12))
def test_edits_follow_elasticsearch_auto(word):
    assert max_edits(word) == (0 if len(word) <= 2 else 1 if len(word) <= 5 else 2)
    fixed = LEXICON.nearest(word)
    assert fixed is None or fixed in LEXICON.counts
    if len(word) <= 2 or word in LEXICON.counts:
        assert fixed is None


@pytest.mark.django_db
def test_the_lexicon_reads_active_titles_only():
    ProductFactory(title="Roadster Men Navy Jeans")
    ProductFactory(title="Hidden Kurta", status="hidden")
    lexicon_clear()
    counts = lexicon_build().counts
    assert counts["jeans"] == 1
    assert "kurta" not in counts


@pytest.mark.django_db(transaction=True)
def test_a_stale_lexicon_is_rebuilt_in_the_background_while_the_kept_one_answers(settings):
    import time  # noqa: PLC0415

    from catalog import spelling  # noqa: PLC0415
    from catalog.spelling import lexicon  # noqa: PLC0415

    ProductFactory(title="Roadster Men Navy Jeans")
    lexicon_clear()
    assert "jeans" in lexicon().counts
    settings.SEARCH_SPELLING_LEXICON_SECONDS = 0
    ProductFactory(title="Anouk Women Kurta")
    time.sleep(0.01)
    assert "kurta" not in lexicon().counts  # answered from the kept lexicon, at once
    deadline = time.monotonic() + 10
    while "kurta" not in lexicon().counts and time.monotonic() < deadline:
        time.sleep(0.05)
    settings.SEARCH_SPELLING_LEXICON_SECONDS = 3600
    assert "kurta" in lexicon().counts
    while spelling._cache["rebuilding"] and time.monotonic() < deadline:
        time.sleep(0.05)  # no rebuild thread outlives the test
    lexicon_clear()


@given(st.text(max_size=40))
def test_any_text_is_corrected_word_for_word_or_left_alone(text):
    fixed = corrected(text, LEXICON)
    if fixed is not None:
        # only whole words change: every other character stays where it was
        assert fixed.split() != text.split()
        assert len(fixed.split()) == len(text.split())
        for before, after in zip(text.split(), fixed.split(), strict=True):
            assert before == after or after.strip("()[]{}\"'«».,;:!?").lower() in LEXICON.counts
