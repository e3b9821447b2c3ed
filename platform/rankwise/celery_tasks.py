"""Tasks and worker signals of the site: every worker process beats on its own."""

from celery import shared_task
from celery.signals import worker_process_init, worker_ready

from . import workers


@shared_task(name="rankwise.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Record that a worker is alive (the broker is shared, so any worker may run it)."""
    workers.check_in(heartbeat.request.hostname or "worker")


@worker_ready.connect
def _beat_in_the_main_process(sender=None, **kwargs) -> None:
    # The main process runs the tasks itself with the solo and threads pools.
    workers.start_heartbeat(sender.hostname)


@worker_process_init.connect
def _beat_in_each_pool_process(sender=None, **kwargs) -> None:
    # Each prefork child beats on its own: a child killed mid-task (out of memory, say)
    # is lost even while its main process lives on.
    if sender:
        workers.start_heartbeat(sender)
