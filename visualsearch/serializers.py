"""Search's request and response shapes, shared by the JSON API and the search page.

The input serializer validates a query (uploads through the catalog's image checks, filters
against the taxonomy) and turns it into a :class:`visualsearch.search.SearchQuery`.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from catalog import api_fields
from catalog.images import ImageRejected, too_big_message
from catalog.models import Category, Seller
from catalog.services import image_validate
from visualsearch.attributes import ATTRIBUTE_PARAMS, TAXONOMY
from visualsearch.search import SearchQuery

EMPTY_QUERY_MESSAGE = "Give a photo or a description to search with."
MAX_PAGE = 100


class SearchInputSerializer(serializers.Serializer):
    # What `validate` checks, in the schema: a photo, or words that are not all blanks.
    openapi_request_extra = {
        "anyOf": [
            {"required": ["image"], "properties": {"image": {"minItems": 1}}},
            {"required": ["text"], "properties": {"text": {"pattern": r"\S"}}},
        ]
    }

    image = serializers.ListField(child=serializers.FileField(), required=False, default=list)
    text = api_fields.CharField(required=False, allow_blank=True, default="", max_length=500)
    negative_text = api_fields.CharField(
        required=False, allow_blank=True, default="", max_length=500
    )
    image_weight = api_fields.FloatField(required=False, default=0.5, min_value=0, max_value=1)
    category = api_fields.CharField(required=False, allow_blank=True, default="")
    # Optional filters: left out or "" (an empty box of the search form) for none. Not
    # nullable: a form cannot send null, and JSON and forms share one description.
    min_price = api_fields.DecimalField(
        required=False, default=None, max_digits=12, decimal_places=2, min_value=0
    )
    max_price = api_fields.DecimalField(
        required=False, default=None, max_digits=12, decimal_places=2, min_value=0
    )
    brand = api_fields.CharField(required=False, allow_blank=True, default="", max_length=120)
    seller = api_fields.CharField(required=False, allow_blank=True, default="")
    k = api_fields.IntegerField(required=False, default=24, min_value=1, max_value=100)
    page = api_fields.IntegerField(
        required=False,
        default=1,
        min_value=1,
        max_value=MAX_PAGE,
        help_text=f"1..{MAX_PAGE}: deeper pages are not served (each page re-ranks every result "
        "before it).",
    )
    diversity = api_fields.FloatField(required=False, default=0.0, min_value=0, max_value=1)
    min_score = api_fields.FloatField(required=False, default=None, min_value=-1, max_value=1)
    crops = api_fields.BooleanField(
        required=False,
        default=False,
        help_text="Photo queries: also search a centre crop and the four corner crops (60% of "
        "each side); each product keeps its best similarity over the whole photo and the crops.",
    )
    correct = api_fields.BooleanField(
        required=False,
        default=True,
        help_text="Replace text words no listing uses by the nearest catalog word within "
        "Elasticsearch's AUTO edit distance ('jeasn' → 'jeans'); `corrected_text` says what was "
        "searched. False searches the words as typed.",
    )
    expand = api_fields.BooleanField(
        required=False,
        default=False,
        help_text="Photo queries: expand the query with its top 5 results (pseudo-relevance "
        "feedback: the photo's vector plus half their mean) and rank by it; relevance and "
        "`match` stay those of the photo. Off by default; text queries are not expanded.",
    )

    def get_fields(self):
        """One optional filter per zero-shot attribute facet (see ATTRIBUTE_PARAMS), restricted to
        the taxonomy's labels: colour, pattern, style, season, fit, item_type."""
        fields = super().get_fields()
        for facet, param in ATTRIBUTE_PARAMS.items():
            fields[param] = serializers.ChoiceField(
                choices=list(TAXONOMY[facet]["labels"]),
                required=False,
                allow_blank=True,
                default="",
                help_text=f"Only products whose zero-shot {facet} (from their primary photo) is "
                "this label.",
            )
        return fields

    def validate_image(self, files):
        checked = []
        limit = int(settings.MAX_UPLOAD_BYTES)
        for upload in files:
            # Refuse an oversized upload before reading it into memory.
            if upload.size is not None and upload.size > limit:
                raise serializers.ValidationError(
                    too_big_message(name=upload.name, size=upload.size, limit=limit)
                )
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
        return seller_slug(slug)

    def search_query(self) -> SearchQuery:
        """The validated query (call after ``is_valid``)."""
        data = self.validated_data
        return SearchQuery(
            images=[checked.rgb() for checked in data["image"]],
            text=data["text"],
            negative_text=data["negative_text"],
            image_weight=data["image_weight"],
            crops=data.get("crops", False),
            expand=data.get("expand", False),
            correct=data.get("correct", True),
            category=data["category"] or None,
            min_price=data["min_price"],
            max_price=data["max_price"],
            brand=data["brand"] or None,
            seller=data["seller"] or None,
            attributes={
                facet: data[param] for facet, param in ATTRIBUTE_PARAMS.items() if data.get(param)
            },
            k=data["k"],
            page=data["page"],
            diversity=data["diversity"],
            min_score=data["min_score"],
        )

    def validate(self, data):
        if not data["image"] and not data["text"].strip():
            raise serializers.ValidationError(EMPTY_QUERY_MESSAGE)
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"max_price": "Must not be below the minimum price."})
        return data


