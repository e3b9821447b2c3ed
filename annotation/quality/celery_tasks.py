"""Background tasks of label quality."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="annotation.recompute_quality")
def recompute_quality(project_id: int) -> dict:
    """On demand: every consensus method's stored result, then the trust auto-pause."""
    return services.recompute_quality(project_id=project_id)


@shared_task(name="annotation.recompute_changed_quality")
def recompute_changed_quality() -> dict:
    """Beat: the same for every project whose labels or reviews changed since its last
    recompute (debounced by ``quality.debounce_seconds``)."""
    return services.recompute_changed()
