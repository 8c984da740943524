"""Input and output serializers for the duplicates API."""

from __future__ import annotations

from rest_framework import serializers

from catalog import api_fields
from dedupe.models import CandidateStatus, DuplicateCandidate, ReviewEvent, SignalGroup
from dedupe.services import ACTIONS


class CandidateFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[*CandidateStatus.values, "all"],
        default=CandidateStatus.PENDING,
        help_text="pending (default), confirmed, dismissed, escalated or all",
        error_messages={
            "invalid_choice": "Unknown status {input!r}; use "
            + ", ".join(CandidateStatus.values)
            + " or all."
        },
    )
    category = api_fields.IntegerField(required=False, min_value=1)
    seller = api_fields.IntegerField(required=False, min_value=1)
    signal = serializers.ChoiceField(choices=SignalGroup.values, required=False)


class ProductBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    status = serializers.CharField()
    seller = serializers.CharField(source="seller.slug")
    url = serializers.CharField(source="get_absolute_url")


class CandidateOutSerializer(serializers.ModelSerializer):
    product_a = ProductBriefSerializer()
    product_b = ProductBriefSerializer()
    decided_by = serializers.CharField(source="decided_by.get_username", default=None)
    status = serializers.CharField(help_text="pending, confirmed, dismissed or escalated")

    class Meta:
        model = DuplicateCandidate
        fields = [
            "id", "product_a", "product_b", "probability", "strongest_signal", "status",
            "signals", "reason", "note", "decided_by", "decided_at", "created_at", "updated_at",
        ]  # fmt: skip


class SignalRowSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    value = serializers.CharField(allow_null=True)
    contribution = serializers.FloatField()


class ReviewEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.get_username", default=None)

    class Meta:
        model = ReviewEvent
        fields = ["action", "actor", "from_status", "to_status", "reason", "note", "details", "at"]


class CandidateDetailSerializer(CandidateOutSerializer):
    contributions = SignalRowSerializer(many=True, read_only=True)
    events = ReviewEventSerializer(many=True, read_only=True)

    class Meta(CandidateOutSerializer.Meta):
        fields = [*CandidateOutSerializer.Meta.fields, "contributions", "events"]


class DecisionInSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=list(ACTIONS),
        error_messages={
            "invalid_choice": "Unknown action {input!r}; use confirm, dismiss or escalate."
        },
    )
    canonical = api_fields.IntegerField(required=False, allow_null=True)
    reason = api_fields.CharField(required=False, allow_blank=True, max_length=40, default="")
    note = api_fields.CharField(required=False, allow_blank=True, default="")
