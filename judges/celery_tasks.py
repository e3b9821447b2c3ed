"""Background tasks of the judges app. Named ``judges.*`` so that ``CELERY_TASK_ROUTES``
sends them to the ``judges`` queue (workers near the judge's model when scaled out). A
task takes ids and calls one service, which records the outcome on the run's row."""

from __future__ import annotations

from celery import shared_task

from . import recovery, services


@shared_task(name="judges.run_judge", acks_late=True)
def run_judge(run_id: int) -> str:
    """Execute one queued judge run; a run already started or finished is left alone (the
    message was delivered twice, or another worker executes it), and any failure is
    recorded on the run."""
    run = services.execute_run(run_id=run_id)
    return run.status if run is not None else "missing"


@shared_task(name="judges.recover_runs")
def recover_runs() -> dict[str, int]:
    """Beat (on the default queue): requeue, or after the last attempt fail, the running
    runs whose worker stopped writing their heartbeat."""
    return recovery.sweep()
