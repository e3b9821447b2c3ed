"""The Celery app. Tasks live in each app's ``celery_tasks.py`` and are autodiscovered."""

import logging
import os

from celery import Celery
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rankwise.settings")

app = Celery("rankwise")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(related_name="celery_tasks")

logger = logging.getLogger(__name__)

# What a publish raises when the broker cannot be reached (kombu wraps most of them).
BROKER_DOWN = (BrokerError, RedisConnectionError, RedisTimeoutError, OSError)


def enqueue_on_commit(task_name: str, *args, task_id: str | None = None, **options) -> None:
    """Send a task by its registered name once the current transaction commits (at once in
    autocommit).

    The one rule for background work: a service enqueues through this, by name, so services
    never import ``celery_tasks``; a task takes ids and calls one service, so ``celery_tasks``
    imports services and nothing imports it back. Looking the task up in the app's registry
    (rather than ``send_task``) keeps eager mode and the task's own options working.

    A broker that cannot be reached does not fail the request: the work's row (a queued
    import job, a queued training run) is already committed and stays queued, so the
    failure is logged and the task is sent again later from that row.
    """
    from django.db import transaction

    def send():
        if task_name not in app.tasks:
            # Discovery is lazy outside a worker: load every app's tasks once.
            app.autodiscover_tasks(related_name="celery_tasks", force=True)
        task = app.tasks[task_name]
        if app.conf.task_always_eager:
            # Runs here and now: what it raises is the task's own failure, not the broker's.
            task.apply_async(args=args, task_id=task_id, **options)
            return
        try:
            task.apply_async(args=args, task_id=task_id, **options)
        except BROKER_DOWN as exc:
            logger.warning("Broker unavailable; %s%r not sent, its row stays queued: %s",
                           task_name, tuple(args), exc)

    transaction.on_commit(send)
