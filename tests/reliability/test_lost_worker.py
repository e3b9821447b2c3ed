"""A worker lost mid-task: its heartbeat stops, the sweep requeues or fails what it held
within minutes (not at the broker's 6-hour redelivery), the active model stays active and
served, and a late delivery of the lost worker's message does nothing.

The sweeps take ``now``: the tests move the clock instead of waiting two minutes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from annotation.imports import jobs
from annotation.models import ImportJob
from rankwise.models import WorkerHeartbeat
from training import recovery, registry, runs, scoring, selectors
from training.models import ModelVersion, TrainingRun

from ..conftest import database_url_for_tests
from ..training_django.conftest import FAST, TOPICS, add_pairs, curt, helpful, prompt_for

ROOT = Path(__file__).resolve().parents[2]
LATER = timedelta(minutes=3)  # past WORKER_LOST_AFTER (2 minutes)


def _beat(hostname: str, pid: int, *, ago: timedelta, holding=None) -> None:
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, pid=pid,
        defaults={"seen_at": timezone.now() - ago, "holding": holding or []})


def _running(project, *, hostname="training@gpu-1", pid=4242, attempts=1) -> TrainingRun:
    run = TrainingRun.objects.create(project=project, status="running", attempts=attempts,
                                     worker_hostname=hostname, worker_pid=pid,
                                     celery_task_id=str(uuid.uuid4()),
                                     started_at=timezone.now())
    return run


def _active_v1(project) -> ModelVersion:
    return ModelVersion.objects.create(project=project, kind="reward", version=1,
                                       is_active=True, artifact_path=f"reward_models/{project.pk}/1")


# --- the rules, with heartbeat rows whose age the test sets ---------------------------------


@pytest.mark.django_db
def test_a_run_whose_worker_stopped_beating_is_queued_again_with_its_staging_removed(
        project_with_roles, django_capture_on_commit_callbacks):
    project, _ = project_with_roles
    v1 = _active_v1(project)
    run = _running(project)
    _beat("training@gpu-1", 4242, ago=timedelta(seconds=30))
    staging = registry.staging_dir(kind="reward", run=run)
    (staging / "model.safetensors").write_bytes(b"half a model")

    with django_capture_on_commit_callbacks() as sent:
        assert recovery.sweep() == {"requeued": 0, "failed": 0, "resent": 0}  # still beating
    assert not sent

    with django_capture_on_commit_callbacks() as sent:
        counts = recovery.sweep(now=timezone.now() + LATER)
    assert counts == {"requeued": 1, "failed": 0, "resent": 0}
    assert len(sent) == 1  # the run went back to the training queue
    old_task = run.celery_task_id
    run.refresh_from_db()
    assert run.status == "queued" and run.finished_at is None
    assert "lost its worker training@gpu-1 (pid 4242)" in run.error
    assert "attempt 2 of 3" in run.error
    assert run.celery_task_id != old_task
    assert not staging.exists()
    v1.refresh_from_db()
    assert v1.is_active


@pytest.mark.django_db
def test_a_run_that_lost_its_worker_on_every_attempt_is_failed(project_with_roles):
    project, _ = project_with_roles
    run = _running(project, attempts=recovery.MAX_ATTEMPTS)
    _beat("training@gpu-1", 4242, ago=timedelta(minutes=5))
    assert recovery.sweep()["failed"] == 1
    run.refresh_from_db()
    assert run.status == "failed" and run.finished_at is not None
    assert f"on each of {recovery.MAX_ATTEMPTS} attempts" in run.error


@pytest.mark.django_db
def test_a_holder_without_any_heartbeat_row_is_lost_too(project_with_roles):
    project, _ = project_with_roles
    run = _running(project, hostname="training@gone", pid=7)
    assert recovery.sweep()["requeued"] == 1
    run.refresh_from_db()
    assert run.status == "queued" and "no heartbeat at all" in run.error


@pytest.mark.django_db
def test_a_run_without_a_holder_falls_back_to_stale_minutes(project_with_roles):
    project, _ = project_with_roles
    run = _running(project, hostname="", pid=None)  # the CLI runs it in its own process
    assert recovery.sweep(now=timezone.now() + LATER) == {"requeued": 0, "failed": 0,
                                                          "resent": 0}
    assert recovery.sweep(now=timezone.now() + timedelta(minutes=121))["failed"] == 1
    run.refresh_from_db()
    assert run.status == "failed" and "stopped reporting" in run.error


@pytest.mark.django_db
def test_a_late_delivery_of_a_message_is_a_no_op(project_with_roles):
    project, _ = project_with_roles
    run = _running(project)
    _beat("training@gpu-1", 4242, ago=timedelta(0))
    # The broker delivers the message again while another worker holds the run.
    assert runs.execute_run(run_id=run.pk).status == "running"
    run.refresh_from_db()
    assert (run.attempts, run.worker_hostname, run.worker_pid) == (1, "training@gpu-1", 4242)
    TrainingRun.objects.filter(pk=run.pk).update(status="failed")
    assert runs.execute_run(run_id=run.pk).attempts == 1
    assert runs.execute_run(run_id=run.pk + 10_000) is None  # deleted with its project


@pytest.mark.django_db
def test_an_attempt_declared_lost_cannot_write_or_publish(project_with_roles):
    project, _ = project_with_roles
    run = _running(project)
    recorder = runs.ProgressRecorder(run.pk, attempt=1, interval_s=0.0)
    recorder(0.2, 0.7)  # its own: written
    assert TrainingRun.objects.get(pk=run.pk).progress == pytest.approx(0.2)
    recovery.sweep(now=timezone.now() + LATER)  # no heartbeat: requeued
    with pytest.raises(registry.RunNotHeld):
        recorder(0.4, 0.6)
    staging = registry.staging_dir(kind="reward", run=run)
    (staging / "model.safetensors").write_bytes(b"weights")
    with pytest.raises(registry.RunNotHeld):
        registry.publish(kind="reward", run=run, staging=staging, metrics={}, config={},
                         fingerprint={}, eval_split={}, activate=True, outcome="activated",
                         curve=[])
    assert not ModelVersion.objects.filter(project=project).exists()
    assert TrainingRun.objects.get(pk=run.pk).status == "queued"


@pytest.mark.django_db
def test_an_import_whose_worker_stopped_beating_is_failed_and_its_upload_removed(
        project_with_roles, settings, tmp_path):
    project, _ = project_with_roles
    settings.DATA_DIR = tmp_path
    held, alive, unlisted, old = (ImportJob.objects.create(
        project=project, format="trl", labels="imported", status="running",
        upload_name=f"{uuid.uuid4().hex}.data", started_at=timezone.now()) for _ in range(4))
    ImportJob.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(hours=3))
    for job in (held, alive, unlisted, old):
        (jobs.jobs_dir() / job.upload_name).write_bytes(b"{}\n")
    _beat("celery@web-1", 11, ago=timedelta(seconds=10), holding=[f"import_job:{alive.pk}"])
    _beat("celery@web-2", 12, ago=timedelta(seconds=10), holding=[f"import_job:{held.pk}"])

    assert jobs.sweep()["failed"] == 1  # only the one started hours ago and listed by nobody
    assert jobs.sweep(now=timezone.now() + LATER)["failed"] == 2  # + both beats are old now
    statuses = dict(ImportJob.objects.values_list("pk", "status"))
    assert statuses == {held.pk: "failed", alive.pk: "failed", unlisted.pk: "running",
                        old.pk: "failed"}
    assert "worker running this import was lost" in ImportJob.objects.get(pk=held.pk).detail
    assert [p.name for p in jobs.jobs_dir().iterdir()] == [unlisted.upload_name]
    # The lost worker's message, delivered late, finds the job finished and leaves it.
    jobs.run(str(held.pk))
    assert ImportJob.objects.get(pk=held.pk).status == "failed"


def test_the_sweeps_run_every_minute_outside_the_training_queue():
    from rankwise.celery import app

    entries = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for task in ("training.recover_runs", "annotation.recover_import_jobs"):
        assert entries[task]["schedule"] == 60.0
    options = dict(entries["training.recover_runs"]["options"])
    # Beat's own option beats the training.* route: it runs while training workers are down.
    assert app.amqp.router.route(options, "training.recover_runs")["queue"].name == "celery"
    assert app.amqp.router.route({}, "training.recover_runs")["queue"].name == "training"


# --- a real worker, killed ----------------------------------------------------------------


class TrainingWorker:
    """A Celery worker of both queues in a subprocess against the test database."""

    def __init__(self, name: str, data_dir: Path, *, pool: str = "solo"):
        env = {**os.environ, "DATABASE_URL": database_url_for_tests(),
               "REDIS_URL": settings.REDIS_URL, "RANKWISE_DATA_DIR": str(data_dir),
               "RANKWISE_PROFILE": "local", "CELERY_TASK_ALWAYS_EAGER": "0",
               "RANKWISE_WORKER_HEARTBEAT_SECONDS": "1",
               "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}"}
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "rankwise", "worker", "-Q", "training,celery",
             "--pool", pool, "-c", "1", "-n", f"{name}@%h", "--loglevel", "WARNING"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def output(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.communicate(timeout=30)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.communicate()[0].decode(errors="replace")


def _wait(condition, *, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


def _unacked_tag(client, task_id: str) -> str | None:
    """The broker's delivery tag of a fetched, unacknowledged message of this task."""
    for tag, raw in client.hgetall("unacked").items():
        if json.loads(raw)[0]["headers"]["id"] == task_id:
            return tag.decode()
    return None


