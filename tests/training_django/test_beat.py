"""Beat starts a run only when the schedule and enough new comparisons call for one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from training import schedule
from training.celery_tasks import maybe_train_reward_models
from training.models import TrainingRun

from .conftest import FAST, TOPICS, add_pairs

pytestmark = pytest.mark.slow


@pytest.fixture
def scheduled(roles):
    project, users = roles
    project.settings = {"reward_model": {**FAST, "auto": True, "interval_minutes": 60,
                                         "min_new_comparisons": 8}}
    project.save(update_fields=["settings"])
    return project


def test_the_beat_task_is_on_the_standing_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["maybe-train-reward-models"]
    assert entry["task"] == maybe_train_reward_models.name == "training.maybe_train_reward_models"
    assert settings.CELERY_TASK_ROUTES["training.*"]["queue"] == "training"


def test_beat_trains_only_past_the_threshold_and_not_twice_for_the_same_data(
        scheduled, django_capture_on_commit_callbacks):
    project = scheduled
    add_pairs(project, TOPICS[:7])
    assert maybe_train_reward_models.apply().get() == []
    assert not TrainingRun.objects.exists()

    add_pairs(project, TOPICS[7:8], tag="eighth")
    with django_capture_on_commit_callbacks(execute=True):
        started = maybe_train_reward_models.apply().get()
    [run] = TrainingRun.objects.all()
    assert started == [run.pk] and run.triggered_by == "beat"
    assert run.status == "succeeded", run.traceback
    assert run.n_comparisons == 8

    later = timezone.now() + timedelta(hours=2)
    assert schedule.maybe_train(project=project, now=later) is None  # no new data
    add_pairs(project, TOPICS[8:15], tag="more")
    assert schedule.maybe_train(project=project, now=later) is None  # 7 new < 8
    add_pairs(project, TOPICS[15:16], tag="last")
    assert schedule.maybe_train(project=project, now=timezone.now()) is None  # interval
    second = schedule.maybe_train(project=project, now=later)
    assert second is not None and second.status == "queued"
    assert schedule.maybe_train(project=project, now=later) is None  # one at a time


def test_beat_waits_until_enough_items_are_labelled_for_a_run_to_succeed(roles):
    project, users = roles
    project.settings = {"reward_model": {**FAST, "auto": True, "min_new_comparisons": 4}}
    project.save(update_fields=["settings"])
    # Four labels, but on two items (two annotators each): a run would fail, NotEnoughData.
    add_pairs(project, TOPICS[:2], annotators=[users["annotator"], users["reviewer"]])
    assert schedule.maybe_train(project=project) is None
    assert not TrainingRun.objects.exists()
    add_pairs(project, TOPICS[2:4], tag="more")
    run = schedule.maybe_train(project=project)
    assert run is not None and run.status == "queued"


def test_projects_without_auto_are_left_alone(roles):
    project, _ = roles
    add_pairs(project, TOPICS[:10])
    project.settings = {"reward_model": {"auto": False, "min_new_comparisons": 1}}
    project.save(update_fields=["settings"])
    assert maybe_train_reward_models.apply().get() == []
    assert not TrainingRun.objects.exists()


def test_a_run_whose_worker_died_is_failed_and_does_not_block(scheduled):
    project = scheduled
    add_pairs(project, TOPICS[:8])
    stuck = TrainingRun.objects.create(project=project, status="running", triggered_by="beat")
    TrainingRun.objects.filter(pk=stuck.pk).update(
        updated_at=timezone.now() - timedelta(hours=3),
        created_at=timezone.now() - timedelta(hours=3))
    run = schedule.maybe_train(project=project)
    stuck.refresh_from_db()
    assert stuck.status == "failed" and "stopped reporting" in stuck.error
    assert run is not None and run.status == "queued"
