"""Writes for training: start runs, execute them, publish and activate reward models, score.

The life of a run
-----------------
``request_training`` creates a queued ``TrainingRun`` and, once the transaction commits,
sends ``training.train_reward_model`` to the ``training`` queue. ``execute_run`` (called by
that task, or in-process by the CLI) gathers the comparisons, splits them by item, trains,
evaluates, writes the artifacts to a staging folder and only then publishes:

1. one transaction takes the next version number, inserts the ``RewardModelVersion`` row
   and ``os.replace``-s the staging folder to
   ``ARTIFACTS_DIR/reward_models/<project>/<version>/`` (atomic on one filesystem);
2. the new version becomes active only when it is not worse than the active one *on the
   new run's eval split* (the active model is re-evaluated there), by at least
   ``settings["reward_model"]["min_improvement"]`` (default 0.0), or when forced.

Whatever fails before step 1 commits (the trainer raising, the process being killed, a
crash right after the artifacts were written) leaves no version row and the previous active
model untouched; the run is marked failed with its traceback. A crash between the rename
and the commit leaves a folder that no row names; the next publish of that version number
replaces it.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db.models import Max
from django.utils import timezone
from rest_framework import exceptions, status

from annotation.models import Annotation, Assignment, Item, Project, Response
from annotation.permissions import Role, project_for
from annotation.services import audit

from . import selectors
from .models import RewardModelVersion, TrainingRun

log = logging.getLogger(__name__)

# Errors worth another try later (a database restarting, a dropped connection).
TRANSIENT_ERRORS = (OperationalError, InterfaceError)

MIN_COMPARISONS = 4  # fewer cannot be split into train and eval items
STAGING_PREFIX = ".staging-run-"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class NotEnoughData(Exception):
    """The project has too few labelled items to train and evaluate a model."""


class TransientFailure(Exception):
    """A run stopped by a transient fault; the task retries it."""


# --- settings -------------------------------------------------------------------------------

REWARD_MODEL_DEFAULTS: dict[str, Any] = {
    "auto": False,  # train by beat when enough new comparisons arrived
    "interval_minutes": 60,  # at most one beat-triggered run per interval
    "min_new_comparisons": 200,  # new annotations needed since the last run
    "min_improvement": 0.0,  # eval accuracy a new model must gain over the active one
    "eval_fraction": 0.2,  # share of items held out for evaluation
    "seed": 0,
    "stale_minutes": 120,  # a running run silent for this long lost its worker
    "feedback_lr": None,  # learning rate of the "watch it learn" step (trainer default)
}


def reward_model_settings(project: Project) -> dict[str, Any]:
    """``project.settings["reward_model"]`` over the defaults above; the keys the trainer
    knows (``mode``, ``epochs``, ...) pass through as training parameters."""
    chosen = project.settings.get("reward_model") if isinstance(project.settings, dict) else None
    merged = dict(REWARD_MODEL_DEFAULTS)
    if isinstance(chosen, dict):
        merged.update(chosen)
    return merged


def trainer_module():
    # torch and transformers load only where a model is trained or used.
    from training import reward_model

    return reward_model


def _encoders():
    from training import encoders

    return encoders


def _artifacts_root() -> Path:
    return Path(settings.ARTIFACTS_DIR)


def _project_dir(project_id: int) -> Path:
    return _artifacts_root() / "reward_models" / str(project_id)


def embedding_cache():
    """One on-disk embedding cache for every project: unchanged texts are embedded once."""
    return _encoders().EmbeddingCache(_artifacts_root() / "embedding_cache")


def train_config(*, project: Project, params: dict[str, Any]):
    """The trainer's config from the project's ``reward_model`` settings overlaid with the
    run's params. Keys the config does not have are ours (schedule, split) or ignored."""
    return trainer_module().TrainConfig.from_dict({**reward_model_settings(project), **params})


# --- starting runs ----------------------------------------------------------------------


