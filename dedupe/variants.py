"""Variant signals: do two listings name the same product in another colour, gender, size,
capacity or pack count, or carry model numbers one character apart? (pure, no Django)

Marketplace catalogs are full of variants, and text similarity alone scores them as duplicates
("Puma Men Grey T-Shirt" vs "Puma Women Grey T-Shirt"). Each function returns a state:

- ``"conflict"``: both listings state the attribute and the values do not overlap;
- ``"agree"``: both state it and share a value;
- ``"missing"``: at least one listing does not state it (no evidence either way).

Words come from small closed vocabularies (colours, genders, units), not from any one dataset.
"""

from __future__ import annotations

import re
from typing import Literal

VariantState = Literal["conflict", "agree", "missing"]

_WORD_RE = re.compile(r"[a-z]+")

# Colour words and their canonical colour. Shades that sellers use interchangeably map together
# (grey/gray/charcoal), distinct colours stay apart (navy is a blue but a different listing).
_COLOURS = {
    "black": "black", "white": "white", "offwhite": "white", "ivory": "cream", "cream": "cream",
    "red": "red", "maroon": "maroon", "burgundy": "maroon", "wine": "maroon",
    "blue": "blue", "navy": "navy", "teal": "teal", "turquoise": "teal", "aqua": "teal",
    "green": "green", "olive": "olive", "khaki": "khaki", "lime": "lime",
    "yellow": "yellow", "mustard": "mustard", "gold": "gold", "golden": "gold",
    "orange": "orange", "peach": "peach", "coral": "peach",
    "pink": "pink", "magenta": "magenta", "fuchsia": "magenta",
    "purple": "purple", "violet": "purple", "lavender": "lavender", "mauve": "lavender",
    "brown": "brown", "tan": "tan", "beige": "beige", "camel": "tan", "coffee": "brown",
    "grey": "grey", "gray": "grey", "charcoal": "grey", "silver": "silver", "steel": "silver",
    "copper": "copper", "bronze": "copper", "rust": "rust", "multi": "multi",
    "multicolor": "multi", "multicolour": "multi", "transparent": "clear", "clear": "clear",
}  # fmt: skip

_GENDERS = {
    "men": "men", "mens": "men", "man": "men", "male": "men", "gents": "men",
    "women": "women", "womens": "women", "woman": "women", "female": "women",
    "ladies": "women", "lady": "women",
    "boys": "boys", "boy": "boys", "girls": "girls", "girl": "girls",
    "kids": "kids", "kid": "kids", "children": "kids", "baby": "baby", "infant": "baby",
    "unisex": "unisex",
}  # fmt: skip

# unit -> (dimension, factor to the dimension's base unit)
_UNITS = {
    "mm": ("length", 0.001), "cm": ("length", 0.01), "m": ("length", 1.0),
    "in": ("length", 0.0254), "inch": ("length", 0.0254), "inches": ("length", 0.0254),
    "'": ("length", 0.0254), '"': ("length", 0.0254), "ft": ("length", 0.3048),
    "ml": ("volume", 0.001), "l": ("volume", 1.0), "ltr": ("volume", 1.0),
    "litre": ("volume", 1.0), "liter": ("volume", 1.0), "oz": ("volume_or_mass", 1.0),
    "floz": ("volume", 0.0295735), "gal": ("volume", 3.785),
    "mg": ("mass", 0.000001), "g": ("mass", 0.001), "gm": ("mass", 0.001),
    "kg": ("mass", 1.0), "lb": ("mass", 0.4536), "lbs": ("mass", 0.4536),
    "kb": ("bytes", 1e3), "mb": ("bytes", 1e6), "gb": ("bytes", 1e9), "tb": ("bytes", 1e12),
    "mah": ("charge", 1.0), "w": ("power", 1.0), "watt": ("power", 1.0),
    "watts": ("power", 1.0), "kw": ("power", 1000.0), "v": ("voltage", 1.0),
    "volt": ("voltage", 1.0), "hz": ("frequency", 1.0), "mhz": ("frequency", 1e6),
    "ghz": ("frequency", 1e9), "mp": ("megapixels", 1.0),
    "ohm": ("impedance", 1.0), "db": ("decibel", 1.0), "btu": ("btu", 1.0),
    "cu": ("cubic_ft", 1.0), "qt": ("volume", 0.946),
}  # fmt: skip
_QUANTITY_RE = re.compile(
    r"(?<![a-z0-9.])(\d+(?:\.\d+)?)\s*(" + "|".join(
        re.escape(u) for u in sorted(_UNITS, key=len, reverse=True)
    ) + r")(?![a-z0-9])"
)  # fmt: skip
_PACK_RE = re.compile(
    r"(?:pack|set|box|case|pk|lot)\s+of\s+(\d+)"
    r"|(\d+)\s*[- ]?\s*(?:pack|pk|pcs|pc|pieces|piece|count|ct|pairs)(?![a-z])"
    r"|(?<![a-z0-9])x\s*(\d+)(?![a-z0-9.])"
)
_CODE_RE = re.compile(r"[a-z0-9]+(?:[-/._][a-z0-9]+)*")


def _words(text: str | None) -> list[str]:
    return _WORD_RE.findall((text or "").lower().replace("'s", ""))


