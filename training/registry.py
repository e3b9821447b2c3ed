"""The model registry: numbered versions of every model kind, published atomically.

Versions of one project and kind are numbered 1, 2, ...; their files live in
``ARTIFACTS_DIR/<folder of the kind>/<project>/<version>/``: ``reward_models`` for reward
models (where they always were, so published models keep working), ``policies`` for
policies. A run writes its artifacts to a staging folder beside them and only then
publishes:

1. one transaction takes the next version number, inserts the ``ModelVersion`` row,
   ``os.replace``-s the staging folder into place (atomic on one filesystem) and finishes
   the run;
2. the new version becomes active only when :func:`decide` says so: nothing is active yet,
   the run was forced, or it is not worse than the active model *on the new run's eval
   split* (the active model is re-evaluated there) by at least the project's
   ``min_improvement``. A reward model is judged pair by pair on the held-out items the
   active model did not learn from either, with a paired sign test and a minimum number of
   pairs (:mod:`training.judging`, :func:`training.significance.paired_decision`).

A crash between the rename and the commit leaves a folder that no row names; the next
publish of that version number replaces it. Only the attempt that still holds its run
publishes: a worker that was declared lost meanwhile (its run requeued or failed) gets
:class:`RunNotHeld` and publishes nothing. Activating a version (on publish, or by hand to
roll back) deactivates the previous one first; it then queues, once committed, active
learning for a reward model and new proposals (when the project asks for them) for a
policy.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotation.models import Project
from annotation.services import audit, emit_event
from rankwise.celery import enqueue_on_commit
from rankwise.errors import Conflict

from .models import ModelVersion, TrainingRun

Kind = ModelVersion.Kind

ARTIFACT_FOLDERS = {Kind.REWARD: "reward_models", Kind.POLICY: "policies"}
# What a new active model of a kind sets off, by task name.
ON_ACTIVATION = {Kind.REWARD: "training.score_items_for_active_learning",
                 Kind.POLICY: "training.propose_candidates"}
STAGING_PREFIX = ".staging-run-"
# The model kind a run of each kind publishes.
MODEL_KINDS = {TrainingRun.Kind.REWARD_MODEL: Kind.REWARD, TrainingRun.Kind.POLICY: Kind.POLICY}


class RunNotHeld(Conflict):
    """The run is no longer this attempt's: its worker was declared lost, and the run was
    queued again or failed."""


def model_kind(run_kind: str) -> str:
    return MODEL_KINDS[run_kind]


def artifacts_root() -> Path:
    return Path(settings.ARTIFACTS_DIR)


def versions_dir(*, kind: str, project_id: int, relative: bool = False) -> Path:
    """Where the published versions of one project and kind live (relative to
    ``ARTIFACTS_DIR``, as rows store it, with ``relative``)."""
    path = Path(ARTIFACT_FOLDERS[kind]) / str(project_id)
    return path if relative else artifacts_root() / path


def staging_dir(*, kind: str, run: TrainingRun) -> Path:
    """A fresh folder beside the published versions (same filesystem: os.replace is
    atomic); leftovers of an earlier attempt of this run are removed first."""
    parent = versions_dir(kind=kind, project_id=run.project_id)
    parent.mkdir(parents=True, exist_ok=True)
    discard_staging(kind=kind, run=run)
    path = parent / f"{STAGING_PREFIX}{run.pk}-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


def discard_staging(*, kind: str, run: TrainingRun) -> int:
    """Remove what attempts of this run left in staging (a lost worker's half-written
    files); how many folders."""
    parent = versions_dir(kind=kind, project_id=run.project_id)
    found = list(parent.glob(f"{STAGING_PREFIX}{run.pk}-*")) if parent.is_dir() else []
    for old in found:
        shutil.rmtree(old, ignore_errors=True)
    return len(found)


# --- activate if not worse ------------------------------------------------------------------


@dataclass
class Decision:
    activate: bool
    outcome: str


def decide(*, kind: str, active: ModelVersion | None, metrics: dict[str, Any],
           evaluate_active: Callable[[ModelVersion], dict[str, Any]], min_improvement: float,
           force: bool, metric: str = "accuracy",
           judge: Callable[[ModelVersion], tuple[bool, str, dict]] | None = None) -> Decision:
    """Activate when nothing is active, when forced, or when the new model's ``metric`` on
    its own eval split is at least the active model's on that same split (measured by
    ``evaluate_active``) plus ``min_improvement``. The active model's metrics are added to
    ``metrics`` under ``active_model``. With ``judge`` (reward models) that comparison is
    replaced by the judge's (activate, reason, details) on paired held-out pairs; the
    details go to ``metrics["decision"]`` (with the reason, by :func:`publish`). ``{new}``
    in a reason is the new version's name, filled in by :func:`publish`."""
    if active is None:
        return Decision(True, f"activated: first {kind} model of the project")
    if force:
        return Decision(True, f"activated: forced over {active.name}")
    try:
        old = evaluate_active(active)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        # The active model's files are gone or unreadable: it cannot be kept anyway.
        return Decision(True, f"activated: {active.name} could not be evaluated ({exc})")
    metrics["active_model"] = {"version": active.version, **old}
    if judge is not None:
        try:
            activate, reason, details = judge(active)
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            return Decision(True, f"activated: {active.name} could not be evaluated ({exc})")
        metrics["decision"] = details
        return Decision(activate, reason)
    new_value, old_value = metrics.get(metric), old.get(metric)
    if new_value is None:
        return Decision(False, f"kept {active.name}: the new model has no eval {metric}")
    if old_value is None:
        return Decision(True, f"activated: {active.name} has no {metric} on these items")
    if new_value >= old_value + min_improvement:
        return Decision(True, f"activated: {metric} {new_value:.3f} vs {old_value:.3f} of "
                              f"{active.name} on the same eval items")
    return Decision(False, f"kept {active.name}: {metric} {new_value:.3f} vs {old_value:.3f} "
                           f"on the same eval items (needs +{min_improvement:g})")