@transaction.atomic
def request_training(*, project: Project, actor=None, params: dict[str, Any] | None = None,
                     triggered_by: str = TrainingRun.Trigger.API,
                     dispatch: bool = True) -> TrainingRun:
    """Queue a reward-model run for the project (one at a time per project).

    With ``dispatch`` the Celery task is sent after the commit; the CLI passes False and
    runs it in its own process."""
    locked = Project.objects.select_for_update().get(pk=project.pk)
    fail_stale_runs(project=locked)
    busy = selectors.unfinished_run(project=locked)
    if busy is not None:
        raise Conflict(f"Run {busy.pk} of this project is already {busy.status}; wait for it "
                       f"to finish (GET /api/v1/training-runs/{busy.pk}/).")
    run = TrainingRun.objects.create(
        project=locked, kind=TrainingRun.Kind.REWARD_MODEL, params=dict(params or {}),
        triggered_by=triggered_by,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        celery_task_id=str(uuid.uuid4()) if dispatch else "",
    )
    audit(actor=actor, action="reward_model.train", project=locked, target=run,
          triggered_by=triggered_by, params=run.params)
    if dispatch:
        from .celery_tasks import train_reward_model

        transaction.on_commit(lambda: train_reward_model.apply_async(
            args=[run.pk], task_id=run.celery_task_id
        ))
    return run


def fail_stale_runs(*, project: Project | None = None) -> int:
    """Mark failed the runs whose worker died: running, and silent past ``stale_minutes``
    (progress writes bump ``updated_at``). Returns how many."""
    runs = TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING)
    if project is not None:
        runs = runs.filter(project=project)
    failed = 0
    now = timezone.now()
    for run in runs.select_related("project"):
        minutes = float(reward_model_settings(run.project)["stale_minutes"])
        if run.updated_at < now - timedelta(minutes=minutes):
            failed += TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING,
                                                 updated_at=run.updated_at).update(
                status=TrainingRun.Status.FAILED, finished_at=now, updated_at=now,
                error=f"The worker stopped reporting for over {minutes:g} minutes (lost).",
            )
    return failed


# --- executing runs ---------------------------------------------------------------------


class ProgressRecorder:
    """The trainer's ``progress(fraction, loss)`` callback: keeps a loss curve of at most
    ~``max_points`` points and writes progress to the run's row at most every
    ``interval_s`` seconds (plus the last point), so a fast trainer does not hammer the
    database."""

    def __init__(self, run_id: int, *, interval_s: float = 1.0, max_points: int = 200):
        self.run_id = run_id
        self.interval_s = interval_s
        self.step = 1.0 / max_points
        self.curve: list[list[float]] = []
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

    def flush(self) -> None:
        TrainingRun.objects.filter(pk=self.run_id).update(
            progress=self.fraction, loss_curve=self.curve, updated_at=timezone.now()
        )


