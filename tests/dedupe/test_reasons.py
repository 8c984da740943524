"""Reasons in words: the pair page leads with the strongest contributions, phrased plainly."""

from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe import scoring
from dedupe.comparison import PairSignals
from dedupe.reasons import pair_reasons, variant_flags


def _model(**coef) -> scoring.LinearModel:
    names = scoring.feature_names()
    return scoring.LinearModel(
        feature_names=names, mean=[0.0] * len(names), scale=[1.0] * len(names),
        coef=[coef.get(n, 0.0) for n in names], intercept=-1.0,
    )  # fmt: skip


VARIANT_PAIR = PairSignals(
    token_set=0.9, image_copy_cos=0.98, price_state="known", price_rel_diff=0.02,
    gender_words="conflict", colour_words="agree", brand="equal",
)  # fmt: skip


def test_the_reasons_name_the_strongest_signals_in_words():
    model = _model(**{"image_copy_cos": 4.0, "gender_words=conflict": -3.0,
                      "price_rel_diff": -10.0, "price_state=known": 2.0, "brand=equal": 0.5,
                      "token_set": 1.0})  # fmt: skip
    why = pair_reasons(signals=VARIANT_PAIR, title_a="Puma Men Polo", title_b="Puma Women Polo",
                       model=model)  # fmt: skip
    assert [r.text for r in why["for"]] == [
        "same photo (copy score 0.98)", "price within 2%", "titles alike (90% similar)"
    ]  # fmt: skip
    assert [r.text for r in why["against"]] == [
        "titles differ only in 'Men' vs 'Women': a variant?"
    ]


def test_a_conflict_the_model_weighs_most_leads_the_against_list():
    model = _model(**{"colour_words=conflict": -5.0, "image_copy_cos": -1.0})
    s = PairSignals(colour_words="conflict", image_copy_cos=0.4)
    why = pair_reasons(signals=s, title_a="Red polo shirt", title_b="White polo tee", model=model)
    assert why["against"][0].text == "titles name different colours: a variant?"
    assert why["against"][1].text == "different photos (copy score 0.40)"
    assert variant_flags(s) == ["colour_words"]


@settings(max_examples=50, deadline=None)
@given(copy=st.floats(0, 1), price=st.floats(0, 1), token=st.floats(0, 1),
       gender=st.sampled_from(["conflict", "agree", "missing"]))  # fmt: skip
def test_with_the_shipped_model_reasons_are_the_largest_contributions_at_most_three(
    copy, price, token, gender
):
    s = PairSignals(token_set=token, image_copy_cos=copy, price_state="known",
                    price_rel_diff=price, gender_words=gender)  # fmt: skip
    why = pair_reasons(signals=s, title_a="a", title_b="b")
    for side, sign in (("for", 1), ("against", -1)):
        weights = [r.weight for r in why[side]]
        assert len(weights) <= 3 and all(sign * w > 0 for w in weights)
        assert weights == sorted(weights, key=lambda w: -sign * w)
    texts = [r.text for r in why["for"] + why["against"]]
    assert len(texts) == len(set(texts))
