"""Faults around background work: a disk that fills up while a model is written, and a
broker that is down when a run or an import is sent."""

from __future__ import annotations

import errno
import hashlib
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from annotation.imports import jobs
from annotation.models import ImportJob, Item
from training import recovery, registry, runs, scoring, selectors
from training.models import ModelVersion, TrainingRun
from training.reward import checkpoint

from ..training_django.conftest import FAST, TOPICS, add_pairs

# --- a full disk ----------------------------------------------------------------------------


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


@pytest.mark.slow
@pytest.mark.django_db
def test_a_disk_full_while_writing_the_model_fails_the_run_and_keeps_the_active_one(
        project_with_roles, monkeypatch):
    project, _ = project_with_roles
    project.settings = {"reward_model": dict(FAST)}
    project.save(update_fields=["settings"])
    add_pairs(project, TOPICS[:24])
    first = runs.execute_run(run_id=runs.request_training(project=project, dispatch=False).pk)
    assert first.status == "succeeded", first.traceback
    v1 = ModelVersion.objects.get(project=project)
    files = _digest(v1.directory)
    seen = {}

    def fills_the_disk(tensors, filename, metadata=None):
        seen["staging"] = Path(filename).parent
        with open(filename, "wb") as out:
            out.write(b"\0" * 4096)  # what fitted before the disk was full
        raise OSError(errno.ENOSPC, "No space left on device", filename)

    monkeypatch.setattr(checkpoint, "save_file", fills_the_disk)
    run = runs.execute_run(run_id=runs.request_training(
        project=project, dispatch=False, params={"force": True}).pk)
    assert run.status == "failed" and run.finished_at is not None
    assert run.error.startswith("Disk full: nothing was published"), run.error
    assert "No space left on device" in run.error
    assert "fills_the_disk" in run.traceback
    assert seen["staging"].name.startswith(registry.STAGING_PREFIX)
    assert not seen["staging"].exists()  # the half-written staging folder is gone
    versions = registry.versions_dir(kind="reward", project_id=project.pk)
    assert sorted(p.name for p in versions.iterdir()) == ["1"]
    v1.refresh_from_db()
    assert v1.is_active and _digest(v1.directory) == files
    assert scoring.score_texts(project=project, prompt="Hi?", responses=["Hello!"])[
        "model_version"] == "v1"


# --- a broker that is down when work is sent ------------------------------------------------


@pytest.fixture
def broker(monkeypatch):
    """Tasks sent through a broker the test turns off and on: off, a send raises as kombu
    does when Redis is gone; on, the task runs here (eagerly). ``sent`` lists the sends."""
    from rankwise.celery import app

    app.autodiscover_tasks(related_name="celery_tasks", force=True)
    state = {"up": False, "sent": []}
    real = {}

    def make(name):
        task = app.tasks[name]
        real[name] = task.apply_async

        def apply_async(args=None, kwargs=None, **options):
            state["sent"].append((name, tuple(args or ())))
            if not state["up"]:
                raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
            return real[name](args=args, kwargs=kwargs, **options)

        monkeypatch.setattr(task, "apply_async", apply_async)

    for name in ("training.train_reward_model", "annotation.import_items_file"):
        make(name)

    def switch(up: bool) -> None:
        state["up"] = up
        app.conf.task_always_eager = up  # down: a real send, that fails

    switch(False)
    yield type("Broker", (), {"sent": state["sent"], "switch": staticmethod(switch)})
    app.conf.task_always_eager = True


@pytest.mark.slow
@pytest.mark.django_db
def test_a_run_requested_while_the_broker_is_down_is_sent_again_by_the_sweep(
        project_with_roles, broker, django_capture_on_commit_callbacks):
    project, _ = project_with_roles
    project.settings = {"reward_model": dict(FAST)}
    project.save(update_fields=["settings"])
    add_pairs(project, TOPICS[:12])
    with django_capture_on_commit_callbacks(execute=True):
        run = runs.request_training(project=project)  # the send fails, the request does not
    run.refresh_from_db()
    assert run.status == "queued" and broker.sent == [("training.train_reward_model", (run.pk,))]

    now = timezone.now()
    assert recovery.sweep(now=now + timedelta(seconds=30))["resent"] == 0  # not yet
    with django_capture_on_commit_callbacks(execute=True):
        assert recovery.sweep(now=now + timedelta(minutes=2))["resent"] == 1
    assert len(broker.sent) == 2
    assert TrainingRun.objects.get(pk=run.pk).status == "queued"  # still down: still queued
    # Spaced out: the next resend is due two minutes after this one, not at every sweep.
    assert recovery.sweep(now=now + timedelta(minutes=3))["resent"] == 0

    broker.switch(True)
    with django_capture_on_commit_callbacks(execute=True):
        assert recovery.sweep(now=now + timedelta(minutes=5))["resent"] == 1
    run.refresh_from_db()
    assert run.status == "succeeded", run.traceback
    assert run.attempts == 1
    assert selectors.active_version(project_id=project.pk, kind="reward") is not None


@pytest.mark.django_db
def test_an_import_submitted_while_the_broker_is_down_is_sent_again_by_the_sweep(
        project_with_roles, broker, settings, tmp_path, django_capture_on_commit_callbacks):
    project, users = project_with_roles
    settings.DATA_DIR = tmp_path
    body = "".join(json.dumps({"prompt": f"q{i}", "chosen": "a", "rejected": "b"}) + "\n"
                   for i in range(3)).encode()
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.submit(actor=users["manager"], project=project, source=io.BytesIO(body),
                          format="trl", labels=None)
    assert ImportJob.objects.get(pk=job.pk).status == "queued"
    assert broker.sent == [("annotation.import_items_file", (str(job.pk),))]

    now = timezone.now()
    assert jobs.sweep(now=now + timedelta(seconds=30)) == {"failed": 0, "resent": 0}
    broker.switch(True)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.sweep(now=now + timedelta(minutes=2)) == {"failed": 0, "resent": 1}
    job.refresh_from_db()
    assert job.status == "done" and job.result["created"] == 3
    assert Item.objects.filter(project=project).count() == 3
    # A duplicate of the message (the first send did get through after all): a no-op.
    jobs.run(str(job.pk))
    assert Item.objects.filter(project=project).count() == 3
