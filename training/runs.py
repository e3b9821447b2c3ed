"""Training runs: requested, claimed by a worker, executed, recorded.

The life of a run
-----------------
``request_training`` (reward models) and ``request_run`` (any kind; DPO policies through
:mod:`training.policy_runs`) create a queued ``TrainingRun`` (one unfinished run per
project and kind) and, once the transaction commits, send the kind's task
(``training.train_reward_model``, ``training.train_policy``) to the ``training`` queue.
``execute_run`` (called by that task, or in-process by the CLI) claims it; for a reward
model it gathers
the comparisons (:mod:`training.data`), splits them by item, trains, evaluates, writes the
artifacts to a staging folder and hands them to :func:`training.registry.publish`, which
decides about activation as described there.

Whatever fails before the publish commits (the trainer raising, the process being killed,
a crash right after the artifacts were written) leaves no version row and the previous
active model untouched; the run is marked failed with its error and traceback. A transient
database fault puts the run back in the queue for the task to retry.

Claims are idempotent: only a queued run is claimed, by one attempt, which records the
worker process holding it (``worker_hostname``, ``worker_pid``). A message delivered again
(a resend, or the broker's late redelivery of a lost worker's message) finds the run
running or finished and does nothing. Every write of an attempt (progress, failure,
publish) names its attempt, so a worker declared lost by :mod:`training.recovery` (which
requeues or fails the run) cannot overwrite what came after it: it stops at its next
progress write.

The trainer's config is the project's ``reward_model`` settings
(:func:`annotation.project_settings.project_settings`) overlaid with the run's ``params``.
"""

from __future__ import annotations

import errno
import logging
import math
import shutil
import time
import traceback
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from annotation.models import Project
from annotation.project_settings import project_settings
from annotation.services import audit
from rankwise import workers
from rankwise.celery import enqueue_on_commit
from rankwise.errors import ApplicationError, Conflict, error_text

from . import data, judging, loader, recovery, registry, scoring, selectors, significance
from .models import ModelVersion, TrainingRun

log = logging.getLogger(__name__)

# Errors worth another try later (a database restarting, a dropped connection).
TRANSIENT_ERRORS = (OperationalError, InterfaceError)

MIN_COMPARISONS = 4  # fewer cannot be split into train and eval items
KIND = ModelVersion.Kind.REWARD
AUDIT_NAMES = {TrainingRun.Kind.REWARD_MODEL: "reward_model", TrainingRun.Kind.POLICY: "policy"}


class RunInProgress(Conflict):
    """The project already has a queued or running run."""


class NotEnoughData(Conflict):
    """The project has too few labelled items to train and evaluate a model."""


class TransientFailure(Exception):
    """A run stopped by a transient fault; the task retries it."""


def train_config(*, project: Project, params: dict[str, Any]):
    """The trainer's config: the trainer parameters of the project's ``reward_model``
    settings (with its ``seed`` and ``eval_fraction``), overlaid with the run's params.
    Keys the config does not have (``force``) are the run's own."""
    settings = project_settings(project).reward_model
    return loader.reward().TrainConfig.from_dict({**settings.trainer_params(), **params})


def embedding_cache():
    """One on-disk embedding cache for every project: unchanged texts are embedded once."""
    return loader.reward().EmbeddingCache(registry.artifacts_root() / "embedding_cache")


# --- starting runs ----------------------------------------------------------------------


def request_training(*, project: Project, actor=None, params: dict[str, Any] | None = None,
                     triggered_by: str = TrainingRun.Trigger.API,
                     dispatch: bool = True) -> TrainingRun:
    """Queue a reward-model run for the project (one at a time per project).

    With ``dispatch`` the Celery task is sent after the commit; the CLI passes False and
    runs it in its own process."""
    return request_run(project=project, kind=TrainingRun.Kind.REWARD_MODEL, actor=actor,
                       params=params, triggered_by=triggered_by, dispatch=dispatch)


