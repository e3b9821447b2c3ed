"""Background tasks of the assignment engine."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="annotation.reclaim_expired_leases")
def reclaim_expired_leases() -> int:
    """Give the slots of expired leases back to their items (every minute, by beat).
    Idempotent: a lease already reclaimed, or locked by a claim doing it, is left alone."""
    return services.reclaim_expired_leases()
