from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

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

    def validate_settings(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value


class MembershipSerializer(serializers.ModelSerializer):
    user = serializers.CharField(help_text="User id or username.")
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "username", "role", "status", "created_at"]
        read_only_fields = ["id", "username", "created_at"]

    def validate_user(self, value: str):
        lookup = {"pk": int(value)} if str(value).isdigit() else {"username": value}
        try:
            return User.objects.get(**lookup)
        except User.DoesNotExist:
            raise serializers.ValidationError(f"No user {value!r}.") from None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["user"] = instance.user_id
        return data


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


class ItemSerializer(serializers.ModelSerializer):
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
