"""The beat schedule: when a project's reward model and its policy retrain by themselves.

Beat calls :func:`maybe_train_all` every minute for each kind. A project takes part when
the kind's ``auto`` setting is on (``reward_model.auto``, ``policy.auto``); it gets a run
when that section's ``interval_minutes`` have passed since its last run of the kind and at
least ``min_new_comparisons`` annotations arrived after the data that run saw (and, for a
reward model, once enough items are labelled for a run to split them). Cheap on
purpose: a few indexed queries and one COUNT per project.

With ``policy.rl_after_reward_model`` the policy beat also queues an RL run (the
``policy.rl.algorithm``) once a reward model became active after the project's last RL run
was requested: each new active reward model gets one RL run against it, failed or not.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from annotation.models import Project
from annotation.project_settings import project_settings
from rankwise.errors import ApplicationError

from . import data, policy_runs, recovery, runs, selectors
from .models import ModelVersion, TrainingRun

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


def maybe_train_rl(*, project: Project, now=None) -> TrainingRun | None:
    """Queue an RL run against the project's active reward model unless one was already
    requested after that model became active (or a policy run is unfinished)."""
    options = project_settings(project).policy
    if not options.rl_after_reward_model:
        return None
    recovery.recover_lost_runs(project=project, now=now or timezone.now())
    reward = selectors.active_version(project_id=project.pk, kind=ModelVersion.Kind.REWARD)
    if reward is None or selectors.unfinished_run(project=project, kind=POLICY) is not None:
        return None
    since = reward.activated_at or reward.created_at
    rl_runs = TrainingRun.objects.filter(project=project, kind=POLICY,
                                         params__algorithm__in=policy_runs.RL_ALGORITHMS)
    if rl_runs.filter(created_at__gte=since).exists():
        return None
    try:
        return policy_runs.request_policy_training(
            project=project, params={"algorithm": options.rl.algorithm},
            triggered_by=TrainingRun.Trigger.BEAT)
    except ApplicationError:  # busy, or settings an RL run refuses: the next beat retries
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
    if kind == POLICY:
        for project in Project.objects.filter(settings__policy__rl_after_reward_model=True):
            run = maybe_train_rl(project=project)
            if run is not None:
                started.append(run.pk)
    return started
