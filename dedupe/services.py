"""Writes for duplicate detection and moderation. Pages, the API, commands and jobs call these.

- `duplicate_candidates_find`: nearest neighbours of one product (image and title HNSW indexes of
  the active space, plus identical image files), scored pair by pair, upserted into the queue.
  A rescan never reopens a dismissed pair unless a product's title, price or images changed
  materially since it was dismissed.
- `candidate_decide`: one moderator decision, in one transaction, with the candidate row locked;
  confirming merges the pair's groups under one canonical product.
- `product_duplicates_check`: a cheap synchronous check for the seller's edit page.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import Product, ProductImage, ProductStatus
from catalog.roles import user_is_moderator
from dedupe import selectors
from dedupe.listings import ScoredPair, fingerprint, fingerprint_changes, pairs_score
from dedupe.models import OPEN_STATUSES, CandidateStatus, DuplicateCandidate, ReviewEvent
from visualsearch.spaces import space_active

log = logging.getLogger(__name__)


class DecisionError(Exception):
    """A decision that cannot be applied; ``field`` names the input at fault."""

    status_code = 400

    def __init__(self, message: str, *, field: str = "non_field_errors"):
        super().__init__(message)
        self.message = message
        self.field = field


class AlreadyDecided(DecisionError):
    status_code = 409


class NotAModerator(DecisionError):
    status_code = 403


class CandidateMissing(DecisionError):
    status_code = 404


ACTIONS = {
    "confirm": CandidateStatus.CONFIRMED,
    "dismiss": CandidateStatus.DISMISSED,
    "escalate": CandidateStatus.ESCALATED,
}


# ------------------------------------------------------------------------------ finding pairs


def _neighbour_ids(*, product: Product, k: int, space) -> set[int]:
    ids: set[int] = set()
    if space is not None:
        ids |= set(selectors.image_neighbours(product=product, space=space, k=k))
        ids |= set(selectors.title_neighbours(product=product, space=space, k=k))
    ids |= selectors.file_hash_neighbours(product=product)
    ids.discard(product.pk)
    return ids


def _sha256s(product_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {pid: [] for pid in product_ids}
    for pid, sha in ProductImage.objects.filter(product_id__in=product_ids).values_list(
        "product_id", "sha256"
    ):
        out[pid].append(sha)
    return out


@dataclass
class ScanResult:
    created: int = 0
    updated: int = 0
    reopened: int = 0
    kept_decided: int = 0
    below_threshold: int = 0
    hidden: int = 0


def duplicate_candidates_find(*, product: Product, k: int | None = None) -> ScanResult:
    """Find, score and upsert the duplicate candidates of one product.

    Neighbours: top-k by image and top-k by title in the active space's HNSW indexes, plus
    products sharing an identical image file. Only pairs scoring at least
    DEDUPE_REVIEW_THRESHOLD enter the queue. Never compares against the whole catalog."""
    k = int(k or settings.DEDUPE_NEIGHBOURS)
    product = Product.objects.select_related("category", "seller").get(pk=product.pk)
    result = ScanResult()
    if product.status != ProductStatus.ACTIVE:
        return result
    space = space_active()
    ids = _neighbour_ids(product=product, k=k, space=space)
    if not ids:
        return result
    others = list(
        Product.objects.select_related("category", "seller").filter(
            pk__in=ids, status=ProductStatus.ACTIVE
        )
    )
    scored = pairs_score(product=product, others=others, space=space)  # slow part, no transaction
    by_id = {p.pk: p for p in others}
    shas = _sha256s([product.pk, *by_id])
    for pair in scored:
        _candidate_upsert(product=product, other=by_id[pair.other_id], pair=pair, shas=shas,
                          result=result)  # fmt: skip
    return result


def _candidate_detected(*, candidate: DuplicateCandidate, pair: ScoredPair, result: ScanResult):
    ReviewEvent.objects.create(
        candidate=candidate, action="detected", to_status=candidate.status,
        details={"probability": round(pair.probability, 4)},
    )  # fmt: skip
    result.created += 1
    _autohide(candidate=candidate, result=result)


@transaction.atomic
def _candidate_upsert(
    *, product: Product, other: Product, pair: ScoredPair, shas: dict, result: ScanResult
) -> None:
    a, b = (product, other) if product.pk < other.pk else (other, product)
    fp_a = fingerprint(product=a, image_sha256=shas.get(a.pk, []))
    fp_b = fingerprint(product=b, image_sha256=shas.get(b.pk, []))
    threshold = float(settings.DEDUPE_REVIEW_THRESHOLD)
    values = {
        "signals": pair.signals.to_dict(),
        "probability": pair.probability,
        "strongest_signal": pair.strongest,
        "category_id": a.category_id or b.category_id,
        "seller_a_id": a.seller_id,
        "seller_b_id": b.seller_id,
        "fingerprint_a": fp_a,
        "fingerprint_b": fp_b,
    }
    existing = (
        DuplicateCandidate.objects.select_for_update().filter(product_a=a, product_b=b).first()
    )
    if existing is None:
        if pair.probability < threshold:
            result.below_threshold += 1
            return
        try:
            with transaction.atomic():  # a savepoint: a lost race leaves this transaction usable
                candidate = DuplicateCandidate.objects.create(product_a=a, product_b=b, **values)
        except IntegrityError:
            # A concurrent scan inserted this pair after our read (candidate_unique_pair): the
            # insert waited for it to commit; lock its row and update it like any existing pair.
            existing = DuplicateCandidate.objects.select_for_update().get(product_a=a, product_b=b)
        else:
            _candidate_detected(candidate=candidate, pair=pair, result=result)
            return
    if existing.status in OPEN_STATUSES:
        for key, value in values.items():
            setattr(existing, key, value)
        existing.save()
        result.updated += 1
        return
    if existing.status == CandidateStatus.DISMISSED:
        min_change = float(settings.DEDUPE_MIN_PRICE_CHANGE)
        changes = sorted(
            {f"a.{c}" for c in fingerprint_changes(old=existing.fingerprint_a, new=fp_a,
                                                   min_price_change=min_change)}
            | {f"b.{c}" for c in fingerprint_changes(old=existing.fingerprint_b, new=fp_b,
                                                     min_price_change=min_change)}
        )  # fmt: skip
        if changes and pair.probability >= threshold:
            previous = existing.status
            for key, value in values.items():
                setattr(existing, key, value)
            existing.status = CandidateStatus.PENDING
            existing.decided_by = None
            existing.decided_at = None
            existing.save()
            ReviewEvent.objects.create(
                candidate=existing, action="reopened", from_status=previous,
                to_status=existing.status,
                details={"changed": changes, "probability": round(pair.probability, 4)},
            )  # fmt: skip
            result.reopened += 1
            return
    result.kept_decided += 1


def _autohide(*, candidate: DuplicateCandidate, result: ScanResult) -> None:
    """Above DEDUPE_AUTOHIDE_THRESHOLD (0 = off) the newer listing is hidden until reviewed."""
    threshold = float(settings.DEDUPE_AUTOHIDE_THRESHOLD)
    if threshold <= 0 or candidate.probability < threshold:
        return
    newer = Product.objects.select_for_update().get(pk=candidate.product_b_id)
    if newer.status != ProductStatus.ACTIVE:
        return
    newer.status = ProductStatus.HIDDEN
    newer.save(update_fields=["status", "updated_at"])
    ReviewEvent.objects.create(
        candidate=candidate, action="auto-hidden", from_status=candidate.status,
        to_status=candidate.status, details={"hidden_product": newer.pk},
    )  # fmt: skip
    result.hidden += 1


def duplicates_scan(*, product_ids: Sequence[int], k: int | None = None) -> ScanResult:
    """Scan several products (what the job runs); per-product errors are logged, not fatal."""
    total = ScanResult()
    for product in Product.objects.filter(pk__in=list(product_ids), status=ProductStatus.ACTIVE):
        one = duplicate_candidates_find(product=product, k=k)
        for key in total.__dataclass_fields__:
            setattr(total, key, getattr(total, key) + getattr(one, key))
    return total


# ------------------------------------------------------------------------------ seller check


def product_duplicates_check(*, product: Product, limit: int = 3) -> list[dict]:
    """Possible duplicates of ``product`` (possibly a draft) among OTHER active products,
    computed now: full-text title neighbours, identical image files, and image/title vectors
    when the product already has them; scored with the same model as the queue.

    Returns the notes' shape: {"other_id", "other_title", "other_url", "probability",
    "status": "possible"}, most probable first, only pairs at or above the review threshold.
    A failure here (say, the title model cannot load) is logged and gives no warnings: the
    seller's page must still open."""
    try:
        return _product_duplicates_check(product=product, limit=limit)
    except Exception:  # noqa: BLE001 - an advisory check never breaks the caller's page
        log.exception("duplicate check failed for product %s", product.pk)
        return []


