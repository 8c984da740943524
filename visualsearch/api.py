"""JSON API for visual search. Parsing and rendering only; the work is in visualsearch.search."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.images import ImageRejected
from catalog.models import Category, Product, ProductStatus, Seller
from catalog.services import image_validate
from visualsearch.search import (
    EmptyQuery,
    NoActiveSpace,
    SearchResult,
    products_search,
    products_similar,
    query_vector_build,
)
from visualsearch.spaces import space_active

EMPTY_QUERY_MESSAGE = "Give a photo or a description to search with."


class SearchInputSerializer(serializers.Serializer):
    image = serializers.ListField(child=serializers.FileField(), required=False, default=list)
    text = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    negative_text = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=500
    )
    image_weight = serializers.FloatField(required=False, default=0.5, min_value=0, max_value=1)
    category = serializers.CharField(required=False, allow_blank=True, default="")
    min_price = serializers.DecimalField(
        required=False, allow_null=True, default=None, max_digits=12, decimal_places=2, min_value=0
    )
    max_price = serializers.DecimalField(
        required=False, allow_null=True, default=None, max_digits=12, decimal_places=2, min_value=0
    )
    brand = serializers.CharField(required=False, allow_blank=True, default="", max_length=120)
    seller = serializers.CharField(required=False, allow_blank=True, default="")
    k = serializers.IntegerField(required=False, default=24, min_value=1, max_value=100)
    page = serializers.IntegerField(required=False, default=1, min_value=1)
    diversity = serializers.FloatField(required=False, default=0.0, min_value=0, max_value=1)
    min_score = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=-1, max_value=1
    )

    def validate_image(self, files):
        checked = []
        for upload in files:
            try:
                checked.append(image_validate(upload.read()))
            except ImageRejected as error:
                raise serializers.ValidationError(str(error)) from error
        return checked

    def validate_category(self, slug):
        slug = slug.strip()
        if slug and not Category.objects.filter(slug=slug).exists():
            raise serializers.ValidationError(f"Unknown category “{slug}”.")
        return slug

    def validate_seller(self, slug):
        slug = slug.strip()
        if slug and not Seller.objects.filter(slug=slug).exists():
            raise serializers.ValidationError(f"Unknown seller “{slug}”.")
        return slug

    def validate(self, data):
        if not data["image"] and not data["text"].strip():
            raise serializers.ValidationError(EMPTY_QUERY_MESSAGE)
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"max_price": "Must not be below the minimum price."})
        return data


class SimilarInputSerializer(serializers.Serializer):
    k = serializers.IntegerField(required=False, default=24, min_value=1, max_value=100)
    diversity = serializers.FloatField(required=False, default=0.0, min_value=0, max_value=1)


class ProductOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    category = serializers.CharField(allow_null=True)
    brand = serializers.CharField()
    url = serializers.CharField()
    image_url = serializers.CharField(allow_null=True)


class HitOutSerializer(serializers.Serializer):
    product = ProductOutSerializer()
    score = serializers.FloatField()


class SearchOutSerializer(serializers.Serializer):
    results = HitOutSerializer(many=True)
    took_ms = serializers.FloatField()
    space = serializers.CharField()
    page = serializers.IntegerField()


def search_execute(data: dict) -> SearchResult:
    """Run a validated SearchInputSerializer's data through visualsearch.search.

    Raises NoActiveSpace or EmptyQuery. Shared by the API and the search page.
    """
    space = space_active()
    if space is None:
        raise NoActiveSpace("Search is unavailable: no embedding space is active.")
    query = query_vector_build(
        space=space,
        images=[checked.rgb() for checked in data["image"]],
        text=data["text"],
        negative_text=data["negative_text"],
        image_weight=data["image_weight"],
    )
    return products_search(
        space=space,
        query_vector=query,
        category=data["category"] or None,
        min_price=data["min_price"],
        max_price=data["max_price"],
        brand=data["brand"] or None,
        seller=data["seller"] or None,
        k=data["k"],
        page=data["page"],
        diversity=data["diversity"],
        min_score=data["min_score"],
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
            }
        )
    payload = {
        "results": hits,
        "took_ms": result.took_ms,
        "space": result.space,
        "page": result.page,
    }
    return SearchOutSerializer(payload).data


def _unavailable(error: Exception) -> Response:
    return Response({"detail": str(error)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)


class SearchApi(APIView):
    permission_classes = [AllowAny]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(request=SearchInputSerializer, responses={200: SearchOutSerializer})
    def post(self, request):
        serializer = SearchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            result = search_execute(serializer.validated_data)
        except NoActiveSpace as error:
            return _unavailable(error)
        except EmptyQuery as error:
            return Response({"non_field_errors": [str(error)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(_render(result, request))


class SimilarProductsApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[
            OpenApiParameter("k", int, description="1..100, default 24"),
            OpenApiParameter("diversity", float, description="0..1, default 0"),
        ],
        responses={200: SearchOutSerializer},
    )
    def get(self, request, product_id: int):
        serializer = SimilarInputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        product = Product.objects.filter(pk=product_id, status=ProductStatus.ACTIVE).first()
        if product is None:
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        try:
            result = products_similar(product=product, **serializer.validated_data)
        except NoActiveSpace as error:
            return _unavailable(error)
        except EmptyQuery as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(_render(result, request))