class SearchTextInputSerializer(SearchInputSerializer):
    """The search query as a JSON or urlencoded body documents it: photos are multipart uploads."""

    openapi_request_extra = {
        "anyOf": [{"required": ["text"], "properties": {"text": {"pattern": r"\S"}}}]
    }
    image = None


def seller_slug(slug: str) -> str:
    """A seller filter's slug, stripped; blank for none, a field error for an unknown seller."""
    slug = slug.strip()
    if slug and not Seller.objects.filter(slug=slug).exists():
        raise serializers.ValidationError(f"Unknown seller “{slug}”.")
    return slug


class SimilarInputSerializer(serializers.Serializer):
    k = api_fields.IntegerField(required=False, default=24, min_value=1, max_value=100)
    diversity = api_fields.FloatField(required=False, default=0.0, min_value=0, max_value=1)
    seller = api_fields.CharField(
        required=False, allow_blank=True, default="",
        help_text="only this seller's products (slug), e.g. more like this from the same shop",
    )  # fmt: skip

    def validate_seller(self, slug):
        return seller_slug(slug) or None


class ProductOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    category = serializers.CharField(allow_null=True)
    brand = serializers.CharField()
    url = serializers.CharField()
    image_url = serializers.CharField(allow_null=True)


class AttributeOutSerializer(serializers.Serializer):
    value = serializers.CharField()
    confidence = serializers.FloatField()


class ScorePartsOutSerializer(serializers.Serializer):
    image = serializers.FloatField(help_text="cosine of the text and the best product image")
    title = serializers.FloatField(help_text="cosine of the text and the title vector")
    keyword = serializers.FloatField(help_text="s/(s+k) of the full-text rank s")
    keyword_rank = serializers.FloatField(help_text="ts_rank_cd of the text on the product")
    facets = serializers.FloatField(
        help_text="P(the colour the text names) · P(the item type it names), read by the space's "
        "heads from the product's photo and title; the score adds FUSION_FACET_WEIGHT times it"
    )


class HitOutSerializer(serializers.Serializer):
    product = ProductOutSerializer()
    score = serializers.FloatField(
        help_text=(
            "photo: cosine similarity plus the category vote (up to SEARCH_CATEGORY_VOTE_WEIGHT); "
            "hybrid: the fused score"
        )
    )
    attributes = serializers.DictField(
        child=AttributeOutSerializer(),
        help_text="zero-shot attributes of the product's primary photo, keyed by filter name",
    )
    score_parts = ScorePartsOutSerializer(
        allow_null=True, help_text="hybrid mode: the signals fused into the score"
    )
    relevance = serializers.FloatField(
        allow_null=True,
        help_text="calibrated probability that this result is relevant (null for a space "
        "without calibration)",
    )
    match = serializers.BooleanField(
        help_text="whether the result reaches the space's relevance floor; results under it "
        "are weaker ones, not matches"
    )


class SubjectOutSerializer(serializers.Serializer):
    box = serializers.ListField(
        child=serializers.IntegerField(min_value=0),
        min_length=4,
        max_length=4,
        allow_null=True,
        help_text="the part of the photo that was searched, [left, top, right, bottom] in the "
        "photo's pixels (after its EXIF orientation); null: the whole photo (a studio shot, or "
        "no part looked more like a product photo)",
    )
    width = serializers.IntegerField(help_text="the photo's width in pixels, as read")
    height = serializers.IntegerField(help_text="the photo's height in pixels, as read")


class SearchOutSerializer(serializers.Serializer):
    results = HitOutSerializer(many=True)
    took_ms = serializers.FloatField()
    space = serializers.CharField()
    mode = serializers.ChoiceField(
        choices=["vector", "hybrid"],
        help_text="hybrid: text-only query, fused image, title and full-text scores; "
        "vector: photo (± text) or similar-products query, image similarity only",
    )
    channel = serializers.ChoiceField(
        choices=["space", "raw"],
        help_text="which image vectors ranked a photo query: space (the fitted search space) "
        "or raw (the image tower's own features, for a photo of a kind the space was not "
        "trained on)",
    )
    page = serializers.IntegerField()
    k = serializers.IntegerField(help_text="results per page")
    has_next = serializers.BooleanField()
    corrected_text = serializers.CharField(
        allow_blank=True,
        help_text="the text searched instead of the typed one when spelling correction changed "
        "it (empty if not); send `correct: false` to search the words as typed",
    )
    no_match = serializers.BooleanField(
        help_text="there are results but none on this page reaches the relevance floor: "
        "the shop has no good match for the query"
    )
    facets = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()),
        help_text="{filter name: {value: number of matching candidate products}}",
    )
    subjects = SubjectOutSerializer(
        many=True,
        help_text="photo queries: what of each photo was searched, in upload order (a shopper's "
        "photo is searched by the part that holds the product, SEARCH_SUBJECT_CROP); empty for "
        "text and similar-products queries",
    )


def attributes_render(found: dict[str, tuple[str, float]]) -> dict:
    """{filter name: {"value", "confidence"}} in taxonomy order."""
    return {
        param: {"value": found[facet][0], "confidence": found[facet][1]}
        for facet, param in ATTRIBUTE_PARAMS.items()
        if facet in found
    }
