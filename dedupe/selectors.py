"""Reads for duplicate moderation: neighbour look-ups, the queue, a pair's explanation, and the
notes a seller's dashboard shows."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from catalog.keywords import word_spellings
from catalog.models import Product, ProductImage, ProductStatus, Seller
from dedupe import scoring
from dedupe.comparison import PairSignals
from dedupe.models import CandidateStatus, DuplicateCandidate, ReviewEvent
from dedupe.reasons import pair_reasons, variant_flags
from visualsearch.models import EmbeddingSpace, ImageEmbedding, TitleEmbedding
from visualsearch.vector_sql import halfvec_decode, hnsw_session, vector_literal

# ------------------------------------------------------------------------------ neighbours


def _nearest(
    *, table: str, space: EmbeddingSpace, vector: np.ndarray, exclude_id: int | None, limit: int
) -> list[tuple[int, float]]:
    """(product id, cosine distance) nearest to ``vector`` among active products, through the
    space's partial HNSW index (same expression and condition as the index)."""
    dim = int(space.dimension)
    distance = f"e.vector::halfvec({dim}) <=> %s::halfvec({dim})"
    sql = (
        f"SELECT e.product_id, {distance} FROM {table} e "
        f"JOIN {Product._meta.db_table} p ON p.id = e.product_id "
        f"WHERE e.space_id = %s AND p.status = %s AND e.product_id <> %s "
        f"ORDER BY {distance} LIMIT %s"
    )
    literal = vector_literal(vector)
    with transaction.atomic(), connection.cursor() as cursor:
        hnsw_session(cursor)
        cursor.execute(
            sql,
            [literal, space.pk, ProductStatus.ACTIVE, exclude_id or 0, literal, int(limit)],
        )
        return [(int(pid), float(d)) for pid, d in cursor.fetchall()]


def image_neighbours(*, product: Product, space: EmbeddingSpace, k: int) -> dict[int, float]:
    """Top-k other active products by image (best cosine over the product's images)."""
    best: dict[int, float] = {}
    vectors = ImageEmbedding.objects.filter(space=space, product_id=product.pk).values_list(
        "vector", flat=True
    )
    for value in vectors:
        # Rows are images, not products: ask for a few more so k distinct products remain.
        for pid, distance in _nearest(
            table=ImageEmbedding._meta.db_table, space=space, vector=halfvec_decode(value),
            exclude_id=product.pk, limit=k * 3,
        ):  # fmt: skip
            best[pid] = max(best.get(pid, -1.0), 1.0 - distance)
    return dict(sorted(best.items(), key=lambda kv: -kv[1])[:k])


def title_neighbours(*, product: Product, space: EmbeddingSpace, k: int) -> dict[int, float]:
    """Top-k other active products by the space's title vector."""
    value = (
        TitleEmbedding.objects.filter(space=space, product_id=product.pk)
        .values_list("vector", flat=True)
        .first()
    )
    if value is None:
        return {}
    rows = _nearest(
        table=TitleEmbedding._meta.db_table, space=space, vector=halfvec_decode(value),
        exclude_id=product.pk, limit=k,
    )  # fmt: skip
    return {pid: 1.0 - d for pid, d in rows}


def file_hash_neighbours(*, product: Product, sha256s: Sequence[str] | None = None) -> set[int]:
    """Other active products holding an image with exactly the same bytes."""
    if sha256s is None:
        sha256s = list(
            ProductImage.objects.filter(product=product).values_list("sha256", flat=True)
        )
    if not sha256s:
        return set()
    qs = ProductImage.objects.filter(sha256__in=list(sha256s), product__status=ProductStatus.ACTIVE)
    if product.pk is not None:
        qs = qs.exclude(product_id=product.pk)
    return set(qs.values_list("product_id", flat=True)[:50])


# A title word for the full-text look-up: letters and digits, or such runs joined by hyphens
# ("T-Shirt", "DIR-412"); nothing else reaches the raw tsquery.
_TITLE_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")


