"""Moderator pages: the duplicate queue and the side-by-side pair page. Thin: parse, call one
service or selector, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from catalog.models import Category, Product, Seller
from catalog.roles import user_is_moderator
from dedupe import selectors, services
from dedupe.diff import title_diff
from dedupe.models import CandidateStatus, SignalGroup


def _moderator_only(view):
    @login_required
    def wrapped(request, *args, **kwargs):
        if not user_is_moderator(request.user):
            raise PermissionDenied("Only moderators can review duplicates.")
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _filters(params) -> dict:
    status = params.get("status", CandidateStatus.PENDING)
    if status not in CandidateStatus.values and status != "all":
        status = CandidateStatus.PENDING
    signal = params.get("signal") or None
    if signal not in SignalGroup.values:
        signal = None
    return {
        "status": None if status == "all" else status,
        "category": _int(params.get("category")),
        "seller": _int(params.get("seller")),
        "strongest": signal,
    }


@_moderator_only
def queue(request):
    """The queue, highest probability first, with filters and keyset paging."""
    filters = _filters(request.GET)
    page = selectors.candidates_queue(**filters, cursor=request.GET.get("after"))
    query = request.GET.copy()
    query.pop("after", None)
    return render(
        request,
        "dedupe/queue.html",
        {
            "page": page,
            "filters": filters,
            "status_value": request.GET.get("status", CandidateStatus.PENDING),
            "query": query.urlencode(),
            "statuses": CandidateStatus.choices,
            "signals": SignalGroup.choices,
            "categories": Category.objects.filter(
                pk__in=Product.objects.values("category_id").distinct()
            ).order_by("path"),
            "sellers": Seller.objects.order_by("display_name"),
        },
    )


@_moderator_only
@require_POST
def bulk_dismiss(request):
    ids = [i for i in (_int(v) for v in request.POST.getlist("candidates")) if i is not None]
    back = reverse("moderation-queue") + (
        f"?{request.POST['query']}" if request.POST.get("query") else ""
    )
    if not ids:
        messages.error(request, "Select at least one pair to dismiss.")
        return redirect(back)
    dismissed, skipped = services.candidates_dismiss_bulk(
        candidate_ids=ids, moderator=request.user, reason=request.POST.get("reason", "bulk")
    )
    text = f"Dismissed {dismissed} pair{'s' if dismissed != 1 else ''}."
    if skipped:
        text += f" {skipped} {'was' if skipped == 1 else 'were'} already decided and left as is."
    messages.success(request, text)
    return redirect(back)


def _pair_context(candidate) -> dict:
    left, right = title_diff(candidate.product_a.title, candidate.product_b.title)
    rows = selectors.candidate_explain(candidate=candidate)
    return {
        "candidate": candidate,
        "title_a": left,
        "title_b": right,
        "signals": rows,
        "why": selectors.candidate_reasons(candidate=candidate),
        "undoable": selectors.candidate_undoable(candidate=candidate),
        "intercept": round(selectors.candidate_intercept(), 3),
        "events": selectors.candidate_events(candidate=candidate),
        "next": selectors.candidate_next_pending(after=candidate),
        "reasons": REASONS,
    }


REASONS = [
    ("same-item", "Same item"),
    ("copied-listing", "Copied listing"),
    ("variant", "Different variant (size/colour)"),
    ("different-item", "Different item"),
    ("unsure", "Unsure"),
]


@_moderator_only
def pair(request, pk: int):
    candidate = selectors.candidate_get(pk=pk)
    if candidate is None:
        return render(request, "404.html", status=404)
    return render(request, "dedupe/pair.html", _pair_context(candidate))


@_moderator_only
@require_POST
def decide(request, pk: int):
    action = request.POST.get("action", "")
    try:
        candidate = services.candidate_decide(
            candidate_id=pk,
            moderator=request.user,
            action=action,
            canonical_id=request.POST.get("canonical") or None,
            reason=request.POST.get("reason", ""),
            note=request.POST.get("note", ""),
        )
    except services.DecisionError as exc:
        current = selectors.candidate_get(pk=pk)
        if current is None:
            return render(request, "404.html", status=404)
        messages.error(request, exc.message)
        return render(request, "dedupe/pair.html", _pair_context(current), status=exc.status_code)
    done = {"confirm": "Confirmed and merged", "dismiss": "Dismissed", "escalate": "Escalated"}
    messages.success(request, f"{done[action]}: pair #{candidate.pk}.")
    following = selectors.candidate_next_pending(after=candidate)
    if following is not None:
        return redirect("moderation-pair", pk=following.pk)
    return redirect("moderation-queue")


@_moderator_only
@require_POST
def undo(request, pk: int):
    try:
        candidate = services.candidate_decision_undo(candidate_id=pk, moderator=request.user)
    except services.DecisionError as exc:
        if exc.status_code == 404:
            return render(request, "404.html", status=404)
        messages.error(request, exc.message)
        return redirect("moderation-pair", pk=pk)
    messages.success(request, f"Undone: pair #{candidate.pk} is {candidate.status} again.")
    return redirect("moderation-pair", pk=candidate.pk)