# --- publish and activate -------------------------------------------------------------------


def publish(*, kind: str, run: TrainingRun, staging: Path, metrics: dict[str, Any],
            config: dict[str, Any], fingerprint: dict[str, Any], eval_split: dict[str, Any],
            activate: bool, outcome: str, curve: list) -> ModelVersion:
    """Make the staged artifacts the next numbered version of this kind (and the active
    one, if ``activate``) and mark the run succeeded, all in one transaction. Raises
    :class:`RunNotHeld` when the run is no longer this attempt's."""
    project_id = run.project_id
    with transaction.atomic():
        # The project row lock serialises version numbers between concurrent publishers.
        Project.objects.select_for_update().get(pk=project_id)
        if not TrainingRun.objects.select_for_update().filter(
                pk=run.pk, status=TrainingRun.Status.RUNNING, attempts=run.attempts).exists():
            raise RunNotHeld(f"Run {run.pk} is no longer held by this attempt; nothing was "
                             f"published.")
        number = (ModelVersion.objects.filter(project_id=project_id, kind=kind)
                  .aggregate(n=Max("version"))["n"] or 0) + 1
        outcome = outcome.replace("{new}", f"v{number}")
        if isinstance(metrics.get("decision"), dict):
            # The reason in words travels with the version's metrics too.
            metrics = {**metrics, "decision": {**metrics["decision"], "reason": outcome[:200]}}
        relative = versions_dir(kind=kind, project_id=project_id, relative=True) / str(number)
        final = artifacts_root() / relative
        if final.exists():
            # Left by a crash after a rename whose transaction never committed.
            shutil.rmtree(final)
        version = ModelVersion.objects.create(
            project_id=project_id, kind=kind, version=number, metrics=metrics, config=config,
            data_fingerprint=fingerprint, eval_split=eval_split,
            artifact_path=str(relative), training_run=run,
        )
        os.replace(staging, final)
        if activate:
            _activate(version)
        TrainingRun.objects.filter(pk=run.pk).update(
            status=TrainingRun.Status.SUCCEEDED, progress=1.0, metrics=metrics,
            loss_curve=curve, outcome=outcome[:200], finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        if activate:
            _after_activation(version)
    return version


def _activate(version: ModelVersion) -> None:
    # Deactivate first: the partial unique constraint allows one active row at any time.
    ModelVersion.objects.filter(project_id=version.project_id, kind=version.kind,
                                is_active=True).exclude(pk=version.pk).update(is_active=False)
    version.is_active = True
    version.activated_at = timezone.now()
    version.save(update_fields=["is_active", "activated_at"])


@transaction.atomic
def activate_version(*, version: ModelVersion, actor=None) -> ModelVersion:
    """Make an existing version the active one of its kind (e.g. to roll back)."""
    Project.objects.select_for_update().get(pk=version.project_id)
    _activate(version)
    audit(actor=actor, action=f"{version.kind}_model.activate", project=version.project,
          target=version, version=version.version)
    _after_activation(version)
    return version


def _after_activation(version: ModelVersion) -> None:
    task = ON_ACTIVATION.get(version.kind)
    if task is not None:
        enqueue_on_commit(task, version.project_id)
    # In the activating transaction: the webhooks' deliveries are sent once it commits.
    emit_event(project=version.project_id, event="model.published", payload={
        "kind": version.kind, "version": version.version, "name": version.name,
        "metrics": version.metrics, "activated_at": version.activated_at,
        "training_run": version.training_run_id})
