"""Input and output shapes of the products API. Validation of shapes only; writes are in
catalog.services."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog import api_fields, services
from catalog.currencies import ISO_4217
from catalog.images import ImageRejected, too_big_message
from catalog.models import Category, ImageKind, Product, ProductImage, ProductStatus, Seller

SELLER_STATUSES = [ProductStatus.DRAFT, ProductStatus.ACTIVE, ProductStatus.HIDDEN]


class SellerOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = Seller
        fields = ["id", "slug", "display_name", "created_at"]


class SellerMeOutSerializer(SellerOutSerializer):
    products = serializers.IntegerField(source="products.count", help_text="listings, any status")

    class Meta(SellerOutSerializer.Meta):
        fields = [*SellerOutSerializer.Meta.fields, "products"]


class CategoryOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "slug", "path"]


class ImageOutSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ProductImage
        fields = ["id", "url", "position", "kind", "width", "height", "sha256"]

    def get_url(self, image) -> str:
        request = self.context.get("request")
        url = image.file.url
        return request.build_absolute_uri(url) if request else url


class ProductOutSerializer(serializers.ModelSerializer):
    """Named "Product" in the schema (the search API has its own "ProductOut")."""

    seller = SellerOutSerializer()
    category = CategoryOutSerializer(allow_null=True)
    images = ImageOutSerializer(many=True)
    url = serializers.CharField(source="get_absolute_url", help_text="the product's web page")

    class Meta:
        model = Product
        ref_name = "Product"
        fields = [
            "id", "url", "title", "description", "brand", "category", "price", "currency",
            "status", "seller", "images", "created_at", "updated_at",
        ]  # fmt: skip


@extend_schema_field(
    {"type": "string", "enum": sorted(ISO_4217), "default": "EUR",
     "description": "ISO 4217 code (letter case is ignored)"}
)  # fmt: skip
class CurrencyField(api_fields.CharField):
    pass


class ProductInSerializer(serializers.Serializer):
    title = api_fields.CharField(max_length=300)
    description = api_fields.CharField(required=False, allow_blank=True, default="")
    brand = api_fields.CharField(required=False, allow_blank=True, default="", max_length=120)
    category = api_fields.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True, default=None
    )
    price = api_fields.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    currency = CurrencyField(required=False, default="EUR", max_length=3)
    status = serializers.ChoiceField(
        choices=SELLER_STATUSES, required=False, default=ProductStatus.DRAFT,
        help_text="draft (default), active (published) or hidden",
    )  # fmt: skip

    def validate_currency(self, value):
        try:
            return services.currency_parse(value)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None

    def product_data(self, *, status: str | None = None) -> services.ProductData:
        data = self.validated_data
        return services.ProductData(
            title=data["title"].strip(), price=data["price"], currency=data["currency"],
            description=data["description"].strip(), brand=data["brand"].strip(),
            category=data["category"], status=status or data["status"],
        )  # fmt: skip


class ProductPatchSerializer(ProductInSerializer):
    """PATCH: every field optional; missing ones keep the product's value."""

    def __init__(self, *args, product: Product, **kwargs):
        super().__init__(*args, partial=True, **kwargs)
        self.product = product

    def product_data(self, *, status: str | None = None) -> services.ProductData:
        data, product = self.validated_data, self.product
        return services.ProductData(
            title=data.get("title", product.title).strip(),
            price=data.get("price", product.price),
            currency=data.get("currency", product.currency),
            description=data.get("description", product.description).strip(),
            brand=data.get("brand", product.brand).strip(),
            category=data["category"] if "category" in data else product.category,
            status=status or product.status,
        )


class ProductFilterSerializer(serializers.Serializer):
    category = api_fields.CharField(
        required=False, allow_blank=True, help_text="category slug; includes its subcategories"
    )
    brand = api_fields.CharField(required=False, allow_blank=True, help_text="exact, any case")
    seller = api_fields.CharField(required=False, allow_blank=True, help_text="seller slug")
    min_price = api_fields.DecimalField(
        required=False, max_digits=12, decimal_places=2, min_value=0
    )
    max_price = api_fields.DecimalField(
        required=False, max_digits=12, decimal_places=2, min_value=0
    )
    q = api_fields.CharField(required=False, allow_blank=True, max_length=200,
                             help_text="full-text words in title, brand, description")  # fmt: skip

    def validate(self, data):
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and high < low:
            raise serializers.ValidationError({"max_price": ["Must not be below min_price."]})
        return data


class ImagesUploadSerializer(serializers.Serializer):
    image = serializers.ListField(
        child=serializers.FileField(), allow_empty=False,
        help_text="one or more photos (repeat the field)",
    )  # fmt: skip
    kind = serializers.ChoiceField(choices=ImageKind.choices, required=False,
                                   default=ImageKind.CATALOG)  # fmt: skip

    def validate_image(self, files):
        checked, limit = [], int(settings.MAX_UPLOAD_BYTES)
        for upload in files:
            if upload.size is not None and upload.size > limit:  # refuse before reading
                raise serializers.ValidationError(
                    too_big_message(name=upload.name, size=upload.size, limit=limit)
                )
            try:
                checked.append(services.image_validate(upload.read()))
            except ImageRejected as error:
                raise serializers.ValidationError(f"“{upload.name}”: {error}") from None
        return checked


class ImagesOrderSerializer(serializers.Serializer):
    order = serializers.ListField(
        child=api_fields.IntegerField(), allow_empty=False,
        help_text="every image id of the product, in the new order",
    )  # fmt: skip


class ImagePatchSerializer(serializers.Serializer):
    """PATCH: a field left out keeps its value (an empty body changes nothing)."""

    kind = serializers.ChoiceField(choices=ImageKind.choices, required=False)


class TokenInSerializer(serializers.Serializer):
    username = api_fields.CharField()
    password = api_fields.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenOutSerializer(serializers.Serializer):
    token = serializers.CharField()
