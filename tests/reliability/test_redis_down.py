"""Redis stopped: annotating goes on, work that is enqueued stays queued in its row, and a
worker takes it up once Redis is back.

Real servers, all private to the test (see ``private_servers``): PostgreSQL and Redis on
free ports, gunicorn and a Celery worker (queues ``celery`` and ``training``) against them.
Redis runs without persistence, so stopping it also loses every message it held, which is
why the row, not the message, is the record of the work.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

import pytest
import requests

from tests.reliability.private_servers import (
    HOST,
    Site,
    free_port,
    missing_servers,
    private_stack,
    token,
    wait_until,
)

FAST_S = 3.0  # what a request may take with Redis down: it must not wait on the broker


@pytest.fixture
def stack(tmp_path):
    """(redis, site, seeded world) with gunicorn and a worker up; all removed afterwards."""
    if why := missing_servers():
        pytest.skip(why)
    with private_stack(tmp_path / "site", annotators=1, items=100, worker=True) as (
            _postgres, redis, site, world):
        yield redis, site, world


def client(site: Site, username: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token(site, username)}"
    return session


def timed(session: requests.Session, method: str, url: str, **kwargs):
    started = time.monotonic()
    answer = session.request(method, url, timeout=30, **kwargs)
    return answer, time.monotonic() - started


def annotate_once(site: Site, session: requests.Session, project: int) -> list[tuple]:
    """One next + submit: [(what, status, seconds), ...]."""
    task, next_s = timed(session, "GET", f"{site.base}/api/v1/projects/{project}/next/")
    assert task.status_code == 200, (task.status_code, task.text[:500])
    ranking = [[response["id"]] for response in task.json()["item"]["responses"]]
    done, submit_s = timed(session, "POST", site.base + task.json()["submit_url"],
                           json={"ranking": ranking},
                           headers={"Idempotency-Key": str(uuid.uuid4())})
    return [("next", task.status_code, next_s), ("submit", done.status_code, submit_s)]


def import_async(site: Site, session: requests.Session, project: int, tag: str):
    lines = [json.dumps({"prompt": f"{tag} prompt {n}",
                         "responses": [f"{tag} first {n}", f"{tag} second {n}"]})
             for n in range(3)]
    return timed(session, "POST",
                 f"{site.base}/api/v1/projects/{project}/items/import/?format=native&async=1",
                 data="\n".join(lines).encode(), headers={"Content-Type": "application/x-ndjson"})


def job_status(site: Site, session: requests.Session, project: int, job: str) -> str:
    answer = session.get(f"{site.base}/api/v1/projects/{project}/items/import/{job}/",
                         timeout=15)
    assert answer.status_code == 200, (answer.status_code, answer.text[:500])
    return answer.json()["status"]


def run_status(site: Site, session: requests.Session, run: int) -> str:
    answer = session.get(f"{site.base}/api/v1/training-runs/{run}/", timeout=15)
    assert answer.status_code == 200, (answer.status_code, answer.text[:500])
    return answer.json()["status"]


CACHE_PROBE = """
import time
from django.core.cache import cache
started = time.monotonic()
values = [cache.get("probe", "missed"), cache.set("probe", 1), cache.add("probe", 1),
          cache.incr("hits"), cache.get_or_set("other", 7), cache.get_many(["a", "b"])]