def text_neighbours(*, product: Product, k: int) -> list[int]:
    """Other active products whose title shares words with this one (full-text GIN index);
    the cheap title look-up for products that have no vectors yet."""

    words = _TITLE_WORD.findall(product.title)[:20]
    if not words:
        return []
    # each word also in its other compound spellings (catalog.keywords): "T-Shirt" finds
    # "Tshirt" and the reverse, "DIR-412" finds "DIR412"
    spellings = [spelling for word in words for spelling in word_spellings(word)]
    query = SearchQuery(" | ".join(words + spellings), search_type="raw", config="english")
    qs = Product.objects.filter(status=ProductStatus.ACTIVE, search_document=query)
    if product.pk is not None:
        qs = qs.exclude(pk=product.pk)
    qs = qs.annotate(rank=SearchRank("search_document", query)).order_by("-rank", "-id")
    return list(qs.values_list("pk", flat=True)[:k])


# ------------------------------------------------------------------------------ the queue


@dataclass
class QueuePage:
    rows: list[DuplicateCandidate]
    next_cursor: str | None
    total: int | None
    total_capped: bool
    filters: dict = field(default_factory=dict)


def _cursor_parse(cursor: str | None) -> tuple[float, int] | None:
    if not cursor:
        return None
    try:
        probability, pk = cursor.split("_", 1)
        return float(probability), int(pk)
    except ValueError:
        return None


def candidates_filtered(
    *,
    status: str | None = CandidateStatus.PENDING,
    category: int | None = None,
    seller: int | None = None,
    strongest: str | None = None,
) -> QuerySet[DuplicateCandidate]:
    qs = DuplicateCandidate.objects.all()
    if status:
        qs = qs.filter(status=status)
    if category:
        qs = qs.filter(category_id=category)
    if seller:
        qs = qs.filter(Q(seller_a_id=seller) | Q(seller_b_id=seller))
    if strongest:
        qs = qs.filter(strongest_signal=strongest)
    return qs


COUNT_CAP = 1000


def candidates_queue(
    *,
    status: str | None = CandidateStatus.PENDING,
    category: int | None = None,
    seller: int | None = None,
    strongest: str | None = None,
    cursor: str | None = None,
    page_size: int = 25,
) -> QueuePage:
    """One page of the queue, highest probability first, paged by keyset (probability, id) so
    page 400 costs what page 1 costs; the total is counted only up to COUNT_CAP."""
    qs = candidates_filtered(status=status, category=category, seller=seller, strongest=strongest)
    total = qs[: COUNT_CAP + 1].count()
    after = _cursor_parse(cursor)
    if after is not None:
        probability, pk = after
        qs = qs.filter(Q(probability__lt=probability) | Q(probability=probability, id__lt=pk))
    rows = list(
        qs.select_related(
            "product_a", "product_b", "product_a__seller", "product_b__seller", "category"
        )
        .prefetch_related("product_a__images", "product_b__images")
        .order_by("-probability", "-id")[: page_size + 1]
    )
    for row in rows:  # what a queue row shows besides the fields: a photo each, variant flags
        row.thumb_a = next(iter(row.product_a.images.all()), None)
        row.thumb_b = next(iter(row.product_b.images.all()), None)
        row.variant_flags = [
            VARIANT_LABELS[f] for f in variant_flags(PairSignals.from_dict(row.signals))
        ]
    next_cursor = None
    if len(rows) > page_size:
        rows = rows[:page_size]
        last = rows[-1]
        next_cursor = f"{last.probability!r}_{last.pk}"
    return QueuePage(
        rows=rows,
        next_cursor=next_cursor,
        total=min(total, COUNT_CAP),
        total_capped=total > COUNT_CAP,
    )


def candidate_get(*, pk: int) -> DuplicateCandidate | None:
    return (
        DuplicateCandidate.objects.select_related(
            "product_a", "product_b", "product_a__seller", "product_b__seller",
            "product_a__category", "product_b__category", "decided_by", "assignee",
        )
        .filter(pk=pk)
        .first()
    )  # fmt: skip


def candidate_next_pending(*, after: DuplicateCandidate) -> DuplicateCandidate | None:
    """The next pending pair in queue order after ``after`` (for "skip" and after a decision)."""
    return (
        DuplicateCandidate.objects.filter(status=CandidateStatus.PENDING)
        .filter(
            Q(probability__lt=after.probability) | Q(probability=after.probability, id__lt=after.pk)
        )
        .order_by("-probability", "-id")
        .first()
    ) or (
        DuplicateCandidate.objects.filter(status=CandidateStatus.PENDING)
        .exclude(pk=after.pk)
        .order_by("-probability", "-id")
        .first()
    )