def colours(text: str | None) -> frozenset[str]:
    """Canonical colour words in the text: "Navy Blue Men's Tee" -> {"navy", "blue"}."""
    return frozenset(_COLOURS[w] for w in _words(text) if w in _COLOURS)


def genders(text: str | None) -> frozenset[str]:
    """Canonical gender / age words: "Men's" -> {"men"}, "Ladies" -> {"women"}."""
    return frozenset(_GENDERS[w] for w in _words(text) if w in _GENDERS)


def quantities(text: str | None) -> frozenset[tuple[str, float]]:
    """Sizes and capacities with units, in base units: "500 ml" -> {("volume", 0.5)}."""
    s = (text or "").lower().replace("fl oz", "floz").replace("fl. oz", "floz")
    out = set()
    for number, unit in _QUANTITY_RE.findall(s):
        dimension, factor = _UNITS[unit]
        out.add((dimension, round(float(number) * factor, 9)))
    return frozenset(out)


def pack_counts(text: str | None) -> frozenset[int]:
    """Stated pack counts: "Pack of 3", "3-pack", "12 pcs", "x2" -> {3}, {3}, {12}, {2}.

    A single item ("1 pack") counts as 1, so "1 pack" vs "pack of 2" is a conflict.
    """
    out = set()
    for groups in _PACK_RE.findall((text or "").lower()):
        n = next(int(g) for g in groups if g)
        if 0 < n < 10000:
            out.add(n)
    return frozenset(out)


def _set_state(a: frozenset, b: frozenset) -> VariantState:
    if not a or not b:
        return "missing"
    return "agree" if a & b else "conflict"


def colour_state(*, a: str | None, b: str | None) -> VariantState:
    return _set_state(colours(a), colours(b))


def gender_state(*, a: str | None, b: str | None) -> VariantState:
    """Unisex goes with anything: "unisex" vs "men" is not a conflict."""
    ga, gb = genders(a), genders(b)
    if "unisex" in ga | gb and ga and gb:
        return "agree"
    return _set_state(ga, gb)


def quantity_state(*, a: str | None, b: str | None) -> VariantState:
    """Conflict when both state a quantity of one dimension (e.g. volume) and no value matches.

    Values within 3% count as equal (1 TB vs 1000 GB, 16 oz vs 1 lb in another rounding).
    """
    qa, qb = quantities(a), quantities(b)
    shared = {d for d, _ in qa} & {d for d, _ in qb}
    if not shared:
        return "missing"
    for dim in shared:
        va = [v for d, v in qa if d == dim]
        vb = [v for d, v in qb if d == dim]
        if not any(abs(x - y) <= 0.03 * max(x, y) for x in va for y in vb):
            return "conflict"
    return "agree"


def pack_state(*, a: str | None, b: str | None) -> VariantState:
    """Pack counts; a listing that states none is unknown (``missing``), not a single item."""
    return _set_state(pack_counts(a), pack_counts(b))


def is_measurement(word: str) -> bool:
    """One number with its unit and nothing else: "18mm", "2.7in", "500 ml"."""
    return _QUANTITY_RE.fullmatch(word.lower()) is not None


def code_like(norm: str) -> bool:
    """A normalised token (letters and digits only) that reads as a model number: at least 4
    characters with a digit and a letter in it ("wh1000xm4", "dscw150r")."""
    return len(norm) >= 4 and any(c.isdigit() for c in norm) and any(c.isalpha() for c in norm)


def _codes(text: str | None) -> set[str]:
    out = set()
    for tok in _CODE_RE.findall((text or "").lower()):
        norm = re.sub(r"[^a-z0-9]", "", tok)
        if code_like(norm):
            out.add(norm)
    return out


def _one_apart(x: str, y: str) -> bool:
    """Same length and exactly one differing character (a substitution)."""
    return len(x) == len(y) and sum(c != d for c, d in zip(x, y, strict=True)) == 1


def model_number_state(*, a: str | None, b: str | None) -> VariantState:
    """Model numbers one character apart ("WH-1000XM4" vs "WH-1000XM3") and none shared exactly:
    ``conflict`` (another model or variant). ``agree`` when a code is shared exactly."""
    ca, cb = _codes(a), _codes(b)
    if not ca or not cb:
        return "missing"
    if ca & cb:
        return "agree"
    if any(_one_apart(x, y) for x in ca for y in cb):
        return "conflict"
    return "missing"


def differing_words(*, a: str | None, b: str | None) -> tuple[list[str], list[str]]:
    """Words only in A and only in B, in their order (for "titles differ only in ..." reasons)."""
    wa, wb = _words(a), _words(b)
    sa, sb = set(wa), set(wb)
    only_a = list(dict.fromkeys(w for w in wa if w not in sb))
    only_b = list(dict.fromkeys(w for w in wb if w not in sa))
    return only_a, only_b


def variant_states(*, a: str | None, b: str | None) -> dict[str, VariantState]:
    """Every text variant signal of a pair of titles (the fields of `PairSignals`)."""
    return {
        "colour_words": colour_state(a=a, b=b),
        "gender_words": gender_state(a=a, b=b),
        "quantity": quantity_state(a=a, b=b),
        "pack_count": pack_state(a=a, b=b),
        "model_number_near": model_number_state(a=a, b=b),
    }
