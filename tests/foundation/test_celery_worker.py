"""A real Celery worker, fed through Redis, runs the site's tasks against the test database."""

import time

import pytest

from rankwise.models import WorkerHeartbeat


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_runs_a_task_sent_through_redis(celery_worker_process):
    from rankwise.celery_tasks import heartbeat

    with celery_worker_process("test-worker") as worker:
        heartbeat.delay()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not WorkerHeartbeat.objects.exists():
            time.sleep(0.5)
        beat = WorkerHeartbeat.objects.get()
        assert beat.hostname.startswith("test-worker@")
    assert "Traceback" not in worker.output, worker.output
