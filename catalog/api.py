"""The products API: parse, call one catalog service or selector, render.

Anyone lists and reads active products; only the owning seller writes (object-level permission,
403 for others); writes take JSON (photos are multipart uploads); uploads go through catalog.services.image_validate and the "upload" throttle.
Authentication is the project's default (token first: 401 with "WWW-Authenticate: Token" for a
write without credentials); catalog.api_schema documents who may call what and every error."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, permissions, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from catalog import selectors, services
from catalog.models import Product, ProductImage
from catalog.parsers import JSONParser
from catalog.serializers import (
    ImageOutSerializer,
    ImagePatchSerializer,
    ImagesOrderSerializer,
    ImagesUploadSerializer,
    ProductFilterSerializer,
    ProductInSerializer,
    ProductOutSerializer,
    ProductPatchSerializer,
    SellerMeOutSerializer,
    TokenInSerializer,
    TokenOutSerializer,
)


class IsSellerOrReadOnly(permissions.BasePermission):
    message = "Only sellers can do this. Become a seller from your account page first."

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        return bool(request.user.is_authenticated and hasattr(request.user, "seller"))


class IsOwnerOrReadOnly(permissions.BasePermission):
    message = "Only the seller who owns this product can change it."

    def has_object_permission(self, request, view, obj: Product):
        if request.method in permissions.SAFE_METHODS:
            return True
        return obj.seller.user_id == request.user.pk


def _product_for(view, pk: int) -> Product:
    """The product if this user may see it (404 otherwise), checked against object permissions
    (403 for a non-owner's write)."""
    product = selectors.product_visible_to(pk=pk, user=view.request.user)
    if product is None:
        raise exceptions.NotFound("No such product.")
    view.check_object_permissions(view.request, product)
    return product


def _out(product_pk: int, request) -> dict:
    return ProductOutSerializer(
        selectors.product_get(pk=product_pk), context={"request": request}
    ).data


class ProductListApi(generics.GenericAPIView):
    permission_classes = [IsSellerOrReadOnly]
    parser_classes = [JSONParser]
    serializer_class = ProductOutSerializer

    @extend_schema(parameters=[ProductFilterSerializer], responses=ProductOutSerializer(many=True))
    def get(self, request):
        filters = ProductFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.products_filter(**filters.validated_data))
        data = ProductOutSerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)

    @extend_schema(request=ProductInSerializer, responses={201: ProductOutSerializer})
    def post(self, request):
        serializer = ProductInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = services.product_create(
            seller=request.user.seller, data=serializer.product_data()
        )
        return Response(_out(product.pk, request), status=status.HTTP_201_CREATED)


