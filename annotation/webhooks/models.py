"""Webhooks: signed notifications to external pipelines, with a delivery log."""

from __future__ import annotations

from django.conf import settings as django_settings
from django.db import models

EVENTS = ("snapshot.ready", "model.published", "item.completed")


class Webhook(models.Model):
    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE,
                                related_name="webhooks")
    url = models.URLField(max_length=2000)
    # Kept as given: it signs every delivery (HMAC-SHA256). Never returned by the API.
    secret = models.CharField(max_length=256)
    events = models.JSONField(default=list, help_text="Event names this hook receives.")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Webhook {self.pk} of {self.project_id} → {self.url}"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx")]

    def __str__(self) -> str:
        return f"{self.event} → webhook {self.webhook_id} ({self.status})"