def request_run(*, project: Project, kind: str, actor=None, params: dict[str, Any] | None = None,
                triggered_by: str = TrainingRun.Trigger.API, dispatch: bool = True) -> TrainingRun:
    """Queue a run of this kind (one unfinished run per project and kind)."""
    # First and on its own: a lost run requeued here must stay requeued when this
    # request is refused because of it.
    recovery.recover_lost_runs(project=project)
    with transaction.atomic():
        return _queue_run(project=project, kind=kind, actor=actor, params=params,
                          triggered_by=triggered_by, dispatch=dispatch)


def _queue_run(*, project: Project, kind: str, actor, params: dict[str, Any] | None,
               triggered_by: str, dispatch: bool) -> TrainingRun:
    locked = Project.objects.select_for_update().get(pk=project.pk)
    busy = selectors.unfinished_run(project=locked, kind=kind)
    if busy is not None:
        raise RunInProgress(f"Run {busy.pk} of this project is already {busy.status}; wait "
                            f"for it to finish (GET /api/v1/training-runs/{busy.pk}/).")
    run = TrainingRun.objects.create(
        project=locked, kind=kind, params=dict(params or {}),
        triggered_by=triggered_by,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        celery_task_id=str(uuid.uuid4()) if dispatch else "",
    )
    audit(actor=actor, action=f"{AUDIT_NAMES[kind]}.train", project=locked, target=run,
          triggered_by=triggered_by, params=run.params)
    if dispatch:
        enqueue_on_commit(recovery.TASKS[kind], run.pk, task_id=run.celery_task_id)
    return run


# --- executing runs ---------------------------------------------------------------------


class ProgressRecorder:
    """The trainer's ``progress(fraction, loss[, held_out_loss])`` callback: keeps a loss
    curve of at most ~``max_points`` ``[fraction, loss]`` points (and the held-out losses
    the trainer measured, in ``held_out_curve``, which a run stores in its metrics) and writes progress to the run's row at most every
    ``interval_s`` seconds (plus the last point), so a fast trainer does not hammer the
    database."""

    def __init__(self, run_id: int, *, attempt: int = 0, interval_s: float = 1.0,
                 max_points: int = 200):
        self.run_id, self.attempt = run_id, attempt
        self.interval_s = interval_s
        self.step = 1.0 / max_points
        self.curve: list[list[float]] = []
        self.held_out_curve: list[list[float]] = []
        self.fraction = 0.0
        self._written_at = 0.0

    def __call__(self, fraction: float, loss: float | None = None) -> None:
        fraction = min(1.0, max(0.0, float(fraction)))
        self.fraction = fraction
        if loss is not None and math.isfinite(float(loss)):
            if not self.curve or fraction - self.curve[-1][0] >= self.step or fraction >= 1.0:
                self.curve.append([round(fraction, 4), float(loss)])
            else:
                self.curve[-1] = [self.curve[-1][0], float(loss)]
        now = time.monotonic()
        if now - self._written_at >= self.interval_s or fraction >= 1.0:
            self.flush()
            self._written_at = now

    def held_out(self, fraction: float, loss: float) -> None:
        """The trainer's ``held_out_progress``: the loss on the held-out items."""
        if math.isfinite(float(loss)):
            held = self.held_out_curve
            if held and float(fraction) - held[-1][0] < self.step:
                held[-1] = [held[-1][0], float(loss)]
            else:
                held.append([round(float(fraction), 4), float(loss)])

    def flush(self) -> None:
        written = held(self.run_id, self.attempt).update(
            progress=self.fraction, loss_curve=self.curve, updated_at=timezone.now()
        )
        if not written:
            raise registry.RunNotHeld(f"Run {self.run_id} is no longer held by attempt "
                                      f"{self.attempt}: stopping.")


def held(run_id: int, attempt: int):
    """The run's row while this attempt holds it (empty once it was requeued or failed)."""
    return TrainingRun.objects.filter(pk=run_id, attempts=attempt,
                                      status=TrainingRun.Status.RUNNING)


