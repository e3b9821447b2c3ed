"""Announcing an event: one delivery row per active webhook of the project that subscribed
to it, sent once the caller's transaction commits.

Every caller (the snapshot build, the model registry through ``annotation.services.
emit_event``, the submit that completes an item) calls :func:`emit` inside the
transaction that makes the event true, so a rolled-back change announces nothing and a
committed one always leaves its delivery rows behind: the first attempt is enqueued on
commit, and a row whose task never reached a worker (broker down) is due at once for the
beat sweep (``delivery.resend_due``). Delivery is at least once; receivers deduplicate on
``X-Rankwise-Delivery``.

This module imports nothing of ``annotation.services``, so that module can re-export
:func:`emit` without an import cycle.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from rankwise.celery import enqueue_on_commit

from .models import EVENTS, Webhook, WebhookDelivery

DELIVER_TASK = "annotation.deliver_webhook"
PING = "ping"  # sent by "test" to one webhook; nobody subscribes to it


def json_safe(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as plain JSON: datetimes, UUIDs and decimals as strings (Django's
    encoder), NaN and infinities as null (JSON has no such numbers)."""
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder),
                      parse_constant=lambda _name: None)


def subscribed(*, project_id: int, event: str) -> list[int]:
    """Ids of the project's active webhooks that receive ``event``. The events of a few
    hooks are filtered here rather than in SQL: SQLite has no JSON containment lookup."""
    hooks = Webhook.objects.filter(project_id=project_id, active=True).values_list("id", "events")
    return [pk for pk, events in hooks if event in (events or ())]


def emit(*, project, event: str, payload: dict[str, Any]) -> list[int]:
    """Queue ``event`` with ``payload`` for every active webhook of ``project`` (a Project
    or its id) subscribed to it; the ids of the deliveries created (none: nothing was
    written, one query spent)."""
    if event not in EVENTS:
        raise ValueError(f"Unknown webhook event {event!r}; one of {', '.join(EVENTS)}.")
    project_id = getattr(project, "pk", project)
    hooks = subscribed(project_id=project_id, event=event)
    if not hooks:
        return []
    return queue(hook_ids=hooks, event=event, payload=payload)


def queue(*, hook_ids: list[int], event: str, payload: dict[str, Any]) -> list[int]:
    """Store one pending delivery per hook, due now, and send each on commit."""
    now, data = timezone.now(), json_safe(payload)
    rows = WebhookDelivery.objects.bulk_create([
        WebhookDelivery(webhook_id=pk, event=event, payload=data, next_attempt_at=now)
        for pk in hook_ids
    ])
    for row in rows:
        enqueue_on_commit(DELIVER_TASK, row.pk)
    return [row.pk for row in rows]