def _product_duplicates_check(*, product: Product, limit: int) -> list[dict]:
    k = int(settings.DEDUPE_NEIGHBOURS)
    ids = set(selectors.text_neighbours(product=product, k=k))
    if product.pk is not None:
        space = space_active()
        if space is not None:
            ids |= set(selectors.image_neighbours(product=product, space=space, k=k))
            ids |= set(selectors.title_neighbours(product=product, space=space, k=k))
        ids |= selectors.file_hash_neighbours(product=product)
    else:
        space = None
    ids.discard(product.pk)
    if not ids:
        return []
    others = list(
        Product.objects.select_related("category", "seller").filter(
            pk__in=ids, status=ProductStatus.ACTIVE
        )
    )
    by_id = {p.pk: p for p in others}
    scored = pairs_score(product=product, others=others, space=space)
    threshold = float(settings.DEDUPE_REVIEW_THRESHOLD)
    scored = sorted(
        (s for s in scored if s.probability >= threshold), key=lambda s: -s.probability
    )[:limit]
    return [
        {
            "other_id": s.other_id,
            "other_title": by_id[s.other_id].title,
            "other_url": by_id[s.other_id].get_absolute_url(),
            "probability": round(s.probability, 4),
            "status": "possible",
        }
        for s in scored
    ]


