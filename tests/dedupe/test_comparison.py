"""Pair signals: symmetric, and missing data is its own state."""

import json

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from dedupe.comparison import (
    Listing,
    agreement,
    identifier_agreement,
    identifiers,
    pair_signals,
    phash_distance,
    phash_hex,
    price_signal,
)


def test_identifiers_are_normalised_across_punctuation():
    assert identifiers("Samsung SF16N4/TQP fridge") == identifiers("samsung sf16n4-tqp")


def test_identifier_states_share_conflict_missing():
    assert identifier_agreement(a={"lds4821ww"}, b={"lds4821"})[0] == "share"
    assert identifier_agreement(a={"lds4821"}, b={"ldf6920"})[0] == "conflict"
    assert identifier_agreement(a=set(), b={"ldf6920"})[0] == "missing"


def test_missing_price_is_not_zero_price():
    assert price_signal(a=None, b=10.0) == ("missing", None)
    assert price_signal(a=0.0, b=10.0) == ("missing", None)
    assert price_signal(a=10.0, b=10.0) == ("known", 0.0)


def test_different_currencies_without_rate_are_unknown():
    assert price_signal(a=10.0, b=10.0, currency_a="EUR", currency_b="USD")[0] == "unknown"
    state, diff = price_signal(
        a=10.0, b=11.0, currency_a="EUR", currency_b="USD", rates={"EUR": 1.1, "USD": 1.0}
    )
    assert state == "known" and diff == 0.0


_code = st.text(alphabet="abcdefghxyz0123456789", min_size=3, max_size=12)


@given(code=_code, cuts=st.lists(st.integers(min_value=1, max_value=11), max_size=3),
       marks=st.lists(st.sampled_from(["-", " ", "/", "."]), min_size=3, max_size=3))  # fmt: skip
def test_a_model_number_punctuated_or_spaced_otherwise_is_the_same_code(code, cuts, marks):
    punctuated = code
    for cut, mark in sorted(zip(cuts, marks, strict=False), reverse=True):
        if cut < len(punctuated):
            punctuated = punctuated[:cut] + mark + punctuated[cut:]
    assert agreement(a=code, b=punctuated.upper(), compact=True) == "equal"
    assert agreement(a=punctuated, b=code + "9", compact=True) == "different"


def test_model_numbers_compare_without_punctuation_and_brands_with_their_words():
    assert agreement(a="MDR-XB40EX", b="mdrxb40ex", compact=True) == "equal"
    assert agreement(a="dir 412", b="DIR-412", compact=True) == "equal"
    # without compact, words stay words: "dir 412" is not "dir412"
    assert agreement(a="dir 412", b="dir412") == "different"
    assert agreement(a="rp01-050106r1m1", b="rp01-00050106-r1m1", compact=True) == "different"


def test_brand_agreement_states():
    assert agreement(a="Elite Screens", b="elite") == "different"
    assert agreement(a="Elite Screens", b="elite", fuzzy=True) == "equal"
    assert agreement(a=None, b="elite") == "missing"


def test_phash_is_close_for_a_resized_copy_and_far_for_another_picture():
    rng = np.random.default_rng(0)
    img = Image.fromarray((rng.random((64, 64, 3)) * 255).astype("uint8"))
    other = Image.fromarray((rng.random((64, 64, 3)) * 255).astype("uint8"))
    assert phash_distance(phash_hex(img), phash_hex(img.resize((128, 128)))) <= 6
    assert phash_distance(phash_hex(img), phash_hex(other)) > 10


def test_pair_signals_are_symmetric_and_json_serialisable():

    a = Listing(
        title="LG 24' LDS4821WW dishwasher",
        price=399.0,
        brand="LG",
        title_vec=np.ones(4),
        image_vecs=np.eye(2),
        image_sha256=["x"],
    )
    b = Listing(
        title="lg lds4821-ww built in dish washer white",
        description="LG dishwasher",
        price=None,
        brand="lg",
        title_vec=np.arange(4.0),
        image_vecs=np.eye(2)[::-1],
        image_sha256=["x", "y"],
    )
    ab, ba = pair_signals(a=a, b=b), pair_signals(a=b, b=a)
    assert ab == ba
    d = json.loads(json.dumps(ab.to_dict()))
    assert d["price_state"] == "missing" and d["id_state"] == "share"
    assert d["image_sha256_match"] is True and d["image_best_cos"] == 1.0


def test_missing_images_are_their_own_state():
    s = pair_signals(a=Listing(title="a"), b=Listing(title="b"))
    assert s.image_best_cos is None and s.image_phash_min is None
    assert s.image_sha256_match is None
