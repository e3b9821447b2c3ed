"""Reads of the registry and the runs: what the API and the models page list.

Writes are elsewhere: versions in :mod:`training.registry`, runs in :mod:`training.runs`.
"""

from __future__ import annotations

from django.db.models import QuerySet

from annotation.models import Project

from .models import ModelVersion, TrainingRun


def active_version(*, project_id: int, kind: str) -> ModelVersion | None:
    """The project's active model of this kind (at most one, by constraint)."""
    return ModelVersion.objects.filter(project_id=project_id, kind=kind, is_active=True).first()


def versions_of(*, project: Project, kind: str) -> QuerySet[ModelVersion]:
    return (ModelVersion.objects.filter(project=project, kind=kind)
            .select_related("training_run"))


def training_runs_of(*, project: Project,
                     kind: str = TrainingRun.Kind.REWARD_MODEL) -> QuerySet[TrainingRun]:
    return TrainingRun.objects.filter(project=project, kind=kind)


def latest_run(*, project: Project, kind: str = TrainingRun.Kind.REWARD_MODEL) -> TrainingRun | None:
    return training_runs_of(project=project, kind=kind).order_by("-created_at", "-id").first()


def unfinished_run(*, project: Project,
                   kind: str = TrainingRun.Kind.REWARD_MODEL) -> TrainingRun | None:
    """The project's queued or running run of this kind (one reward-model run and one
    policy run may run side by side)."""
    return (training_runs_of(project=project, kind=kind)
            .filter(status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING])
            .order_by("-id").first())
