"""Background tasks of the training app. Named ``training.*`` so that
``CELERY_TASK_ROUTES`` sends them to the ``training`` queue (GPU workers when scaled out).
Each takes ids, loads what it needs, and records its outcome in a row."""

from __future__ import annotations

from celery import shared_task

from annotation.models import Project

from . import services

RETRY_BACKOFF_S = (30, 120, 600)


@shared_task(bind=True, name="training.train_reward_model", max_retries=len(RETRY_BACKOFF_S),
             acks_late=True)
def train_reward_model(self, run_id: int) -> str:
    """Execute one queued run. Idempotent: a finished run is not run again. A transient
    database fault puts the run back to queued and retries it with backoff; any other
    failure is recorded on the run with its traceback."""
    retries = self.request.retries or 0
    try:
        run = services.execute_run(run_id=run_id, retry_transient=retries < self.max_retries)
    except services.TransientFailure as exc:
        countdown = RETRY_BACKOFF_S[min(retries, len(RETRY_BACKOFF_S) - 1)]
        raise self.retry(exc=exc, countdown=countdown) from exc
    return run.status


@shared_task(name="training.maybe_train_reward_models")
def maybe_train_reward_models() -> list[int]:
    """Beat: start a run for each project whose schedule and new data call for one."""
    services.fail_stale_runs()
    return services.maybe_train_all()


@shared_task(name="training.score_items_for_active_learning")
def score_items_for_active_learning(project_id: int) -> int:
    """After a new active model: refresh the open items' uncertainty for the queue."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return 0
    return services.score_open_items(project=project)