def _claim(run_id: int) -> TrainingRun | None:
    """Mark the run running; None when it already finished (a redelivered message)."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().select_related("project").get(pk=run_id)
        if run.is_finished:
            return None
        run.status = TrainingRun.Status.RUNNING
        run.started_at = timezone.now()
        run.attempts += 1
        run.progress = 0.0
        run.loss_curve = []
        run.error = run.traceback = ""
        run.save()
        return run


def _staging_dir(run: TrainingRun) -> Path:
    """A fresh folder beside the published versions (same filesystem: os.replace is
    atomic); leftovers of an earlier attempt of this run are removed first."""
    parent = _project_dir(run.project_id)
    parent.mkdir(parents=True, exist_ok=True)
    for old in parent.glob(f"{STAGING_PREFIX}{run.pk}-*"):
        shutil.rmtree(old, ignore_errors=True)
    path = parent / f"{STAGING_PREFIX}{run.pk}-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


def execute_run(*, run_id: int, retry_transient: bool = False, progress_interval_s: float = 1.0,
                on_progress=None) -> TrainingRun:
    """Train, evaluate and publish one run (idempotent: a finished run is returned as is).

    A failure is recorded on the run (error + traceback) and the previous active model is
    left alone. With ``retry_transient`` a transient database fault puts the run back in
    the queue and raises :class:`TransientFailure` for the task to retry later.
    """
    run = _claim(run_id)
    if run is None:
        return TrainingRun.objects.get(pk=run_id)
    recorder = ProgressRecorder(run.pk, interval_s=progress_interval_s)

    def progress(fraction, loss=None):
        recorder(fraction, loss)
        if on_progress is not None:
            on_progress(recorder.fraction, loss)

    staging: Path | None = None
    try:
        staging = _staging_dir(run)
        _train_and_publish(run=run, staging=staging, progress=progress, recorder=recorder)
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
    run.refresh_from_db()
    return run


def _record_failure(run: TrainingRun, exc: BaseException, recorder: ProgressRecorder, *,
                    status_: str = TrainingRun.Status.FAILED) -> None:
    """Error, traceback and how far it got (the last progress, unthrottled)."""
    text = "".join(traceback.format_exception(exc))
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    log.warning("training run %s: %s", run.pk, message)
    finished = timezone.now() if status_ == TrainingRun.Status.FAILED else None
    try:
        TrainingRun.objects.filter(pk=run.pk).update(
            status=status_, error=message[:2000], traceback=text[-20000:],
            progress=recorder.fraction, loss_curve=recorder.curve,
            finished_at=finished, updated_at=timezone.now(),
        )
    except DatabaseError:
        log.exception("training run %s: could not record the failure", run.pk)


def _eval_split_info(*, train, eval_, fraction: float, seed: int) -> dict[str, Any]:
    return {
        "seed": seed,
        "fraction": fraction,
        "train_items": len(train),
        "eval_items": sorted(int(c.item_id) for c in eval_),
    }


def _train_and_publish(*, run: TrainingRun, staging: Path, progress,
                       recorder: ProgressRecorder) -> RewardModelVersion:
    trainer = trainer_module()
    project = run.project
    options = {**reward_model_settings(project), **run.params}
    data = selectors.comparisons_for(project=project)
    TrainingRun.objects.filter(pk=run.pk).update(
        data_until=data.data_until, n_comparisons=len(data.comparisons), updated_at=timezone.now()
    )
    if len(data.comparisons) < MIN_COMPARISONS:
        raise NotEnoughData(
            f"{len(data.comparisons)} labelled items with a preference; a reward model needs "
            f"at least {MIN_COMPARISONS} (gold items and all-tied rankings do not count)."
        )
    # Items labelled by several people carry a human ceiling: how often one annotator
    # agrees with the consensus. Single labels say nothing about it.
    agreement = {c.item_id: c.agreement for c in data.comparisons if c.n_annotations > 1}
    comparisons = [c.to_trainer() for c in data.comparisons]
    config = train_config(project=project, params=run.params)
    fraction, seed = float(options["eval_fraction"]), int(options["seed"])
    train_set, eval_set = trainer.split_by_item(comparisons, eval_fraction=fraction, seed=seed)
    cache = embedding_cache()
    # The split is made here, once, so that the active model can be judged on the same
    # items; the trainer itself holds nothing more out.
    result = trainer.train(train_set, config=replace(config, eval_fraction=0.0), cache=cache,
                           progress=progress, train_metrics=False)
    metrics = finite(trainer.evaluate(result, eval_set, agreement=agreement or None))
    metrics.setdefault("human_ceiling", None)
    metrics.update(n_train=len(train_set), n_eval=len(eval_set),
                   train_seconds=round(float(result.seconds), 2))

    trainer.save(result, staging)
    active = selectors.active_reward_model(project_id=project.pk)
    decision = _decide(active=active, metrics=metrics, eval_set=eval_set, options=options,
                       force=bool(run.params.get("force")), cache=cache)
    return publish(run=run, staging=staging, metrics=metrics, config=finite(config.to_dict()),
                   fingerprint=data.fingerprint,
                   eval_split=_eval_split_info(train=train_set, eval_=eval_set,
                                               fraction=fraction, seed=seed),
                   activate=decision.activate, outcome=decision.outcome, curve=recorder.curve)


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


@dataclass
class Decision:
    activate: bool
    outcome: str
    active_metrics: dict[str, Any] | None = None


def _decide(*, active: RewardModelVersion | None, metrics: dict[str, Any], eval_set,
            options: dict[str, Any], force: bool, cache=None) -> Decision:
    """Activate when nothing is active, when forced, or when the new model's accuracy on
    its own eval split is at least the active model's on that same split plus
    ``min_improvement``."""
    if active is None:
        return Decision(True, "activated: first reward model of the project")
    if force:
        return Decision(True, f"activated: forced over {active.name}")
    try:
        old = finite(evaluate_version(active, eval_set, cache=cache))
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        # The active model's files are gone or unreadable: it cannot be kept anyway.
        return Decision(True, f"activated: {active.name} could not be evaluated ({exc})")
    metrics["active_model"] = {"version": active.version, **old}
    new_acc, old_acc = metrics.get("accuracy"), old.get("accuracy")
    if new_acc is None:
        return Decision(False, f"kept {active.name}: the new model has no eval accuracy")
    if old_acc is None:
        return Decision(True, f"activated: {active.name} has no accuracy on these items")
    needed = float(options.get("min_improvement") or 0.0)
    if new_acc >= old_acc + needed:
        return Decision(True, f"activated: accuracy {new_acc:.3f} vs {old_acc:.3f} of "
                              f"{active.name} on the same eval items")
    return Decision(False, f"kept {active.name}: accuracy {new_acc:.3f} vs {old_acc:.3f} on "
                           f"the same eval items (needs +{needed:g})")


def evaluate_version(version: RewardModelVersion, comparisons, *, cache=None) -> dict[str, Any]:
    """A published model's metrics on some comparisons. The process's shared scorer
    borrows the embedding cache only for this call (it never keeps texts sent to the API)."""
    scorer = scorer_for(version)
    with _scorer_lock(version):
        kept = scorer.cache
        try:
            return dict(trainer_module().evaluate(scorer, comparisons, cache=cache))
        finally:
            scorer.cache = kept


def publish(*, run: TrainingRun, staging: Path, metrics: dict[str, Any], config: dict[str, Any],
            fingerprint: dict[str, Any], eval_split: dict[str, Any], activate: bool,
            outcome: str, curve: list) -> RewardModelVersion:
    """Make the staged artifacts a numbered version (and the active one, if ``activate``)
    and finish the run, all in one transaction."""
    project_id = run.project_id
    with transaction.atomic():
        # The project row lock serialises version numbers between concurrent publishers.
        Project.objects.select_for_update().get(pk=project_id)
        number = (RewardModelVersion.objects.filter(project_id=project_id)
                  .aggregate(n=Max("version"))["n"] or 0) + 1
        relative = Path("reward_models") / str(project_id) / str(number)
        final = _artifacts_root() / relative
        if final.exists():
            # Left by a crash after a rename whose transaction never committed.
            shutil.rmtree(final)
        version = RewardModelVersion.objects.create(
            project_id=project_id, version=number, metrics=metrics, config=config,
            data_fingerprint=fingerprint, eval_split=eval_split, artifact_path=str(relative),
            training_run=run,
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
            transaction.on_commit(lambda: _after_activation(project_id))
    return version


def _activate(version: RewardModelVersion) -> None:
    # Deactivate first: the partial unique constraint allows one active row at any time.
    RewardModelVersion.objects.filter(project_id=version.project_id, is_active=True).exclude(
        pk=version.pk).update(is_active=False)
    version.is_active = True
    version.activated_at = timezone.now()
    version.save(update_fields=["is_active", "activated_at"])


@transaction.atomic
def activate_version(*, version: RewardModelVersion, actor=None) -> RewardModelVersion:
    """Make an existing version the active one (e.g. to roll back)."""
    Project.objects.select_for_update().get(pk=version.project_id)
    _activate(version)
    audit(actor=actor, action="reward_model.activate", project=version.project, target=version,
          version=version.version)
    transaction.on_commit(lambda: _after_activation(version.project_id))
    return version


def _after_activation(project_id: int) -> None:
    from .celery_tasks import score_items_for_active_learning

    score_items_for_active_learning.delay(project_id)


# --- the beat schedule ----------------------------------------------------------------------


def maybe_train(*, project: Project, now=None) -> TrainingRun | None:
    """Start a run for a project whose ``reward_model.auto`` is on, when its interval has
    passed since the last run and at least ``min_new_comparisons`` annotations arrived
    after the data that run saw. Cheap: a few indexed queries and one COUNT."""
    options = reward_model_settings(project)
    if not options.get("auto"):
        return None
    now = now or timezone.now()
    fail_stale_runs(project=project)
    if selectors.unfinished_run(project=project) is not None:
        return None
    last = selectors.latest_run(project=project)
    since = None
    if last is not None:
        if last.created_at > now - timedelta(minutes=float(options["interval_minutes"])):
            return None
        # A run that never got as far as reading data saw nothing newer than its start.
        since = last.data_until or last.created_at
    wanted = int(options["min_new_comparisons"])
    if selectors.new_comparisons_since(project=project, since=since) < max(wanted, 1):
        return None
    try:
        return request_training(project=project, triggered_by=TrainingRun.Trigger.BEAT)
    except Conflict:
        return None


def maybe_train_all() -> list[int]:
    """Run :func:`maybe_train` for each project with automatic training; the ids of the
    runs started."""
    started = []
    for project in Project.objects.filter(settings__reward_model__auto=True):
        run = maybe_train(project=project)
        if run is not None:
            started.append(run.pk)
    return started


# --- using the active model -----------------------------------------------------------------

_SCORERS: OrderedDict[tuple[int, str, str], Any] = OrderedDict()
_SCORERS_LOCK = threading.Lock()
_SCORER_LOCKS: dict[tuple[int, str, str], threading.Lock] = {}
SCORER_CACHE_SIZE = 4


def _scorer_key(version: RewardModelVersion) -> tuple[int, str, str]:
    # A version's files never change; the folder and creation time also tell apart rows
    # that reuse an id (a database restored or recreated beside old artifacts).
    return (version.pk, str(version.directory), version.created_at.isoformat())


def scorer_for(version: RewardModelVersion):
    """The loaded model of a version, cached per process (the few most recent ones)."""
    key = _scorer_key(version)
    with _SCORERS_LOCK:
        if key in _SCORERS:
            _SCORERS.move_to_end(key)
            return _SCORERS[key]
    scorer = trainer_module().load(version.directory)
    with _SCORERS_LOCK:
        _SCORERS[key] = scorer
        _SCORER_LOCKS.setdefault(key, threading.Lock())
        while len(_SCORERS) > SCORER_CACHE_SIZE:
            old, _ = _SCORERS.popitem(last=False)
            _SCORER_LOCKS.pop(old, None)
    return scorer


def _scorer_lock(version: RewardModelVersion) -> threading.Lock:
    # Hugging Face fast tokenizers are not safe to share between threads mid-call.
    with _SCORERS_LOCK:
        return _SCORER_LOCKS.setdefault(_scorer_key(version), threading.Lock())


def clear_scorer_cache() -> None:
    with _SCORERS_LOCK:
        _SCORERS.clear()
        _SCORER_LOCKS.clear()


def _require_active(project: Project) -> RewardModelVersion:
    version = selectors.active_reward_model(project_id=project.pk)
    if version is None:
        raise Conflict("This project has no active reward model yet: train one first "
                       f"(POST /api/v1/projects/{project.pk}/reward-models/train/).")
    return version


def score_texts(*, project: Project, prompt: str, responses: list[str]) -> dict[str, Any]:
    """Scores of responses to a prompt under the project's active model."""
    version = _require_active(project)
    scorer = scorer_for(version)
    with _scorer_lock(version):
        scores = scorer.score(prompt, list(responses))
    return {"model_version": version.name, "scores": [float(s) for s in scores]}


