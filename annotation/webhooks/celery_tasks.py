"""Background tasks of webhooks."""

from __future__ import annotations

from celery import shared_task

from . import delivery


@shared_task(name="annotation.deliver_webhook")
def deliver_webhook(delivery_id: int) -> str:
    """A delivery's first attempt, enqueued when its event commits. Idempotent: a delivery
    that is not due (already sent, or claimed by the sweep) is left alone."""
    return delivery.attempt(delivery_id=delivery_id).status


@shared_task(name="annotation.resend_webhook_deliveries")
def resend_webhook_deliveries() -> int:
    """Beat: attempt the deliveries that are due (retries, and first attempts whose task
    never reached a worker)."""
    return delivery.resend_due()
