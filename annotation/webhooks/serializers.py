"""Request and answer shapes of the webhook endpoints. The secret is write-only."""

from __future__ import annotations

from rest_framework import serializers

from rankwise.schema import JSON_OBJECT, documented

from . import services
from .models import EVENTS, Webhook, WebhookDelivery

LOW, HIGH = services.SECRET_CHARS


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000, help_text=(
        "Where deliveries are POSTed: http:// or https://. Redirects are not followed."))
    secret = serializers.CharField(
        write_only=True, min_length=LOW, max_length=HIGH, trim_whitespace=False,
        help_text=f"{LOW} to {HIGH} characters; keys the HMAC-SHA256 signature of every "
                  "delivery. Never shown again.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENTS), allow_empty=False, max_length=32,
        help_text="The events this hook receives.")

    def validate_url(self, value: str) -> str:
        if problem := services.url_problem(value):
            raise serializers.ValidationError(problem)
        return value


class WebhookSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENTS))
    created_by = serializers.CharField(source="created_by.username", read_only=True,
                                       default=None, allow_null=True)

    class Meta:
        model = Webhook
        fields = ["id", "project", "url", "events", "active", "created_by", "created_at"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    payload = documented(serializers.JSONField, JSON_OBJECT)(
        help_text="The event's data: the `data` of the request body.")

    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "status", "attempts", "response_status", "error", "payload",
                  "created_at", "next_attempt_at", "delivered_at"]
        read_only_fields = fields


class PingAnswerSerializer(serializers.Serializer):
    delivery = serializers.IntegerField(help_text="The ping's delivery, in the hook's log.")
    status = serializers.CharField()
