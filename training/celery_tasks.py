"""Background tasks of the training app. Named ``training.*`` so that
``CELERY_TASK_ROUTES`` sends them to the ``training`` queue (GPU workers when scaled out).
Each takes ids and calls one service, which records the outcome in a row; services
enqueue these by name (``rankwise.celery.enqueue_on_commit``) and never import this
module."""

from __future__ import annotations

from celery import shared_task

from . import candidates, recovery, runs, schedule, scoring
from .models import TrainingRun

RETRY_BACKOFF_S = (30, 120, 600)


@shared_task(bind=True, name="training.train_reward_model", max_retries=len(RETRY_BACKOFF_S),
             acks_late=True)
def train_reward_model(self, run_id: int) -> str:
    """Execute one queued run. Idempotent: a running or finished run is left alone (the
    message was delivered again, or the sweep sent it again). A transient
    database fault puts the run back to queued and retries it with backoff; any other
    failure, a domain error included, is recorded on the run with its traceback."""
    return _execute(self, run_id)


@shared_task(bind=True, name="training.train_policy", max_retries=len(RETRY_BACKOFF_S),
             acks_late=True)
def train_policy(self, run_id: int) -> str:
    """Execute one queued DPO policy run; the same rules as :func:`train_reward_model`."""
    return _execute(self, run_id)


def _execute(self, run_id: int) -> str:
    retries = self.request.retries or 0
    try:
        run = runs.execute_run(run_id=run_id, retry_transient=retries < self.max_retries)
    except runs.TransientFailure as exc:
        countdown = RETRY_BACKOFF_S[min(retries, len(RETRY_BACKOFF_S) - 1)]
        raise self.retry(exc=exc, countdown=countdown) from exc
    return run.status if run is not None else "missing"


@shared_task(name="training.maybe_train_reward_models")
def maybe_train_reward_models() -> list[int]:
    """Beat: start a reward-model run for each project whose schedule calls for one."""
    return schedule.maybe_train_all(kind=TrainingRun.Kind.REWARD_MODEL)


@shared_task(name="training.recover_runs")
def recover_runs() -> dict[str, int]:
    """Beat (on the default queue): requeue or fail the runs whose worker was lost, send
    again the queued runs that no worker started."""
    return recovery.sweep()


@shared_task(name="training.score_items_for_active_learning")
def score_items_for_active_learning(project_id: int) -> int:
    """After a new active model: refresh the open items' uncertainty for the queue."""
    return scoring.score_open_items(project_id=project_id)


@shared_task(name="training.maybe_train_policies")
def maybe_train_policies() -> list[int]:
    """Beat: start a policy run for each project whose schedule calls for one."""
    return schedule.maybe_train_all(kind=TrainingRun.Kind.POLICY)


@shared_task(name="training.propose_candidates")
def propose_candidates(project_id: int, limit: int | None = None,
                       requested: bool = False) -> dict[str, int]:
    """Have the active policy propose responses for the project's waiting prompts."""
    return candidates.propose_for_project(project_id=project_id, limit=limit,
                                          requested=requested)


@shared_task(name="training.propose_all_candidates")
def propose_all_candidates() -> dict[str, int]:
    """Beat: proposals for every project that asks for them."""
    return candidates.propose_all()
