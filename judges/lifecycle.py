"""The steps every judge run takes, judging or revising: claimed by one worker, a
heartbeat per unit of work, then succeeded or failed on the row.

A run's writes go through :func:`held`'s queryset: it matches only while the run is still
running under the attempt that claimed it, so a run cancelled, or requeued by
:mod:`judges.recovery` after this attempt was given up for lost, updates nothing and the
worker stops.
"""

from __future__ import annotations

import logging
import traceback

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .models import JudgeRun

logger = logging.getLogger(__name__)


def claim(run_id: int) -> JudgeRun | None:
    """The run, marked running for a new attempt, when it is queued; otherwise None (a
    message delivered again while another worker executes it, or a finished run)."""
    with transaction.atomic():
        run = JudgeRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != JudgeRun.Status.QUEUED:
            return None
        now = timezone.now()
        run.status, run.started_at, run.heartbeat_at = JudgeRun.Status.RUNNING, now, now
        run.attempts += 1
        run.save(update_fields=["status", "started_at", "heartbeat_at", "attempts"])
    return run


def held(run: JudgeRun) -> QuerySet[JudgeRun]:
    """The run's row while this attempt still holds it."""
    return JudgeRun.objects.filter(pk=run.pk, status=JudgeRun.Status.RUNNING,
                                   attempts=run.attempts)


def beat(run: JudgeRun) -> bool:
    """The heartbeat; False when the attempt no longer holds the run (stop)."""
    return bool(held(run).update(heartbeat_at=timezone.now()))


def failed(run: JudgeRun, exc: Exception, what: str) -> JudgeRun:
    """Record ``exc`` on the row (the run's outcome is the API's to show)."""
    logger.exception("%s %s failed", what, run.pk)
    held(run).update(status=JudgeRun.Status.FAILED, finished_at=timezone.now(),
                     error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")
    return JudgeRun.objects.get(pk=run.pk)


def succeeded(run: JudgeRun) -> JudgeRun:
    now = timezone.now()
    held(run).update(status=JudgeRun.Status.SUCCEEDED, progress=1.0, finished_at=now,
                     heartbeat_at=now)
    return JudgeRun.objects.get(pk=run.pk)
