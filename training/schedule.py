"""The beat schedule: when a project's reward model retrains by itself.

Beat calls :func:`maybe_train_all` every minute. A project takes part when its
``reward_model.auto`` setting is on; it gets a run when ``interval_minutes`` have passed
since its last run and at least ``min_new_comparisons`` annotations arrived after the data
that run saw. Cheap on purpose: a few indexed queries and one COUNT per project.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from annotation.models import Project
from annotation.project_settings import project_settings

from . import data, recovery, runs, selectors
from .models import TrainingRun


def maybe_train(*, project: Project, now=None) -> TrainingRun | None:
    """Start a run for the project when its schedule and new data call for one."""
    options = project_settings(project).reward_model
    if not options.auto:
        return None
    now = now or timezone.now()
    recovery.recover_lost_runs(project=project, now=now)
    if selectors.unfinished_run(project=project) is not None:
        return None
    last = selectors.latest_run(project=project)
    since = None
    if last is not None:
        if last.created_at > now - timedelta(minutes=float(options.interval_minutes)):
            return None
        # A run that never got as far as reading data saw nothing newer than its start.
        since = last.data_until or last.created_at
    wanted = int(options.min_new_comparisons)
    if data.new_comparisons_since(project=project, since=since) < max(wanted, 1):
        return None
    try:
        return runs.request_training(project=project, triggered_by=TrainingRun.Trigger.BEAT)
    except runs.RunInProgress:
        return None


def maybe_train_all() -> list[int]:
    """Run :func:`maybe_train` for each project with automatic training; the ids of the
    runs started. (Lost runs of every project are :func:`training.recovery.sweep`'s.)"""
    started = []
    for project in Project.objects.filter(settings__reward_model__auto=True):
        run = maybe_train(project=project)
        if run is not None:
            started.append(run.pk)
    return started