RESULT = {"values": values, "seconds": time.monotonic() - started}
"""

SWEEP = """
from datetime import timedelta
from django.conf import settings
from django.utils import timezone
from annotation.imports import jobs
from training import recovery
# Beat's sweeps, as they run once RESEND_AFTER has passed since the work was queued.
later = timezone.now() + timedelta(seconds=settings.RESEND_AFTER + 1)
RESULT = {"imports": jobs.sweep(now=later), "training": recovery.sweep(now=later)}
"""


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.timeout(150)
def test_redis_down_annotating_works_and_queued_work_resumes_when_it_is_back(stack):
    redis, site, world = stack
    project = world["project"]
    annotator = client(site, world["annotators"][0])
    manager = client(site, world["manager"])

    # A project without labels to train on: its run is taken up and refused at once,
    # rather than keeping the only worker busy training for half a minute.
    answer = manager.post(f"{site.base}/api/v1/projects/",
                          json={"name": "No labels yet", "responses_per_item": 2}, timeout=15)
    assert answer.status_code == 201, answer.text[:500]
    unlabelled = answer.json()["id"]

    # Redis up: the worker takes an import through.
    answer, _ = import_async(site, manager, project, "before")
    assert answer.status_code == 202, answer.text[:500]
    before = answer.json()["id"]
    wait_until(lambda: job_status(site, manager, project, before) == "done", timeout=30,
               what="the import before the outage", interval=0.3)
    assert [s for _w, s, _t in annotate_once(site, annotator, project)] == [200, 201]

    redis.stop()
    answers = []
    for _ in range(10):
        answers += annotate_once(site, annotator, project)
    assert [status for _what, status, _s in answers] == [200, 201] * 10, answers
    assert max(seconds for *_rest, seconds in answers) < FAST_S, answers

    answer, import_s = import_async(site, manager, project, "during")
    assert answer.status_code == 202, answer.text[:500]
    assert answer.json()["status"] == "queued"
    stranded_job = answer.json()["id"]
    answer, train_s = timed(manager, "POST",
                            f"{site.base}/api/v1/projects/{unlabelled}/reward-models/train/",
                            json={})
    assert answer.status_code == 202, answer.text[:500]
    assert answer.json()["status"] == "queued"
    stranded_run = answer.json()["run"]
    assert import_s < FAST_S and train_s < FAST_S, (import_s, train_s)

    probe = site.shell(CACHE_PROBE)
    assert probe["values"] == ["missed", None, True, 1, 7, {}], probe
    assert probe["seconds"] < FAST_S, probe
    health = requests.get(f"{site.base}/healthz", timeout=15)
    assert health.status_code == 503 and health.json()["broker"]["status"] == "error"

    # Beat's sweeps with Redis down: the cache they use is a miss and their sends fail, so
    # they give up quietly and the rows stay queued for the next sweep.
    site.shell(SWEEP)
    time.sleep(1)
    assert job_status(site, manager, project, stranded_job) == "queued"
    assert run_status(site, manager, stranded_run) == "queued"
    log = site.log("web.log")
    assert "Broker unavailable" in log and "Internal Server Error" not in log, log

    redis.start()
    # The web processes send again by themselves: a new import goes through.
    answer, _ = import_async(site, manager, project, "after")
    assert answer.status_code == 202, answer.text[:500]
    after = answer.json()["id"]
    # What was refused during the outage is sent again from its rows by the next sweep.
    swept = site.shell(SWEEP)
    assert swept["imports"]["resent"] >= 1 and swept["training"]["resent"] == 1, swept
    wait_until(lambda: job_status(site, manager, project, after) == "done"
               and job_status(site, manager, project, stranded_job) == "done",
               timeout=45, what="imports after Redis is back", interval=0.5)
    wait_until(lambda: run_status(site, manager, stranded_run) not in {"queued", "running"},
               timeout=45, what="the training run after Redis is back", interval=0.5)
    run = manager.get(f"{site.base}/api/v1/training-runs/{stranded_run}/", timeout=15).json()
    # The worker ran it: the refusal is the trainer's, recorded on the row.
    assert run["status"] == "failed" and "needs at least" in run["error"], run
    assert [s for _w, s, _t in annotate_once(site, annotator, project)] == [200, 201]
    print(f"\nwith Redis down: {len(answers)} annotate requests, all 200/201, slowest "
          f"{max(s for *_r, s in answers):.3f} s; import {import_s:.3f} s, train "
          f"{train_s:.3f} s; the stranded import and training run were taken up after")


def test_cache_on_an_unreachable_redis_is_a_miss_and_logs_once(caplog):
    from rankwise.cache import DegradingRedisCache

    cache = DegradingRedisCache(f"redis://{HOST}:{free_port()}/0", {
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}})
    from rankwise import cache as module

    module.warn._last = float("-inf")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="rankwise.cache"):
        assert cache.get("k", "default") == "default"
        cache.set("k", 1)
        assert cache.add("k", 1) is True
        assert cache.incr("n", 5) == 5
        assert cache.get_or_set("k", lambda: 3) == 3
        assert cache.get_many(["a"]) == {}
        assert cache.has_key("k") is False
        cache.delete_many(["a", "b"])
    assert time.monotonic() - started < FAST_S
    assert len([r for r in caplog.records if r.name == "rankwise.cache"]) == 1


def test_enqueue_with_the_broker_down_logs_and_keeps_the_request(monkeypatch, caplog):
    from django.db import transaction
    from kombu.exceptions import OperationalError

    from rankwise.celery import app, enqueue_on_commit

    if "rankwise.heartbeat" not in app.tasks:
        app.autodiscover_tasks(related_name="celery_tasks", force=True)
    task = app.tasks["rankwise.heartbeat"]

    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(task, "apply_async", refuse)
    # As in autocommit: sent at once (no database needed for that here).
    monkeypatch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: func())
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    try:
        with caplog.at_level(logging.WARNING, logger="rankwise.celery"):
            enqueue_on_commit("rankwise.heartbeat")
    finally:
        app.conf.task_always_eager = eager
    assert "Broker unavailable" in caplog.text and "rankwise.heartbeat" in caplog.text