def _item_texts(item_id: int) -> tuple[str, list[int], list[str]]:
    item = Item.objects.only("prompt", "messages").get(pk=item_id)
    rows = list(Response.objects.filter(item_id=item_id).order_by("position")
                .values_list("pk", "text"))
    return (selectors.prompt_text(prompt=item.prompt, messages=item.messages),
            [pk for pk, _ in rows], [text for _, text in rows])


def feedback_for(*, assignment_id: int, user) -> dict[str, Any]:
    """"Watch it learn": scores of the item's responses under the active model before and
    after one gradient step on this annotator's submitted ranking. The step is taken on a
    copy that is thrown away: nothing is published or saved."""
    assignment = (Assignment.objects.filter(pk=assignment_id, annotator_id=user.pk)
                  .only("pk", "project_id", "item_id", "status").first())
    if assignment is None:
        raise exceptions.NotFound("No such assignment.")
    project = project_for(user=user, project_id=assignment.project_id, at_least=Role.ANNOTATOR)
    annotation = (Annotation.objects.filter(assignment_id=assignment.pk)
                  .only("ranking").first())
    if assignment.status != Assignment.Status.SUBMITTED or annotation is None:
        raise Conflict("Submit this assignment first: feedback shows what your label teaches "
                       "the model.")
    version = selectors.active_reward_model(project_id=project.pk)
    if version is None:
        return {"model_version": None, "responses": []}
    prompt, ids, texts = _item_texts(assignment.item_id)
    position_of = {rid: pos for pos, rid in enumerate(ids)}
    ranking = [[position_of[int(rid)] for rid in tier if int(rid) in position_of]
               for tier in annotation.ranking]
    ranking = [tier for tier in ranking if tier]
    scorer = scorer_for(version)
    lr = reward_model_settings(project).get("feedback_lr")
    kwargs = {"lr": float(lr)} if lr else {}
    with _scorer_lock(version):
        before, after = trainer_module().preview_step(scorer, prompt, texts, ranking, **kwargs)
    return {
        "model_version": version.name,
        "responses": [{"id": rid, "before": float(b), "after": float(a)}
                      for rid, b, a in zip(ids, before, after, strict=True)],
    }


