"""Judge runs whose worker died.

Beat calls :func:`sweep` every minute (``judges.recover_runs``, on the default queue, so
that it runs while every judges worker is down). A worker executing a run writes the run's
``heartbeat_at`` when it claims it and at each batch; a running run silent for more than
``JUDGE_RUN_SILENT_MINUTES`` (a setting; :data:`SILENT_MINUTES`, 10, when unset: longer
than one batch of judge calls takes) lost its worker: killed, out of memory, its machine
gone, long before the broker would deliver its message again.

Such a run is queued again and sent to the judges queue, up to :data:`MAX_ATTEMPTS`
attempts in all; after the last one it is failed with the reason on the row. The new
attempt resumes after the last batch written and skips the items the judge already
labelled, so nothing is judged twice. A worker that was only slow finds at its next batch
that the run is no longer its attempt's and stops without writing. ``now`` stands for the
clock, so tests drive the sweep directly.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from rankwise.celery import enqueue_on_commit

from .models import JudgeRun

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
SILENT_MINUTES = 10.0


def silent_minutes() -> float:
    """How long a running run may go without a heartbeat before its worker counts as lost."""
    return float(getattr(settings, "JUDGE_RUN_SILENT_MINUTES", SILENT_MINUTES))


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Requeue (or, after the last attempt, fail) every running run gone silent; how many
    of each."""
    now = now or timezone.now()
    minutes = silent_minutes()
    before = now - timedelta(minutes=minutes)
    counts = {"requeued": 0, "failed": 0}
    running = JudgeRun.objects.filter(status=JudgeRun.Status.RUNNING).only(
        "pk", "attempts", "heartbeat_at", "started_at", "created_at")
    for run in running:
        last = run.heartbeat_at or run.started_at or run.created_at
        if last >= before:
            continue
        silent = (f"Attempt {run.attempts} stopped reporting for over {minutes:g} minutes "
                  f"(its worker was lost)")
        if run.attempts >= MAX_ATTEMPTS:
            counts["failed"] += _end(run, now=now, requeue=False, error=(
                f"{silent}; the run lost its worker on each of its {run.attempts} attempts "
                f"and was stopped. Items already judged keep their labels; request a new "
                f"run to judge the rest."))
        else:
            counts["requeued"] += _end(run, now=now, requeue=True, error=(
                f"{silent}; queued again (attempt {run.attempts + 1} of {MAX_ATTEMPTS})."))
    return counts


def _end(run: JudgeRun, *, now: datetime, requeue: bool, error: str) -> int:
    """End the run's current attempt if it is still the one found silent; 1 if so."""
    changes: dict = {"error": error}
    if requeue:
        changes["status"] = JudgeRun.Status.QUEUED
    else:
        changes.update(status=JudgeRun.Status.FAILED, finished_at=now)
    with transaction.atomic():
        # Unchanged since it was found silent: a heartbeat meanwhile means it is alive.
        ended = JudgeRun.objects.filter(
            pk=run.pk, status=JudgeRun.Status.RUNNING, attempts=run.attempts,
            heartbeat_at=run.heartbeat_at).update(**changes)
        if ended and requeue:
            # A send that fails (the broker down) is logged; the row stays queued.
            enqueue_on_commit("judges.run_judge", run.pk)
    if ended:
        log.warning("judge run %s: %s", run.pk, error)
    return ended
