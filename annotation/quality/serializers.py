"""Request and answer shapes of the quality endpoints."""

from __future__ import annotations

from rest_framework import serializers

from rankwise.api import StorableJSONField
from rankwise.converters import MAX_ID
from rankwise.schema import RANKING, documented

from ..models import Annotation, Membership, Review
from ..serializers import ItemSerializer, JSONIntegerField
from .compute import METHODS
from .models import Consensus


class AgreementQuery(serializers.Serializer):
    guideline_version = serializers.IntegerField(
        required=False, min_value=1, max_value=2**31 - 1,
        help_text="Only labels made under this guideline version.")
    since = serializers.DateTimeField(
        required=False, help_text="Only labels made at or after this ISO 8601 date or time.")


class ConsensusQuery(serializers.Serializer):
    consensus = serializers.ChoiceField(
        choices=METHODS, required=False,
        help_text="The consensus method; the project's `quality.consensus` by default.")
    source = serializers.CharField(
        required=False, max_length=100,
        help_text="Comma-separated label sources that vote in the consensus, e.g. "
        "`human,import,ai`; by default human and imported labels, and AI labels when "
        "`judges.in_consensus` is on. The agreement figure stays people's only.")

    def validate_source(self, value: str) -> tuple[str, ...]:
        names = [part.strip() for part in value.split(",") if part.strip()]
        known = Annotation.Source.values
        wrong = [name for name in names if name not in known]
        if wrong or not names:
            raise serializers.ValidationError(
                "Comma-separated sources among " + ", ".join(known)
                + (f"; {wrong[0]!r} is not one." if wrong else "; none given."))
        return tuple(sorted(set(names)))


class RecomputeRequest(serializers.Serializer):
    """No fields: a JSON object, ``{}``."""


class ConsensusSerializer(serializers.ModelSerializer):
    ranking = documented(serializers.JSONField, RANKING)()

    class Meta:
        model = Consensus
        fields = ["method", "ranking", "confidence", "agreement", "n_labels", "source",
                  "computed_at"]


class LabelSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="annotator.username", read_only=True, default=None,
                                 allow_null=True)
    ranking = documented(serializers.JSONField, RANKING)()

    class Meta:
        model = Annotation
        fields = ["id", "annotator", "username", "source", "ranking", "strength", "flags",
                  "rationale", "duration_ms", "guideline_version", "created_at", "excluded",
                  "response_flags", "superseded", "supersedes"]


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True, default=None,
                                 allow_null=True)
    ranking = documented(serializers.JSONField, RANKING)(allow_null=True)

    class Meta:
        model = Review
        fields = ["id", "item", "decision", "annotation", "ranking", "note", "reviewer",
                  "created_at"]


class ItemDetailSerializer(ItemSerializer):
    """An item as reviewers and managers see it: every label, reviews and consensus."""

    consensus = serializers.SerializerMethodField()
    labels = serializers.SerializerMethodField()
    reviews = ReviewSerializer(many=True, read_only=True)

    class Meta(ItemSerializer.Meta):
        fields = [*ItemSerializer.Meta.fields, "project", "consensus", "labels", "reviews"]

    def get_consensus(self, item) -> ConsensusSerializer(allow_null=True):  # type: ignore[valid-type]
        found = self.context.get("consensus")
        return ConsensusSerializer(found).data if found is not None else None

    def get_labels(self, item) -> LabelSerializer(many=True):  # type: ignore[valid-type]
        rows = item.annotations.select_related("annotator").order_by("id")
        return LabelSerializer(rows, many=True).data


class ReviewRequest(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Review.Decision.values)
    annotation = JSONIntegerField(required=False, min_value=1, max_value=MAX_ID,
                                  help_text="The label accepted or excluded.")
    ranking = documented(StorableJSONField, RANKING)(
        required=False, help_text="Tiers of response ids, best first (rank, gold).")
    note = serializers.CharField(required=False, allow_blank=True, max_length=10_000,
                                 default="")


class ReviewAnswer(serializers.Serializer):
    review = ReviewSerializer()
    consensus = ConsensusSerializer(allow_null=True)


class MemberUpdateRequest(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.values, required=False)
    status = serializers.ChoiceField(choices=Membership.Status.values, required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class MemberDetailSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    paused_by = serializers.CharField(source="paused_by.username", read_only=True, default=None,
                                 allow_null=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "username", "role", "status", "paused_reason", "paused_at",
                  "paused_by", "resumed_at", "created_at"]
