"""Deliveries: signed, retried with backoff by the beat sweep, logged with every answer."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.webhooks import delivery, services, signing
from annotation.webhooks.models import WebhookDelivery

from .conftest import SECRET

pytestmark = pytest.mark.django_db
Status = WebhookDelivery.Status


def _emit(project, django_capture_on_commit_callbacks, *, execute=True, **payload):
    with django_capture_on_commit_callbacks(execute=execute):
        ids = services.emit(project=project, event="snapshot.ready",
                            payload=payload or {"snapshot": "s-1", "rows": 3})
    return ids


def test_a_delivery_is_signed_and_retried_after_a_500(project_with_roles, receiver, hook_for,
                                                      django_capture_on_commit_callbacks):
    project, _ = project_with_roles
    server = receiver(500, 200)
    hook = hook_for(server.url())
    (delivery_id,) = _emit(project, django_capture_on_commit_callbacks)

    # The first attempt ran on commit and met the 500.
    first = WebhookDelivery.objects.get(pk=delivery_id)
    assert (first.status, first.attempts, first.response_status) == (Status.PENDING, 1, 500)
    assert "500" in first.error and first.delivered_at is None
    assert len(server.received) == 1
    # Not due before its backoff has passed: the sweep leaves it.
    assert delivery.resend_due() == 0 and len(server.received) == 1

    assert delivery.resend_due(now=first.next_attempt_at) == 1
    second = WebhookDelivery.objects.get(pk=delivery_id)
    assert (second.status, second.attempts, second.response_status) == (Status.DELIVERED, 2, 200)
    assert second.error == "" and second.delivered_at is not None
    assert second.next_attempt_at is None

    assert len(server.received) == 2
    for got in server.received:
        # What a receiver does: recompute the HMAC over the raw body it got.
        assert signing.verify(SECRET, got.body, got.headers["X-Rankwise-Signature"])
        assert got.headers["Content-Type"] == "application/json"
        assert got.headers["X-Rankwise-Event"] == "snapshot.ready"
        assert got.headers["X-Rankwise-Delivery"] == str(delivery_id)
        assert got.headers["User-Agent"].startswith("Rankwise")
        assert got.path == "/hook"
    assert server.received[0].body == server.received[1].body  # a retry resends the same bytes
    sent = json.loads(server.received[0].body)
    assert sent == {"delivery": delivery_id, "event": "snapshot.ready", "project": project.pk,
                    "webhook": hook.pk, "created_at": first.created_at.isoformat(),
                    "data": {"snapshot": "s-1", "rows": 3}}


def test_backoff_doubles_and_gives_up_after_the_last_attempt(
        project_with_roles, receiver, hook_for, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_MAX_ATTEMPTS = 4
    project, _ = project_with_roles
    server = receiver(503)
    hook_for(server.url())
    (delivery_id,) = _emit(project, django_capture_on_commit_callbacks)
    row = WebhookDelivery.objects.get(pk=delivery_id)
    waits = []
    while row.status == Status.PENDING:
        due = row.next_attempt_at
        delivery.resend_due(now=due)
        previous, row = due, WebhookDelivery.objects.get(pk=delivery_id)
        if row.next_attempt_at is not None:
            waits.append((row.next_attempt_at - previous).total_seconds())
    first_wait = signing.retry_delay(1, base=settings.WEBHOOK_RETRY_SECONDS,
                                     cap=settings.WEBHOOK_RETRY_MAX_SECONDS)
    assert waits == [first_wait * 2, first_wait * 4]  # after attempts 2 and 3
    assert (row.status, row.attempts, row.response_status) == (Status.FAILED, 4, 503)
    assert row.next_attempt_at is None
    assert len(server.received) == 4
    assert delivery.resend_due(now=timezone.now() + timedelta(days=30)) == 0


def test_no_answer_is_logged_without_a_status_and_retried(project_with_roles, hook_for,
                                                          django_capture_on_commit_callbacks):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed
    project, _ = project_with_roles
    hook_for(f"http://127.0.0.1:{port}/hook")
    (delivery_id,) = _emit(project, django_capture_on_commit_callbacks)
    row = WebhookDelivery.objects.get(pk=delivery_id)
    assert (row.status, row.attempts, row.response_status) == (Status.PENDING, 1, None)
    assert row.error and row.next_attempt_at > row.created_at


def test_a_lost_enqueue_is_sent_by_the_sweep(project_with_roles, receiver, hook_for,
                                             django_capture_on_commit_callbacks):
    """A delivery whose task never reached a worker is due at once."""
    project, _ = project_with_roles
    server = receiver(200)
    hook_for(server.url())
    (delivery_id,) = _emit(project, django_capture_on_commit_callbacks, execute=False)
    assert server.received == []
    assert delivery.resend_due() == 1
    assert WebhookDelivery.objects.get(pk=delivery_id).status == Status.DELIVERED


def test_one_delivery_is_never_sent_twice_at_once(project_with_roles, receiver, hook_for,
                                                  django_capture_on_commit_callbacks):
    project, _ = project_with_roles
    server = receiver(200)
    hook_for(server.url())
    (delivery_id,) = _emit(project, django_capture_on_commit_callbacks, execute=False)
    now = timezone.now()
    assert delivery._claim(delivery_id, now)  # an attempt in flight holds it
    assert delivery.attempt(delivery_id=delivery_id, now=now).status == "skipped"
    assert delivery.resend_due(now=now) == 0
    assert server.received == []
    # The delivered one is never sent again either.
    WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=now)
    assert delivery.attempt(delivery_id=delivery_id).status == Status.DELIVERED
    assert delivery.attempt(delivery_id=delivery_id).status == "skipped"
    assert len(server.received) == 1


def test_a_deactivated_hook_sends_nothing_more(project_with_roles, receiver, hook_for,
                                               django_capture_on_commit_callbacks):
    project, _ = project_with_roles
    server = receiver(200)
    hook = hook_for(server.url())
    (delivery_id,) = _emit(project, django_capture_on_commit_callbacks, execute=False)
    type(hook).objects.filter(pk=hook.pk).update(active=False)
    delivery.resend_due()
    row = WebhookDelivery.objects.get(pk=delivery_id)
    assert row.status == Status.FAILED and "deactivated" in row.error
    assert server.received == []


def test_production_refuses_private_destinations_at_send_time(
        project_with_roles, receiver, settings, django_capture_on_commit_callbacks):
    """A hook stored while private hosts were allowed (or a name that resolves inside
    later) is checked again on every attempt."""
    from annotation.webhooks.models import Webhook

    project, _ = project_with_roles
    server = receiver(200)
    Webhook.objects.create(project=project, url=server.url(), secret=SECRET,
                           events=["snapshot.ready"])
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    (delivery_id,) = _emit(project, django_capture_on_commit_callbacks)
    row = WebhookDelivery.objects.get(pk=delivery_id)
    assert row.response_status is None and "private" in row.error
    assert server.received == []


def test_a_ping_goes_to_one_hook_whatever_its_events(project_with_roles, receiver, hook_for,
                                                     django_capture_on_commit_callbacks):
    server = receiver(200)
    hook = hook_for(server.url(), events=["model.published"])
    with django_capture_on_commit_callbacks(execute=True):
        delivery_id = services.send_test(webhook=hook)
    (got,) = server.received
    assert got.headers["X-Rankwise-Event"] == "ping"
    assert signing.verify(SECRET, got.body, got.headers["X-Rankwise-Signature"])
    assert WebhookDelivery.objects.get(pk=delivery_id).status == Status.DELIVERED


def test_beat_sweeps_with_a_registered_task(settings):
    from rankwise.celery import app

    app.autodiscover_tasks(related_name="celery_tasks", force=True)
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "annotation.resend_webhook_deliveries" in tasks
    assert {"annotation.resend_webhook_deliveries", "annotation.deliver_webhook"} <= set(app.tasks)


def test_a_hook_deleted_before_its_delivery_is_sent_is_skipped(
        project_with_roles, hook_for, django_capture_on_commit_callbacks):
    project, users = project_with_roles
    hook = hook_for("https://hooks.example.com/in")
    (delivery_id,) = _emit(project, django_capture_on_commit_callbacks, execute=False)
    services.delete_webhook(actor=users["manager"], webhook=hook)
    assert delivery.attempt(delivery_id=delivery_id).status == "skipped"