# ------------------------------------------------------------------------------ decisions


def _root(product: Product) -> Product:
    return product.merged_into if product.merged_into_id else product


def _merge(*, canonical: Product, other: Product) -> tuple[list[int], dict]:
    """Merge ``other``'s group into ``canonical``'s.

    Returns the ids that became merged and, for undo, each changed product's state before:
    ``{id: {"status": ..., "merged_into": ...}}``.
    """
    ids = sorted({canonical.pk, other.pk, canonical.merged_into_id or 0, other.merged_into_id or 0}
                 - {0})  # fmt: skip
    locked = {
        p.pk: p for p in Product.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    }
    target = locked.get(canonical.merged_into_id) or locked[canonical.pk]
    source = locked.get(other.merged_into_id) or locked[other.pk]
    if target.pk == source.pk:
        return [], {}
    moved = list(
        Product.objects.filter(merged_into=source).values_list("pk", "status", "merged_into_id")
    )
    before = {str(source.pk): {"status": source.status, "merged_into": source.merged_into_id}}
    before.update({str(pk): {"status": st, "merged_into": m} for pk, st, m in moved})
    Product.objects.filter(merged_into=source).update(merged_into=target, updated_at=timezone.now())
    source.status = ProductStatus.MERGED
    source.merged_into = target
    source.save(update_fields=["status", "merged_into", "updated_at"])
    return [source.pk, *(pk for pk, _, _ in moved)], before


