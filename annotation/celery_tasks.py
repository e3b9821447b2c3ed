"""Celery tasks of the annotation app (autodiscovered). Each domain keeps its own tasks."""

from .assignment import celery_tasks as assignment_tasks  # noqa: F401
from .exports import celery_tasks as export_tasks  # noqa: F401
from .imports import celery_tasks as import_tasks  # noqa: F401
from .quality import celery_tasks as quality_tasks  # noqa: F401
from .webhooks import celery_tasks as webhook_tasks  # noqa: F401