class ProductDetailApi(APIView):
    permission_classes = [IsSellerOrReadOnly, IsOwnerOrReadOnly]
    parser_classes = [JSONParser]

    @extend_schema(responses=ProductOutSerializer)
    def get(self, request, pk: int):
        product = _product_for(self, pk)
        return Response(ProductOutSerializer(product, context={"request": request}).data)

    @extend_schema(request=ProductInSerializer, responses=ProductOutSerializer)
    def put(self, request, pk: int):
        product = _product_for(self, pk)
        serializer = ProductInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._save(request, product, serializer)

    @extend_schema(request=ProductInSerializer(partial=True), responses=ProductOutSerializer)
    def patch(self, request, pk: int):
        product = _product_for(self, pk)
        serializer = ProductPatchSerializer(data=request.data, product=product)
        serializer.is_valid(raise_exception=True)
        return self._save(request, product, serializer)

    def _save(self, request, product, serializer):
        services.product_update(
            product=product, data=serializer.product_data(status=product.status)
        )
        wanted = serializer.validated_data.get("status")
        if wanted and wanted != product.status:
            services.product_set_status(product=product, status=wanted)
        return Response(_out(product.pk, request))

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        services.product_delete(product=_product_for(self, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProductImagesApi(APIView):
    permission_classes = [IsSellerOrReadOnly, IsOwnerOrReadOnly]
    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "upload"

    def get_throttles(self):
        return [ScopedRateThrottle()] if self.request.method == "POST" else []

    @extend_schema(responses=ImageOutSerializer(many=True))
    def get(self, request, pk: int):
        product = _product_for(self, pk)
        return Response(ImageOutSerializer(product.images.all(), many=True,
                                           context={"request": request}).data)  # fmt: skip

    @extend_schema(
        request={"multipart/form-data": ImagesUploadSerializer},
        responses={201: ImageOutSerializer(many=True)},
        description="Upload one or more photos (repeat the `image` field). Identical files "
        "already in the gallery are skipped; the response lists the photos added.",
    )
    def post(self, request, pk: int):
        product = _product_for(self, pk)
        serializer = ImagesUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        added = services.product_images_add(
            product=product, images=data["image"], kinds=[data["kind"]] * len(data["image"])
        )
        return Response(
            ImageOutSerializer(added, many=True, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class ProductImagesOrderApi(APIView):
    permission_classes = [IsSellerOrReadOnly, IsOwnerOrReadOnly]
    parser_classes = [JSONParser]

    @extend_schema(request=ImagesOrderSerializer, responses=ImageOutSerializer(many=True))
    def post(self, request, pk: int):
        product = _product_for(self, pk)
        serializer = ImagesOrderSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.product_images_reorder(
            product=product, image_ids=serializer.validated_data["order"]
        )
        return Response(ImageOutSerializer(product.images.order_by("position", "id"), many=True,
                                           context={"request": request}).data)  # fmt: skip


class ProductImageDetailApi(APIView):
    permission_classes = [IsSellerOrReadOnly, IsOwnerOrReadOnly]
    parser_classes = [JSONParser]

    def _image(self, pk: int, image_id: int) -> ProductImage:
        product = _product_for(self, pk)
        return get_object_or_404(ProductImage, pk=image_id, product=product)

    @extend_schema(request=ImagePatchSerializer, responses=ImageOutSerializer)
    def patch(self, request, pk: int, image_id: int):
        image = self._image(pk, image_id)
        serializer = ImagePatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if "kind" in serializer.validated_data:
            image = services.product_image_set_kind(
                image=image, kind=serializer.validated_data["kind"]
            )
        return Response(ImageOutSerializer(image, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int, image_id: int):
        services.product_image_remove(image=self._image(pk, image_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SellerMeApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        responses={
            200: SellerMeOutSerializer,
            404: OpenApiResponse(description="You are not a seller yet"),
        }
    )
    def get(self, request):
        seller = getattr(request.user, "seller", None)
        if seller is None:
            raise exceptions.NotFound("You are not a seller yet; POST here to become one.")
        return Response(SellerMeOutSerializer(seller).data)

    @extend_schema(
        request=None,
        responses={200: SellerMeOutSerializer, 201: SellerMeOutSerializer},
        description="Become a seller (201), or get your existing profile (200). No body.",
        extensions={"x-request-body": "none"},
    )
    def post(self, request):
        existed = hasattr(request.user, "seller")
        seller = services.seller_become(user=request.user)
        return Response(
            SellerMeOutSerializer(seller).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


class TokenApi(APIView):
    """Create (with username and password) or revoke (authenticated) your API token."""

    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_permissions(self):
        if self.request.method == "DELETE":
            return [permissions.IsAuthenticated()]
        return super().get_permissions()

    @extend_schema(request=TokenInSerializer, responses={201: TokenOutSerializer})
    def post(self, request):
        serializer = TokenInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(request=request, **serializer.validated_data)
        if user is None:
            raise exceptions.ValidationError(
                {"non_field_errors": ["Unable to log in with these credentials."]}
            )
        token = services.token_create(user=user)
        return Response({"token": token.key}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: OpenApiResponse(description="revoked")})
    def delete(self, request):
        services.token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