def candidate_decide(
    *,
    candidate_id: int,
    moderator,
    action: str,
    canonical_id: int | None = None,
    reason: str = "",
    note: str = "",
) -> DuplicateCandidate:
    """Apply one decision: confirm (merge under a canonical product), dismiss or escalate.

    Runs in one transaction with the candidate row locked, so of two moderators deciding the
    same pair at once exactly one lands; the other gets AlreadyDecided (409)."""
    if not user_is_moderator(moderator):
        raise NotAModerator("Only moderators can decide duplicate pairs.")
    if action not in ACTIONS:
        raise DecisionError(
            f"Unknown action {action!r}; use confirm, dismiss or escalate.", field="action"
        )
    reason, note = (reason or "").strip()[:40], (note or "").strip()
    with transaction.atomic():
        candidate = DuplicateCandidate.objects.select_for_update().filter(pk=candidate_id).first()
        if candidate is None:
            raise CandidateMissing("This duplicate pair does not exist.")
        if not candidate.is_open:
            who = candidate.decided_by.get_username() if candidate.decided_by_id else "someone"
            raise AlreadyDecided(
                f"This pair was already {candidate.status} by {who}; nothing was changed."
            )
        new_status = ACTIONS[action]
        if new_status == candidate.status:
            raise AlreadyDecided(f"This pair is already {candidate.status}.")
        details: dict = {}
        if new_status == CandidateStatus.CONFIRMED:
            pair = {candidate.product_a_id, candidate.product_b_id}
            if canonical_id is None:
                canonical_id = candidate.product_a_id
            try:
                canonical_id = int(canonical_id)
            except (TypeError, ValueError):
                raise DecisionError(
                    "The canonical product must be an id.", field="canonical"
                ) from None
            if canonical_id not in pair:
                raise DecisionError(
                    "The canonical product must be one of the pair.", field="canonical"
                )
            products = Product.objects.select_related("merged_into").in_bulk(pair)
            canonical = products[canonical_id]
            other = products[(pair - {canonical_id}).pop()]
            merged, before = _merge(canonical=canonical, other=other)
            details = {"canonical": _root(canonical).pk, "merged": merged, "before": before}
        previous = candidate.status
        candidate.status = new_status
        candidate.reason = reason
        candidate.note = note
        if new_status != CandidateStatus.ESCALATED:
            candidate.decided_by = moderator
            candidate.decided_at = timezone.now()
        else:
            candidate.assignee = None
        candidate.save()
        if new_status == CandidateStatus.CONFIRMED:
            details["grouped"] = _close_grouped(
                canonical_id=details["canonical"], moderator=moderator, exclude=candidate.pk
            )
        ReviewEvent.objects.create(
            candidate=candidate, actor=moderator, action=action, from_status=previous,
            to_status=new_status, reason=reason, note=note, details=details,
        )  # fmt: skip
    return candidate


UNDOABLE = ("confirm", "dismiss", "escalate")


