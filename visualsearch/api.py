"""JSON API for visual search. Parsing and rendering only; the work is in visualsearch.search."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from catalog.models import Product, ProductStatus
from catalog.parsers import JSONParser
from visualsearch.attributes import ATTRIBUTE_PARAMS
from visualsearch.search import EmptyQuery, NoActiveSpace, SearchResult, products_similar, search
from visualsearch.serializers import (
    SearchInputSerializer,
    SearchOutSerializer,
    SearchTextInputSerializer,
    SimilarInputSerializer,
    attributes_render,
)


def _render(result: SearchResult, request) -> dict:
    hits = []
    for product, score in result.results:
        images = list(product.images.all())
        hits.append(
            {
                "product": {
                    "id": product.pk,
                    "title": product.title,
                    "price": product.price,
                    "currency": product.currency,
                    "category": product.category.slug if product.category else None,
                    "brand": product.brand,
                    "url": request.build_absolute_uri(product.get_absolute_url()),
                    "image_url": request.build_absolute_uri(images[0].file.url) if images else None,
                },
                "score": score,
                "attributes": attributes_render(result.attributes.get(product.pk, {})),
                "score_parts": result.parts.get(product.pk),
                "relevance": result.relevance.get(product.pk),
                "match": result.matches.get(product.pk, True),
            }
        )
    payload = {
        "results": hits,
        "took_ms": result.took_ms,
        "space": result.space,
        "mode": result.mode,
        "channel": result.channel,
        "page": result.page,
        "k": result.k,
        "has_next": result.has_next,
        "no_match": result.no_match,
        "corrected_text": result.corrected_text,
        "subjects": [
            {
                "box": list(subject.box) if subject.box else None,
                "width": subject.size[0],
                "height": subject.size[1],
            }
            for subject in result.subjects
        ],  # fmt: skip
        "facets": {
            ATTRIBUTE_PARAMS[facet]: counts
            for facet, counts in result.facets.items()
            if facet in ATTRIBUTE_PARAMS
        },
    }
    return SearchOutSerializer(payload).data


class SearchUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Search is unavailable."


class NothingToCompare(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This product has nothing to compare yet."


def _unavailable(error: Exception):
    # Raised, not returned, so the project's error handler gives it the one error shape.
    raise SearchUnavailable(str(error)) from error


class SearchApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "search"
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        request={
            "multipart/form-data": SearchInputSerializer,
            "application/x-www-form-urlencoded": SearchTextInputSerializer,
            "application/json": SearchTextInputSerializer,
        },
        responses={
            200: SearchOutSerializer,
            503: OpenApiResponse(description="No embedding space is active yet"),
        },
    )
    def post(self, request):
        serializer = SearchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            result = search(serializer.search_query())
        except NoActiveSpace as error:
            return _unavailable(error)
        except EmptyQuery as error:
            raise serializers.ValidationError({"non_field_errors": [str(error)]}) from error
        return Response(_render(result, request))


class SimilarProductsApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "search"

    @extend_schema(
        parameters=[SimilarInputSerializer],
        responses={
            200: SearchOutSerializer,
            404: OpenApiResponse(description="No such active product"),
            409: OpenApiResponse(description="The product has nothing to compare yet"),
            503: OpenApiResponse(description="No embedding space is active yet"),
        },
    )
    def get(self, request, product_id: int):
        serializer = SimilarInputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        product = Product.objects.filter(pk=product_id, status=ProductStatus.ACTIVE).first()
        if product is None:
            raise exceptions.NotFound()
        try:
            result = products_similar(product=product, **serializer.validated_data)
        except NoActiveSpace as error:
            return _unavailable(error)
        except EmptyQuery as error:
            raise NothingToCompare(str(error)) from error
        return Response(_render(result, request))
