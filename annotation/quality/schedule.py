"""When labels change, consensus and trust are recomputed a little later, once."""

from __future__ import annotations

from django.core.cache import cache

from rankwise.celery import enqueue_on_commit

RECOMPUTE_TASK = "annotation.recompute_quality"


def labels_changed(*, project_id: int, debounce_seconds: float) -> None:
    """The first change in a window of ``debounce_seconds`` sends one task for the end of
    the window; every change inside the window is covered by that task. With the cache
    down every change sends its own task, which is slower but still right."""
    delay = max(float(debounce_seconds), 0.0)
    if cache.add(f"rankwise:quality-due:{project_id}", 1, timeout=max(int(delay), 1)):
        enqueue_on_commit(RECOMPUTE_TASK, project_id, countdown=delay)