def candidate_decision_undo(*, candidate_id: int, moderator) -> DuplicateCandidate:
    """Revert the pair's last decision if it is at most ``DEDUPE_UNDO_SECONDS`` old.

    A confirm's merge is fully reverted: every product it changed gets back its status and
    ``merged_into`` (so its page stops redirecting), and the pairs it closed as "same group"
    reopen. Refused (409) when the products changed since, e.g. a later merge moved them. The
    revert is an audit event of its own ("undo", naming the event it reverts).
    """
    if not user_is_moderator(moderator):
        raise NotAModerator("Only moderators can undo decisions.")
    window = int(settings.DEDUPE_UNDO_SECONDS)
    with transaction.atomic():
        candidate = DuplicateCandidate.objects.select_for_update().filter(pk=candidate_id).first()
        if candidate is None:
            raise CandidateMissing("This duplicate pair does not exist.")
        last = (
            candidate.events.filter(action__in=(*UNDOABLE, "undo")).order_by("-at", "-id").first()
        )
        if last is None or last.action == "undo" or last.to_status != candidate.status:
            raise AlreadyDecided("There is no decision on this pair to undo.")
        age = (timezone.now() - last.at).total_seconds()
        if age > window:
            raise AlreadyDecided(
                f"This decision is {int(age // 60)} min old; decisions can be undone for "
                f"{window // 60} min."
            )
        details = last.details or {}
        if last.action == "confirm" and details.get("before"):
            before = {int(k): v for k, v in details["before"].items()}
            locked = {
                p.pk: p
                for p in Product.objects.select_for_update().filter(pk__in=before).order_by("pk")
            }
            canonical = details["canonical"]
            moved_on = [pk for pk, p in locked.items()
                        if p.status != ProductStatus.MERGED or p.merged_into_id != canonical]  # fmt: skip
            if moved_on:
                raise AlreadyDecided(
                    "The merged listings changed since (another merge or an edit); "
                    "undo it from there first."
                )
            now = timezone.now()
            for pk, state in before.items():
                product = locked[pk]
                product.status = state["status"]
                product.merged_into_id = state["merged_into"]
                product.updated_at = now
                product.save(update_fields=["status", "merged_into", "updated_at"])
            for grouped_id, previous in details.get("grouped", []):
                DuplicateCandidate.objects.filter(
                    pk=grouped_id, status=CandidateStatus.CONFIRMED, reason="same-group"
                ).update(status=previous, decided_by=None, decided_at=None, reason="")
        undone_status = candidate.status
        candidate.status = last.from_status or CandidateStatus.PENDING
        candidate.decided_by = None
        candidate.decided_at = None
        candidate.reason = ""
        candidate.note = ""
        candidate.save()
        ReviewEvent.objects.create(
            candidate=candidate, actor=moderator, action="undo", from_status=undone_status,
            to_status=candidate.status, details={"undoes": last.pk, "action": last.action},
        )  # fmt: skip
    return candidate


def _close_grouped(*, canonical_id: int, moderator, exclude: int) -> list[tuple[int, str]]:
    """Open pairs whose two products now sit in the same group need no review any more.

    Returns (candidate id, previous status) of each pair closed, for undo."""
    group = [canonical_id, *Product.objects.filter(merged_into_id=canonical_id).values_list(
        "pk", flat=True)]  # fmt: skip
    stale = (
        DuplicateCandidate.objects.select_for_update()
        .filter(status__in=OPEN_STATUSES, product_a_id__in=group, product_b_id__in=group)
        .exclude(pk=exclude)
    )
    now = timezone.now()
    closed = []
    for candidate in stale:
        previous = candidate.status
        closed.append((candidate.pk, previous))
        candidate.status = CandidateStatus.CONFIRMED
        candidate.decided_by = moderator
        candidate.decided_at = now
        candidate.reason = "same-group"
        candidate.save()
        ReviewEvent.objects.create(
            candidate=candidate, actor=moderator, action="grouped", from_status=previous,
            to_status=candidate.status, reason="same-group",
            details={"canonical": canonical_id},
        )  # fmt: skip
    return closed


@transaction.atomic
def candidates_dismiss_bulk(
    *, candidate_ids: Sequence[int], moderator, reason: str = "", note: str = ""
) -> tuple[int, int]:
    """Dismiss many open pairs at once; returns (dismissed, skipped because already decided)."""
    if not user_is_moderator(moderator):
        raise NotAModerator("Only moderators can decide duplicate pairs.")
    ids = sorted({int(i) for i in candidate_ids})
    rows = list(DuplicateCandidate.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    now, done = timezone.now(), 0
    reason, note = (reason or "bulk").strip()[:40], (note or "").strip()
    for candidate in rows:
        if not candidate.is_open:
            continue
        previous = candidate.status
        candidate.status = CandidateStatus.DISMISSED
        candidate.decided_by = moderator
        candidate.decided_at = now
        candidate.reason = reason
        candidate.note = note
        candidate.save()
        ReviewEvent.objects.create(
            candidate=candidate, actor=moderator, action="dismiss", from_status=previous,
            to_status=candidate.status, reason=reason, note=note, details={"bulk": True},
        )  # fmt: skip
        done += 1
    return done, len(ids) - done