def _redeliver(task_id: str) -> None:
    """What Redis does once the visibility timeout has passed: put the lost worker's
    unacknowledged message back in its queue."""
    from rankwise.celery import app

    client = _redis()
    tag = _unacked_tag(client, task_id)
    assert tag is not None, "the killed worker's message should still be unacknowledged"
    with app.connection_for_write() as conn:
        conn.default_channel.qos.restore_by_tag(tag, leftmost=True)


def _project_with_v1(project) -> Path:
    """The project trained once, in this process: v1 is active. Its folder."""
    project.settings = {"reward_model": dict(FAST)}
    project.save(update_fields=["settings"])
    add_pairs(project, TOPICS[:24])
    v1 = runs.execute_run(run_id=runs.request_training(project=project, dispatch=False).pk)
    assert v1.status == "succeeded", v1.traceback
    return ModelVersion.objects.get(project=project).directory


def _slow_run_through_redis(project) -> TrainingRun:
    from rankwise.celery import app

    app.conf.task_always_eager = False  # sent through Redis from here on
    with app.connection_for_write() as conn:
        for queue in ("training", "celery"):
            conn.default_channel.queue_purge(queue)
    # Long enough to be killed in the middle of it: fine-tuning the whole encoder.
    return runs.request_training(project=project, params={"mode": "finetune", "ft_epochs": 50})


