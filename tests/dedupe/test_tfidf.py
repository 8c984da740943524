"""TF-IDF title cosines: rare shared words count more than common ones (pure)."""

import math

from hypothesis import given
from hypothesis import strategies as st

from dedupe.tfidf import TextWeights, weights_load, weights_save

CORPUS = [f"acme case for phone model {i}" for i in range(50)] + ["zx81 sinclair computer"]


def test_a_shared_rare_word_weighs_more_than_a_shared_common_word():
    w = TextWeights.fit(CORPUS)
    rare = w.similarity("zx81 blue", "zx81 red", "word")
    common = w.similarity("case blue", "case red", "word")
    assert rare > common


@given(a=st.text(max_size=30), b=st.text(max_size=30))
def test_similarity_is_symmetric_and_in_unit_range_or_none(a, b):
    w = TextWeights.fit(CORPUS)
    for analyser in ("word", "char"):
        s = w.similarity(a, b, analyser)
        assert s == w.similarity(b, a, analyser)
        assert s is None or -1e-9 <= s <= 1 + 1e-9


def test_identical_titles_have_cosine_one_and_unseen_words_still_count():
    w = TextWeights.fit(CORPUS)
    assert math.isclose(w.similarity("never seen words", "never seen words", "word"), 1.0)
    assert w.similarity("never seen", "words unseen", "char") < 0.5


def test_tables_round_trip_through_the_gzip_json_file(tmp_path):
    w = TextWeights.fit(CORPUS, meta={"fitted_on": "test"})
    weights_save(weights=w, path=tmp_path / "idf.json.gz")
    back = weights_load(tmp_path / "idf.json.gz")
    assert back.meta == {"fitted_on": "test"}
    assert back.similarity("acme zx81", "zx81", "char") == w.similarity("acme zx81", "zx81", "char")