def candidate_events(*, candidate: DuplicateCandidate) -> list[ReviewEvent]:
    return list(candidate.events.select_related("actor").order_by("at", "id"))


SIGNAL_LABELS = {
    "token_set": "Title token-set similarity",
    "token_sort": "Title token-sort similarity",
    "partial": "Title partial match",
    "ratio": "Title edit similarity",
    "char3_jaccard": "Title character 3-gram overlap",
    "token_jaccard": "Title word overlap",
    "numeric_jaccard": "Numbers in titles overlap",
    "desc_cross": "Title found in the other description",
    "title_embedding_cos": "Title embedding cosine (MiniLM)",
    "id_overlap": "Model-number overlap",
    "id_state": "Model numbers",
    "price_rel_diff": "Relative price difference",
    "price_state": "Price",
    "image_best_cos": "Best image cosine (search space)",
    "image_copy_cos": "Same-photo likeness (copy descriptor cosine)",
    "image_colour_sim": "Colour match (histogram intersection)",
    "image_aligned_sim": "Same pixels once aligned (grey-level correlation)",
    "image_offset": "Photo terms' offset (look-alike photos are common among neighbours)",
    "image_phash_min": "Smallest pHash distance (of 64 bits)",
    "image_sha256": "Identical image file",
    "brand": "Brand",
    "category": "Category",
    "modelno": "Model-number field",
    "same_seller": "Same seller",
    "emb_x_id_share": "Title embedding × shared model number",
    "emb_x_id_conflict": "Title embedding × conflicting model numbers",
    "token_set_x_id_share": "Token-set × shared model number",
    "emb_sq": "Title embedding cosine squared",
    "title_tfidf_word": "Title TF-IDF cosine (words)",
    "title_tfidf_char": "Title TF-IDF cosine (character 3-5-grams)",
    "colour_words": "Colour words in the titles",
    "gender_words": "Gender words in the titles",
    "quantity": "Sizes / capacities with units",
    "pack_count": "Pack counts",
    "model_number_near": "Model numbers one character apart",
    "photo_colour": "Photos' colour labels (the space's colour attribute)",
}
VARIANT_LABELS = {
    "colour_words": "colour",
    "gender_words": "gender",
    "quantity": "size",
    "pack_count": "pack",
    "model_number_near": "model no.",
    "photo_colour": "photo colour",
}


def _base(name: str) -> str:
    if name.startswith("image_sha256"):
        return "image_sha256"
    if (
        name == scoring.PHOTO_OFFSET_FEATURE
    ):  # the photo terms' intercept: its own row, not the cosine's
        return "image_offset"
    return name.split("__", 1)[0].split("=", 1)[0]


@dataclass
class SignalRow:
    name: str
    label: str
    value: object
    contribution: float