def _claim(run_id: int) -> TrainingRun | None:
    """Mark a queued run running, held by this process; None for any other (a message
    delivered again, or one whose run was deleted with its project)."""
    worker = workers.this_worker()
    with transaction.atomic():
        run = (TrainingRun.objects.select_for_update().select_related("project")
               .filter(pk=run_id).first())
        if run is None or run.status != TrainingRun.Status.QUEUED:
            return None
        run.status = TrainingRun.Status.RUNNING
        run.started_at = timezone.now()
        run.attempts += 1
        run.progress = 0.0
        run.loss_curve = []
        run.error = run.traceback = ""
        run.worker_hostname = worker.hostname if worker else ""
        run.worker_pid = worker.pid if worker else None
        run.save()
    if worker is not None:
        # The holder's row is fresh from the first moment it holds the run.
        workers.beat(worker)
    return run


def execute_run(*, run_id: int, retry_transient: bool = False, progress_interval_s: float = 1.0,
                on_progress=None) -> TrainingRun | None:
    """Train, evaluate and publish one queued run. Idempotent: a run that is running or
    finished is returned as it is (None for a run that no longer exists).

    A failure is recorded on the run (error + traceback) and the previous active model is
    left alone. With ``retry_transient`` a transient database fault puts the run back in
    the queue and raises :class:`TransientFailure` for the task to retry later.
    """
    run = _claim(run_id)
    if run is None:
        return TrainingRun.objects.filter(pk=run_id).first()
    recorder = ProgressRecorder(run.pk, attempt=run.attempts, interval_s=progress_interval_s)

    def progress(fraction, loss=None):
        recorder(fraction, loss)
        if on_progress is not None:
            on_progress(recorder.fraction, loss)

    staging: Path | None = None
    try:
        staging = registry.staging_dir(kind=registry.model_kind(run.kind), run=run)
        _trainer_of(run.kind)(run=run, staging=staging, progress=progress, recorder=recorder)
    except TRANSIENT_ERRORS as exc:
        if retry_transient:
            _record_failure(run, exc, recorder, status_=TrainingRun.Status.QUEUED)
            raise TransientFailure(str(exc)) from exc
        _record_failure(run, exc, recorder)
    except BaseException as exc:
        # BaseException too: a worker shut down mid-run must not leave it "running".
        _record_failure(run, exc, recorder)
        if not isinstance(exc, Exception):
            raise
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return TrainingRun.objects.filter(pk=run.pk).first()


def _record_failure(run: TrainingRun, exc: BaseException, recorder: ProgressRecorder, *,
                    status_: str = TrainingRun.Status.FAILED) -> None:
    """Error, traceback and how far it got (the last progress, unthrottled). A domain
    error is recorded with every field or line it names; a full disk says so first."""
    text = "".join(traceback.format_exception(exc))
    detail = error_text(exc) if isinstance(exc, ApplicationError) else str(exc)
    message = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        message = (f"Disk full: nothing was published; free space under "
                   f"{registry.artifacts_root()} and train again ({message}).")
    log.warning("training run %s: %s", run.pk, message)
    finished = timezone.now() if status_ == TrainingRun.Status.FAILED else None
    try:
        # Nothing is written once the attempt lost the run: what the sweep recorded stays.
        held(run.pk, run.attempts).update(
            status=status_, error=message[:2000], traceback=text[-20000:],
            progress=recorder.fraction, loss_curve=recorder.curve,
            finished_at=finished, updated_at=timezone.now(),
        )
    except DatabaseError:
        log.exception("training run %s: could not record the failure", run.pk)


def _trainer_of(kind: str):
    """What trains and publishes a run of this kind."""
    if kind == TrainingRun.Kind.POLICY:
        # Imported here: policy_runs builds on this module's run machinery.
        from . import policy_runs
        return policy_runs.train_and_publish
    return _train_and_publish


