"""The beat schedule: when a project's reward model and its policy retrain by themselves.

Beat calls :func:`maybe_train_all` every minute for each kind. A project takes part when
the kind's ``auto`` setting is on (``reward_model.auto``, ``policy.auto``); it gets a run
when that section's ``interval_minutes`` have passed since its last run of the kind and at
least ``min_new_comparisons`` annotations arrived after the data that run saw (and, for a
reward model, once enough items are labelled for a run to split them). Cheap on
purpose: a few indexed queries and one COUNT per project.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from annotation.models import Project

from . import data, policy_runs, recovery, runs, selectors
from .models import TrainingRun

REWARD, POLICY = TrainingRun.Kind.REWARD_MODEL, TrainingRun.Kind.POLICY


def maybe_train(*, project: Project, kind: str = REWARD, now=None) -> TrainingRun | None:
    """Start a run of this kind for the project when its schedule and new data call for
    one."""
    options = recovery.options_of(project, kind)
    if not options.auto:
        return None
    now = now or timezone.now()
    recovery.recover_lost_runs(project=project, now=now)
    if selectors.unfinished_run(project=project, kind=kind) is not None:
        return None
    last = selectors.latest_run(project=project, kind=kind)
    since = None
    if last is not None:
        if last.created_at > now - timedelta(minutes=float(options.interval_minutes)):
            return None
        # A run that never got as far as reading data saw nothing newer than its start.
        since = last.data_until or last.created_at
    wanted = int(options.min_new_comparisons)
    if data.new_comparisons_since(project=project, since=since) < max(wanted, 1):
        return None
    if kind == REWARD and data.labelled_items(project=project) < runs.MIN_COMPARISONS:
        return None  # the run could only fail with NotEnoughData; wait for more items
    try:
        if kind == POLICY:
            return policy_runs.request_policy_training(project=project,
                                                       triggered_by=TrainingRun.Trigger.BEAT)
        return runs.request_training(project=project, triggered_by=TrainingRun.Trigger.BEAT)
    except runs.RunInProgress:
        return None


def maybe_train_all(*, kind: str = REWARD) -> list[int]:
    """Run :func:`maybe_train` for each project with automatic training of this kind; the
    ids of the runs started. (Lost runs of every project are
    :func:`training.recovery.sweep`'s.)"""
    started = []
    auto = {f"settings__{recovery.SECTIONS[kind]}__auto": True}
    for project in Project.objects.filter(**auto):
        run = maybe_train(project=project, kind=kind)
        if run is not None:
            started.append(run.pk)
    return started