def _display(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def candidate_explain(*, candidate: DuplicateCandidate) -> list[SignalRow]:
    """Every signal with its stored value and its contribution to the log-odds (current model),
    strongest first; the contributions plus the intercept sum to the score's log-odds."""
    signals = PairSignals.from_dict(candidate.signals)
    data = signals.to_dict()
    totals: dict[str, float] = defaultdict(float)
    for name, _value, contribution in scoring.contributions(signals):
        if name != "intercept":
            totals[_base(name)] += contribution
    rows = []
    for name, contribution in totals.items():
        value = data.get(name, data.get("image_sha256_match") if name == "image_sha256" else None)
        if name == "image_offset":
            value = "both have photos" if data.get("image_copy_cos") is not None else None
        if name in ("emb_x_id_share", "emb_x_id_conflict", "token_set_x_id_share", "emb_sq"):
            value = "(combination)"
        rows.append(
            SignalRow(name, SIGNAL_LABELS.get(name, name), _display(value), round(contribution, 3))
        )
    rows.sort(key=lambda r: -abs(r.contribution))
    return rows


def candidate_reasons(*, candidate: DuplicateCandidate) -> dict[str, list]:
    """The three strongest reasons for and against, in words (`dedupe.reasons`)."""
    return pair_reasons(
        signals=PairSignals.from_dict(candidate.signals),
        title_a=candidate.product_a.title,
        title_b=candidate.product_b.title,
    )


def candidate_undoable(*, candidate: DuplicateCandidate) -> bool:
    """Whether the pair's last decision is still inside the undo window."""

    last = candidate.events.filter(action__in=("confirm", "dismiss", "escalate", "undo")).order_by(
        "-at", "-id"
    ).first()  # fmt: skip
    if last is None or last.action == "undo" or last.to_status != candidate.status:
        return False
    return (timezone.now() - last.at).total_seconds() <= int(settings.DEDUPE_UNDO_SECONDS)


def candidate_intercept() -> float:
    return float(scoring._model(None).intercept)


# ------------------------------------------------------------------------------ sellers


def _note(other: Product, probability: float | None, status: str) -> dict:
    return {
        "other_id": other.pk,
        "other_title": other.title,
        "other_url": other.get_absolute_url(),
        "probability": None if probability is None else round(float(probability), 4),
        "status": status,
    }


def seller_duplicate_notes(*, seller: Seller) -> dict[int, list[dict]]:
    """Product id → notes about possible or confirmed duplicates of that seller's products:
    open (pending/escalated) and confirmed pairs, plus {"status": "merged"} when the seller's
    product was merged into another listing."""
    notes: dict[int, list[dict]] = defaultdict(list)
    mine = set(Product.objects.filter(seller=seller).values_list("pk", flat=True))
    merged_into = dict(
        Product.objects.filter(seller=seller, status=ProductStatus.MERGED).values_list(
            "pk", "merged_into_id"
        )
    )
    candidates = (
        DuplicateCandidate.objects.filter(Q(seller_a=seller) | Q(seller_b=seller))
        .filter(
            status__in=[
                CandidateStatus.PENDING, CandidateStatus.ESCALATED, CandidateStatus.CONFIRMED
            ]
        )
        .select_related("product_a", "product_b")
        .order_by("-probability", "-id")
    )  # fmt: skip
    for candidate in candidates:
        for own, other in (
            (candidate.product_a, candidate.product_b),
            (candidate.product_b, candidate.product_a),
        ):
            if own.pk not in mine or own.pk in merged_into and merged_into[own.pk] == other.pk:
                continue
            notes[own.pk].append(_note(other, candidate.probability, candidate.status))
    if merged_into:
        targets = Product.objects.in_bulk(set(merged_into.values()))
        probabilities = {}
        for c in DuplicateCandidate.objects.filter(
            Q(product_a_id__in=merged_into) | Q(product_b_id__in=merged_into),
            status=CandidateStatus.CONFIRMED,
        ):
            probabilities[(c.product_a_id, c.product_b_id)] = c.probability
        for own_id, target_id in merged_into.items():
            target = targets.get(target_id)
            if target is None:
                continue
            key = (min(own_id, target_id), max(own_id, target_id))
            notes[own_id].insert(0, _note(target, probabilities.get(key), "merged"))
    return dict(notes)


# ------------------------------------------------------------------------------ learning


class NotEnoughDecisions(ValueError):
    pass


MIN_DECISIONS_PER_CLASS = 10


def decisions_training_rows(*, minimum_per_class: int = MIN_DECISIONS_PER_CLASS):
    """(stored signals, labels, positives, negatives) of the moderators' decisions.

    Confirmed = 1, dismissed = 0; pairs closed because they were already in one group are left
    out. Raises NotEnoughDecisions when either class has fewer than ``minimum_per_class``.
    """
    rows = list(
        DuplicateCandidate.objects.filter(
            status__in=[CandidateStatus.CONFIRMED, CandidateStatus.DISMISSED]
        )
        .exclude(reason="same-group")
        .values_list("signals", "status")
    )
    positives = sum(1 for _, s in rows if s == CandidateStatus.CONFIRMED)
    negatives = len(rows) - positives
    if positives < minimum_per_class or negatives < minimum_per_class:
        raise NotEnoughDecisions(
            f"Need at least {minimum_per_class} confirmed and {minimum_per_class} dismissed "
            f"pairs to learn from; there are {positives} confirmed and {negatives} dismissed."
        )
    labels = [1 if s == CandidateStatus.CONFIRMED else 0 for _, s in rows]
    return [sig for sig, _ in rows], labels, positives, negatives
