"""Variant signals: pure functions that see a colour, gender, size, pack or model conflict."""

from hypothesis import given
from hypothesis import strategies as st

from dedupe import variants
from dedupe.comparison import Listing, pair_signals

COLOURS = ["Black", "White", "Red", "Navy", "Green", "Pink", "Grey", "Brown", "Yellow"]
GENDERS = ["Men", "Women", "Boys", "Girls"]
UNITS = ["ml", "GB", "kg", "mAh", "W", "cm"]
words = st.lists(st.sampled_from(["puma", "solid", "round", "neck", "tshirt", "casual", "shoe"]),
                 min_size=1, max_size=5).map(" ".join)  # fmt: skip
states = ("conflict", "agree", "missing")
STATE_FUNCS = [variants.colour_state, variants.gender_state, variants.quantity_state,
               variants.pack_state, variants.model_number_state]  # fmt: skip


@given(base=words, c1=st.sampled_from(COLOURS), c2=st.sampled_from(COLOURS))
def test_colour_words_conflict_exactly_when_the_colours_differ(base, c1, c2):
    state = variants.colour_state(a=f"Puma {c1} {base}", b=f"Puma {c2} {base}")
    assert state == ("agree" if c1 == c2 else "conflict")


@given(base=words, g1=st.sampled_from(GENDERS), g2=st.sampled_from(GENDERS))
def test_gender_words_conflict_exactly_when_the_genders_differ(base, g1, g2):
    state = variants.gender_state(a=f"Nike {g1}'s {base}", b=f"nike {g2.lower()} {base}")
    assert state == ("agree" if g1 == g2 else "conflict")


@given(base=words, g=st.sampled_from(GENDERS))
def test_unisex_goes_with_any_gender(base, g):
    assert variants.gender_state(a=f"Unisex {base}", b=f"{g} {base}") == "agree"


@given(n1=st.integers(1, 4000), n2=st.integers(1, 4000), unit=st.sampled_from(UNITS),
       base=words)  # fmt: skip
def test_quantities_with_one_unit_conflict_when_more_than_3_percent_apart(n1, n2, unit, base):
    state = variants.quantity_state(a=f"{base} {n1} {unit}", b=f"{base} {n2}{unit}")
    assert state == ("agree" if abs(n1 - n2) <= 0.03 * max(n1, n2) else "conflict")


def test_quantities_compare_in_base_units_and_ignore_other_dimensions():
    assert variants.quantity_state(a="ssd 1 TB", b="ssd 1000 GB") == "agree"
    assert variants.quantity_state(a="bottle 500 ml", b="bottle 0.5 l") == "agree"
    assert variants.quantity_state(a="bottle 500 ml", b="bottle 750 ml") == "conflict"
    assert variants.quantity_state(a="bottle 500 ml", b="bottle 2 kg") == "missing"
    assert variants.quantity_state(a="bottle", b="bottle 2 kg") == "missing"


@given(n1=st.integers(1, 48), n2=st.integers(1, 48), base=words,
       form=st.sampled_from(["pack of {}", "{}-pack", "{} pcs", "set of {}"]))  # fmt: skip
def test_pack_counts_conflict_when_they_differ(n1, n2, base, form):
    state = variants.pack_state(a=f"{base} {form.format(n1)}", b=f"{base} pack of {n2}")
    assert state == ("agree" if n1 == n2 else "conflict")


def test_model_numbers_one_character_apart_are_a_conflict_and_equal_ones_agree():
    assert variants.model_number_state(a="Sony WH-1000XM4", b="sony wh1000xm3") == "conflict"
    assert variants.model_number_state(a="Sony WH-1000XM4", b="sony wh1000xm4 black") == "agree"
    assert variants.model_number_state(a="Sony WH-1000XM4", b="Bose QC45") == "missing"


@given(st.integers(1, 5000), st.sampled_from(["mm", "ml", "gb", "in", "kg"]))
def test_a_number_with_its_unit_is_a_measurement_not_a_code(n, unit):
    assert variants.is_measurement(f"{n}{unit}")
    assert variants.is_measurement(f"{n} {unit.upper()}")
    assert not variants.is_measurement(f"{n}{unit}x2")


def test_code_like_needs_four_characters_a_digit_and_a_letter():
    assert variants.code_like("wh1000xm4")
    assert not variants.code_like("a12")
    assert not variants.code_like("123456")
    assert not variants.code_like("linen")


@given(a=st.text(max_size=40), b=st.text(max_size=40))
def test_every_variant_state_is_symmetric_and_one_of_three(a, b):
    for fn in STATE_FUNCS:
        assert fn(a=a, b=b) == fn(a=b, b=a)
        assert fn(a=a, b=b) in states


@given(a=st.text(max_size=40))
def test_a_title_never_conflicts_with_itself(a):
    for fn in STATE_FUNCS:
        assert fn(a=a, b=a) != "conflict"


def test_pair_signals_carry_the_variant_states_and_the_photo_colour():
    a = Listing(title="Puma Men Red Polo T-shirt", photo_colour="red")
    b = Listing(title="Puma Women White Polo T-shirt", photo_colour="white")
    s = pair_signals(a=a, b=b)
    assert (s.colour_words, s.gender_words, s.photo_colour) == ("conflict",) * 3
    assert pair_signals(a=a, b=a).photo_colour == "agree"
