"""Background tasks of label quality."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="annotation.recompute_quality")
def recompute_quality(project_id: int) -> dict:
    """Debounced after labels change (``services.schedule_quality``) and on demand: every
    consensus method's stored result, then the trust auto-pause."""
    return services.recompute_quality(project_id=project_id)
