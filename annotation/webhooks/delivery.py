"""Sending deliveries: one attempt at a time, retried with exponential backoff.

A delivery is due while it is pending and its ``next_attempt_at`` has passed. An attempt
first claims it (one conditional UPDATE moves ``next_attempt_at`` past the attempt's
deadline), so the task enqueued on commit and the beat sweep never send the same delivery
twice at once; the claim is taken outside any transaction and no transaction is held while
the request is in flight. Then:

- a 2xx answer: delivered (``delivered_at``);
- anything else (another status, a refused destination, a timeout, no connection):
  ``attempts += 1`` with the status and the error recorded, and the next attempt due
  ``WEBHOOK_RETRY_SECONDS × 2^(attempts-1)`` later (at most ``WEBHOOK_RETRY_MAX_SECONDS``);
  after ``WEBHOOK_MAX_ATTEMPTS`` attempts: failed.

Retries are not Celery countdown or ETA tasks: such messages sit in the broker (in Redis,
unacknowledged, redelivered after the visibility timeout), which restarts and
failovers lose or repeat. The row is the schedule; ``resend_due`` (beat) reads it. A worker
that dies mid-attempt leaves a claim that simply expires: the delivery is due again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import signing, transport
from .models import WebhookDelivery

Status = WebhookDelivery.Status
USER_AGENT = "Rankwise-Webhooks/1"
CLAIM_MARGIN = timedelta(seconds=60)  # beyond the attempt's own deadline
SWEEP_BATCH = 200  # deliveries one sweep attempts at most
SWEEP_SECONDS = 45  # one sweep starts no new attempt after this long


@dataclass(frozen=True)
class Attempted:
    delivery_id: int
    status: str  # the delivery's status afterwards; "skipped" when it was not due
    response_status: int | None = None


def envelope(delivery: WebhookDelivery) -> dict:
    """What is sent, built from the stored row alone (every attempt sends the same bytes)."""
    return {
        "delivery": delivery.pk,
        "event": delivery.event,
        "project": delivery.webhook.project_id,
        "webhook": delivery.webhook_id,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }


def request_of(delivery: WebhookDelivery) -> tuple[bytes, dict[str, str]]:
    """The body and headers of the delivery's request."""
    body = signing.body_bytes(envelope(delivery))
    return body, {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Rankwise-Event": delivery.event,
        "X-Rankwise-Delivery": str(delivery.pk),
        "X-Rankwise-Signature": signing.signature(delivery.webhook.secret, body),
    }


def _due(now: datetime) -> Q:
    return Q(status=Status.PENDING) & (Q(next_attempt_at__isnull=True)
                                       | Q(next_attempt_at__lte=now))


def _claim(delivery_id: int, now: datetime) -> bool:
    hold = timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS) + CLAIM_MARGIN
    return WebhookDelivery.objects.filter(_due(now), pk=delivery_id).update(
        next_attempt_at=now + hold) == 1


def attempt(*, delivery_id: int, now: datetime | None = None) -> Attempted:
    """Send a due delivery once and record the outcome; a delivery that is not due (sent,
    failed, waiting for its retry, or claimed by another attempt) is left alone."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return Attempted(delivery_id, "skipped")
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None:  # its webhook was deleted meanwhile
        return Attempted(delivery_id, "skipped")
    if not delivery.webhook.active:
        answer = transport.Answer(None, "The webhook was deactivated.")
        return _record(delivery_id, answer, now=now, final=True)
    body, headers = request_of(delivery)
    answer = transport.post(delivery.webhook.url, body, headers,
                            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
                            allow_private=settings.WEBHOOK_ALLOW_PRIVATE_HOSTS)
    # The retry is timed from when this attempt was due, so a test (or a late sweep) that
    # passes ``now`` gets the schedule the formula states.
    return _record(delivery_id, answer, now=now)


def _record(delivery_id: int, answer: transport.Answer, *, now: datetime,
            final: bool = False) -> Attempted:
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None:  # the webhook was deleted while the request was in flight
            return Attempted(delivery_id, "skipped", answer.status)
        delivery.attempts += 1
        delivery.response_status = answer.status
        delivery.error = answer.error[:2000]
        if delivery.status != Status.PENDING:
            pass  # an attempt whose claim had expired finished it first; keep its outcome
        elif answer.ok:
            delivery.status, delivery.delivered_at = Status.DELIVERED, timezone.now()
            delivery.next_attempt_at = None
        elif final or delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = Status.FAILED, None
        else:
            delay = signing.retry_delay(delivery.attempts, base=settings.WEBHOOK_RETRY_SECONDS,
                                        cap=settings.WEBHOOK_RETRY_MAX_SECONDS)
            delivery.next_attempt_at = now + timedelta(seconds=delay)
        delivery.save(update_fields=["attempts", "response_status", "error", "status",
                                     "delivered_at", "next_attempt_at"])
    return Attempted(delivery_id, delivery.status, answer.status)


def due_ids(*, now: datetime, limit: int = SWEEP_BATCH) -> list[int]:
    """The deliveries due now, the longest-waiting first (index ``delivery_due_idx``)."""
    return list(WebhookDelivery.objects.filter(_due(now)).order_by("next_attempt_at", "id")
                .values_list("id", flat=True)[:limit])


def resend_due(*, now: datetime | None = None) -> int:
    """Beat: attempt every due delivery (a batch per run, within a time budget, so a sweep
    stuck on slow endpoints ends and the next run goes on); how many were attempted."""
    started, sent = time.monotonic(), 0
    for delivery_id in due_ids(now=now or timezone.now()):
        if time.monotonic() - started > SWEEP_SECONDS:
            break
        if attempt(delivery_id=delivery_id, now=now).status != "skipped":
            sent += 1
    return sent
