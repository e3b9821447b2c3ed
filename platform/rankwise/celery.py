"""The Celery app. Tasks live in each app's ``celery_tasks.py`` and are autodiscovered."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rankwise.settings")

app = Celery("rankwise")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(related_name="celery_tasks")


def enqueue_on_commit(task_name: str, *args, task_id: str | None = None, **options) -> None:
    """Send a task by its registered name once the current transaction commits (at once in
    autocommit).

    The one rule for background work: a service enqueues through this, by name, so services
    never import ``celery_tasks``; a task takes ids and calls one service, so ``celery_tasks``
    imports services and nothing imports it back. Looking the task up in the app's registry
    (rather than ``send_task``) keeps eager mode and the task's own options working.
    """
    from django.db import transaction

    def send():
        if task_name not in app.tasks:
            # Discovery is lazy outside a worker: load every app's tasks once.
            app.autodiscover_tasks(related_name="celery_tasks", force=True)
        app.tasks[task_name].apply_async(args=args, task_id=task_id, **options)

    transaction.on_commit(send)
