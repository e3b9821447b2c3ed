"""Reads of webhooks: a project's hooks and a hook's delivery log."""

from __future__ import annotations

from django.db.models import QuerySet

from rankwise.errors import NotFound

from ..models import Project
from .models import Webhook, WebhookDelivery


def webhooks_of(*, project: Project) -> QuerySet[Webhook]:
    return Webhook.objects.filter(project=project).order_by("id")


def webhook_of(*, project: Project, webhook_id: int) -> Webhook:
    """The project's hook, or 404 (a hook of another project answers alike)."""
    hook = Webhook.objects.filter(project=project, pk=webhook_id).first()
    if hook is None:
        raise NotFound("No such webhook.")
    return hook


def deliveries_of(*, webhook: Webhook) -> QuerySet[WebhookDelivery]:
    """The hook's delivery log, newest first."""
    return WebhookDelivery.objects.filter(webhook=webhook).order_by("-id")
