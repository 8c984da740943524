"""Why a pair looks like a duplicate, or not, in plain words (pure, no Django).

The score's log-odds split into one contribution per feature (`scoring.contributions`). Here
features are summed into reasons a moderator recognises ("same photo", "price within 2%",
"titles differ only in 'Men' vs 'Women'"), and the reasons with the largest contributions are
the strongest for (positive) and against (negative). Each reason is phrased from the stored
signal values, so the words always match the numbers in the full signal table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from dedupe import scoring, variants
from dedupe.comparison import PairSignals

# feature (base name) -> reason it counts towards
_REASON_OF = {
    "image_copy_cos": "photo", "image_phash_min": "photo", "image_best_cos": "photo",
    "image_sha256": "photo", "image_offset": "photo", "image_aligned_sim": "photo",
    "image_colour_sim": "photo_colour_hist", "photo_colour": "photo_colour",
    "id_state": "identifier", "id_overlap": "identifier", "modelno": "identifier",
    "emb_x_id_share": "identifier", "emb_x_id_conflict": "identifier",
    "token_set_x_id_share": "identifier",
    "price_rel_diff": "price", "price_state": "price",
    "brand": "brand", "category": "category", "same_seller": "seller",
    "colour_words": "colour_words", "gender_words": "gender_words", "quantity": "quantity",
    "pack_count": "pack_count", "model_number_near": "model_number_near",
}  # fmt: skip
VARIANT_SIGNALS = ("colour_words", "gender_words", "quantity", "pack_count",
                   "model_number_near", "photo_colour")  # fmt: skip


@dataclass
class Reason:
    key: str
    text: str
    weight: float  # its contribution to the log-odds: > 0 for, < 0 against


def _base(name: str) -> str:
    if name.startswith("image_sha256"):
        return "image_sha256"
    if name == "image_copy_cos__missing":  # carries the photo terms' offset
        return "image_offset"
    return name.split("__", 1)[0].split("=", 1)[0]


def _pct(x: float) -> str:
    return f"{round(100 * x)}%"


def _quote(words: list[str]) -> str:
    return " ".join(f"'{w.capitalize()}'" for w in words) or "nothing"


def _differ_only_in(s: PairSignals, title_a: str, title_b: str, vocab) -> str | None:
    """ "titles differ only in 'Men' vs 'Women'" when the words that differ are all in vocab."""
    only_a, only_b = variants.differing_words(a=title_a, b=title_b)
    if not only_a or not only_b:
        return None
    if all(vocab(w) for w in only_a + only_b):
        return f"titles differ only in {_quote(only_a)} vs {_quote(only_b)}: a variant?"
    return None


def _phrase(key: str, s: PairSignals, weight: float, title_a: str, title_b: str) -> str:
    positive = weight > 0
    if key == "photo":
        if s.image_sha256_match:
            return "identical image file"
        if s.image_copy_cos is None:
            return "one of the listings has no photo"
        copy = f"copy score {s.image_copy_cos:.2f}"
        if positive:
            return f"same photo ({copy})" if s.image_copy_cos >= 0.9 else f"photos alike ({copy})"
        return f"different photos ({copy})"
    if key == "photo_colour_hist":
        v = s.image_colour_sim or 0.0
        return f"photo colours {'match' if positive else 'differ'} (overlap {v:.2f})"
    if key == "photo_colour":
        return "photos' colour labels agree" if s.photo_colour == "agree" else (
            "photos' colour labels differ: a colour variant?")  # fmt: skip
    if key == "price":
        if s.price_rel_diff is None:
            return (
                "no comparable price"
                if s.price_state != "unknown"
                else "prices in other currencies"
            )
        if s.price_rel_diff <= 0.005:
            return "same price"
        return f"price within {_pct(max(s.price_rel_diff, 0.01))}" if positive else (
            f"prices differ by {_pct(s.price_rel_diff)}")  # fmt: skip
    if key == "identifier":
        if s.id_state == "share":
            return "same model number"
        if s.id_state == "conflict":
            return "different model numbers"
        return "no model number to compare"
    if key in ("brand", "category"):
        state = getattr(s, key)
        return f"same {key}" if state == "equal" else (
            f"different {key}" if state == "different" else f"{key} unknown")  # fmt: skip
    if key == "seller":
        return "same seller" if s.same_seller == "equal" else "different sellers"
    if key == "gender_words":
        only = _differ_only_in(s, title_a, title_b, lambda w: w in variants._GENDERS)
        if s.gender_words == "conflict":
            return only or "titles name different genders: a variant?"
        return "titles name the same gender"
    if key == "colour_words":
        only = _differ_only_in(s, title_a, title_b, lambda w: w in variants._COLOURS)
        if s.colour_words == "conflict":
            return only or "titles name different colours: a variant?"
        return "titles name the same colour"
    if key == "quantity":
        return "sizes or capacities differ: a variant?" if s.quantity == "conflict" else (
            "same size or capacity")  # fmt: skip
    if key == "pack_count":
        return "pack counts differ: a variant?" if s.pack_count == "conflict" else "same pack count"
    if key == "model_number_near":
        return "model numbers one character apart: another model?" if (
            s.model_number_near == "conflict") else "same model code"  # fmt: skip
    # titles
    sim = s.title_tfidf_char if s.title_tfidf_char is not None else s.token_set
    if sim is None:
        return "a title is missing"
    return f"titles {'alike' if positive else 'differ'} ({_pct(sim)} similar)"


def pair_reasons(
    *,
    signals: PairSignals,
    title_a: str = "",
    title_b: str = "",
    model: scoring.LinearModel | None = None,
    top: int = 3,
) -> dict[str, list[Reason]]:
    """The ``top`` strongest reasons for (``"for"``) and against (``"against"``) a duplicate."""
    totals: dict[str, float] = defaultdict(float)
    for name, _value, contribution in scoring.contributions(signals, model):
        if name != "intercept":
            totals[_REASON_OF.get(_base(name), "title")] += contribution
    reasons = [
        Reason(key, _phrase(key, signals, w, title_a, title_b), round(w, 3))
        for key, w in totals.items()
        if abs(w) >= 0.05 and not (key in VARIANT_SIGNALS and getattr(signals, key) == "missing")
    ]
    pro = sorted((r for r in reasons if r.weight > 0), key=lambda r: -r.weight)[:top]
    con = sorted((r for r in reasons if r.weight < 0), key=lambda r: r.weight)[:top]
    return {"for": pro, "against": con}


def variant_flags(signals: PairSignals) -> list[str]:
    """Which variant signals are in conflict ("colour_words", "gender_words", ...)."""
    return [name for name in VARIANT_SIGNALS if getattr(signals, name, None) == "conflict"]
