from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from rankwise.api import StorableJSONField
from rankwise.converters import MAX_ID
from rankwise.schema import JSON_OBJECT, MESSAGES, RANKING, DocumentedJSONFields, documented

from .models import Guideline, Item, Membership, Project, Response

User = get_user_model()


class UserCreateSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    password = serializers.CharField(write_only=True, max_length=256)
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username"]


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()
    settings = documented(StorableJSONField, JSON_OBJECT)(required=False)

    class Meta:
        model = Project
        fields = [
            "id", "name", "description", "responses_per_item", "overlap", "gold_rate",
            "lease_seconds", "settings", "created_at", "updated_at", "role",
        ]
        read_only_fields = ["id", "created_at", "updated_at", "role"]

    def get_role(self, project: Project) -> str | None:
        from .permissions import role_in

        request = self.context.get("request")
        return role_in(user=request.user, project=project) if request else None


@extend_schema_field({
    "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "maxLength": 150}],
    "description": "The member: a user id (integer) or a username (string). A string of "
                   "digits is read as an id. Answers always give the id.",
})
class UserReferenceField(serializers.Field):
    """A user named by id (a JSON integer, or a string of ASCII digits as a form sends
    it) or by username; answers with the id."""

    default_error_messages = {
        "invalid": "Give a user id (integer) or a username (string).",
        "missing": "No user {value!r}.",
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.text = serializers.CharField(max_length=150)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("invalid")
        if isinstance(data, str):
            data = self.text.run_validation(data)
        # str.isdigit() is true for "²" and "٣", which int() refuses or reads as digits.
        if isinstance(data, int) or (data.isascii() and data.isdigit()):
            number = int(data)
            user = User.objects.filter(pk=number).first() if 1 <= number <= MAX_ID else None
        else:
            user = User.objects.filter(username=data).first()
        if user is None:
            self.fail("missing", value=data)
        return user

    def to_representation(self, value):
        return value.pk


class MembershipSerializer(serializers.ModelSerializer):
    user = UserReferenceField()
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "username", "role", "status", "created_at"]
        read_only_fields = ["id", "username", "created_at"]
        extra_kwargs = {"role": {"required": True}}


class JSONIntegerField(serializers.IntegerField):
    """An integer that was sent as a JSON integer: not "2", 2.0 or true, which DRF's
    IntegerField reads as 2 or 1."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class GuidelineAcknowledgeSerializer(serializers.Serializer):
    version = JSONIntegerField(
        required=False, min_value=1,
        help_text="The version read; it must be the current one. Without it, the current.",
    )


class GuidelineSerializer(serializers.ModelSerializer):
    acknowledged = serializers.SerializerMethodField()

    class Meta:
        model = Guideline
        fields = ["version", "text", "created_at", "acknowledged"]
        read_only_fields = ["version", "created_at", "acknowledged"]

    def get_acknowledged(self, guideline: Guideline) -> bool:
        request = self.context.get("request")
        if request is None:
            return False
        return guideline.acknowledgements.filter(user=request.user).exists()


class ResponseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Response
        fields = ["id", "position", "text", "model"]


class ItemSerializer(DocumentedJSONFields, serializers.ModelSerializer):
    """Managers' and reviewers' view of an item (annotators never list items)."""

    responses = ResponseSerializer(many=True, read_only=True)
    status = serializers.CharField(read_only=True)
    overlap = serializers.IntegerField(read_only=True)

    class Meta:
        model = Item
        fields = [
            "id", "prompt", "messages", "responses", "meta", "is_gold", "gold_ranking",
            "annotations_done", "leases_live", "imported_labels", "overlap", "status",
            "created_at",
        ]
        json_schemas = {"messages": MESSAGES, "meta": JSON_OBJECT, "gold_ranking": RANKING}