def score_open_items(*, project: Project, batch_size: int = 200) -> int:
    """Active learning: write ``Item.uncertainty`` (the smallest score gap between two of
    the item's responses under the active model) for the project's open items, those with
    ``annotations_done < overlap``. Returns how many items were scored."""
    from annotation.assignment.services import record_uncertainty

    version = selectors.active_reward_model(project_id=project.pk)
    if version is None:
        return 0
    scorer = scorer_for(version)
    open_items = Item.objects.filter(project=project, is_gold=False,
                                     annotations_done__lt=project.overlap).order_by("pk")
    done, after = 0, 0
    while True:
        rows = list(open_items.filter(pk__gt=after).values_list("pk", "prompt", "messages")
                    [:batch_size])
        if not rows:
            return done
        after = rows[-1][0]
        texts: dict[int, list[str]] = {}
        for item_id, text in (Response.objects.filter(item_id__in=[r[0] for r in rows])
                              .order_by("item_id", "position").values_list("item_id", "text")):
            texts.setdefault(item_id, []).append(text)
        prompts, responses, owners = [], [], []
        for item_id, prompt, messages in rows:
            item_texts = texts.get(item_id, [])
            if len(item_texts) < 2:
                continue
            text = selectors.prompt_text(prompt=prompt, messages=messages)
            prompts.extend([text] * len(item_texts))
            responses.extend(item_texts)
            owners.extend([item_id] * len(item_texts))
        with _scorer_lock(version):
            rewards = scorer.rewards(prompts, responses).tolist() if responses else []
        by_item: dict[int, list[float]] = {}
        for item_id, reward in zip(owners, rewards, strict=True):
            by_item.setdefault(item_id, []).append(float(reward))
        gaps: dict[int, float | None] = {}
        for item_id, scores in by_item.items():
            scores.sort()
            gaps[item_id] = min(b - a for a, b in zip(scores, scores[1:], strict=False))
        done += record_uncertainty(project=project, uncertainty=gaps)