def labelled_data(run: TrainingRun, *, needs: str) -> data.TrainingData:
    """The comparisons the run learns from, their extent recorded on the run; NotEnoughData
    below ``MIN_COMPARISONS``. ``needs``: what needs them, in the message ("a policy")."""
    labelled = data.comparisons_for(project=run.project)
    held(run.pk, run.attempts).update(
        data_until=labelled.data_until, n_comparisons=len(labelled.comparisons),
        updated_at=timezone.now())
    if len(labelled.comparisons) < MIN_COMPARISONS:
        raise NotEnoughData(
            f"{len(labelled.comparisons)} labelled items with a preference; {needs} needs at "
            f"least {MIN_COMPARISONS} (gold items and all-tied rankings do not count).")
    return labelled


def _train_and_publish(*, run: TrainingRun, staging: Path, progress,
                       recorder: ProgressRecorder) -> ModelVersion:
    trainer = loader.reward()
    project = run.project
    labelled = labelled_data(run, needs="a reward model")
    # Items labelled by several people carry a human ceiling: how often one annotator
    # agrees with the others' consensus. Single and imported labels say nothing about it.
    agreement = {c.item_id: c.agreement for c in labelled.comparisons
                 if c.agreement is not None}
    comparisons = [c.to_trainer() for c in labelled.comparisons]
    config = train_config(project=project, params=run.params)
    fraction, seed = float(config.eval_fraction), int(config.seed)
    train_set, eval_set = trainer.split_by_item(comparisons, eval_fraction=fraction, seed=seed)
    cache = embedding_cache()
    # The split is made here, once, so that the active model can be judged on the same
    # items; the trainer itself holds nothing more out, and reports its loss on them.
    result = trainer.train(train_set, config=replace(config, eval_fraction=0.0), cache=cache,
                           progress=progress, train_metrics=False, held_out=eval_set or None,
                           held_out_progress=recorder.held_out)
    metrics = finite(trainer.evaluate(result, eval_set, agreement=agreement or None))
    metrics.setdefault("human_ceiling", None)
    metrics.update(n_train=len(train_set), n_eval=len(eval_set),
                   train_seconds=round(float(result.seconds), 2),
                   held_out_loss_curve=recorder.held_out_curve)

    trainer.save(result, staging)
    min_improvement = float(project_settings(project).reward_model.min_improvement)
    all_items = [int(c.item_id) for c in comparisons]
    labels = int(labelled.fingerprint.get("n_annotations") or 0)

    def judge(active: ModelVersion):
        paired, chosen = judging.judge(active=active, scorer=result.scorer, eval_set=eval_set,
                                       all_items=all_items, cache=cache)
        activate, reason, details = significance.paired_decision(
            paired=paired, new_name="{new}", active_name=active.name, new_labels=labels,
            active_labels=int((active.data_fingerprint or {}).get("n_annotations") or 0),
            min_improvement=min_improvement)
        return activate, reason, finite({**details, **chosen})

    decision = registry.decide(
        kind=KIND, active=selectors.active_version(project_id=project.pk, kind=KIND),
        metrics=metrics, force=bool(run.params.get("force")), min_improvement=min_improvement,
        evaluate_active=lambda active: finite(
            scoring.evaluate_version(active, eval_set, cache=cache)),
        judge=judge,
    )
    return registry.publish(
        kind=KIND, run=run, staging=staging, metrics=metrics, config=finite(config.to_dict()),
        fingerprint=labelled.fingerprint,
        eval_split={"seed": seed, "fraction": fraction, "train_items": len(train_set),
                    "eval_items": sorted(int(c.item_id) for c in eval_set),
                    "train_item_ids": sorted({int(c.item_id) for c in train_set})},
        activate=decision.activate, outcome=decision.outcome, curve=recorder.curve,
    )


def finite(values: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe copy: NaN and infinities become None (PostgreSQL's JSON has no NaN),
    tuples become lists."""
    def clean(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, (str, int, float, bool, type(None))):
            return value
        return str(value)

    return clean(dict(values))
