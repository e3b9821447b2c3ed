"""Real training runs (MiniLM encoder, a small head): publishing, activation, failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.db import OperationalError

from annotation.models import Annotation
from annotation.project_settings import project_settings
from training import data, registry, reward, runs, selectors
from training.celery_tasks import train_reward_model
from training.models import ModelVersion, TrainingRun

from .conftest import TOPICS, add_pairs

pytestmark = pytest.mark.slow


def train(project, capture, **params) -> TrainingRun:
    """Queue a run the way the API does and let the (eager) Celery task execute it."""
    with capture(execute=True):
        run = runs.request_training(project=project, params=params)
    run.refresh_from_db()
    return run


def project_dir(project) -> Path:
    return Path(settings.ARTIFACTS_DIR) / "reward_models" / str(project.pk)


def staging_left(project) -> list[Path]:
    return list(project_dir(project).glob(".staging-*"))


def test_a_run_publishes_version_1_and_activates_it(labelled, django_capture_on_commit_callbacks):
    project, _ = labelled
    run = train(project, django_capture_on_commit_callbacks)
    assert run.status == "succeeded", run.traceback
    assert run.progress == 1.0 and run.finished_at and run.started_at and run.attempts == 1
    assert len(run.loss_curve) >= 2
    assert run.loss_curve[-1][1] < run.loss_curve[0][1]  # it learned something
    assert [p for p, _ in run.loss_curve] == sorted(p for p, _ in run.loss_curve)

    version = ModelVersion.objects.get(project=project)
    assert (version.version, version.is_active, version.training_run_id) == (1, True, run.pk)
    assert version.kind == "reward"
    assert version.metrics["accuracy"] >= 0.8
    assert {"accuracy", "n_train", "n_eval"} <= set(version.metrics)
    assert version.data_fingerprint["n_comparisons"] == 24
    assert version.data_fingerprint["sha256"] == data.comparisons_for(
        project=project).fingerprint["sha256"]
    eval_items = set(version.eval_split["eval_items"])
    assert eval_items and len(eval_items) == version.metrics["n_eval"]
    assert version.metrics["n_train"] + len(eval_items) == 24

    assert version.directory == project_dir(project) / "1"
    assert (version.directory / "model.safetensors").is_file()
    assert (version.directory / "config.json").is_file()
    assert not staging_left(project)
    assert run.outcome.startswith("activated")


def _split(project):
    """The run's split, by the trainer's own rule (items, a seed and a fraction)."""
    options = project_settings(project).reward_model
    comparisons = [c.to_trainer() for c in data.comparisons_for(project=project).comparisons]
    train_set, eval_set = reward.split_by_item(
        comparisons, eval_fraction=options.eval_fraction, seed=options.seed)
    return {c.item_id for c in train_set}, {c.item_id for c in eval_set}


def _flip(item_ids):
    for annotation in Annotation.objects.filter(item_id__in=item_ids):
        annotation.ranking = list(reversed(annotation.ranking))
        annotation.save(update_fields=["ranking"])


def test_a_worse_model_is_kept_out_unless_forced(labelled, django_capture_on_commit_callbacks):
    project, _ = labelled
    first = train(project, django_capture_on_commit_callbacks)
    assert first.status == "succeeded"
    # Teach run 2 the opposite preference on its training items only; its eval items keep
    # the true labels, on which version 1 is good and version 2 is bad.
    train_items, eval_items = _split(project)
    _flip(train_items)
    second = train(project, django_capture_on_commit_callbacks)
    assert second.status == "succeeded", second.traceback
    v1, v2 = ModelVersion.objects.filter(project=project).order_by("version")
    assert set(v2.eval_split["eval_items"]) == eval_items
    assert v2.metrics["accuracy"] < v2.metrics["active_model"]["accuracy"]
    assert v1.is_active and not v2.is_active
    assert second.outcome.startswith("kept v1")
    assert v2.directory.is_dir()  # published, just not active

    forced = train(project, django_capture_on_commit_callbacks, force=True)
    assert forced.status == "succeeded"
    assert selectors.active_version(project_id=project.pk, kind="reward").version == 3
    assert forced.outcome.startswith("activated: forced")


def test_a_better_model_replaces_a_bad_active_one(labelled, django_capture_on_commit_callbacks):
    project, _ = labelled
    _flip(Annotation.objects.filter(project=project).values_list("item_id", flat=True))
    bad = train(project, django_capture_on_commit_callbacks, force=True)
    assert bad.status == "succeeded"
    _flip(Annotation.objects.filter(project=project).values_list("item_id", flat=True))
    good = train(project, django_capture_on_commit_callbacks)
    v2 = ModelVersion.objects.get(project=project, version=2)
    assert v2.is_active, good.outcome
    assert v2.metrics["accuracy"] > v2.metrics["active_model"]["accuracy"]


def test_a_retrain_as_good_as_the_active_model_replaces_it(labelled,
                                                           django_capture_on_commit_callbacks):
    project, _ = labelled
    train(project, django_capture_on_commit_callbacks)
    again = train(project, django_capture_on_commit_callbacks)  # same data, same seed
    v2 = ModelVersion.objects.get(project=project, version=2)
    assert v2.metrics["accuracy"] == v2.metrics["active_model"]["accuracy"]
    assert v2.is_active and again.outcome.startswith("activated"), again.outcome


def test_min_improvement_from_the_project_settings(labelled, django_capture_on_commit_callbacks):
    project, _ = labelled
    train(project, django_capture_on_commit_callbacks)
    project.settings["reward_model"]["min_improvement"] = 0.5
    project.save(update_fields=["settings"])
    again = train(project, django_capture_on_commit_callbacks)
    assert again.status == "succeeded"
    assert selectors.active_version(project_id=project.pk, kind="reward").version == 1
    assert "needs +0.5" in again.outcome


def _v1(project, capture) -> ModelVersion:
    run = train(project, capture)
    assert run.status == "succeeded", run.traceback
    return ModelVersion.objects.get(project=project, version=1)


def test_a_trainer_failing_midway_leaves_the_active_model(labelled, monkeypatch,
                                                          django_capture_on_commit_callbacks):
    project, _ = labelled
    v1 = _v1(project, django_capture_on_commit_callbacks)
    files = sorted(p.name for p in v1.directory.iterdir())
    real_train = reward.train

    def dies_half_way(comparisons, *, progress=None, **kwargs):
        def report(fraction, loss):
            progress(fraction, loss)
            if fraction >= 0.5:
                raise RuntimeError("worker killed half-way")
        return real_train(comparisons, progress=report, **kwargs)

    monkeypatch.setattr(reward, "train", dies_half_way)
    run = train(project, django_capture_on_commit_callbacks)
    assert run.status == "failed" and run.finished_at
    assert "worker killed half-way" in run.error
    assert "Traceback" in run.traceback and "dies_half_way" in run.traceback
    assert 0.5 <= run.progress < 1.0
    assert ModelVersion.objects.filter(project=project).count() == 1
    v1.refresh_from_db()
    assert v1.is_active and sorted(p.name for p in v1.directory.iterdir()) == files
    assert not staging_left(project)


def test_a_process_stopped_midway_is_recorded_failed(labelled, monkeypatch,
                                                     django_capture_on_commit_callbacks):
    project, _ = labelled
    _v1(project, django_capture_on_commit_callbacks)
    real_train = reward.train

    def interrupted(comparisons, *, progress=None, **kwargs):
        def report(fraction, loss):
            progress(fraction, loss)
            if fraction >= 0.3:
                raise SystemExit("worker shut down")
        return real_train(comparisons, progress=report, **kwargs)

    monkeypatch.setattr(reward, "train", interrupted)
    run = runs.request_training(project=project, dispatch=False)
    with pytest.raises(SystemExit):
        runs.execute_run(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "failed" and "SystemExit" in run.error
    assert selectors.active_version(project_id=project.pk, kind="reward").version == 1
    assert not staging_left(project)


def test_a_crash_after_the_artifacts_were_written_publishes_nothing(
        labelled, monkeypatch, django_capture_on_commit_callbacks):
    project, _ = labelled
    _v1(project, django_capture_on_commit_callbacks)
    real_publish = registry.publish
    seen = {}

    def crash(*, staging, **kwargs):
        seen["files"] = sorted(p.name for p in staging.iterdir())
        raise OSError("machine lost power before publishing")

    monkeypatch.setattr(registry, "publish", crash)
    run = train(project, django_capture_on_commit_callbacks)
    assert "model.safetensors" in seen["files"]  # the artifacts were complete
    assert run.status == "failed" and "lost power" in run.error
    assert list(ModelVersion.objects.filter(project=project).values_list(
        "version", "is_active")) == [(1, True)]
    assert not (project_dir(project) / "2").exists() and not staging_left(project)

    monkeypatch.setattr(registry, "publish", real_publish)
    again = train(project, django_capture_on_commit_callbacks)
    assert again.status == "succeeded"
    assert (project_dir(project) / "2" / "model.safetensors").is_file()


def test_a_crash_between_rename_and_commit_leaves_no_version_and_heals(
        labelled, monkeypatch, django_capture_on_commit_callbacks):
    project, _ = labelled
    _v1(project, django_capture_on_commit_callbacks)
    real_activate = registry._activate

    def crash(version):
        raise OSError("crash inside the publishing transaction")

    monkeypatch.setattr(registry, "_activate", crash)
    run = train(project, django_capture_on_commit_callbacks, force=True)
    assert run.status == "failed"
    # The folder was renamed into place, but no row names it and v1 is still active.
    assert (project_dir(project) / "2").is_dir()
    assert not ModelVersion.objects.filter(project=project, version=2).exists()
    assert selectors.active_version(project_id=project.pk, kind="reward").version == 1

    monkeypatch.setattr(registry, "_activate", real_activate)
    again = train(project, django_capture_on_commit_callbacks, force=True)
    assert again.status == "succeeded"
    v2 = ModelVersion.objects.get(project=project, version=2)
    assert v2.is_active and v2.training_run_id == again.pk
    assert (v2.directory / "model.safetensors").is_file()


def test_too_little_data_fails_with_a_clear_message(roles, django_capture_on_commit_callbacks):
    project, _ = roles
    add_pairs(project, TOPICS[:2])
    run = train(project, django_capture_on_commit_callbacks)
    assert run.status == "failed" and "at least" in run.error
    assert not ModelVersion.objects.exists()


def test_a_finished_run_is_not_run_again(labelled, django_capture_on_commit_callbacks):
    project, _ = labelled
    run = train(project, django_capture_on_commit_callbacks)
    assert train_reward_model.apply(args=[run.pk]).get() == "succeeded"
    run.refresh_from_db()
    assert run.attempts == 1
    assert ModelVersion.objects.filter(project=project).count() == 1


def test_a_transient_database_fault_is_retried(labelled, monkeypatch):
    project, _ = labelled
    real = data.comparisons_for
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(data, "comparisons_for", flaky)
    monkeypatch.setattr("training.celery_tasks.RETRY_BACKOFF_S", (0, 0, 0))
    run = runs.request_training(project=project, dispatch=False)
    # throw=False: an eager task handles its own retry the way a worker would.
    assert train_reward_model.apply(args=[run.pk], throw=False).get() == "succeeded"
    run.refresh_from_db()
    assert len(calls) == 2
    assert run.status == "succeeded" and run.attempts == 2 and run.error == ""


def test_progress_is_written_while_training(labelled, monkeypatch):
    project, _ = labelled
    seen = []
    run = runs.request_training(project=project, dispatch=False)

    def watch(fraction, loss):
        seen.append(TrainingRun.objects.filter(pk=run.pk).values_list("status", "progress")[0])

    runs.execute_run(run_id=run.pk, progress_interval_s=0.0, on_progress=watch)
    assert seen and all(status == "running" for status, _ in seen)
    progresses = [p for _, p in seen]
    assert progresses == sorted(progresses) and progresses[-1] == 1.0
    assert any(0 < p < 1 for p in progresses)
