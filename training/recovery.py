"""Runs that lost their worker, and runs whose message never reached one.

Beat calls :func:`sweep` every minute, on the default queue, so that it runs while every
training worker is down. It looks at the unfinished runs:

- **running, holder lost**: the worker process that claimed the run (``worker_hostname``,
  ``worker_pid``) has not written its heartbeat for ``WORKER_LOST_AFTER`` (120 s), or its
  row is gone. The attempt is over: its staging folder is removed and the run is queued
  again and sent to the training queue, up to ``MAX_ATTEMPTS`` attempts in all; the one
  after that is not made and the run is failed. A worker that was only cut off finds at its
  next progress write (or at publish) that the run is no longer its own, and stops.
- **running, silent**: whatever its holder, a run whose row stopped changing for the
  project's ``stale_minutes`` (of ``reward_model`` or ``policy``) is failed: stuck, or run by a process without a heartbeat
  (``manage.py train_reward_model``) that died.
- **queued, not picked up**: queued over ``RESEND_AFTER`` (60 s) ago and still queued (the
  broker was down when it was sent, or the message was lost with a worker): sent again,
  spaced out by :func:`rankwise.workers.resend_due`. A duplicate is a no-op: only a queued
  run is claimed.

A lost attempt published nothing, so the active model stays active and is what scoring
serves. ``now`` stands for the clock in every function, so tests drive the sweep directly.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from annotation.models import Project
from annotation.project_settings import project_settings
from rankwise import workers
from rankwise.celery import enqueue_on_commit

from . import registry
from .models import TrainingRun

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
# The task that executes a run of each kind.
TASKS = {TrainingRun.Kind.REWARD_MODEL: "training.train_reward_model",
         TrainingRun.Kind.POLICY: "training.train_policy"}
# The project settings section of each kind.
SECTIONS = {TrainingRun.Kind.REWARD_MODEL: "reward_model", TrainingRun.Kind.POLICY: "policy"}


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Requeue or fail every lost run, send again every queued run no worker started."""
    now = now or timezone.now()
    counts = recover_lost_runs(now=now)
    counts["resent"] = resend_queued_runs(now=now)
    return counts


def recover_lost_runs(*, project: Project | None = None,
                      now: datetime | None = None) -> dict[str, int]:
    """Requeue or fail the running runs (of one project, or all) whose worker was lost or
    which went silent; how many of each."""
    now = now or timezone.now()
    counts = {"requeued": 0, "failed": 0}
    running = TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING)
    if project is not None:
        running = running.filter(project=project)
    for run in running.select_related("project"):
        minutes = float(_stale_minutes(run))
        if run.updated_at < now - timedelta(minutes=minutes):
            counts["failed"] += _end(run, now=now, requeue=False, error=(
                f"The worker stopped reporting for over {minutes:g} minutes (lost)."))
            continue
        reason = _holder_lost(run, now=now)
        if reason is None:
            continue
        if run.attempts >= MAX_ATTEMPTS:
            counts["failed"] += _end(run, now=now, requeue=False, error=(
                f"{reason}; the run lost its worker on each of {run.attempts} attempts."))
        else:
            counts["requeued"] += _end(run, now=now, requeue=True, error=(
                f"{reason}; queued again (attempt {run.attempts + 1} of {MAX_ATTEMPTS})."))
    return counts


def options_of(project: Project, kind: str):
    """The project settings section of a run kind (``reward_model`` or ``policy``)."""
    return getattr(project_settings(project), SECTIONS[kind])


def _stale_minutes(run: TrainingRun) -> float:
    return options_of(run.project, run.kind).stale_minutes


def _holder_lost(run: TrainingRun, *, now: datetime) -> str | None:
    """Why the run's holder counts as lost; None while it beats (or the run has none)."""
    if not run.worker_hostname:
        return None
    seen = workers.last_seen(hostname=run.worker_hostname, pid=run.worker_pid)
    if seen is not None and seen >= workers.lost_before(now):
        return None
    since = f"since {seen:%Y-%m-%d %H:%M:%S} UTC" if seen else "at all"
    return (f"Attempt {run.attempts} lost its worker {run.worker_hostname} (pid "
            f"{run.worker_pid}): no heartbeat {since}")


def _end(run: TrainingRun, *, now: datetime, requeue: bool, error: str) -> int:
    """End the run's current attempt, if it is still the one that was judged; 1 if so."""
    task_id = str(uuid.uuid4())
    changes = {"error": error[:2000], "updated_at": now}
    if requeue:
        changes.update(status=TrainingRun.Status.QUEUED, celery_task_id=task_id)
    else:
        changes.update(status=TrainingRun.Status.FAILED, finished_at=now)
    # Unchanged since it was judged: a progress write meanwhile means it is alive.
    ended = TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING,
                                       attempts=run.attempts,
                                       updated_at=run.updated_at).update(**changes)
    if ended:
        log.warning("training run %s: %s", run.pk, error)
        registry.discard_staging(kind=registry.model_kind(run.kind), run=run)
        if requeue:
            _send(run, task_id=task_id)
    return ended


def resend_queued_runs(*, now: datetime | None = None) -> int:
    """Send again the queued runs that no worker started; how many were sent."""
    now = now or timezone.now()
    queued = TrainingRun.objects.filter(
        status=TrainingRun.Status.QUEUED, updated_at__lt=now - timedelta(
            seconds=settings.RESEND_AFTER)).exclude(celery_task_id="")
    sent = 0
    for run in queued.only("pk", "kind", "created_at", "updated_at", "celery_task_id"):
        key = f"training_run:{run.pk}:{run.created_at.timestamp()}"
        if workers.resend_due(key, queued_at=run.updated_at, now=now):
            sent += _send(run, task_id=run.celery_task_id)
    return sent


def _send(run: TrainingRun, *, task_id: str) -> int:
    # A send that fails (the broker down) is logged by enqueue_on_commit; the row stays
    # queued and the next sweep sends it again.
    enqueue_on_commit(TASKS[run.kind], run.pk, task_id=task_id)
    return 1
