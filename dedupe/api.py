"""The duplicates API for moderators: list the queue, read a pair, decide it.

Errors come out in the project's shape ``{"errors": {field: [messages]}}`` through the global
DRF exception handler: 400 bad input, 401 not signed in, 403 not a moderator, 404 no such pair,
409 already decided (another moderator got there first)."""

from __future__ import annotations

import math

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, permissions
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api_fields import INTEGER_TEXT
from catalog.parsers import JSONParser
from catalog.roles import user_is_moderator
from dedupe import selectors, services
from dedupe.serializers import (
    CandidateDetailSerializer,
    CandidateFilterSerializer,
    CandidateOutSerializer,
    DecisionInSerializer,
)


class IsModerator(permissions.BasePermission):
    message = "Only moderators can review duplicates."

    def has_permission(self, request, view):
        return user_is_moderator(request.user)


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "This pair was already decided."
    default_code = "conflict"


class QueuePagination(CursorPagination):
    """Keyset paging on (probability, id): every page costs the same at 100k pending pairs."""

    ordering = ("-probability", "-id")
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        """DRF falls back to the default on any bad page_size; here it is a 400, as documented."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not INTEGER_TEXT.search(raw) or not 1 <= int(raw) <= self.max_page_size:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters

    def decode_cursor(self, request):
        """DRF's decoding, and a 400 for a cursor this API did not issue: DRF passes any
        position string to the database, where a non-number ended as a 500."""
        cursor_given = bool(request.query_params.get(self.cursor_query_param))
        try:
            cursor = super().decode_cursor(request)
            if cursor is not None and cursor.position is not None:
                position = float(cursor.position)
                if not math.isfinite(position):
                    raise ValueError(position)
        except (exceptions.NotFound, ValueError, TypeError, OverflowError):
            if cursor_given:
                raise exceptions.ValidationError(
                    {self.cursor_query_param: ["Invalid cursor; use the next or previous link."]}
                ) from None
            raise
        return cursor


def _detail(candidate) -> dict:
    candidate.contributions = [
        row.__dict__ for row in selectors.candidate_explain(candidate=candidate)
    ]
    return CandidateDetailSerializer(candidate).data


class CandidateListApi(generics.GenericAPIView):
    permission_classes = [IsModerator]
    serializer_class = CandidateOutSerializer
    pagination_class = QueuePagination

    @extend_schema(
        parameters=[CandidateFilterSerializer],
        responses=CandidateOutSerializer(many=True),
        summary="The duplicate queue, most probable first",
    )
    def get(self, request):
        filters = CandidateFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        qs = selectors.candidates_filtered(
            status=None if data["status"] == "all" else data["status"],
            category=data.get("category"),
            seller=data.get("seller"),
            strongest=data.get("signal"),
        ).select_related("product_a__seller", "product_b__seller", "decided_by")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(CandidateOutSerializer(page, many=True).data)


class CandidateDetailApi(APIView):
    permission_classes = [IsModerator]

    @extend_schema(responses=CandidateDetailSerializer, summary="One pair with its signals")
    def get(self, request, pk: int):
        candidate = selectors.candidate_get(pk=pk)
        if candidate is None:
            raise exceptions.NotFound("No such duplicate pair.")
        return Response(_detail(candidate))


def _decision_call(service, **kwargs):
    """Run a decision service, its typed errors mapped to API errors once for every caller:
    409 already decided / nothing to undo, 404, 403, else 400 on the named field."""
    try:
        return service(**kwargs)
    except services.AlreadyDecided as exc:
        raise Conflict(exc.message) from None
    except services.CandidateMissing as exc:
        raise exceptions.NotFound(exc.message) from None
    except services.NotAModerator as exc:
        raise exceptions.PermissionDenied(exc.message) from None
    except services.DecisionError as exc:
        raise exceptions.ValidationError({exc.field: [exc.message]}) from None


class CandidateDecisionApi(APIView):
    permission_classes = [IsModerator]
    parser_classes = [JSONParser]

    @extend_schema(
        request=DecisionInSerializer,
        responses={
            200: CandidateDetailSerializer,
            400: OpenApiResponse(description="Unknown action or canonical not in the pair"),
            404: OpenApiResponse(description="No such pair"),
            409: OpenApiResponse(description="Already decided"),
        },
        summary="Confirm (merge), dismiss or escalate a pair",
    )
    def post(self, request, pk: int):
        serializer = DecisionInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        candidate = _decision_call(
            services.candidate_decide,
            candidate_id=pk, moderator=request.user, action=data["action"],
            canonical_id=data.get("canonical"), reason=data["reason"], note=data["note"],
        )  # fmt: skip
        return Response(_detail(selectors.candidate_get(pk=candidate.pk)))


class CandidateUndoApi(APIView):
    permission_classes = [IsModerator]

    @extend_schema(
        request=None,
        responses={
            200: CandidateDetailSerializer,
            404: OpenApiResponse(description="No such pair"),
            409: OpenApiResponse(description="Nothing to undo, or the undo window has passed"),
        },
        summary="Undo the pair's last decision (a merge is reverted too) within the undo window",
        extensions={"x-request-body": "none"},
    )
    def post(self, request, pk: int):
        candidate = _decision_call(
            services.candidate_decision_undo, candidate_id=pk, moderator=request.user
        )
        return Response(_detail(selectors.candidate_get(pk=candidate.pk)))
