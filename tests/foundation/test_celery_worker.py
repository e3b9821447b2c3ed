"""A real Celery worker, fed through Redis, runs the site's tasks against the test database."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from rankwise.models import WorkerHeartbeat

ROOT = Path(__file__).resolve().parent.parent.parent


def database_url() -> str:
    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    host = conf.get("HOST") or "127.0.0.1"
    port = conf.get("PORT") or 5432
    auth = conf["USER"] + (f":{conf['PASSWORD']}" if conf.get("PASSWORD") else "")
    return f"postgres://{auth}@{host}:{port}/{conf['NAME']}"


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_runs_a_task_sent_through_redis(tmp_path):
    from rankwise.celery import app
    from rankwise.celery_tasks import heartbeat

    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL,
           "RANKWISE_DATA_DIR": str(tmp_path), "RANKWISE_PROFILE": "local",
           "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}", "CELERY_TASK_ALWAYS_EAGER": "0"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "rankwise", "worker", "-Q", "celery",
         "-c", "1", "--pool", "solo", "-n", "test-worker@%h", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    app.conf.task_always_eager = False
    try:
        heartbeat.delay()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not WorkerHeartbeat.objects.exists():
            time.sleep(0.5)
        beat = WorkerHeartbeat.objects.get()
        assert beat.hostname.startswith("test-worker@")
    finally:
        app.conf.task_always_eager = True
        worker.terminate()
        try:
            output = worker.communicate(timeout=20)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            worker.kill()
            output = ""
    assert "Traceback" not in output, output