def _training(run: TrainingRun) -> TrainingRun:
    return _wait(lambda: TrainingRun.objects.filter(pk=run.pk, progress__gt=0).first(),
                 seconds=180, what="the worker to start training")


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_loses_its_run_for_minutes_not_hours(project_with_roles, client_for,
                                                             tmp_path):
    from rankwise.celery import app

    project, users = project_with_roles
    v1_dir = _project_with_v1(project)
    run = _slow_run_through_redis(project)
    first = TrainingWorker("doomed", tmp_path)
    second = None
    try:
        busy = _training(run)
        assert busy.status == "running" and busy.worker_pid == first.process.pid
        assert busy.worker_hostname.startswith("doomed@")
        beat = WorkerHeartbeat.objects.get(hostname=busy.worker_hostname, pid=busy.worker_pid)
        # Its heartbeat thread writes the row again and again while it trains.
        _wait(lambda: WorkerHeartbeat.objects.filter(pk=beat.pk,
                                                     seen_at__gt=beat.seen_at).exists(),
              seconds=30, what="the next heartbeat")
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=30)

        run.refresh_from_db()
        assert run.status == "running"  # nobody said otherwise: this is what the sweep is for
        assert recovery.sweep()["requeued"] == 0  # its heartbeat is still recent
        counts = recovery.sweep(now=timezone.now() + LATER)
        assert counts["requeued"] == 1, counts
        run.refresh_from_db()
        assert run.status == "queued" and "lost its worker doomed@" in run.error, run.error

        # The active model is untouched and served; nothing half-written is anywhere.
        versions = registry.versions_dir(kind="reward", project_id=project.pk)
        assert sorted(p.name for p in versions.iterdir()) == ["1"]
        assert selectors.active_version(project_id=project.pk, kind="reward").directory == v1_dir
        scored = client_for(users["annotator"]).post(
            f"/api/v1/projects/{project.pk}/reward-models/score/",
            {"prompt": prompt_for("knit a hat"), "responses": [helpful("knit a hat"),
                                                               curt("knit a hat")]},
            format="json")
        assert scored.status_code == 200 and scored.json()["model_version"] == "v1"
        assert scoring.score_texts(project=project, prompt="Hi?", responses=["Hello!"])[
            "model_version"] == "v1"

        # The retry need not be slow: a second worker takes the requeued run.
        TrainingRun.objects.filter(pk=run.pk).update(params=dict(FAST))
        second = TrainingWorker("spare", tmp_path)
        done = _wait(lambda: TrainingRun.objects.filter(
            pk=run.pk, status__in=["succeeded", "failed"]).first(), seconds=180,
            what="the retry to finish")
        assert done.status == "succeeded", done.traceback
        assert done.attempts == 2 and done.worker_hostname.startswith("spare@")

        # Hours later Redis hands the killed worker's message out again: a no-op.
        _redeliver(busy.celery_task_id)
        client = _redis()
        _wait(lambda: client.llen("training") == 0
              and _unacked_tag(client, busy.celery_task_id) is None,
              seconds=60, what="the late message to be consumed")
        again = TrainingRun.objects.get(pk=run.pk)
        assert (again.status, again.attempts, again.finished_at) == (
            "succeeded", 2, done.finished_at)
        assert ModelVersion.objects.filter(project=project).count() == 2
    finally:
        app.conf.task_always_eager = True
        output = first.output()
        if second is not None:
            output += second.output()
        client = _redis()
        for task_id in (run.celery_task_id, TrainingRun.objects.get(pk=run.pk).celery_task_id):
            tag = _unacked_tag(client, task_id)
            if tag is not None:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    assert "Traceback" not in output, output


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_killed_pool_process_loses_its_run_while_its_worker_lives_on(project_with_roles,
                                                                      tmp_path):
    """The out-of-memory killer takes the prefork child running the task: the worker's
    main process beats on, but the child's own heartbeat stops, and the run is requeued to
    the child that replaces it."""
    from rankwise.celery import app

    project, _ = project_with_roles
    v1_dir = _project_with_v1(project)
    run = _slow_run_through_redis(project)
    worker = TrainingWorker("pool", tmp_path, pool="prefork")
    try:
        busy = _training(run)
        assert busy.worker_pid != worker.process.pid  # held by the pool process
        assert WorkerHeartbeat.objects.filter(hostname=busy.worker_hostname,
                                              pid=worker.process.pid).exists()  # the main one
        os.kill(busy.worker_pid, signal.SIGKILL)
        TrainingRun.objects.filter(pk=run.pk).update(params=dict(FAST))  # a quick retry
        assert worker.process.poll() is None
        _wait(lambda: WorkerHeartbeat.objects.filter(hostname=busy.worker_hostname).exclude(
            pid__in=[busy.worker_pid, worker.process.pid]).exists(), seconds=60,
            what="the replacement pool process to beat")

        counts = recovery.sweep(now=timezone.now() + LATER)
        assert counts["requeued"] == 1, counts
        assert selectors.active_version(project_id=project.pk, kind="reward").directory == v1_dir
        done = _wait(lambda: TrainingRun.objects.filter(
            pk=run.pk, status__in=["succeeded", "failed"]).first(), seconds=180,
            what="the retry to finish")
        assert done.status == "succeeded", done.traceback
        assert done.attempts == 2 and done.worker_hostname == busy.worker_hostname
        assert done.worker_pid not in (busy.worker_pid, worker.process.pid)
    finally:
        app.conf.task_always_eager = True
        output = worker.output()
    assert "SIGKILL" in output, output
